"""libchatty over httpx (issue 11): the behavioural suite of the other bindings -- the
same user functions as tests/test_every_dialect.py, in every dialect, against the replay
server on loopback -- run through ``libchatty.bindings.httpx`` (``Client`` over
``httpx.Client``; ``AsyncClient`` over ``httpx.AsyncClient`` on asyncio and on trio);
then the faults through the adapter: a cut stream, an idle timeout mid-stream,
cancellation, a raising callback -- each an exact partial text and no connection left
in httpx's pool. Every call is bounded by the client's timeouts and a run deadline.
"""

from __future__ import annotations

import asyncio
import math
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from typing import Any, Final, TypeVar

import pytest
import trio

httpx = pytest.importorskip("httpx")

from libchatty.bindings._api import STOP, Timeout  # noqa: E402
from libchatty.bindings._attempt import DRAIN_TIMEOUT  # noqa: E402
from libchatty.bindings.httpx import AsyncClient, Client  # noqa: E402
from libchatty.bindings.server import Fault, ReplayServer  # noqa: E402
from peers import closed_port  # noqa: E402
from test_every_dialect import (  # noqa: E402
    ANSWER,
    ANSWER_CODE,
    ASK,
    ASK_EVENTS,
    MESSAGES,
    MODEL,
    PIECES,
    RUN_DEADLINE,
    TEXT,
    TOOL_ANSWER,
    TOOL_CALLS,
    UserCode,
    check_completion,
    check_request,
    client_settings,
    first_text_event,
    text_deltas,
)

from libchatty.dialects import DIALECT_NAMES  # noqa: E402
from libchatty.events import Done  # noqa: E402
from libchatty.exceptions import ChatError  # noqa: E402

T = TypeVar("T")

BINDINGS: Final = ("httpx", "httpx-asyncio", "httpx-trio")
every_dialect = pytest.mark.parametrize("dialect", DIALECT_NAMES)
every_binding = pytest.mark.parametrize("binding", BINDINGS)


def pool_size(http_client: Any) -> int:
    """Connections httpx holds open (idle or in use)."""
    return len(http_client._transport._pool.connections)


def run(binding: str, settings: dict[str, Any], code: UserCode[T],
        backoffs: list[float] | None = None, pools: list[int] | None = None) -> T:
    """Run the user code with a fresh client of ``binding`` over a fresh httpx client;
    ``pools`` gets how many connections httpx held when the code was done."""
    sync_code, async_code = code
    if binding == "httpx":
        with httpx.Client() as http_client, Client(http_client=http_client, **settings) as client:
            if backoffs is not None:
                client.backend.sleep = backoffs.append  # type: ignore[method-assign]
            try:
                return sync_code(client)
            finally:
                if pools is not None:
                    pools.append(pool_size(http_client))

    async def record(seconds: float) -> None:
        assert backoffs is not None
        backoffs.append(seconds)

    async def on_loop() -> T:
        async with httpx.AsyncClient() as http_client:
            client = AsyncClient(http_client=http_client, **settings)
            if backoffs is not None:
                client.backend.sleep = record  # type: ignore[method-assign]
            try:
                return await async_code(client)
            finally:
                if pools is not None:
                    pools.append(pool_size(http_client))

    if binding == "httpx-trio":

        async def on_trio() -> T:
            with trio.fail_after(RUN_DEADLINE):
                return await on_loop()

        return trio.run(on_trio)
    return asyncio.run(asyncio.wait_for(on_loop(), RUN_DEADLINE))


@pytest.fixture(scope="module")
def answer_server() -> Iterator[ReplayServer]:
    with ReplayServer(script=ANSWER, keep_credentials=True) as server:
        yield server


@pytest.fixture
def fault_server() -> Iterator[ReplayServer]:
    with ReplayServer(script=ANSWER, keep_credentials=True) as server:
        yield server


# --- the behavioural suite, every dialect -------------------------------------------------


