"""bindings/_exchange.py (with _ops, _pool, _proxy, _runners): the request loop, run
against scripted fake connections.

No socket and no clock: a fake backend plays the server's side from recorded fixtures,
a fake clock moves only when a read "stalls", so every retry, fallback, timeout and
reuse decision is checked exactly.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest
from libchatty.bindings._api import Timeout
from libchatty.bindings._config import ClientConfig, make_config
from libchatty.bindings._exchange import Exchange
from libchatty.bindings._ops import (
    Conn,
    Connect,
    Deliver,
    IOFailure,
    Op,
    Receive,
    Runtime,
    Send,
    Sleep,
    StartTLS,
)
from libchatty.bindings._pool import Pool
from libchatty.bindings._proxy import Proxy
from libchatty.bindings._runners import SyncBackend, drive
from wire import all_splittings, expected, fixture

from libchatty.events import Delta, Done, Error, Event
from libchatty.exceptions import ChatError
from libchatty.request import ChatRequest, Message

STALL = object()  # in a script: the read times out (the fake clock jumps by the timeout)
# Also in a script: ``(seconds, data)`` -- the data arrives that much later (or the read
# times out first, if its timeout is shorter).

STREAM_OK = "openai-chat/stream-text.http"
TEXT_OK = expected(STREAM_OK)["text"]


def sse_response(text_pieces: Iterable[str], *, done: bool = True) -> bytes:
    """A small chunked OpenAI stream."""
    import json

    chunks = []
    for piece in text_pieces:
        body = json.dumps({"choices": [{"index": 0, "delta": {"content": piece}}]})
        chunks.append(f"data: {body}\n\n".encode())
    if done:
        body = json.dumps({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
        chunks.append(f"data: {body}\n\ndata: [DONE]\n\n".encode())
    framed = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks)
    if done:
        framed += b"0\r\n\r\n"
    head = (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    return head + framed


def json_error(status: int, message: str, extra_headers: str = "") -> bytes:
    import json

    body = json.dumps({"error": {"message": message, "type": "invalid_request_error"}}).encode()
    head = (
        f"HTTP/1.1 {status} Error\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n{extra_headers}\r\n"
    ).encode()
    return head + body


class FakeConn:
    def __init__(self, name: str, script: list[Any]) -> None:
        self.name = name
        self.script = list(script)
        self.sent: list[bytes] = []
        self.aborted = False
        self.tls: str | None = None
        self.waiting = False  # what a Probe of this idle connection finds

    def abort(self) -> None:
        self.aborted = True


class FakeBackend(SyncBackend):
    """Each Connect takes the next script: a list of bytes to return from reads,
    ``STALL``, or exceptions to raise. An exception instead of a script fails the
    connect itself."""

    def __init__(self, scripts: list[Any], clock: list[float]) -> None:
        self.scripts = list(scripts)
        self.clock = clock
        self.conns: list[FakeConn] = []
        self.ops: list[Op] = []

    def perform(self, op: Op) -> Any:
        self.ops.append(op)
        return super().perform(op)

    def connect(self, host: str, port: int, timeout: float | None) -> Conn:
        script = self.scripts.pop(0)
        if isinstance(script, BaseException):
            raise script
        if script is STALL:
            assert timeout is not None
            self.clock[0] += timeout
            raise IOFailure("timeout", "connect timed out")
        conn = FakeConn(f"{host}:{port}#{len(self.conns)}", script)
        self.conns.append(conn)
        return conn

    def start_tls(self, conn: Any, server_hostname: str, timeout: float | None) -> Conn:
        conn.tls = server_hostname
        return conn  # type: ignore[no-any-return]

    def send(self, conn: Any, data: bytes, timeout: float | None) -> None:
        assert not conn.aborted
        conn.sent.append(data)

    def receive(self, conn: Any, timeout: float | None) -> bytes:
        assert not conn.aborted
        if not conn.script:
            return b""
        item = conn.script.pop(0)
        if item is STALL:
            assert timeout is not None
            self.clock[0] += timeout
            raise IOFailure("timeout", "read timed out")
        if isinstance(item, BaseException):
            raise item
        if isinstance(item, tuple):  # (seconds, data): the data comes that much later
            seconds, data = item
            if timeout is not None and seconds >= timeout:
                self.clock[0] += timeout
                raise IOFailure("timeout", "read timed out")
            self.clock[0] += seconds
            return data  # type: ignore[no-any-return]
        return item  # type: ignore[no-any-return]

    def sleep(self, seconds: float) -> None:
        self.clock[0] += seconds

    def probe(self, conn: Any) -> bool:
        assert not conn.aborted
        return bool(conn.waiting)


def config(
    base_url: str = "http://api.test/v1",
    *,
    timeout: Timeout | None = None,
    max_retries: int = 2,
    proxy: Proxy | None = None,
) -> ClientConfig:
    made = make_config(base_url=base_url, api_key="sk-test", timeout=timeout,
                       max_retries=max_retries, env={})
    return ClientConfig(made.endpoint, made.timeout, made.max_retries, proxy)


def run(
    scripts: list[Any],
    *,
    stream: bool = True,
    cfg: ClientConfig | None = None,
    pool: Pool | None = None,
    jitter: float = 0.0,
    wall: float = 0.0,
) -> tuple[list[Event], Exchange, FakeBackend]:
    clock = [1000.0]
    backend = FakeBackend(scripts, clock)
    request = ChatRequest("m", [Message("user", "hi")], stream=stream)
    exchange = Exchange(
        cfg or config(), request, pool or Pool(), Runtime(lambda: clock[0], lambda: jitter,
                                                          lambda: wall)
    )
    events = list(drive(exchange.run(), backend))
    return events, exchange, backend


def sleeps(backend: FakeBackend) -> list[float]:
    return [op.seconds for op in backend.ops if isinstance(op, Sleep)]


# --- the happy path, every splitting ----------------------------------------------------------


@pytest.mark.parametrize("name", [STREAM_OK, "openai-chat/stream-tool-calls.http",
                                  "openai-chat/nonstream-text.http"])
def test_fixture_every_splitting(name: str) -> None:
    want = expected(name)
    for label, pieces in all_splittings(fixture(name), seeds=3):
        events, exchange, backend = run([pieces], stream="stream" in name)
        assert isinstance(events[-1], Done), label
        assert all(type(e) is Delta for e in events[:-1]), label
        assert events[-1].text == want["text"], label
        assert [c.name for c in events[-1].tool_calls] == [
            c["name"] for c in want["tool_calls"]
        ], label
        assert exchange.completion().text == want["text"]
        assert exchange.requests == 1 and len(backend.conns) == 1


def test_request_bytes_are_the_calls() -> None:
    events, _, backend = run([[sse_response(["a"])]])
    sent = b"".join(backend.conns[0].sent)
    assert sent.startswith(b"POST /v1/chat/completions HTTP/1.1\r\n")
    assert b"Bearer sk-test" in sent
    assert isinstance(events[-1], Done)


def test_deliver_order_terminal_last_once() -> None:
    events, _, _ = run([[sse_response(["a", "b", "c"])]])
    assert [type(e) for e in events] == [Delta, Delta, Delta, Done]


# --- keep-alive --------------------------------------------------------------------------------


def test_connection_reused_when_response_read_to_the_end() -> None:
    pool = Pool()
    _, _, first = run([[sse_response(["a"])]], pool=pool)
    assert not first.conns[0].aborted
    assert pool.idle_count(("http", "api.test", 80)) == 1
    conn = first.conns[0]
    conn.script = [sse_response(["b"])]
    events, _, second = run([], pool=pool)  # no Connect: the pooled one serves
    assert events[-1].text == "b"  # type: ignore[union-attr]
    assert second.conns == [] and len(conn.sent) == 2


def test_connection_closed_when_server_says_close() -> None:
    pool = Pool()
    response = sse_response(["a"]).replace(b"200 OK\r\n", b"200 OK\r\nConnection: close\r\n")
    _, _, backend = run([[response]], pool=pool)
    assert backend.conns[0].aborted
    assert pool.idle_count(("http", "api.test", 80)) == 0


def test_stopping_early_never_reuses() -> None:
    pool = Pool()
    clock = [0.0]
    backend = FakeBackend([[sse_response(["a", "b"])[:-40], sse_response(["a", "b"])[-40:]]],
                          clock)
    exchange = Exchange(config(), ChatRequest("m", [Message("user", "hi")]), pool,
                        Runtime(lambda: clock[0], lambda: 0.0, lambda: 0.0))
    events = drive(exchange.run(), backend)
    assert type(next(events)) is Delta
    events.close()
    assert backend.conns[0].aborted
    assert pool.idle_count(("http", "api.test", 80)) == 0


def test_stale_pooled_connection_is_replaced_without_counting_a_retry() -> None:
    pool = Pool()
    stale_a, stale_b = FakeConn("stale-a", []), FakeConn("stale-b", [])  # EOF at once
    key = ("http", "api.test", 80)
    pool.put(key, stale_a)
    pool.put(key, stale_b)
    events, _, backend = run([[sse_response(["ok"])]], pool=pool, cfg=config(max_retries=0))
    assert events[-1].text == "ok"  # type: ignore[union-attr]
    assert stale_a.aborted and stale_b.aborted  # the dead one and its sibling
    assert len(backend.conns) == 1 and sleeps(backend) == []


def test_stale_pooled_connection_reset() -> None:
    pool = Pool()
    pool.put(("http", "api.test", 80), FakeConn("stale", [IOFailure("connection", "reset")]))
    events, _, backend = run([[sse_response(["ok"])]], pool=pool, cfg=config(max_retries=0))
    assert isinstance(events[-1], Done) and len(backend.conns) == 1


# --- errors, retries, fallback ----------------------------------------------------------------


def test_429_retried_after_retry_after() -> None:
    limited = json_error(429, "slow down", "Retry-After: 3\r\n")
    # The 429's body is read to its end, so the retry reuses the same connection.
    events, exchange, backend = run([[limited, sse_response(["ok"])]], jitter=0.5)
    assert isinstance(events[-1], Done)
    assert [type(e) for e in events] == [Delta, Done]  # the 429 was never delivered
    assert sleeps(backend) == [pytest.approx(3.15)]
    assert exchange.requests == 2 and len(backend.conns) == 1


def test_429_with_http_date_retry_after() -> None:
    limited = json_error(429, "slow down", "Retry-After: Thu, 01 Jan 1970 00:00:10 GMT\r\n")
    events, _, backend = run([[limited, sse_response(["ok"])]], wall=4.0)
    assert isinstance(events[-1], Done)
    assert sleeps(backend) == [pytest.approx(6.0)]


def test_retries_exhausted_delivers_the_last_error() -> None:
    failing = [[json_error(503, "busy")] * 3]
    events, exchange, backend = run(failing, cfg=config(max_retries=2), jitter=1.0)
    assert len(events) == 1 and isinstance(events[0], Error)
    assert events[0].status == 503 and events[0].kind == "overloaded"
    assert sleeps(backend) == [0.5, 1.0]
    with pytest.raises(ChatError) as info:
        exchange.completion()
    assert info.value.error is events[0]


def test_not_retryable_is_not_retried() -> None:
    events, exchange, _ = run([[json_error(401, "bad key")]])
    assert isinstance(events[-1], Error) and events[-1].kind == "auth"
    assert exchange.requests == 1


def test_error_response_read_to_its_end_keeps_the_connection() -> None:
    pool = Pool()
    run([[json_error(401, "bad key")]], pool=pool)
    assert pool.idle_count(("http", "api.test", 80)) == 1


def test_rejected_stream_falls_back_to_non_streaming() -> None:
    rejected = json_error(400, "Streaming is not supported for this model")
    body = fixture("openai-chat/nonstream-text.http")
    events, exchange, backend = run([[rejected], [body]])
    assert isinstance(events[-1], Done)
    assert events[-1].text == expected("openai-chat/nonstream-text.http")["text"]
    assert exchange.fell_back and not exchange.streamed
    second = b"".join(backend.conns[-1].sent)
    assert b'"stream":true' not in second.replace(b" ", b"")
    assert sleeps(backend) == []


def test_501_falls_back() -> None:
    body = fixture("openai-chat/nonstream-text.http")
    events, exchange, _ = run([[json_error(501, "nope")], [body]])
    assert isinstance(events[-1], Done) and exchange.fell_back


def test_broken_connection_before_first_delta_falls_back() -> None:
    body = fixture("openai-chat/nonstream-text.http")
    events, exchange, _ = run([[b""], [body]], cfg=config(max_retries=0))
    assert isinstance(events[-1], Done) and exchange.fell_back


def test_200_stream_cut_before_first_delta_falls_back() -> None:
    cut = sse_response([], done=False)  # the head, then the body just ends
    body = fixture("openai-chat/nonstream-text.http")
    events, exchange, _ = run([[cut, b""], [body]], cfg=config(max_retries=0))
    assert isinstance(events[-1], Done) and exchange.fell_back


def test_fallback_only_once() -> None:
    rejected = json_error(400, "stream not supported")
    events, exchange, backend = run([[rejected, rejected]], cfg=config(max_retries=0))
    assert isinstance(events[-1], Error) and exchange.requests == 2
    assert exchange.fell_back and len(backend.conns) == 1


def test_refused_connection_is_a_retry_not_a_fallback() -> None:
    refused = IOFailure("connection", "cannot connect to api.test:80: Connection refused")
    events, exchange, backend = run([refused, [sse_response(["ok"])]])
    assert isinstance(events[-1], Done)
    assert not exchange.fell_back and len(sleeps(backend)) == 1


def test_refused_every_time() -> None:
    refused = IOFailure("connection", "cannot connect to api.test:80: Connection refused")
    events, exchange, _ = run([refused, refused, refused])
    assert isinstance(events[-1], Error) and events[-1].kind == "connection"
    assert "Connection refused" in events[-1].message and exchange.requests == 0


def test_failure_after_a_delta_is_never_retried() -> None:
    cut = sse_response(["Hello", " there"], done=False)  # body ends without [DONE]
    events, exchange, backend = run([[cut, b""], [sse_response(["dup"])]])
    assert [type(e) for e in events] == [Delta, Delta, Error]
    error = events[-1]
    assert isinstance(error, Error) and error.partial == "Hello there"
    assert exchange.requests == 1 and len(backend.conns) == 1


def test_reset_mid_stream_keeps_the_partial_text() -> None:
    head_and_one = sse_response(["Hello", " there"], done=False)[:-10]
    events, _, _ = run([[head_and_one, IOFailure("connection", "reset by peer")]])
    error = events[-1]
    assert isinstance(error, Error) and error.kind == "connection"
    assert error.partial.startswith("Hello")


# --- timeouts ---------------------------------------------------------------------------------


def test_idle_timeout_mid_stream() -> None:
    partial = sse_response(["Hello", " world"], done=False)
    cfg = config(timeout=Timeout(connect=1, idle=5, total=None))
    events, _, _ = run([[partial, STALL]], cfg=cfg)
    error = events[-1]
    assert isinstance(error, Error) and error.kind == "timeout"
    assert "idle" in error.message and error.partial == "Hello world"


def test_idle_timeout_before_any_byte_is_retried() -> None:
    cfg = config(timeout=Timeout(connect=1, idle=5, total=None), max_retries=1)
    events, exchange, _ = run([[STALL], [sse_response(["ok"])]], cfg=cfg)
    assert isinstance(events[-1], Done) and exchange.requests == 2


def test_connect_timeout() -> None:
    cfg = config(timeout=Timeout(connect=2, idle=5, total=None), max_retries=0)
    events, _, _ = run([STALL], cfg=cfg)
    error = events[-1]
    assert isinstance(error, Error) and error.kind == "timeout"
    assert "connect timeout" in error.message


def test_total_timeout_bounds_reads_and_retries() -> None:
    cfg = config(timeout=Timeout(connect=1, idle=50, total=8), max_retries=5)
    events, _, backend = run([[STALL]] * 6, cfg=cfg)
    error = events[-1]
    assert isinstance(error, Error) and error.kind == "timeout"
    assert "total timeout" in error.message
    reads = [op for op in backend.ops if isinstance(op, Receive)]
    assert reads[0].timeout == pytest.approx(8)  # the idle timeout, cut to the total


def test_total_timeout_skips_a_backoff_that_would_overrun() -> None:
    limited = json_error(429, "slow down", "Retry-After: 30\r\n")
    cfg = config(timeout=Timeout(total=10))
    events, _, backend = run([[limited]], cfg=cfg)
    assert isinstance(events[-1], Error) and events[-1].kind == "rate_limit"
    assert sleeps(backend) == []


# --- TLS and proxies --------------------------------------------------------------------------


def test_tls_is_started_with_sni() -> None:
    _, _, backend = run([[sse_response(["ok"])]], cfg=config("https://api.test/v1"))
    assert backend.conns[0].tls == "api.test"
    connect = next(op for op in backend.ops if isinstance(op, Connect))
    assert (connect.host, connect.port) == ("api.test", 443)


def test_https_through_a_proxy_tunnel() -> None:
    proxy = Proxy("proxy.test", 3128, "Basic dXNlcjpwYXNz")
    tunnel = b"HTTP/1.1 200 Connection established\r\n\r\n"
    events, _, backend = run(
        [[tunnel, sse_response(["ok"])]], cfg=config("https://api.test/v1", proxy=proxy)
    )
    assert isinstance(events[-1], Done)
    connect = next(op for op in backend.ops if isinstance(op, Connect))
    assert (connect.host, connect.port) == ("proxy.test", 3128)
    conn = backend.conns[0]
    assert conn.sent[0].startswith(b"CONNECT api.test:443 HTTP/1.1\r\n")
    assert b"\r\nProxy-Authorization: Basic dXNlcjpwYXNz\r\n" in conn.sent[0]
    assert conn.tls == "api.test"
    assert b"sk-test" not in conn.sent[0]  # the key goes only inside the tunnel
    starts = [i for i, op in enumerate(backend.ops) if isinstance(op, StartTLS)]
    sends = [i for i, op in enumerate(backend.ops) if isinstance(op, Send)]
    assert sends[0] < starts[0] < sends[1]


def test_proxy_refusing_the_tunnel() -> None:
    proxy = Proxy("proxy.test", 3128)
    refusal = b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n"
    events, _, _ = run([[refusal]], cfg=config("https://api.test/v1", proxy=proxy))
    error = events[-1]
    assert isinstance(error, Error) and error.kind == "connection"
    assert "407" in error.message and not error.retryable


# --- early endings ----------------------------------------------------------------------------


def test_exception_from_the_backend_closes_and_propagates() -> None:
    class Boom(Exception):
        pass

    clock = [0.0]
    backend = FakeBackend([[sse_response(["a"])[:80], Boom("x")]], clock)
    exchange = Exchange(config(), ChatRequest("m", [Message("user", "hi")]), Pool(),
                        Runtime(lambda: clock[0], lambda: 0.0, lambda: 0.0))
    with pytest.raises(Boom):
        list(drive(exchange.run(), backend))
    assert backend.conns[0].aborted


def test_loop_yields_deliver_for_terminal_error_only_once() -> None:
    clock = [0.0]
    backend = FakeBackend([[json_error(401, "no")]], clock)
    exchange = Exchange(config(), ChatRequest("m", [Message("user", "hi")]), Pool(),
                        Runtime(lambda: clock[0], lambda: 0.0, lambda: 0.0))
    loop = exchange.run()
    delivered = []
    value: Any = None
    while True:
        try:
            op = loop.send(value)
        except StopIteration as stop:
            result = stop.value
            break
        value = None
        if isinstance(op, Deliver):
            delivered.extend(op.events)
        else:
            value = backend.perform(op)
    assert delivered == [result] and exchange.terminal is result


# --- a pooled connection with something waiting on it (issue 9, point 4) ------------------------

KEY = ("http", "api.test", 80)


def test_pooled_connection_is_probed_before_reuse() -> None:
    pool = Pool()
    idle = FakeConn("idle", [sse_response(["b"])])
    pool.put(KEY, idle)
    events, _, backend = run([], pool=pool)
    assert events[-1].text == "b"  # type: ignore[union-attr]
    kinds = [type(op).__name__ for op in backend.ops]
    assert kinds[:3] == ["Probe", "Send", "Receive"]
    assert backend.ops[0].conn is idle  # type: ignore[union-attr]
    assert pool.idle_count(KEY) == 1 and not idle.aborted


def test_dirty_pooled_connections_are_closed_and_a_fresh_one_used() -> None:
    pool = Pool()
    clean, dirty = FakeConn("clean", [sse_response(["ok"])]), FakeConn("dirty", [])
    dirty.waiting = True  # a stale answer (or a 408, or EOF) is waiting on it
    pool.put(KEY, clean)
    pool.put(KEY, dirty)  # last in, first out: probed first
    events, exchange, backend = run([], pool=pool, cfg=config(max_retries=0))
    assert events[-1].text == "ok"  # type: ignore[union-attr]
    assert dirty.aborted and not clean.aborted and dirty.sent == []
    assert [type(op).__name__ for op in backend.ops][:3] == ["Probe", "Probe", "Send"]
    assert exchange.requests == 1 and sleeps(backend) == []


def test_only_dirty_pooled_connections_means_a_new_connection() -> None:
    pool = Pool()
    dirty = FakeConn("dirty", [])
    dirty.waiting = True
    pool.put(KEY, dirty)
    events, _, backend = run([[sse_response(["fresh"])]], pool=pool, cfg=config(max_retries=0))
    assert events[-1].text == "fresh"  # type: ignore[union-attr]
    assert dirty.aborted and dirty.sent == [] and len(backend.conns) == 1


# --- after Done: delivered first, the drain bounded in time (point 5) --------------------------


def test_done_is_delivered_before_the_drain_and_the_drain_is_bounded() -> None:
    from libchatty.bindings._exchange import DRAIN_TIMEOUT

    held = sse_response(["a"])[: -len(b"0\r\n\r\n")]  # [DONE], but the body stays open
    clock = [0.0]
    backend = FakeBackend([[held, STALL]], clock)
    pool = Pool()
    exchange = Exchange(config(timeout=Timeout(idle=300)),
                        ChatRequest("m", [Message("user", "hi")]), pool,
                        Runtime(lambda: clock[0], lambda: 0.0, lambda: 0.0))
    loop = exchange.run()
    op = loop.send(None)
    seen: list[str] = []
    value: Any = None
    while True:
        if isinstance(op, Deliver):
            seen.extend(type(e).__name__ for e in op.events)
            value = None
        else:
            if isinstance(op, Receive) and seen and seen[-1] == "Done":
                seen.append(f"drain-read({op.timeout})")
            try:
                value = backend.perform(op)
            except IOFailure as exc:
                try:
                    op = loop.throw(exc)
                except StopIteration:
                    break
                continue
        try:
            op = loop.send(value)
        except StopIteration:
            break
    assert seen == ["Delta", "Done", f"drain-read({DRAIN_TIMEOUT})"]
    assert backend.conns[0].aborted and pool.idle_count(KEY) == 0
    assert clock[0] == DRAIN_TIMEOUT  # waited the drain bound, not the idle timeout
    assert isinstance(exchange.terminal, Done)


def test_drain_gives_up_after_its_time_even_when_bytes_keep_coming() -> None:
    from libchatty.bindings._exchange import DRAIN_TIMEOUT

    held = sse_response(["a"])[: -len(b"0\r\n\r\n")]
    trickle = [(0.1, b": still here\n\n")] * 10  # never the end of the body
    pool = Pool()
    events, _, backend = run([[held, *[(t, b"1\r\n\n\r\n") for t, _ in trickle]]], pool=pool)
    assert isinstance(events[-1], Done)
    drain_reads = [op.timeout for op in backend.ops if isinstance(op, Receive)][1:]
    assert drain_reads == [pytest.approx(DRAIN_TIMEOUT), pytest.approx(0.15),
                           pytest.approx(0.05)]
    assert backend.conns[0].aborted and pool.idle_count(KEY) == 0


def test_drain_that_reaches_the_end_keeps_the_connection() -> None:
    held = sse_response(["a"])
    pool = Pool()
    events, _, backend = run([[held[:-5], (0.1, held[-5:])]], pool=pool)
    assert isinstance(events[-1], Done)
    assert not backend.conns[0].aborted and pool.idle_count(KEY) == 1


# --- the stall timer (point 6) -----------------------------------------------------------------

PING = b"3\r\n:\n\n\r\n"  # an SSE comment in one chunk: bytes, but no content
STALLING = config(timeout=Timeout(connect=1, idle=60, stall=1.0), max_retries=2)


def test_stall_fires_when_only_keep_alives_arrive() -> None:
    head_and_one = sse_response(["Hel"], done=False)
    script = [head_and_one, (0.3, PING), (0.3, PING), (0.3, PING), (0.3, PING)]
    events, exchange, backend = run([script], cfg=STALLING)
    assert [type(e) for e in events] == [Delta, Error]
    error = events[-1]
    assert isinstance(error, Error) and error.kind == "timeout"
    assert error.message == "no content from the server for 1.0 s (stall timeout)"
    assert error.partial == "Hel" and not error.retryable
    reads = [op.timeout for op in backend.ops if isinstance(op, Receive)]
    # The idle timeout (60 s) for the first read; then what is left of the stall timer.
    assert reads == [60, pytest.approx(1.0), pytest.approx(0.7), pytest.approx(0.4),
                     pytest.approx(0.1)]
    assert exchange.requests == 1 and not exchange.fell_back and sleeps(backend) == []


def test_stall_before_any_content_is_not_retried_nor_a_fallback() -> None:
    head = sse_response([], done=False)
    events, exchange, backend = run([[head, (0.6, PING), (0.6, PING)]], cfg=STALLING)
    assert len(events) == 1 and isinstance(events[0], Error)
    assert "stall timeout" in events[0].message and events[0].partial == ""
    assert exchange.requests == 1 and not exchange.fell_back and sleeps(backend) == []


def test_content_resets_the_stall_timer() -> None:
    # Deltas 0.9 s apart with a 1 s stall timer: each read that brings one resets it.
    whole = sse_response(["a"])
    head_end = whole.index(b"\r\n\r\n") + 4
    deltas = [sse_response([x], done=False)[head_end:] for x in "abcd"]
    ending = sse_response([])[head_end:]
    script = [whole[:head_end], *[(0.9, d) for d in deltas], (0.9, ending)]
    events, _, backend = run([script], cfg=STALLING)
    assert isinstance(events[-1], Done) and events[-1].text == "abcd"
    reads = [op.timeout for op in backend.ops if isinstance(op, Receive)]
    assert reads[:6] == [60] + [pytest.approx(1.0)] * 5


def test_keep_alives_between_deltas_do_not_reset_the_stall_timer() -> None:
    whole = sse_response(["a"])
    head_end = whole.index(b"\r\n\r\n") + 4
    one = sse_response(["a"], done=False)[head_end:]
    script = [whole[:head_end], (0.5, one), (0.5, PING), (0.4, PING), (0.4, one)]
    events, _, backend = run([script], cfg=STALLING)
    assert [type(e) for e in events] == [Delta, Error]
    assert "stall timeout" in events[-1].message  # type: ignore[union-attr]
    reads = [op.timeout for op in backend.ops if isinstance(op, Receive)]
    assert reads == [60, pytest.approx(1.0), pytest.approx(1.0), pytest.approx(0.5),
                     pytest.approx(0.1)]


def test_stall_is_measured_from_the_first_byte_of_the_response() -> None:
    # The model thinks 5 s before the head: that is the idle timer's business.
    late = (5.0, sse_response(["ok"]))
    events, _, _ = run([[late]], cfg=STALLING)
    assert isinstance(events[-1], Done) and events[-1].text == "ok"


def test_stall_does_not_apply_to_a_non_streaming_request() -> None:
    body = fixture("openai-chat/nonstream-text.http")
    events, _, _ = run([[body[:100], (3.0, body[100:])]], stream=False, cfg=STALLING)
    assert isinstance(events[-1], Done)


def test_idle_timeout_of_a_streaming_attempt_is_not_a_fallback() -> None:
    head = sse_response([], done=False)
    cfg = config(timeout=Timeout(connect=1, idle=5), max_retries=0)
    events, exchange, _ = run([[head, STALL], [fixture("openai-chat/nonstream-text.http")]],
                              cfg=cfg)
    assert isinstance(events[-1], Error) and events[-1].kind == "timeout"
    assert "idle timeout" in events[-1].message
    assert exchange.requests == 1 and not exchange.fell_back


def test_stall_must_be_positive() -> None:
    with pytest.raises(ValueError, match=r"Timeout\.stall must be a positive number or None"):
        Timeout(stall=0)
    assert Timeout(stall=2.5).stall == 2.5 and Timeout().stall is None


# --- the proxy's credentials reach the core's redaction -----------------------------------------


def test_proxy_password_is_redacted_from_errors() -> None:
    import base64

    password = "proxy-pass-98765432"
    token = base64.b64encode(f"alice:{password}".encode()).decode()
    proxy = Proxy("proxy.test", 3128, f"Basic {token}")
    tunnel = b"HTTP/1.1 200 Connection established\r\n\r\n"
    echo = json_error(400, f"bad header Proxy-Authorization: Basic {token} ({password})")
    events, _, _ = run([[tunnel, echo]], cfg=config("https://api.test/v1", proxy=proxy,
                                                     max_retries=0))
    error = events[-1]
    assert isinstance(error, Error) and error.status == 400
    assert password not in error.message and token not in error.message
    assert password[:8] not in error.message


def test_proxy_secrets() -> None:
    from libchatty.bindings._proxy import proxy_secrets

    assert proxy_secrets("Basic YWxpY2U6c2VjcmV0LXB3") == (
        "Basic YWxpY2U6c2VjcmV0LXB3", "YWxpY2U6c2VjcmV0LXB3", "secret-pw"
    )
    assert proxy_secrets("Basic YWxpY2U6") == ("Basic YWxpY2U6", "YWxpY2U6")  # no password
    assert proxy_secrets("Basic !!!") == ("Basic !!!", "!!!")  # not base64: kept whole


def test_a_backend_refuses_an_operation_it_does_not_know() -> None:
    # Deliver is the runner's to handle, never a backend's.
    with pytest.raises(TypeError) as info:
        FakeBackend([], [0.0]).perform(Deliver([]))
    assert str(info.value) == "unknown operation Deliver(events=[])"
