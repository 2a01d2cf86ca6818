"""The sans-I/O replay server: request bytes in, a provider's scripted answer out.

:class:`Replay` holds what one server answers with (a text, a :class:`Script`, a sequence
of scripts, routes -- see :mod:`.answers` -- or a recorded HTTP response), the queued
:class:`Fault` s and the request log. :meth:`Replay.connection` makes a
:class:`ReplayConnection`, the state machine of one client connection on h11's server
side: feed it what the client sent (any split; ``b""`` when the client closed) and write
what it returns, in order. It reads no clock: pacing (``token_delay``) and stalls are
:class:`Pause` items the I/O shell performs; a connection to be cut sets ``closed``.

Used by ``libchatty.bindings.server`` (asyncio), or in-process by a user's tests::

    replay = Replay(script=[tool_turn, text_turn])
    conn = replay.connection()
    for item in conn.receive_data(request_bytes):
        ...  # bytes to deliver, or Pause(seconds)

It never echoes a request line or header back (h11's error messages quote them, and a
header may be a credential): errors say what kind of fault it was, and name at most the
path.
"""

from __future__ import annotations

import collections
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeAlias

import h11

from .answers import EXHAUSTED_STATUS, NO_ROUTE_STATUS, Answer, Answers, Routes
from .base import Renderer
from .faults import Fault
from .record import RecordedRequest, record
from .registry import renderers
from .script import Script
from .transcript import Transcript

__all__ = ["DEFAULT_TEXT", "Output", "Pause", "Replay", "ReplayConnection"]

#: What the server says when given nothing else to say.
DEFAULT_TEXT: Final = (
    "Hello from libchatty's replay server! This answer is streamed token by token over "
    "a real HTTP/1.1 connection on loopback, framed as server-sent events exactly the way "
    "the provider would send them. Set an API key (OPENAI_API_KEY, ANTHROPIC_API_KEY, ...) "
    "or pass --base-url to talk to a real model."
)


@dataclass(frozen=True, slots=True)
class Pause:
    """Send nothing for ``seconds`` (``math.inf``: until the client gives up)."""

    seconds: float


#: One item of a connection's output: bytes to send, or a pause.
Output: TypeAlias = "bytes | Pause"

# Bounds: a request head and body larger than this is refused (431/413), not buffered.
_MAX_HEAD: Final = 64 * 1024
_MAX_BODY: Final = 16 * 1024 * 1024
# Without a delay, events go out in chunks of about this many bytes: a long answer is
# neither one giant write nor thousands of tiny ones.
_BATCH_BYTES: Final = 16 * 1024
_DEFAULT_STALL: Final = 30.0
# A 404 message names at most this much of the path (the head may be 64 KiB).
_MAX_PATH_SHOWN: Final = 200
# Rendered answers kept for reuse (the benchmark sends thousands of identical requests).
_MAX_CACHED: Final = 64

_SERVER_HEADER: Final = (b"server", b"libchatty-replay")
_REASONS: Final = {
    200: b"OK", 400: b"Bad Request", 401: b"Unauthorized", 402: b"Payment Required",
    403: b"Forbidden", 404: b"Not Found", 408: b"Request Timeout", 409: b"Conflict",
    410: b"Gone", 413: b"Content Too Large", 422: b"Unprocessable Content",
    429: b"Too Many Requests", 431: b"Request Header Fields Too Large",
    500: b"Internal Server Error", 501: b"Not Implemented", 502: b"Bad Gateway",
    503: b"Service Unavailable", 504: b"Gateway Timeout", 529: b"Overloaded",
}  # fmt: skip
_CONTENT_TYPES: Final = {
    "sse": b"text/event-stream",
    "ndjson": b"application/x-ndjson",
    "eventstream": b"application/vnd.amazon.eventstream",
}
# A wire event whose JSON is cut off, in each framing.
_MALFORMED: Final = {
    "sse": b'data: {"choices": [{"delta": {"content": \n\n',
    "ndjson": b'{"message": {"content": \n',
    # A 16-byte message whose prelude CRC is wrong.
    "eventstream": b"\x00\x00\x00\x10\x00\x00\x00\x00\xde\xad\xbe\xef\x00\x00\x00\x00",
}


def _openai_error(message: str, param: str | None = None, code: str | None = None) -> bytes:
    error = {"message": message, "type": "invalid_request_error", "param": param, "code": code}
    return json.dumps({"error": error}).encode()


