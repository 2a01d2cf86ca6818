"""libchatty over aiohttp (issue 11): the behavioural suite of the other bindings (the
user functions of tests/test_every_dialect.py, every dialect, the replay server on
loopback) through ``libchatty.bindings.aiohttp.AsyncClient`` over a user's
``aiohttp.ClientSession``; then a cut stream, an idle timeout, a stall timeout,
cancellation and a raising callback -- each an exact partial text and no connection
left in aiohttp's connector. Every run is bounded by the client's timeouts and a
deadline."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterator
from typing import Any, Final, TypeVar

import pytest

aiohttp = pytest.importorskip("aiohttp")

from libchatty.bindings._api import Timeout  # noqa: E402
from libchatty.bindings.aiohttp import AsyncClient  # noqa: E402
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
from libchatty.replay import Script  # noqa: E402

T = TypeVar("T")
every_dialect = pytest.mark.parametrize("dialect", DIALECT_NAMES)
STALLED: Final = Fault(kind="stall", after_events=first_text_event("openai-chat", ANSWER) + 3,
                       seconds=math.inf)


def open_connections(session: Any) -> int:
    """Connections aiohttp's connector holds (idle or in use)."""
    connector = session.connector
    return sum(len(idle) for idle in connector._conns.values()) + len(connector._acquired)


def run(settings: dict[str, Any], code: UserCode[T], pools: list[int] | None = None,
        backoffs: list[float] | None = None) -> T:
    async def main() -> T:
        async with aiohttp.ClientSession() as session:
            client = AsyncClient(session=session, **settings)
            if backoffs is not None:

                async def record(seconds: float) -> None:
                    backoffs.append(seconds)

                client.backend.sleep = record  # type: ignore[method-assign]
            try:
                return await code[1](client)
            finally:
                if pools is not None:
                    pools.append(open_connections(session))

    return asyncio.run(asyncio.wait_for(main(), RUN_DEADLINE))


@pytest.fixture(scope="module")
def answer_server() -> Iterator[ReplayServer]:
    with ReplayServer(script=ANSWER, keep_credentials=True) as server:
        yield server


@pytest.fixture
def fault_server() -> Iterator[ReplayServer]:
    with ReplayServer(script=ANSWER, keep_credentials=True) as server:
        yield server


@every_dialect
def test_streamed_with_on_delta(dialect: str, answer_server: ReplayServer) -> None:
    since = len(answer_server.requests)
    completion, pieces = run(client_settings(answer_server, dialect), ASK)
    check_completion(completion, text=TEXT, streamed=True)
    assert pieces == PIECES
    [request] = answer_server.requests[since:]
    check_request(request, dialect, stream=True)


@every_dialect
def test_not_streamed_without_a_callback(dialect: str, answer_server: ReplayServer) -> None:
    since = len(answer_server.requests)
    check_completion(run(client_settings(answer_server, dialect), ANSWER_CODE), text=TEXT,
                     streamed=False)
    [request] = answer_server.requests[since:]
    check_request(request, dialect, stream=False)


@every_dialect
def test_stream_iteration(dialect: str, answer_server: ReplayServer) -> None:
    events = run(client_settings(answer_server, dialect), ASK_EVENTS)
    assert text_deltas(events) == PIECES
    assert type(events[-1]) is Done
    assert events[-1].text == TEXT


@every_dialect
def test_a_cut_stream_is_incomplete_with_the_partial_text(
    dialect: str, fault_server: ReplayServer
) -> None:
    fault_server.add_fault(Fault(kind="cut", after_events=first_text_event(dialect, ANSWER) + 3))
    pools: list[int] = []
    with pytest.raises(ChatError) as caught:
        run(client_settings(fault_server, dialect), ASK, pools)
    assert (caught.value.kind, caught.value.partial) == ("incomplete", "".join(PIECES[:3]))
    assert len(fault_server.requests) == 1
    assert pools == [0]


@every_dialect
def test_a_rate_limit_with_retry_after_zero_is_retried(
    dialect: str, fault_server: ReplayServer
) -> None:
    fault_server.add_fault(Fault(kind="status", status=429, retry_after="0"))
    backoffs: list[float] = []
    completion, pieces = run(client_settings(fault_server, dialect, max_retries=1), ASK,
                             backoffs=backoffs)
    check_completion(completion, text=TEXT, streamed=True)
    assert (pieces, backoffs, len(fault_server.requests)) == (PIECES, [0.0], 2)