@every_binding
@every_dialect
def test_streamed_with_on_delta(binding: str, dialect: str, answer_server: ReplayServer) -> None:
    since = len(answer_server.requests)
    completion, pieces = run(binding, client_settings(answer_server, dialect), ASK)
    check_completion(completion, text=TEXT, streamed=True)
    assert pieces == PIECES
    [request] = answer_server.requests[since:]
    check_request(request, dialect, stream=True)


@every_binding
@every_dialect
def test_not_streamed_without_a_callback(
    binding: str, dialect: str, answer_server: ReplayServer
) -> None:
    since = len(answer_server.requests)
    completion = run(binding, client_settings(answer_server, dialect), ANSWER_CODE)
    check_completion(completion, text=TEXT, streamed=False)
    [request] = answer_server.requests[since:]
    check_request(request, dialect, stream=False)


@every_binding
@every_dialect
def test_stream_iteration(binding: str, dialect: str, answer_server: ReplayServer) -> None:
    events = run(binding, client_settings(answer_server, dialect), ASK_EVENTS)
    assert text_deltas(events) == PIECES
    done = events[-1]
    assert type(done) is Done
    assert done.text == TEXT


@every_binding
@every_dialect
def test_tool_calls_streamed(binding: str, dialect: str) -> None:
    with ReplayServer(script=TOOL_ANSWER, keep_credentials=True) as server:
        completion, _ = run(binding, client_settings(server, dialect), ASK)
    check_completion(completion, text=TOOL_ANSWER.text, streamed=True, tool_calls=TOOL_CALLS)


@every_binding
@every_dialect
def test_a_cut_stream_is_incomplete_with_the_partial_text(
    binding: str, dialect: str, fault_server: ReplayServer
) -> None:
    # Three text deltas, then the server closes the connection mid-body: httpx raises
    # RemoteProtocolError, which is the framed door's receive_end(False).
    fault_server.add_fault(Fault(kind="cut", after_events=first_text_event(dialect, ANSWER) + 3))
    pools: list[int] = []
    with pytest.raises(ChatError) as caught:
        run(binding, client_settings(fault_server, dialect), ASK, pools=pools)
    assert caught.value.kind == "incomplete"
    assert caught.value.partial == "".join(PIECES[:3])
    assert len(fault_server.requests) == 1  # output was delivered: no retry
    assert pools == [0]


@every_binding
@every_dialect
def test_a_rate_limit_with_retry_after_zero_is_retried(
    binding: str, dialect: str, fault_server: ReplayServer
) -> None:
    fault_server.add_fault(Fault(kind="status", status=429, retry_after="0"))
    backoffs: list[float] = []
    completion, pieces = run(
        binding, client_settings(fault_server, dialect, max_retries=1), ASK, backoffs
    )
    check_completion(completion, text=TEXT, streamed=True)
    assert pieces == PIECES
    assert backoffs == [0.0]
    first, second = fault_server.requests
    assert first.body == second.body


@every_binding
def test_a_rate_limit_without_retries_is_raised(binding: str, fault_server: ReplayServer) -> None:
    fault_server.add_fault(Fault(kind="status", status=429, retry_after="0"))
    with pytest.raises(ChatError) as caught:
        run(binding, client_settings(fault_server, "openai-chat", max_retries=0), ASK)
    error = caught.value.error
    assert (error.kind, error.status, error.retry_after, error.partial) == (
        "rate_limit", 429, 0.0, ""
    )
    assert len(fault_server.requests) == 1


@every_binding
def test_a_stream_rejected_falls_back_to_one_json_body(
    binding: str, fault_server: ReplayServer
) -> None:
    fault_server.add_fault(Fault(kind="reject_stream"))
    completion, pieces = run(binding, client_settings(fault_server, "openai-chat"), ASK)
    assert (completion.text, completion.streamed, pieces) == (TEXT, False, [TEXT])
    first, second = fault_server.requests
    check_request(first, "openai-chat", stream=True)
    check_request(second, "openai-chat", stream=False)


