"""bindings/asyncio.py: AsyncClient on asyncio, over real loopback sockets against the
replay server (plain and TLS): streaming, keep-alive, faults, timeouts, cancellation."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
import trustme
from libchatty.bindings._api import STOP, Timeout
from libchatty.bindings._asyncio_protocol import AsyncioConn
from libchatty.bindings.asyncio import AsyncClient, AsyncioBackend
from libchatty.bindings.server import Fault, ReplayServer
from peers import ConnectProxy, client_context, server_context

from libchatty.events import Delta, Done, Error
from libchatty.exceptions import ChatError
from libchatty.replay import split_tokens

TEXT = "asyncio gets the very same answer, one piece at a time, in the right order."
LONG = " ".join(f"token{i}" for i in range(300))
WAIT = 30.0  # an upper bound for any wait; never reached when things work


@pytest.fixture
def server() -> Iterator[ReplayServer]:
    with ReplayServer(text=TEXT) as running:
        yield running


@pytest.fixture
def slow_server() -> Iterator[ReplayServer]:
    with ReplayServer(text=LONG, token_delay=0.01) as running:
        yield running


def client_for(server: ReplayServer, **kwargs: Any) -> AsyncClient:
    return AsyncClient(base_url=server.base_url, api_key="k", env={}, **kwargs)


def run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, WAIT))


def test_chat_stream_and_keep_alive(server: ReplayServer) -> None:
    async def main() -> None:
        async with client_for(server) as client:
            assert (await client.chat("hi", "m")).text == TEXT
            pieces: list[tuple[str, bool]] = []

            async def on_delta(text: str, done: bool) -> None:
                pieces.append((text, done))

            answer = await client.chat("hi", "m", on_delta=on_delta)
            assert answer.text == TEXT and answer.streamed
            assert "".join(t for t, _ in pieces) == TEXT and pieces[-1] == ("", True)
            async with client.stream("hi", "m") as events:
                got = [event async for event in events]
            assert "".join(e.text for e in got if type(e) is Delta) == TEXT
            assert type(got[-1]) is Done

    run(main())
    assert server.connections == 1 and len(server.requests) == 3


def test_concurrent_tasks_share_the_pool(server: ReplayServer) -> None:
    async def main() -> list[str]:
        async with client_for(server) as client:
            async def one() -> str:
                return (await client.chat("hi", "m", on_delta=lambda t, d: None)).text

            first = await asyncio.gather(*(one() for _ in range(20)))
            second = await asyncio.gather(*(one() for _ in range(20)))
            return first + second

    assert run(main()) == [TEXT] * 40
    assert server.connections <= 20


def test_faults(server: ReplayServer) -> None:
    async def main() -> None:
        async with client_for(server) as client:
            server.add_fault(Fault(kind="reject_stream"))
            answer = await client.chat("hi", "m", on_delta=lambda t, d: None)
            assert answer.text == TEXT and not answer.streamed

            server.add_fault(Fault(kind="json"))
            answer = await client.chat("hi", "m", on_delta=lambda t, d: None)
            assert answer.text == TEXT and not answer.streamed

            server.add_fault(Fault(kind="status", status=503, retry_after=0.05))
            assert (await client.chat("hi", "m", on_delta=lambda t, d: None)).text == TEXT

            server.add_fault(Fault(kind="cut", after_events=3))
            with pytest.raises(ChatError) as info:
                await client.chat("hi", "m", on_delta=lambda t, d: None)
            assert info.value.partial and TEXT.startswith(info.value.partial)

            server.add_fault(Fault(kind="malformed", after_events=2))
            async with client.stream("hi", "m") as events:
                got = [event async for event in events]
            assert type(got[-1]) is Error and got[-1].kind == "protocol"

    run(main())


def test_idle_timeout(server: ReplayServer) -> None:
    server.add_fault(Fault(kind="stall", after_events=2, seconds=5.0))

    async def main() -> None:
        client = client_for(server, timeout=Timeout(connect=5, idle=0.3), max_retries=0)
        seen: list[str] = []
        with pytest.raises(ChatError) as info:
            await client.chat("hi", "m", on_delta=lambda t, d: seen.append(t))
        assert info.value.kind == "timeout" and "idle" in str(info.value)
        assert info.value.partial == "".join(seen) and seen

    run(main())


def test_stall_before_the_head_is_retried_then_succeeds(server: ReplayServer) -> None:
    server.add_fault(Fault(kind="stall", seconds=5.0))  # before the response head

    async def main() -> None:
        timeout = Timeout(connect=5, idle=0.3)
        async with client_for(server, timeout=timeout, max_retries=1) as client:
            assert (await client.chat("hi", "m", on_delta=lambda t, d: None)).text == TEXT

    run(main())
    assert len(server.requests) == 2


def test_task_cancellation_closes_the_connection(slow_server: ReplayServer) -> None:
    async def main() -> None:
        client = client_for(slow_server)
        first = asyncio.Event()
        count = [0]

        def on_delta(text: str, done: bool) -> None:
            count[0] += 1
            first.set()

        task = asyncio.create_task(client.chat("hi", "m", on_delta=on_delta))
        await asyncio.wait_for(first.wait(), WAIT)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        seen = count[0]
        assert seen < len(split_tokens(LONG)) // 2
        assert client.pool.idle_count(("http", "127.0.0.1", slow_server.port)) == 0
        await asyncio.sleep(0.1)
        assert count[0] == seen
        # The client still works: a new connection for the next call.
        slow_server.add_fault(Fault(kind="status", status=400, message="done"))
        with pytest.raises(ChatError):
            await client.chat("hi", "m")
        await client.aclose()

    run(main())
    assert slow_server.connections == 2


def test_wait_for_timeout_cancels_cleanly(slow_server: ReplayServer) -> None:
    async def main() -> None:
        async with client_for(slow_server) as client:
            with pytest.raises((asyncio.TimeoutError, TimeoutError)):
                await asyncio.wait_for(client.chat("hi", "m", on_delta=lambda t, d: None), 0.2)
            assert client.pool.idle_count(("http", "127.0.0.1", slow_server.port)) == 0

    run(main())


def test_leaving_a_stream_early(slow_server: ReplayServer) -> None:
    async def main() -> None:
        async with client_for(slow_server) as client:
            async with client.stream("hi", "m") as events:
                async for event in events:
                    assert type(event) is Delta
                    break
            assert client.pool.idle_count(("http", "127.0.0.1", slow_server.port)) == 0

    run(main())


def test_stop_and_raising_callbacks(server: ReplayServer) -> None:
    class Boom(Exception):
        pass

    async def main() -> None:
        async with client_for(server) as client:
            async def stop_at_two(event: object) -> object:
                stop_at_two.count += 1  # type: ignore[attr-defined]
                return STOP if stop_at_two.count == 2 else None  # type: ignore[attr-defined]

            stop_at_two.count = 0  # type: ignore[attr-defined]
            answer = await client.chat("hi", "m", on_event=stop_at_two)
            assert answer.finish_reason == "stopped" and TEXT.startswith(answer.text)

            def boom(text: str, done: bool) -> None:
                raise Boom

            with pytest.raises(Boom):
                await client.chat("hi", "m", on_delta=boom)
            assert (await client.chat("hi", "m")).text == TEXT

    run(main())
    assert server.connections == 3  # neither interrupted connection was reused


def test_tls(ca: trustme.CA) -> None:
    server_ctx = server_context(ca, "127.0.0.1")
    client_ctx = client_context(ca)

    async def main(url: str) -> None:
        async with AsyncClient(base_url=url, api_key="k", env={},
                               ssl_context=client_ctx) as client:
            assert (await client.chat("hi", "m", on_delta=lambda t, d: None)).text == TEXT
            assert (await client.chat("hi", "m")).text == TEXT
        default = AsyncClient(base_url=url, api_key="k", env={})
        with pytest.raises(ChatError) as info:
            await default.chat("hi", "m")
        assert info.value.kind == "connection" and "certificate" in str(info.value)

    with ReplayServer(text=TEXT, ssl_context=server_ctx) as tls_server:
        run(main(tls_server.base_url))
        assert len(tls_server.requests) == 2


def test_https_through_a_connect_proxy(ca: trustme.CA) -> None:
    server_ctx = server_context(ca, "api.example.test")
    client_ctx = client_context(ca)
    with ReplayServer(text=TEXT, ssl_context=server_ctx) as tls_server:
        proxy = ConnectProxy(tls_server.port)
        try:
            async def main() -> str:
                async with AsyncClient(
                    base_url=f"https://api.example.test:{tls_server.port}/v1",
                    api_key="k",
                    env={"HTTPS_PROXY": f"http://127.0.0.1:{proxy.port}"},
                    ssl_context=client_ctx,
                ) as client:
                    return (await client.chat("hi", "m", on_delta=lambda t, d: None)).text

            assert run(main()) == TEXT
        finally:
            proxy.close()
    assert proxy.heads[0].startswith(f"CONNECT api.example.test:{tls_server.port} ".encode())


def test_one_client_across_several_asyncio_runs(server: ReplayServer) -> None:
    # Issue 9, point 14(a): a pooled connection belongs to the loop that made it. A later
    # asyncio.run() closes it (never reuses it) and the call goes out on a fresh one.
    client = client_for(server)
    key = (client.config.endpoint.scheme, client.config.endpoint.host,
           client.config.endpoint.port)

    async def chat() -> str:
        return (await client.chat("hi", "m")).text

    async def stream() -> list[type]:
        async with client.stream("hi", "m") as events:
            return [type(event) async for event in events]

    assert run(chat()) == TEXT
    first = client.pool._idle[key][0]
    raw = first.transport.get_extra_info("socket")
    assert run(chat()) == TEXT  # was: RuntimeError: Event loop is closed
    assert raw.fileno() == -1  # closed, not leaked
    assert run(stream())[-1] is Done
    assert server.connections == 3 and len(server.requests) == 3
    # Closing the pool outside any loop, after its loop is gone, closes the socket too.
    raw = client.pool._idle[key][0].transport.get_extra_info("socket")
    client.pool.close()
    assert raw.fileno() == -1
    run(client.aclose())


# --- read_interval: resting between reads ------------------------------------------------

PACED = " ".join(f"word{i}" for i in range(30))  # 30 tokens, 10 ms apart: 0.3 s


class CountingBackend(AsyncioBackend):
    """Counts the reads of the socket (each one a wake-up of the call) that rested."""

    rested = 0

    async def receive(self, conn: AsyncioConn, timeout: float | None, rest: float = 0.0) -> bytes:
        self.rested += rest > 0
        return await super().receive(conn, timeout, rest)


def test_read_interval_same_answer_in_a_few_reads() -> None:
    # The rest (1 s) outlasts the stream after its first token: everything after the
    # first delivery comes in one read. Without it, a read per token or so.
    async def main(url: str) -> None:
        async with AsyncClient(base_url=url, api_key="k", env={}, read_interval=1.0) as client:
            client.backend = backend = CountingBackend(read_interval=1.0)
            seen: list[str] = []
            answer = await client.chat("hi", "m", on_delta=lambda t, d: seen.append(t))
            assert answer.text == "".join(seen) == PACED
            # Reads up to the first token do not rest (time to first token is kept);
            # after it, one read brings all the rest.
            assert backend.rested == 1
            async with client.stream("hi", "m") as events:
                got = [event async for event in events]
            assert type(got[-1]) is Done and got[-1].text == PACED

    with ReplayServer(text=PACED, token_delay=0.01) as paced:
        run(main(paced.base_url))
        assert paced.connections == 1  # a rested stream's connection is reused


def test_read_interval_under_tls(ca: trustme.CA) -> None:
    async def main(url: str) -> None:
        async with AsyncClient(
            base_url=url, api_key="k", env={}, read_interval=0.05, ssl_context=client_context(ca)
        ) as client:
            for _ in range(2):
                assert (await client.chat("hi", "m", on_delta=lambda t, d: None)).text == PACED

    with ReplayServer(
        text=PACED, token_delay=0.01, ssl_context=server_context(ca, "127.0.0.1")
    ) as tls_server:
        run(main(tls_server.base_url))
        assert tls_server.connections == 1


def test_read_interval_keeps_the_idle_timeout(server: ReplayServer) -> None:
    server.add_fault(Fault(kind="stall", after_events=2, seconds=5.0))

    async def main() -> None:
        client = client_for(
            server, timeout=Timeout(connect=5, idle=0.3), max_retries=0, read_interval=0.1
        )
        seen: list[str] = []
        with pytest.raises(ChatError) as info:
            await client.chat("hi", "m", on_delta=lambda t, d: seen.append(t))
        assert info.value.kind == "timeout" and "idle timeout" in str(info.value)
        assert info.value.partial == "".join(seen) and seen

    run(main())


def test_read_interval_keeps_the_stall_timeout(server: ReplayServer) -> None:
    server.add_fault(Fault(kind="stall", after_events=2, seconds=5.0))

    async def main() -> None:
        timeout = Timeout(connect=5, idle=5, stall=0.3)
        client = client_for(server, timeout=timeout, max_retries=0, read_interval=0.1)
        with pytest.raises(ChatError) as info:
            await client.chat("hi", "m", on_delta=lambda t, d: None)
        assert info.value.kind == "timeout" and "stall timeout" in str(info.value)

    run(main())


@pytest.mark.parametrize(
    "timeout", [Timeout(connect=5, idle=0.1), Timeout(connect=5, idle=5, stall=0.1)]
)
def test_a_rest_longer_than_a_timeout_is_not_the_servers_silence(timeout: Timeout) -> None:
    # Tokens come every 10 ms, the rest would be 0.5 s: a read that rested would see
    # nothing for longer than the timeout, though the server never paused.
    async def main(url: str) -> None:
        async with AsyncClient(
            base_url=url, api_key="k", env={}, timeout=timeout, max_retries=0, read_interval=0.5
        ) as client:
            assert (await client.chat("hi", "m", on_delta=lambda t, d: None)).text == PACED

    with ReplayServer(text=PACED, token_delay=0.01) as paced:
        run(main(paced.base_url))