def test_an_idle_timeout_mid_stream(fault_server: ReplayServer) -> None:
    fault_server.add_fault(STALLED)
    settings = client_settings(fault_server, "openai-chat",
                               timeout=Timeout(connect=5.0, idle=0.2, total=20.0))
    pools: list[int] = []
    with pytest.raises(ChatError) as caught:
        run(settings, ASK, pools)
    error = caught.value.error
    assert (error.kind, error.partial) == ("timeout", "".join(PIECES[:3]))
    assert error.message == "no data from the server for 0.2 s (idle timeout)"
    assert pools == [0]


def test_a_stall_timeout_cuts_a_read_shorter_than_the_idle_timeout(
    fault_server: ReplayServer,
) -> None:
    fault_server.add_fault(STALLED)
    settings = client_settings(fault_server, "openai-chat",
                               timeout=Timeout(connect=5.0, idle=10.0, stall=0.2, total=20.0))
    with pytest.raises(ChatError) as caught:
        run(settings, ASK)
    error = caught.value.error
    assert (error.kind, error.partial) == ("timeout", "".join(PIECES[:3]))
    assert error.message == "no content from the server for 0.2 s (stall timeout)"


def loop_calls_during_a_stream(pieces: int, method: str = "call_at",
                               timeout: Timeout | None = None) -> tuple[int, str]:
    """Calls of the event loop's ``method`` (``call_at``: the timer handles it is asked
    for) during one streamed call of ``pieces`` pieces (paced: a read each) on a warm
    connection, until its ``Done``, and the text. ``timeout``: the client's (default:
    connect and idle). The read after ``Done`` is not counted: it has a deadline only
    when the body's end has not come with the answer's (a matter of timing)."""
    script = Script(pieces=tuple(f"p{i} " for i in range(pieces)))

    async def main(server: ReplayServer) -> tuple[int, str]:
        loop = asyncio.get_running_loop()
        original = getattr(loop, method)
        made = 0
        answering = True

        def counting(*args: Any, **kwargs: Any) -> Any:
            nonlocal made
            if answering:
                made += 1
            return original(*args, **kwargs)

        def on_delta(text: str, done: bool) -> None:
            nonlocal answering
            answering = not done

        settings = client_settings(server, "openai-chat",
                                   timeout=timeout or Timeout(connect=5.0, idle=5.0))
        async with aiohttp.ClientSession() as session:
            client = AsyncClient(session=session, **settings)
            await client.chat(MESSAGES, MODEL)  # the connection
            setattr(loop, method, counting)
            try:
                text = (await client.chat(MESSAGES, MODEL, on_delta=on_delta)).text
            finally:
                delattr(loop, method)  # the class's again
        return made, text

    with ReplayServer(script=[script, script], token_delay=0.002,
                      keep_credentials=True) as server:
        return asyncio.run(asyncio.wait_for(main(server), RUN_DEADLINE))


def test_the_idle_timeout_is_not_a_timer_per_piece() -> None:
    # aiohttp's sock_read re-arms a timer handle per piece; the binding's lazy timer is
    # armed once per response (and once per idle period after that).
    short, long = loop_calls_during_a_stream(5), loop_calls_during_a_stream(60)
    assert (short[0], short[1], long[1]) == (long[0], "".join(f"p{i} " for i in range(5)),
                                             "".join(f"p{i} " for i in range(60)))


def test_a_read_cut_to_the_stall_deadline_is_not_a_task_per_piece() -> None:
    # With a stall timeout shorter than the idle timeout every read is cut to its deadline
    # (within): in the running task (asyncio.timeout), not in a task of its own per read
    # (wait_for's, before Python 3.12).
    stall = Timeout(connect=5.0, idle=10.0, stall=5.0)
    short = loop_calls_during_a_stream(5, "create_task", stall)
    long = loop_calls_during_a_stream(60, "create_task", stall)
    assert (short[0], short[1], long[1]) == (long[0], "".join(f"p{i} " for i in range(5)),
                                             "".join(f"p{i} " for i in range(60)))