class Replay:
    """What one replay server answers with, shared by all its connections.

    Give ``text`` (tokenised into deltas), a ``script`` (one :class:`Script`, or a
    sequence answering successive requests in order), ``routes`` (see :mod:`.answers`)
    and/or a ``transcript`` (the raw bytes of one HTTP response, replayed as is to every
    chat request unless a fault is queued). ``requests`` keeps the last ``max_recorded``
    requests, credentials redacted unless ``keep_credentials``. Not thread-safe, except
    :meth:`add_fault` (a deque) -- run all connections on one thread.
    """

    def __init__(
        self,
        text: str | None = None,
        script: Script | Sequence[Script] | None = None,
        routes: Mapping[str, Answer] | None = None,
        *,
        token_delay: float = 0.0,
        faults: Sequence[Fault] = (),
        transcript: bytes | None = None,
        max_recorded: int = 100_000,
        keep_credentials: bool = False,
    ) -> None:
        if token_delay < 0:
            raise ValueError("token_delay must not be negative")
        self.token_delay = token_delay
        self.transcript = None if transcript is None else Transcript(transcript)
        # deque: appended from the caller's thread, popped on the loop (both thread-safe).
        self.faults: collections.deque[Fault] = collections.deque(faults)
        self.requests: list[RecordedRequest] = []
        self.max_recorded = max(1, max_recorded)
        self.keep_credentials = keep_credentials
        self.connections = 0
        self.renderers = renderers()
        self.answer(text, script, routes)

    def answer(
        self,
        text: str | None = None,
        script: Script | Sequence[Script] | None = None,
        routes: Mapping[str, Answer] | None = None,
    ) -> None:
        """Replace what the server answers with (a sequence starts again)."""
        if text is not None and script is not None:
            raise ValueError("give the replay server a text or a script, not both")
        source = text if text is not None else script
        if source is None and routes is None:
            source = DEFAULT_TEXT
        self.default = None if source is None else Answers(source)
        self.routes = Routes(routes or {})
        self._rendered: dict[tuple[Any, ...], Any] = {}

    def add_fault(self, fault: Fault) -> None:
        """Queue ``fault``: the next chat request without one takes it."""
        self.faults.append(fault)

    def connection(self) -> ReplayConnection:
        """The state machine of one new client connection."""
        self.connections += 1
        return ReplayConnection(self)

    # --- used by the connections -----------------------------------------------------------
    def log(self, request: RecordedRequest) -> None:
        if len(self.requests) >= self.max_recorded:
            # Drop the older half at once: amortised O(1) per request.
            del self.requests[: len(self.requests) - self.max_recorded // 2]
        self.requests.append(request)

    def script_for(
        self, renderer: Renderer, request: RecordedRequest, stream: bool
    ) -> tuple[int, str] | list[bytes] | bytes:
        """The rendered answer (events for a stream, else a body), or an error status and
        message when there is none (no route, sequence used up)."""
        assert isinstance(request.json, dict)
        model = renderer.model_of(request.target, request.json)
        answers = self.routes.find(request.path, model) or self.default
        if answers is None:
            shown = request.path[:_MAX_PATH_SHOWN]
            return NO_ROUTE_STATUS, f"replay: no route for model {model!r} at {shown}"
        key = answers.cache_key(model, len(request.body))
        if key is not None:
            full_key = (id(answers), renderer.name, stream, *key)
            rendered = self._rendered.get(full_key)
            if rendered is not None:
                return rendered  # type: ignore[no-any-return]
        script = answers.next(model, len(request.body))
        if isinstance(script, str):
            return EXHAUSTED_STATUS, script
        rendered = renderer.render_stream(script) if stream else renderer.render_body(script)
        if key is not None:
            if len(self._rendered) >= _MAX_CACHED:
                self._rendered.clear()
            self._rendered[full_key] = rendered
        return rendered

    @property
    def model(self) -> str:
        return self.default.model if self.default is not None else "replay-1"


class ReplayConnection:
    """One client connection: :meth:`receive_data` in, :data:`Output` items out.

    After the items :meth:`receive_data` returns are written, close the connection if
    ``closed`` is set (a cut, a refused request, the client's ``Connection: close``, or
    the client closed its side).
    """

    def __init__(self, replay: Replay) -> None:
        self._replay = replay
        self._conn = h11.Connection(h11.SERVER, max_incomplete_event_size=_MAX_HEAD)
        self._head: h11.Request | None = None
        self._body: list[bytes] = []
        self._size = 0
        self._out: list[Output] = []
        self.closed = False

    def receive_data(self, data: bytes) -> list[Output]:
        """Feed what the client sent (``b""``: it closed); returns what to send."""
        if self.closed:
            return []
        self._conn.receive_data(data)
        while not self.closed and self._next():
            pass
        out, self._out = self._out, []
        return [item for item in out if item != b""]

    def _next(self) -> bool:
        """Handle one h11 event; False when more data is needed."""
        conn = self._conn
        try:
            event = conn.next_event()
        except h11.RemoteProtocolError as exc:
            # A malformed or oversized head: say so (400/431), then close. h11's message
            # quotes the offending line, which may be a credential header: the answer
            # says only what kind of fault it was.
            if conn.our_state in (h11.IDLE, h11.SEND_RESPONSE):
                status = exc.error_status_hint
                too_large = "request head too large"
                message = too_large if status == 431 else "bad request: malformed HTTP request head"
                self._whole(status, _openai_error(message))
            self.closed = True
            return False
        if event is h11.NEED_DATA:
            return False
        if isinstance(event, h11.Request):
            self._head, self._body, self._size = event, [], 0
        elif isinstance(event, h11.Data):
            self._size += len(event.data)
            if self._size > _MAX_BODY:
                self._whole(413, _openai_error("request body too large"))
                self.closed = True
                return False
            self._body.append(bytes(event.data))
        elif isinstance(event, h11.EndOfMessage):
            assert self._head is not None
            head, replay = self._head, self._replay
            request = record(
                head.method, head.target, list(head.headers), b"".join(self._body),
                replay.keep_credentials,
            )  # fmt: skip
            self._head, self._body = None, []
            replay.log(request)
            self._respond(request)
            if self.closed or conn.our_state is not h11.DONE:
                self.closed = True
                return False
            conn.start_next_cycle()
        else:  # ConnectionClosed (PAUSED cannot happen: each cycle is finished at once)
            self.closed = True
            return False
        return True

    # --- answering ------------------------------------------------------------------------
    def _respond(self, request: RecordedRequest) -> None:
        replay, path = self._replay, request.path
        if request.method == "GET" and (path.endswith("/models") or path == "/api/tags"):
            self._models()
            return
        renderer = next(
            (r for r in replay.renderers if r.matches(request.method, request.target)), None
        )
        # A recorded answer, unless a fault is queued and a renderer can render it.
        transcript = replay.transcript if request.method == "POST" else None
        if transcript is not None and (renderer is None or not replay.faults):
            self._send_transcript(transcript)
            return
        if renderer is None:
            # The path only: never the query (it may hold ``key=``) nor a header.
            shown = path if len(path) <= _MAX_PATH_SHOWN else path[:_MAX_PATH_SHOWN] + "..."
            message = f"no replay route for {request.method} {shown}"
            self._whole(404, _openai_error(message, code="unknown_url"))
            return
        fault = replay.faults.popleft() if replay.faults else None
        if not isinstance(request.json, dict):
            self._error(renderer, 400, "the request body is not a JSON object")
            return
        stream = renderer.is_stream_request(request.target, request.json)
        if fault is not None:
            kind, before_head = fault.kind, fault.after_events is None
            if kind == "status":
                self._status_fault(renderer, fault)
                return
            if kind == "reject_stream" and stream:
                message = fault.message or "streaming is not supported for this model"
                self._whole(400, _openai_error(message, "stream", "unsupported_parameter"))
                return
            if kind == "cut" and before_head:
                self.closed = True
                return
            if kind == "stall" and before_head:
                self._out.append(Pause(_seconds(fault)))
                fault = None  # used up: the answer itself goes out whole
            elif kind == "json" and stream:
                stream = False
        answer = replay.script_for(renderer, request, stream)
        if isinstance(answer, tuple):
            status, message = answer
            self._error(renderer, status, message)
        elif isinstance(answer, list):
            self._stream(renderer, answer, fault)
        else:
            self._send_body(answer, fault)

    def _models(self) -> None:
        entry = {"id": self._replay.model, "object": "model", "created": 1700000000}
        entry["owned_by"] = "libchatty"
        self._whole(200, json.dumps({"object": "list", "data": [entry]}).encode())

    def _status_fault(self, renderer: Renderer, fault: Fault) -> None:
        status = fault.status if fault.status is not None else 500
        reason = _REASONS.get(status, b"Status").decode()
        message = fault.message or f"replay fault: HTTP {status} {reason}"
        headers: list[tuple[bytes, bytes]] = []
        retry_after = fault.retry_after
        if retry_after is None and status == 429:
            retry_after = 1
        if isinstance(retry_after, str):  # sent as given: an HTTP-date, or a bad value
            headers.append((b"retry-after", retry_after.encode("latin-1")))
        elif retry_after is not None:
            headers.append((b"retry-after", f"{retry_after:g}".encode()))
        self._error(renderer, status, message, headers)

    def _error(
        self,
        renderer: Renderer,
        status: int,
        message: str,
        extra: Sequence[tuple[bytes, bytes]] = (),
    ) -> None:
        """The provider's error body, with the headers it names errors in (Bedrock's
        ``x-amzn-ErrorType``)."""
        headers = [*extra, *renderer.error_headers(status)]
        self._whole(status, renderer.render_error(status, message), headers)

    # --- framing ----------------------------------------------------------------------------
    def _head_bytes(self, status: int, headers: list[tuple[bytes, bytes]]) -> None:
        reason = _REASONS.get(status, b"Status")
        self._out.append(
            self._conn.send(h11.Response(status_code=status, headers=headers, reason=reason))
        )

    def _data(self, data: bytes) -> None:
        self._out.append(self._conn.send(h11.Data(data=data)))

    def _whole(
        self,
        status: int,
        body: bytes,
        extra: Sequence[tuple[bytes, bytes]] = (),
    ) -> None:
        length = str(len(body)).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", length)]
        self._head_bytes(status, [*headers, _SERVER_HEADER, *extra])
        self._data(body)
        self._out.append(self._conn.send(h11.EndOfMessage()))

    def _send_body(self, body: bytes, fault: Fault | None) -> None:
        kind = fault.kind if fault is not None else ""
        if kind == "malformed":
            # Same length, so the framing is right and only the JSON is broken.
            self._whole(200, body[: len(body) // 2] + b" " * (len(body) - len(body) // 2))
            return
        if kind not in ("cut", "stall"):
            self._whole(200, body)
            return
        length = str(len(body)).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", length)]
        self._head_bytes(200, [*headers, _SERVER_HEADER])
        half = len(body) // 2
        self._data(body[:half])
        if kind == "cut":
            self.closed = True
            return
        assert fault is not None
        self._out.append(Pause(_seconds(fault)))
        self._data(body[half:])
        self._out.append(self._conn.send(h11.EndOfMessage()))

    def _stream(self, renderer: Renderer, events: list[bytes], fault: Fault | None) -> None:
        headers = [
            (b"content-type", _CONTENT_TYPES.get(renderer.framing, b"text/event-stream")),
            (b"transfer-encoding", b"chunked"),
            (b"cache-control", b"no-cache"),
            _SERVER_HEADER,
        ]
        self._head_bytes(200, headers)
        kind = fault.kind if fault is not None and fault.kind != "json" else ""
        at = (fault.after_events or 0) if fault is not None and kind else -1
        delay = self._replay.token_delay
        batch: list[bytes] = []
        size = 0
        for i, event in enumerate(events):
            if i == at:
                if kind == "malformed":
                    event = _MALFORMED.get(renderer.framing, _MALFORMED["sse"])
                elif kind in ("cut", "stall", "stream_error"):
                    if batch:
                        self._data(b"".join(batch))
                        batch, size = [], 0
                    assert fault is not None
                    if kind != "stall":
                        self._stream_fault(renderer, fault)
                        return
                    self._out.append(Pause(_seconds(fault)))
            if delay:
                if i:
                    self._out.append(Pause(delay))
                self._data(event)
                continue
            batch.append(event)
            size += len(event)
            if size >= _BATCH_BYTES:
                self._data(b"".join(batch))
                batch, size = [], 0
        if batch:
            self._data(b"".join(batch))
        if at >= len(events) and kind in ("cut", "stream_error"):
            # The fault lies past the last event: apply it at the very end.
            assert fault is not None
            self._stream_fault(renderer, fault)
            return
        self._out.append(self._conn.send(h11.EndOfMessage()))

    def _stream_fault(self, renderer: Renderer, fault: Fault) -> None:
        """Cut here, or send the provider's error event and end the body."""
        if fault.kind == "cut":
            self.closed = True
            return
        message = fault.message or "replay fault: server error"
        self._data(renderer.render_stream_error(message))
        self._out.append(self._conn.send(h11.EndOfMessage()))

    def _send_transcript(self, transcript: Transcript) -> None:
        self._out.append(transcript.raw)
        if not transcript.walk(self._conn):
            self.closed = True


def _seconds(fault: Fault) -> float:
    return fault.seconds if fault.seconds is not None else _DEFAULT_STALL