# --- timeouts, cancellation, callbacks: exact partial text, nothing left open -------------

STALLED: Final = Fault(kind="stall", after_events=first_text_event("openai-chat", ANSWER) + 3,
                       seconds=math.inf)


@every_binding
def test_an_idle_timeout_mid_stream(binding: str, fault_server: ReplayServer) -> None:
    fault_server.add_fault(STALLED)
    settings = client_settings(
        fault_server, "openai-chat", timeout=Timeout(connect=5.0, idle=0.2, total=20.0)
    )
    pools: list[int] = []
    with pytest.raises(ChatError) as caught:
        run(binding, settings, ASK, pools=pools)
    error = caught.value.error
    assert (error.kind, error.partial) == ("timeout", "".join(PIECES[:3]))
    assert error.message == "no data from the server for 0.2 s (idle timeout)"
    assert len(fault_server.requests) == 1
    assert pools == [0]


@pytest.mark.parametrize("binding", ["httpx-asyncio", "httpx-trio"])
def test_a_stall_timeout_cuts_a_read_shorter_than_the_idle_timeout(
    binding: str, fault_server: ReplayServer
) -> None:
    fault_server.add_fault(STALLED)
    settings = client_settings(
        fault_server, "openai-chat", timeout=Timeout(connect=5.0, idle=10.0, stall=0.2, total=20.0)
    )
    with pytest.raises(ChatError) as caught:
        run(binding, settings, ASK)
    error = caught.value.error
    assert (error.kind, error.partial) == ("timeout", "".join(PIECES[:3]))
    assert error.message == "no content from the server for 0.2 s (stall timeout)"


