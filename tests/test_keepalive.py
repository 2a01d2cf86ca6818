"""Keep-alive safety, waiting after ``Done`` and the stall timer, on EVERY binding (blocking,
threads, trio, asyncio), against a raw-socket server on loopback that plays exactly the
byte sequences of each failure:

* issue 9, point 4 -- a pooled connection never hands one call another request's answer:
  (a) one more complete response arrives on an idle keep-alive connection; (b) a body
  longer than its ``Content-Length`` (the rest sent at once, or late); (c) a stale ``408``
  on an idle connection (with and without the server closing). Every call must get its own
  answer; the dirty connection is closed and the call goes out on a fresh one.
* point 5 -- ``chat()`` and ``stream()`` return promptly after ``Done`` when the server
  keeps the body open, and that connection is not reused;
* point 6 -- the opt-in stall timer cuts a stream that trickles only keep-alive comments.

The server (:class:`ScriptServer`) listens on 127.0.0.1 only; every loop it runs is
bounded in count and every wait in time.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import ssl
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import trio
import trustme
from libchatty.bindings._api import Timeout
from libchatty.bindings._exchange import DRAIN_TIMEOUT
from libchatty.bindings.asyncio import AsyncClient as AsyncioClient
from libchatty.bindings.blocking import Client
from libchatty.bindings.threads import ThreadedClient
from libchatty.bindings.trio import AsyncClient as TrioClient
from peers import client_context, server_context

from libchatty.events import Delta, Done, Error, Event
from libchatty.exceptions import ChatError

WAIT = 10.0  # an upper bound for any wait in the server; never reached when things work
KEY = "sk-keepalive-secret-0123456789"

# --- what the server says ----------------------------------------------------------------------


def json_answer(text: str, extra_headers: bytes = b"") -> bytes:
    """A complete non-streamed OpenAI answer saying ``text``."""
    body = json.dumps({
        "id": "c1", "object": "chat.completion", "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                     "finish_reason": "stop"}],
    }).encode()
    return (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n%sContent-Length: %d\r\n\r\n%s"
        % (extra_headers, len(body), body)
    )


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


SSE_HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
)


def sse_delta(text: str) -> bytes:
    body = json.dumps({"choices": [{"index": 0, "delta": {"content": text}}]})
    return chunk(f"data: {body}\n\n".encode())


SSE_DONE = chunk(
    b'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n'
)
SSE_END = b"0\r\n\r\n"
STALE_408 = b"HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
STALE_408_OPEN = b"HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\n\r\n"


@dataclass
class Turn:
    """The server's answer to one request (requests are numbered across connections):
    ``reply`` at once; then, after the test calls :meth:`ScriptServer.release`, ``later``
    (bytes the client did not ask for); ``close`` closes the connection afterwards;
    ``trickle`` is ``(bytes, interval, count)`` sent repeatedly after ``reply`` until the
    client goes away."""

    reply: bytes
    later: bytes = b""
    close: bool = False
    trickle: tuple[bytes, float, int] | None = None


def _wait_until_received(conn: socket.socket) -> None:
    """Wait (bounded) until the peer's kernel has acknowledged everything sent on
    ``conn``: then the bytes are in the client's receive buffer, whatever the scheduling.
    Linux tells (``TIOCOUTQ``); elsewhere a short pause stands in."""
    try:
        import fcntl
        import termios

        request = termios.TIOCOUTQ
    except (ImportError, AttributeError):
        time.sleep(0.1)
        return
    for _ in range(2000):  # at most about 2 s
        left = fcntl.ioctl(conn.fileno(), request, b"\0\0\0\0")
        if int.from_bytes(left, sys.byteorder) == 0:
            return
        time.sleep(0.001)


@dataclass
class ScriptServer:
    turns: list[Turn]
    tls: ssl.SSLContext | None = None
    connections: int = 0
    requests: list[bytes] = field(default_factory=list)
    later_sent: threading.Event = field(default_factory=threading.Event)
    _release: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.1)
        self.port = self.listener.getsockname()[1]
        scheme = "http" if self.tls is None else "https"
        self.base_url = f"{scheme}://127.0.0.1:{self.port}/v1"
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._accepter = threading.Thread(target=self._accept, daemon=True)
        self._accepter.start()

    def release(self) -> None:
        """Let the server send the ``later`` bytes, and wait until they are sent (on
        loopback, sent means already in the client's receive buffer)."""
        self._release.set()
        assert self.later_sent.wait(WAIT)

    def _accept(self) -> None:
        for _ in range(int(WAIT * 30 / 0.1)):  # bounded: the test ends long before
            if self._stop.is_set():
                return
            try:
                conn, _ = self.listener.accept()
            except (TimeoutError, OSError):
                continue
            if self.tls is not None:
                try:
                    conn.settimeout(WAIT)
                    conn = self.tls.wrap_socket(conn, server_side=True)
                except (OSError, ssl.SSLError):
                    conn.close()
                    continue
            self.connections += 1
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _read_request(self, conn: socket.socket) -> bytes | None:
        data = b""
        while b"\r\n\r\n" not in data:
            piece = conn.recv(65536)
            if not piece or len(data) > 1 << 20:
                return None
            data += piece
        head, _, body = data.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(body) < length:
            piece = conn.recv(65536)
            if not piece:
                return None
            body += piece
        return head

    def _serve(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError), conn:
            conn.settimeout(WAIT)
            for _ in range(20):  # requests per connection, bounded
                request = self._read_request(conn)
                if request is None:
                    return
                with self._lock:
                    self.requests.append(request)
                    if not self.turns:
                        return
                    turn = self.turns.pop(0)
                conn.sendall(turn.reply)
                if turn.trickle is not None:
                    data, interval, count = turn.trickle
                    for _ in range(count):
                        if self._stop.wait(interval):
                            return
                        conn.sendall(data)  # OSError once the client has gone
                if turn.later:
                    if not self._release.wait(WAIT):
                        return
                    conn.sendall(turn.later)
                    _wait_until_received(conn)
                    self.later_sent.set()
                if turn.close:
                    return

    def close(self) -> None:
        self._stop.set()
        self._accepter.join(WAIT)
        self.listener.close()
        for thread in self._threads:
            thread.join(WAIT)


@contextlib.contextmanager
def serving(*turns: Turn, tls: ssl.SSLContext | None = None) -> Iterator[ScriptServer]:
    server = ScriptServer(list(turns), tls)
    try:
        yield server
    finally:
        server.close()


# --- the bindings, behind one interface --------------------------------------------------------

# A step of a session: "chat" (no callbacks: one JSON body), "chat-stream" (chat with
# on_delta), "stream" (iterate stream()), or a plain function run in between.
Step = str | Callable[[], None]


@dataclass(frozen=True)
class Outcome:
    """What one call gave: the answer text, or the error (kind, message, partial)."""

    text: str | None = None
    error: tuple[str, str, str] | None = None
    seconds: float = 0.0


def _from_events(events: list[Event]) -> Outcome:
    last = events[-1]
    if isinstance(last, Done):
        assert "".join(e.text for e in events if type(e) is Delta) == last.text
        return Outcome(text=last.text)
    assert isinstance(last, Error)
    return Outcome(error=(last.kind, last.message, last.partial))


def _from_error(exc: ChatError) -> Outcome:
    return Outcome(error=(exc.error.kind, exc.error.message, exc.error.partial))


def _timed(outcome: Outcome, started: float) -> Outcome:
    return Outcome(outcome.text, outcome.error, time.monotonic() - started)


def run_blocking(url: str, steps: list[Step], timeout: Timeout, **kw: Any) -> list[Outcome]:
    out: list[Outcome] = []
    with Client(base_url=url, api_key=KEY, env={}, max_retries=0, timeout=timeout,
                **kw) as client:
        for step in steps:
            if callable(step):
                step()
                continue
            started = time.monotonic()
            try:
                if step == "stream":
                    with client.stream("hi", "m") as events:
                        outcome = _from_events(list(events))
                else:
                    on_delta = (lambda t, d: None) if step == "chat-stream" else None
                    outcome = Outcome(text=client.chat("hi", "m", on_delta=on_delta).text)
            except ChatError as exc:
                outcome = _from_error(exc)
            out.append(_timed(outcome, started))
    return out


def run_threads(url: str, steps: list[Step], timeout: Timeout, **kw: Any) -> list[Outcome]:
    out: list[Outcome] = []
    with ThreadedClient(base_url=url, api_key=KEY, env={}, max_retries=0, timeout=timeout,
                        max_workers=2, **kw) as client:
        for step in steps:
            if callable(step):
                step()
                continue
            started = time.monotonic()
            if step == "stream":
                with client.stream("hi", "m") as stream:
                    outcome = _from_events(list(stream))
            else:
                on_delta = (lambda t, d: None) if step == "chat-stream" else None
                future = client.submit("hi", "m", on_delta=on_delta)
                try:
                    outcome = Outcome(text=future.result(timeout=WAIT * 2).text)
                except ChatError as exc:
                    outcome = _from_error(exc)
            out.append(_timed(outcome, started))
    return out


async def _async_session(client: Any, steps: list[Step]) -> list[Outcome]:
    out: list[Outcome] = []
    async with client:
        for step in steps:
            if callable(step):
                step()  # blocks the loop briefly: the server runs on its own thread
                continue
            started = time.monotonic()
            try:
                if step == "stream":
                    async with client.stream("hi", "m") as events:
                        outcome = _from_events([event async for event in events])
                else:
                    on_delta = (lambda t, d: None) if step == "chat-stream" else None
                    outcome = Outcome(text=(await client.chat("hi", "m", on_delta=on_delta)).text)
            except ChatError as exc:
                outcome = _from_error(exc)
            out.append(_timed(outcome, started))
    return out


def run_trio(url: str, steps: list[Step], timeout: Timeout, **kw: Any) -> list[Outcome]:
    async def main() -> list[Outcome]:
        client = TrioClient(base_url=url, api_key=KEY, env={}, max_retries=0, timeout=timeout,
                            **kw)
        with trio.fail_after(WAIT * 3):
            return await _async_session(client, steps)

    return trio.run(main)  # type: ignore[no-any-return]


def run_asyncio(url: str, steps: list[Step], timeout: Timeout, **kw: Any) -> list[Outcome]:
    async def main() -> list[Outcome]:
        client = AsyncioClient(base_url=url, api_key=KEY, env={}, max_retries=0,
                               timeout=timeout, **kw)
        return await asyncio.wait_for(_async_session(client, steps), WAIT * 3)

    return asyncio.run(main())


Runner = Callable[..., list[Outcome]]
BINDINGS: dict[str, Runner] = {
    "blocking": run_blocking,
    "threads": run_threads,
    "trio": run_trio,
    "asyncio": run_asyncio,
}
DEFAULT = Timeout(connect=WAIT, idle=WAIT, total=None)


@pytest.fixture(params=sorted(BINDINGS))
def runner(request: pytest.FixtureRequest) -> Runner:
    return BINDINGS[request.param]


def texts(outcomes: list[Outcome]) -> list[str | None]:
    return [o.text for o in outcomes]


# --- point 4: a dirty pooled connection is never reused --------------------------------------


def test_clean_connection_is_reused(runner: Runner) -> None:
    # The baseline the other tests depart from: nothing unexpected, one connection.
    with serving(Turn(json_answer("one")), Turn(json_answer("two")),
                 Turn(json_answer("three"))) as server:
        got = runner(server.base_url, ["chat", "chat", "chat"], DEFAULT)
    assert texts(got) == ["one", "two", "three"]
    assert server.connections == 1


@pytest.mark.parametrize("step", ["chat", "chat-stream"])
def test_a_extra_response_on_an_idle_connection(runner: Runner, step: str) -> None:
    first = (json_answer("one") if step == "chat"
             else SSE_HEAD + sse_delta("one") + SSE_DONE + SSE_END)
    second = (json_answer("two") if step == "chat"
              else SSE_HEAD + sse_delta("two") + SSE_DONE + SSE_END)
    with serving(Turn(first, later=json_answer("stale")), Turn(second),
                 Turn(json_answer("three"))) as server:
        got = runner(server.base_url, [step, server.release, step, "chat"], DEFAULT)
    # Without the check: "stale", "two", ... -- every answer shifted by one.
    assert texts(got) == ["one", "two", "three"]
    assert server.connections == 2  # the dirty one closed, a fresh one for the rest


def test_b_body_longer_than_content_length_sent_at_once(runner: Runner) -> None:
    # The rest (here a whole response) follows the body in the same write.
    with serving(Turn(json_answer("one") + json_answer("stale")), Turn(json_answer("two")),
                 Turn(json_answer("three"))) as server:
        got = runner(server.base_url, ["chat", "chat", "chat"], DEFAULT)
    assert texts(got) == ["one", "two", "three"]


@pytest.mark.parametrize("rest", [json_answer("stale"), b'", "oops": true}\r\n'],
                         ids=["response", "junk"])
def test_b_body_longer_than_content_length_rest_late(runner: Runner, rest: bytes) -> None:
    with serving(Turn(json_answer("one"), later=rest), Turn(json_answer("two")),
                 Turn(json_answer("three"))) as server:
        got = runner(server.base_url, ["chat", server.release, "chat", "chat"], DEFAULT)
    assert texts(got) == ["one", "two", "three"]
    assert server.connections == 2


@pytest.mark.parametrize("stale", [STALE_408, STALE_408_OPEN], ids=["and-close", "kept-open"])
def test_c_stale_408_on_an_idle_connection(runner: Runner, stale: bytes) -> None:
    with serving(Turn(json_answer("one"), later=stale, close=stale is STALE_408),
                 Turn(json_answer("two"))) as server:
        got = runner(server.base_url, ["chat", server.release, "chat"], DEFAULT)
    # Without the check the 408 would be the second call's error (max_retries=0).
    assert texts(got) == ["one", "two"]
    assert [o.error for o in got] == [None, None]
    assert server.connections == 2


def test_over_tls_clean_is_reused_and_dirty_is_not(runner: Runner, ca: trustme.CA) -> None:
    # Over TLS the check also looks into the TLS layer's buffers; TLS 1.3 session
    # tickets (read with the first response) must not make a clean connection look dirty.
    tls = server_context(ca, "127.0.0.1")
    with serving(Turn(json_answer("one")), Turn(json_answer("two"), later=json_answer("x")),
                 Turn(json_answer("three")), tls=tls) as server:
        got = runner(server.base_url, ["chat", "chat", server.release, "chat"], DEFAULT,
                     ssl_context=client_context(ca))
    assert texts(got) == ["one", "two", "three"]
    assert server.connections == 2


# --- point 5: no waiting for the end of the body after Done ----------------------------------


@pytest.mark.parametrize("step", ["chat-stream", "stream"])
def test_done_returns_promptly_when_the_body_stays_open(runner: Runner, step: str) -> None:
    # [DONE] arrives, then the chunked body is never ended (the server just waits for a
    # request that never comes). Idle timeout 60 s: returning must not wait for it.
    held = SSE_HEAD + sse_delta("one") + SSE_DONE
    timeout = Timeout(connect=WAIT, idle=60.0)
    with serving(Turn(held), Turn(json_answer("two"))) as server:
        got = runner(server.base_url, [step, "chat"], timeout)
    assert texts(got) == ["one", "two"]
    # A functional bound (the drain gives up after DRAIN_TIMEOUT), not a benchmark.
    assert got[0].seconds < 5.0
    assert server.connections == 2  # the held-open connection was not reused
    assert DRAIN_TIMEOUT == 0.25


# --- point 6: the stall timer -------------------------------------------------------------------


def test_stall_timeout_cuts_a_keep_alive_trickle(runner: Runner) -> None:
    # One piece of content, then only keep-alive comments every 50 ms: the idle timer
    # is satisfied forever, the stall timer (0.5 s) is not.
    trickle = (chunk(b": keep-alive\n\n"), 0.05, 400)
    timeout = Timeout(connect=WAIT, idle=60.0, stall=0.5)
    with serving(Turn(SSE_HEAD + sse_delta("Hel"), trickle=trickle)) as server:
        got = runner(server.base_url, ["chat-stream"], timeout)
    assert got[0].text is None
    assert got[0].error == ("timeout", "no content from the server for 0.5 s (stall timeout)",
                            "Hel")
    assert got[0].seconds < 5.0
    assert len(server.requests) == 1  # no retry, no fallback to a non-streaming request