def test_a_consumer_slower_than_the_idle_timeout_is_not_a_silent_server(
    answer_server: ReplayServer,
) -> None:
    # The server sends everything at once; the callback takes longer than the idle
    # timeout over the first pieces: the idle timeout is the server's silence only.
    seen: list[str] = []

    async def slow(text: str, done: bool) -> None:
        seen.append(text)
        if len(seen) <= 2:
            await asyncio.sleep(0.3)

    async def user(client: Any) -> Any:
        return await client.chat(MESSAGES, MODEL, on_delta=slow)

    settings = client_settings(answer_server, "openai-chat",
                               timeout=Timeout(connect=5.0, idle=0.1, total=20.0))
    completion = run(settings, (None, user))  # type: ignore[arg-type]
    assert (completion.text, seen) == (TEXT, [*PIECES, ""])


def test_cancellation_mid_stream_releases_the_connection(fault_server: ReplayServer) -> None:
    fault_server.add_fault(STALLED)
    seen: list[str] = []

    async def main() -> int:
        async with aiohttp.ClientSession() as session:
            client = AsyncClient(session=session, **client_settings(fault_server, "openai-chat"))
            task: asyncio.Future[Any] | None = None

            def on_delta(text: str, done: bool) -> None:
                seen.append(text)
                if len(seen) == 3 and task is not None:
                    task.cancel()

            task = asyncio.ensure_future(client.chat(MESSAGES, MODEL, on_delta=on_delta))
            with pytest.raises(asyncio.CancelledError):
                await asyncio.wait_for(task, RUN_DEADLINE)
            return open_connections(session)

    assert asyncio.run(main()) == 0
    assert seen == PIECES[:3]


def test_a_raising_callback_closes_the_connection(fault_server: ReplayServer) -> None:
    # The server stalls after three pieces: the body is unfinished when the callback
    # raises, so the connection cannot go back to the pool. (A body already read to its
    # end may: aiohttp releases it.)
    fault_server.add_fault(STALLED)
    seen: list[str] = []

    class Boom(Exception):
        pass

    async def user(client: Any) -> Any:
        def on_delta(text: str, done: bool) -> None:
            seen.append(text)
            if len(seen) == 3:
                raise Boom

        return await client.chat(MESSAGES, MODEL, on_delta=on_delta)

    pools: list[int] = []
    with pytest.raises(Boom):
        run(client_settings(fault_server, "openai-chat"), (None, user), pools)  # type: ignore[arg-type]
    assert (seen, pools) == (PIECES[:3], [0])


def test_keep_alive_is_aiohttp_s() -> None:
    async def twice(client: Any) -> list[str]:
        return [(await client.chat(MESSAGES, MODEL, on_delta=lambda t, d: None)).text
                for _ in range(2)]

    with ReplayServer(script=[ANSWER, ANSWER], keep_credentials=True) as server:
        pools: list[int] = []
        assert run(client_settings(server, "openai-chat"), (None, twice), pools) == [TEXT, TEXT]  # type: ignore[arg-type]
        assert (server.connections, pools) == (1, [1])


def test_a_session_made_here_is_closed_by_aclose(answer_server: ReplayServer) -> None:
    async def main() -> tuple[str, bool]:
        client = AsyncClient(**client_settings(answer_server, "openai-chat"))
        text = (await client.chat(MESSAGES, MODEL)).text
        session = client.session
        await client.aclose()
        assert session is not None
        return text, session.closed

    assert asyncio.run(main()) == (TEXT, True)


def test_a_refused_connection_is_a_connection_error_before_sending() -> None:
    port = closed_port()
    settings = {"base_url": f"http://127.0.0.1:{port}/v1", "api_key": "k", "env": {},
                "max_retries": 0, "timeout": Timeout(connect=2.0, idle=2.0, total=5.0)}
    with pytest.raises(ChatError) as caught:
        run(settings, ASK)
    error = caught.value.error
    assert (error.kind, error.partial, error.status) == ("connection", "", None)
    assert error.message.startswith(f"connecting to 127.0.0.1:{port} failed: ")


