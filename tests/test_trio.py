"""bindings/trio.py: AsyncClient on trio.

Timeouts and cancellation at every point (before connect, mid-head, mid-stream) run over
``trio.testing`` memory streams under a virtual clock (``MockClock(autojump_threshold=0)``):
a scripted server task plays the provider, so "wait 1000 s" takes no time. The rest runs
over real loopback sockets against the replay server, TLS included.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
import trio
import trio.testing
import trustme
from libchatty.bindings._api import STOP, Timeout
from libchatty.bindings.server import Fault, ReplayServer
from libchatty.bindings.trio import AsyncClient, TrioBackend
from peers import ConnectProxy, client_context, server_context

from libchatty.events import Delta, Done, Error
from libchatty.exceptions import ChatError

TEXT = "Trio streams this answer piece by piece, and every piece arrives in order."


def run_virtual(fn: Callable[[], Awaitable[Any]]) -> Any:
    """Run ``fn`` under trio with a clock that jumps over every sleep."""
    return trio.run(fn, clock=trio.testing.MockClock(autojump_threshold=0))


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
)


def delta(text: str) -> bytes:
    body = json.dumps({"choices": [{"index": 0, "delta": {"content": text}}]})
    return chunk(f"data: {body}\n\n".encode())


END = (
    chunk(b'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n')
    + chunk(b"data: [DONE]\n\n")
    + b"0\r\n\r\n"
)

# A script step: bytes to send, or a number of seconds to sleep.
Step = bytes | float


class ScriptedServer:
    """Plays one scripted response per connection over memory streams; records what
    happened on its side."""

    def __init__(self, nursery: trio.Nursery, *scripts: list[Step]) -> None:
        self.nursery = nursery
        self.scripts = list(scripts)
        self.connections = 0
        self.requests: list[bytes] = []
        self.saw_eof: list[bool] = []

    async def open_stream(self, host: str, port: int) -> trio.abc.Stream:
        client, server = trio.testing.memory_stream_pair()
        self.connections += 1
        self.nursery.start_soon(self._serve, server, self.scripts.pop(0))
        return client

    async def _serve(self, stream: trio.abc.Stream, script: list[Step]) -> None:
        request = b""
        while b"\r\n\r\n" not in request:
            data = await stream.receive_some()
            if not data:
                self.saw_eof.append(True)
                return
            request += data
        self.requests.append(request)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._play, stream, script)
            # Meanwhile, watch for the client closing its side (it never sends more).
            try:
                while await stream.receive_some():
                    pass
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                pass
            self.saw_eof.append(True)
            nursery.cancel_scope.cancel()

    async def _play(self, stream: trio.abc.Stream, script: list[Step]) -> None:
        try:
            for step in script:
                if isinstance(step, bytes):
                    await stream.send_all(step)
                else:
                    await trio.sleep(step)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass


def scripted_client(server: ScriptedServer, **kwargs: Any) -> AsyncClient:
    kwargs.setdefault("max_retries", 0)
    client = AsyncClient(base_url="http://api.test/v1", api_key="k", env={}, **kwargs)
    client.backend = TrioBackend(open_stream=server.open_stream)
    return client


# --- virtual time: timeouts -------------------------------------------------------------------


def test_idle_timeout_mid_stream() -> None:
    async def main() -> None:
        async with trio.open_nursery() as nursery:
            server = ScriptedServer(nursery, [HEAD, delta("Hel"), delta("lo"), 1000.0, END])
            client = scripted_client(server, timeout=Timeout(connect=5, idle=30))
            start = trio.current_time()
            with pytest.raises(ChatError) as info:
                await client.chat("hi", "m", on_delta=lambda t, d: None)
            assert trio.current_time() - start == pytest.approx(30)
            assert info.value.kind == "timeout" and info.value.partial == "Hello"
            assert "idle" in str(info.value)
            nursery.cancel_scope.cancel()

    run_virtual(main)


def test_keep_alive_bytes_reset_the_idle_timer() -> None:
    ping = chunk(b": ping\n\n")
    script: list[Step] = [HEAD, delta("a")]
    for _ in range(10):
        script += [20.0, ping]  # 200 s of pings, each within the 30 s idle timeout
    script += [delta("b"), END]

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            server = ScriptedServer(nursery, script)
            client = scripted_client(server, timeout=Timeout(connect=5, idle=30))
            answer = await client.chat("hi", "m", on_delta=lambda t, d: None)
            assert answer.text == "ab"
            nursery.cancel_scope.cancel()

    run_virtual(main)


def test_total_timeout() -> None:
    script: list[Step] = [HEAD] + [delta("x"), 20.0] * 10 + [END]

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            server = ScriptedServer(nursery, script)
            client = scripted_client(server, timeout=Timeout(connect=5, idle=30, total=50))
            with pytest.raises(ChatError) as info:
                await client.chat("hi", "m", on_delta=lambda t, d: None)
            assert info.value.kind == "timeout" and "total" in str(info.value)
            assert info.value.partial == "xxx"
            nursery.cancel_scope.cancel()

    run_virtual(main)


def test_connect_timeout() -> None:
    async def never(host: str, port: int) -> trio.abc.Stream:
        await trio.sleep_forever()
        raise AssertionError

    async def main() -> None:
        client = AsyncClient(base_url="http://api.test/v1", api_key="k", env={},
                             timeout=Timeout(connect=7, idle=30), max_retries=0)
        client.backend = TrioBackend(open_stream=never)
        start = trio.current_time()
        with pytest.raises(ChatError) as info:
            await client.chat("hi", "m")
        assert info.value.kind == "timeout" and "connect" in str(info.value)
        assert trio.current_time() - start == pytest.approx(7)

    run_virtual(main)


def test_retry_after_is_slept_on_the_trio_clock() -> None:
    limited = (
        b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 12\r\nContent-Type: application/json"
        b"\r\nContent-Length: 29\r\nConnection: close\r\n\r\n"
        b'{"error":{"message":"slow"}}\n'
    )

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            server = ScriptedServer(nursery, [limited], [HEAD, delta("ok"), END])
            client = scripted_client(server, max_retries=1)
            start = trio.current_time()
            answer = await client.chat("hi", "m", on_delta=lambda t, d: None)
            assert answer.text == "ok"
            assert 12 <= trio.current_time() - start <= 13.3  # Retry-After + jitter
            assert server.connections == 2
            nursery.cancel_scope.cancel()

    run_virtual(main)


# --- virtual time: cancellation at every point -----------------------------------------------


def test_cancel_before_connect() -> None:
    opened: list[str] = []

    async def slow_open(host: str, port: int) -> trio.abc.Stream:
        opened.append("start")
        await trio.sleep(100)
        opened.append("done")  # never reached
        raise AssertionError

    async def main() -> None:
        client = AsyncClient(base_url="http://api.test/v1", api_key="k", env={})
        client.backend = TrioBackend(open_stream=slow_open)
        with trio.move_on_after(5) as scope:
            await client.chat("hi", "m")
        assert scope.cancelled_caught and opened == ["start"]

    run_virtual(main)


@pytest.mark.parametrize(
    "script",
    [
        pytest.param([HEAD[:20], 1000.0], id="mid-head"),
        pytest.param([HEAD, delta("a"), delta("b"), 1000.0], id="mid-stream"),
    ],
)
def test_cancel_closes_the_connection(script: list[Step]) -> None:
    async def main() -> None:
        async with trio.open_nursery() as nursery:
            server = ScriptedServer(nursery, script)
            client = scripted_client(server)
            seen: list[str] = []
            with trio.move_on_after(5) as scope:
                await client.chat("hi", "m", on_delta=lambda t, d: seen.append(t))
            assert scope.cancelled_caught
            await trio.sleep(1)  # let the server task notice
            assert server.saw_eof == [True]  # the client closed its side
            assert client.pool.idle_count(("http", "api.test", 80)) == 0
            nursery.cancel_scope.cancel()

    run_virtual(main)


def test_cancel_while_iterating_a_stream() -> None:
    async def main() -> None:
        async with trio.open_nursery() as nursery:
            server = ScriptedServer(nursery, [HEAD, delta("a"), 1000.0])
            client = scripted_client(server)
            got: list[object] = []
            with trio.move_on_after(5):
                async with client.stream("hi", "m") as events:
                    async for event in events:
                        got.append(event)
            assert [type(e) for e in got] == [Delta]
            await trio.sleep(1)
            assert server.saw_eof == [True]
            nursery.cancel_scope.cancel()

    run_virtual(main)


def test_async_callback_and_stop() -> None:
    async def main() -> None:
        async with trio.open_nursery() as nursery:
            server = ScriptedServer(nursery, [HEAD, delta("a"), delta("b"), delta("c"), END])
            client = scripted_client(server)
            seen: list[str] = []

            async def on_delta(text: str, done: bool) -> object:
                await trio.sleep(0.1)
                seen.append(text)
                return STOP if text == "b" else None

            answer = await client.chat("hi", "m", on_delta=on_delta)
            assert answer.finish_reason == "stopped" and answer.text == "ab"
            nursery.cancel_scope.cancel()

    run_virtual(main)


# --- real sockets -----------------------------------------------------------------------------


@pytest.fixture
def server() -> Iterator[ReplayServer]:
    with ReplayServer(text=TEXT) as running:
        yield running


def client_for(server: ReplayServer, **kwargs: Any) -> AsyncClient:
    return AsyncClient(base_url=server.base_url, api_key="k", env={}, **kwargs)


def test_chat_stream_and_keep_alive(server: ReplayServer) -> None:
    async def main() -> None:
        async with client_for(server) as client:
            assert (await client.chat("hi", "m")).text == TEXT
            pieces: list[tuple[str, bool]] = []
            answer = await client.chat("hi", "m", on_delta=lambda t, d: pieces.append((t, d)))
            assert answer.text == TEXT and answer.streamed
            assert "".join(t for t, _ in pieces) == TEXT and pieces[-1] == ("", True)
            async with client.stream("hi", "m") as events:
                got = [event async for event in events]
            assert "".join(e.text for e in got if type(e) is Delta) == TEXT
            assert type(got[-1]) is Done

    trio.run(main)
    assert server.connections == 1 and len(server.requests) == 3


def test_pool_shared_between_tasks(server: ReplayServer) -> None:
    texts: list[str] = []

    async def main() -> None:
        async with client_for(server) as client:
            async def one() -> None:
                for _ in range(5):
                    answer = await client.chat("hi", "m", on_delta=lambda t, d: None)
                    texts.append(answer.text)

            async with trio.open_nursery() as nursery:
                for _ in range(8):
                    nursery.start_soon(one)

    trio.run(main)
    assert texts == [TEXT] * 40
    assert server.connections <= 8 and len(server.requests) == 40


def test_faults(server: ReplayServer) -> None:
    async def main() -> None:
        async with client_for(server) as client:
            server.add_fault(Fault(kind="reject_stream"))
            answer = await client.chat("hi", "m", on_delta=lambda t, d: None)
            assert answer.text == TEXT and not answer.streamed

            server.add_fault(Fault(kind="status", status=429, retry_after=0.05))
            assert (await client.chat("hi", "m", on_delta=lambda t, d: None)).text == TEXT

            server.add_fault(Fault(kind="cut", after_events=3))
            with pytest.raises(ChatError) as info:
                await client.chat("hi", "m", on_delta=lambda t, d: None)
            assert info.value.partial and TEXT.startswith(info.value.partial)

            server.add_fault(Fault(kind="stream_error", after_events=2))
            async with client.stream("hi", "m") as events:
                got = [event async for event in events]
            assert type(got[-1]) is Error and got[-1].partial

    trio.run(main)


def test_raising_callback_propagates(server: ReplayServer) -> None:
    class Boom(Exception):
        pass

    async def on_delta(text: str, done: bool) -> None:
        raise Boom(text)

    async def main() -> None:
        async with client_for(server) as client:
            with pytest.raises(Boom):
                await client.chat("hi", "m", on_delta=on_delta)
            assert (await client.chat("hi", "m")).text == TEXT

    trio.run(main)
    assert server.connections == 2


def test_tls(ca: trustme.CA) -> None:
    server_ctx = server_context(ca, "127.0.0.1")
    client_ctx = client_context(ca)

    async def main(url: str) -> None:
        async with AsyncClient(base_url=url, api_key="k", env={},
                               ssl_context=client_ctx) as client:
            assert (await client.chat("hi", "m", on_delta=lambda t, d: None)).text == TEXT
            assert (await client.chat("hi", "m")).text == TEXT
        async with AsyncClient(base_url=url, api_key="k", env={}) as default:
            with pytest.raises(ChatError) as info:
                await default.chat("hi", "m")
            assert info.value.kind == "connection" and "certificate" in str(info.value)

    with ReplayServer(text=TEXT, ssl_context=server_ctx) as tls_server:
        trio.run(main, tls_server.base_url)
        assert len(tls_server.requests) == 2  # the unverified client sent nothing


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
                    with trio.fail_after(30):
                        answer = await client.chat("hi", "m", on_delta=lambda t, d: None)
                    return answer.text

            assert trio.run(main) == TEXT
        finally:
            proxy.close()
    assert proxy.heads[0].startswith(f"CONNECT api.example.test:{tls_server.port} ".encode())


def test_numeric_hosts_are_connected_without_resolution() -> None:
    from libchatty.bindings._trio_streams import _address_family

    assert _address_family("127.0.0.1") == trio.socket.AF_INET
    assert _address_family("::1") == trio.socket.AF_INET6
    for name in ("localhost", "api.openai.com", "bücher.example", "127.1", "", "[::1]"):
        assert _address_family(name) is None, name


def test_plain_sockets_are_read_and_written_through_their_descriptor() -> None:
    # A read that times out, a request larger than the socket buffers (partial writes,
    # waits for room), a read, the peer's close, and a read on a connection aborted.
    from libchatty.bindings._ops import IOFailure

    payload = bytes(range(256)) * 16384  # 4 MiB
    received = bytearray()

    async def main() -> None:
        listener = trio.socket.socket()
        await listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        backend = TrioBackend()
        conn = await backend.connect("127.0.0.1", port, 10)
        assert conn.socket is not None  # the descriptor path, not receive_some/send_all
        peer, _ = await listener.accept()
        with pytest.raises(IOFailure) as silence:  # nothing sent yet: the idle timeout
            await backend.receive(conn, 0.01)
        assert silence.value.kind == "timeout"

        async def read_all() -> None:
            while len(received) < len(payload):
                await trio.sleep(0)
                received.extend(await peer.recv(65536))
            await peer.send(b"answer")
            peer.close()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(read_all)
            await backend.send(conn, payload, 10)
        assert await backend.receive(conn, 10) == b"answer"
        assert await backend.receive(conn, 10) == b""
        conn.abort()
        with pytest.raises(IOFailure) as failure:
            await backend.receive(conn, 10)
        assert failure.value.kind == "connection"
        listener.close()

    trio.run(main)
    assert received == payload