@pytest.mark.skipif(sys.version_info < (3, 11), reason="asyncio.timeout is Python 3.11's")
@pytest.mark.parametrize("binding", ["httpx-asyncio", "httpx-trio"])
def test_on_asyncio_a_read_is_cut_by_asyncio_s_deadline(
    binding: str, answer_server: ReplayServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The read after Done (the body's end, for the connection's sake) is cut to the drain
    # timeout: on asyncio by asyncio's deadline, a tenth of anyio's cancel scope; on trio
    # by anyio's.
    deadlines: list[float] = []
    in_task = asyncio.timeout

    def counting(delay: float) -> Any:
        deadlines.append(delay)
        return in_task(delay)

    monkeypatch.setattr(asyncio, "timeout", counting)
    settings = client_settings(answer_server, "openai-chat", timeout=Timeout(connect=5, idle=5))
    pools: list[int] = []
    completion, seen = run(binding, settings, ASK, pools=pools)
    assert (completion.text, "".join(seen), pools) == (TEXT, TEXT, [1])  # the body's end read
    on_asyncio = binding == "httpx-asyncio"
    assert len(deadlines) == on_asyncio and all(0 < d <= DRAIN_TIMEOUT for d in deadlines)


class Boom(Exception):
    pass


@every_binding
def test_a_raising_callback_closes_the_connection(
    binding: str, answer_server: ReplayServer
) -> None:
    seen: list[str] = []

    def on_delta(text: str, done: bool) -> None:
        seen.append(text)
        if len(seen) == 2:
            raise Boom

    async def on_delta_async(text: str, done: bool) -> None:
        on_delta(text, done)

    def user(client: Any) -> Any:
        return client.chat(MESSAGES, MODEL, on_delta=on_delta)

    async def user_async(client: Any) -> Any:
        return await client.chat(MESSAGES, MODEL, on_delta=on_delta_async)

    pools: list[int] = []
    with pytest.raises(Boom):
        run(binding, client_settings(answer_server, "openai-chat"), (user, user_async),
            pools=pools)
    assert seen == PIECES[:2]
    assert pools == [0]


@every_binding
def test_stop_ends_the_call_with_the_text_so_far(binding: str, answer_server: ReplayServer) -> None:
    def on_delta(text: str, done: bool) -> object:
        return STOP if text == PIECES[1] else None

    async def on_delta_async(text: str, done: bool) -> object:
        return on_delta(text, done)

    def user(client: Any) -> Any:
        return client.chat(MESSAGES, MODEL, on_delta=on_delta)

    async def user_async(client: Any) -> Any:
        return await client.chat(MESSAGES, MODEL, on_delta=on_delta_async)

    pools: list[int] = []
    completion = run(binding, client_settings(answer_server, "openai-chat"), (user, user_async),
                     pools=pools)
    assert (completion.text, completion.finish_reason) == ("".join(PIECES[:2]), "stopped")
    assert pools == [0]


@every_binding
def test_keep_alive_is_httpx_s(binding: str) -> None:
    def twice(client: Any) -> list[str]:
        return [client.chat(MESSAGES, MODEL, on_delta=lambda t, d: None).text for _ in range(2)]

    async def twice_async(client: Any) -> list[str]:
        return [(await client.chat(MESSAGES, MODEL, on_delta=lambda t, d: None)).text
                for _ in range(2)]

    with ReplayServer(script=[ANSWER, ANSWER], keep_credentials=True) as server:
        pools: list[int] = []
        assert run(binding, client_settings(server, "openai-chat"), (twice, twice_async),
                   pools=pools) == [TEXT, TEXT]
        assert server.connections == 1  # the second call reused httpx's connection
        assert pools == [1]


def cancel_after_three(binding: str, server: ReplayServer) -> tuple[list[str], int]:
    """Stream with a stalled server, cancel after three pieces; the pieces seen and the
    connections httpx still holds."""
    seen: list[str] = []

    async def main() -> int:
        async with httpx.AsyncClient() as http_client:
            client = AsyncClient(http_client=http_client,
                                 **client_settings(server, "openai-chat"))

            got_three: Any = None

            def on_delta(text: str, done: bool) -> None:
                seen.append(text)
                if len(seen) == 3 and got_three is not None:
                    got_three()

            if binding == "httpx-trio":
                with trio.move_on_after(RUN_DEADLINE) as scope:
                    got_three = scope.cancel
                    await client.chat(MESSAGES, MODEL, on_delta=on_delta)
            else:
                task = asyncio.ensure_future(client.chat(MESSAGES, MODEL, on_delta=on_delta))
                got_three = task.cancel
                with pytest.raises(asyncio.CancelledError):
                    await asyncio.wait_for(task, RUN_DEADLINE)
            return pool_size(http_client)

    if binding == "httpx-trio":
        return seen, trio.run(main)
    return seen, asyncio.run(main())


@pytest.mark.parametrize("binding", ["httpx-asyncio", "httpx-trio"])
def test_cancellation_mid_stream_releases_the_connection(
    binding: str, fault_server: ReplayServer
) -> None:
    fault_server.add_fault(STALLED)
    seen, pooled = cancel_after_three(binding, fault_server)
    assert seen == PIECES[:3]
    assert pooled == 0


def test_a_refused_connection_is_a_connection_error_before_sending() -> None:
    port = closed_port()
    settings = {"base_url": f"http://127.0.0.1:{port}/v1", "api_key": "k", "env": {},
                "max_retries": 0, "timeout": Timeout(connect=2.0, idle=2.0, total=5.0)}
    with pytest.raises(ChatError) as caught:
        run("httpx", settings, ASK)
    error = caught.value.error
    assert (error.kind, error.partial, error.status) == ("connection", "", None)
    assert error.message.startswith(f"connecting to 127.0.0.1:{port} failed: ")
    assert "k" not in error.message.split(":")[-1].split()  # no key in the message


def test_a_user_http_client_is_not_closed() -> None:
    with httpx.Client() as http_client:
        Client(http_client=http_client, base_url="http://127.0.0.1:9/v1", api_key="k",
               env={}).close()
        assert not http_client.is_closed
    made = Client(base_url="http://127.0.0.1:9/v1", api_key="k", env={})
    made.close()
    assert made.http_client.is_closed


def test_importing_libchatty_does_not_import_httpx_or_aiohttp() -> None:
    code = ("import sys, libchatty, libchatty.bindings, libchatty.bindings.blocking; "
            "print(sorted(m for m in ('httpx', 'aiohttp', 'h2') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True)
    assert out.stdout.strip() == "[]"



class _Body(httpx.AsyncByteStream):
    """An async body of one piece that counts its closes."""

    def __init__(self) -> None:
        self.closes = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield b"data: {}\n\n"

    async def aclose(self) -> None:
        self.closes += 1


def test_only_an_unfinished_async_response_is_left_for_settle() -> None:
    # aclose() must be awaited for a response dropped before its end (settle() does, under
    # a shield); one read to its end httpx closed itself: nothing is left to await.
    from libchatty.bindings.httpx import _Response

    async def main() -> tuple[bool, list[httpx.Response], int]:
        body = _Body()
        response = httpx.Response(200, stream=body)
        dropped: list[httpx.Response] = []
        conn = _Response(response, response.aiter_bytes().__anext__, None, dropped)
        await conn.next_piece()
        conn.abort()  # unfinished
        unfinished_left = dropped == [response]
        dropped.clear()
        with pytest.raises(StopAsyncIteration):
            await conn.next_piece()
        conn.abort()  # read to its end
        return unfinished_left, dropped, body.closes

    assert asyncio.run(main()) == (True, [], 1)


def test_a_memo_makes_anew_only_when_its_key_differs() -> None:
    from libchatty.bindings._framed import Memo

    made: list[list[str]] = []

    def make(key: list[str]) -> list[str]:
        made.append(key)
        return list(key)

    memo = Memo(make)
    first = memo(["a"])
    assert memo(["a"]) is first  # an equal key: what was made for it
    second = memo(["b"])
    assert second == ["b"] and second is not first
    assert memo(["a"]) == ["a"] and len(made) == 3  # one entry: the last key only


SSE_ANSWER: Final = (
    b'data: {"choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}\n\n'
    b'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n'
)


def test_each_request_carries_its_own_headers_and_timeouts() -> None:
    # The adapter keeps the parsed URL and headers while they stay the same (Memo): a
    # call's own headers and timeout still reach httpx, and one request's timeouts are
    # not another's.
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        head = {"content-type": "text/event-stream", "x-request-id": "req_1"}
        return httpx.Response(200, headers=head, content=SSE_ANSWER)

    with httpx.Client(transport=httpx.MockTransport(answer)) as http_client:
        client = Client(http_client=http_client, base_url="http://127.0.0.1:9/v1",
                        api_key="sk-memo", env={}, timeout=Timeout(connect=3, idle=7))
        ask = [{"role": "user", "content": "hi"}]
        texts: list[str] = []
        for headers in ({"X-Trace": "1"}, {"X-Trace": "1"}, {"X-Trace": "2"}, None):
            done = client.chat(ask, "m", headers=headers,
                                  on_delta=lambda text, done: texts.append(text))
            assert (done.text, done.request_id, done.streamed) == ("Hi", "req_1", True)
        client.chat(ask, "m", timeout=Timeout(connect=1, idle=2))
    assert [r.headers.get("x-trace") for r in sent] == ["1", "1", "2", None, None]
    assert {str(r.url) for r in sent} == {"http://127.0.0.1:9/v1/chat/completions"}
    assert all(r.headers["authorization"] == "Bearer sk-memo" for r in sent)
    timeouts = [r.extensions["timeout"] for r in sent]
    assert timeouts[0] == {"connect": 3, "read": 7, "write": 7, "pool": 3}
    assert timeouts[-1] == {"connect": 1, "read": 2, "write": 2, "pool": 1}
    assert timeouts[0] is not timeouts[1]