def test_a_read_that_cannot_wait_is_not_given_a_deadline() -> None:
    # The read after Done is cut to the drain timeout; when aiohttp already holds the
    # body's end (its reader at EOF) that read cannot wait, and no timer is set for it.
    from types import SimpleNamespace

    from libchatty.bindings._framed import Response
    from libchatty.bindings.aiohttp import AiohttpBackend, _Response

    class Ended(Response):
        def __init__(self, ended: bool) -> None:
            super().__init__(200, [], self._piece, 300.0)
            self.ended = ended

        async def _piece(self) -> bytes:
            return b""

        def abort(self) -> None:
            pass

        def ready(self) -> bool:
            return self.ended

    class Counting(AiohttpBackend):
        deadlines = 0

        async def within(self, piece: Any, timeout: float) -> bytes:
            self.deadlines += 1
            return await super().within(piece, timeout)

    async def main() -> tuple[int, int, list[bool]]:
        backend = Counting(None, True)
        assert await backend.receive(Ended(True), 0.25) == b""
        ended = backend.deadlines
        assert await backend.receive(Ended(False), 0.25) == b""
        protocol = SimpleNamespace(resume_reading=lambda **_: None)  # the connection's
        reader = aiohttp.StreamReader(protocol, 2**16, loop=asyncio.get_running_loop())
        shown = SimpleNamespace(content=reader)
        reader.feed_data(b"data: [DONE]\n\n")
        states = [_Response.ready(shown)]  # type: ignore[arg-type]
        reader.feed_eof()
        states.append(_Response.ready(shown))  # type: ignore[arg-type]
        return ended, backend.deadlines, states

    assert asyncio.run(main()) == (0, 1, [False, True])


def test_reads_after_a_delivery_are_aiohttps_own(
    answer_server: ReplayServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # With the stack's read timeout the nearest deadline, a relay's read is aiohttp's
    # readany() itself: no coroutine of ours per piece. receive() serves the first read
    # of the body and the one after Done (cut to the drain's deadline), nothing between.
    from libchatty.bindings import _framed

    ours: list[float | None] = []
    receive = _framed.FramedAsyncBackend.receive

    async def counted(self: Any, conn: Any, timeout: float | None) -> bytes | None:
        ours.append(timeout)
        return await receive(self, conn, timeout)

    monkeypatch.setattr(_framed.FramedAsyncBackend, "receive", counted)
    completion, pieces = run(client_settings(answer_server, "openai-chat"), ASK)
    check_completion(completion, text=TEXT, streamed=True)
    assert pieces == PIECES
    assert len(PIECES) > 2 and len(ours) == 2
    assert ours[0] == 5.0 and ours[1] < 5.0


def test_read_failures_left_to_aiohttp_are_mapped_as_receive_maps_them() -> None:
    from libchatty.bindings._ops import IOFailure
    from libchatty.bindings.aiohttp import AiohttpBackend

    backend = AiohttpBackend(None, None)
    assert backend.read_failed(aiohttp.ClientPayloadError("cut")) is None  # cut short
    with pytest.raises(IOFailure) as failure:
        backend.read_failed(TimeoutError("no data"))
    assert failure.value.kind == "timeout"
    with pytest.raises(IOFailure) as failure:
        backend.read_failed(aiohttp.ServerDisconnectedError())
    assert failure.value.kind == "connection"
    cancelled = asyncio.CancelledError()
    with pytest.raises(asyncio.CancelledError) as raised:
        backend.read_failed(cancelled)
    assert raised.value is cancelled  # anything else goes on as it is


def test_each_request_carries_its_own_connect_and_idle_timeouts() -> None:
    # The ClientTimeout is kept while the timeouts stay the same: a request with other
    # timeouts gets its own.
    from libchatty.bindings._ops import IOFailure
    from libchatty.bindings.aiohttp import AiohttpBackend

    from libchatty.callhead import HTTPRequest

    sent: list[Any] = []

    class Session:
        async def request(self, *args: Any, **options: Any) -> None:
            sent.append(options["timeout"])
            raise TimeoutError  # sent; no answer

    backend = AiohttpBackend(Session(), True)  # type: ignore[arg-type]
    request = HTTPRequest("POST", "http://127.0.0.1:9/v1/chat/completions", [], b"{}")

    async def send(connect: float | None, read: float | None) -> None:
        with pytest.raises(IOFailure):
            await backend.send_request(request, connect, read)

    for connect, read in ((1.0, 2.0), (1.0, 2.0), (3.0, 2.0), (3.0, None), (1.0, 2.0)):
        asyncio.run(send(connect, read))
    assert [(t.connect, t.sock_connect, t.sock_read, t.total) for t in sent] == [
        (1.0, 1.0, 2.0, None), (1.0, 1.0, 2.0, None), (3.0, 3.0, 2.0, None),
        (3.0, 3.0, None, None), (1.0, 1.0, 2.0, None)]  # fmt: skip
    assert sent[0] is sent[1]
