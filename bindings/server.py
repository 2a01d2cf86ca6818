"""The local replay server: a real HTTP/1.1 server on loopback that answers like a provider.

It serves every dialect libchatty has, chosen by request path (``/chat/completions``,
``/responses``, ``/messages``, ``:streamGenerateContent``, ``/api/chat``...), with a
scripted answer -- a text it tokenises, a :class:`~libchatty.script.Script`, or a
recorded HTTP response replayed byte for byte -- streamed with HTTP chunked framing and an
optional delay per event, or as one JSON body when the request did not ask for a stream.
Faults (:class:`Fault`) can be queued to test what a client does when things go wrong.

The rendering of answers is pure and lives in the dialects; this module only serves it
(asyncio + h11). Use it from tests as a context manager (the event loop runs in a
background thread)::

    with ReplayServer(text="Hello there") as server:
        client = Client(base_url=server.base_url, api_key="test")
        ...
        assert server.requests[0].json["stream"] is True

or standalone: ``python -m libchatty.serve --port 8080 --token-delay 0.02``.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import signal
import ssl
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Final

import h11

from libchatty.dialects import DIALECT_NAMES, Dialect, get_dialect
from libchatty.events import Usage
from libchatty.script import Script, split_tokens

__all__ = [
    "CREDENTIAL_HEADERS",
    "CREDENTIAL_PARAMS",
    "DEFAULT_TEXT",
    "FAULT_KINDS",
    "Fault",
    "RecordedRequest",
    "ReplayServer",
    "main",
    "redact_target",
]

#: What the server says when given neither ``text`` nor ``script``.
DEFAULT_TEXT: Final = (
    "Hello from libchatty's replay server! This answer is streamed token by token over "
    "a real HTTP/1.1 connection on loopback, framed as server-sent events exactly the way "
    "the provider would send them. Set an API key (OPENAI_API_KEY, ANTHROPIC_API_KEY, ...) "
    "or pass --base-url to talk to a real model."
)

#: Every ``Fault.kind``.
FAULT_KINDS: Final = frozenset(
    {"status", "cut", "stall", "malformed", "json", "stream_error", "reject_stream"}
)

# Bounds: a request head and body larger than this is refused (413), not buffered.
_MAX_HEAD: Final = 64 * 1024
_MAX_BODY: Final = 16 * 1024 * 1024
_READ_SIZE: Final = 64 * 1024
# Without a delay, events are written in batches of this many bytes so a long answer is
# neither one giant write nor thousands of tiny ones.
_BATCH_BYTES: Final = 16 * 1024
_DEFAULT_STALL: Final = 30.0
# Listen backlog: the benchmark opens 10,000 connections at once.
_BACKLOG: Final = 16384

_SERVER_HEADER: Final = (b"server", b"libchatty-replay")
_REASONS: Final = {
    529: "Overloaded",  # Anthropic's; not in http.HTTPStatus
}
_CONTENT_TYPES: Final = {"sse": b"text/event-stream", "ndjson": b"application/x-ndjson"}
# A wire event whose JSON is cut off, in each framing.
_MALFORMED: Final = {
    "sse": b'data: {"choices": [{"delta": {"content": \n\n',
    "ndjson": b'{"message": {"content": \n',
}


@dataclass(frozen=True, slots=True)
class Fault:
    """A fault for the next chat request (queued; each request takes at most one).

    * ``"status"``: answer HTTP ``status`` (default 500) with the dialect's error body;
      ``retry_after`` becomes a ``Retry-After`` header: seconds, or a string sent as is
      (an HTTP-date); a 429 gets ``1`` when not given.
    * ``"cut"``: close the connection after ``after_events`` wire events (after the
      response head when 0; before any response at all when None). A non-streamed answer
      is cut halfway through its body.
    * ``"stall"``: after ``after_events`` events (before the response head when None),
      send nothing for ``seconds`` (default 30), then carry on.
    * ``"malformed"``: event number ``after_events`` (0-based, default 0) is broken JSON;
      a non-streamed body is truncated JSON.
    * ``"json"``: answer a stream request with a plain JSON body.
    * ``"stream_error"``: after ``after_events`` events (default 0) send the dialect's
      error event and end the body without the terminal marker.
    * ``"reject_stream"``: answer a stream request with a 400 OpenAI-shaped "streaming
      is not supported" error.

    ``json``, ``stream_error`` and ``reject_stream`` only affect stream requests; a
    non-stream request that takes one is answered normally (the fault is used up).
    ``message`` overrides the error text of ``status`` and ``stream_error``.
    """

    kind: str
    status: int | None = None
    retry_after: float | str | None = None
    after_events: int | None = None
    seconds: float | None = None
    message: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"Fault.kind must be one of {sorted(FAULT_KINDS)}, not {self.kind!r}")
        if self.status is not None and not 100 <= self.status <= 599:
            raise ValueError(f"Fault.status must be an HTTP status, not {self.status!r}")
        if self.after_events is not None and self.after_events < 0:
            raise ValueError("Fault.after_events must not be negative")


#: Headers that carry credentials: recorded as ``***`` unless the server keeps them.
CREDENTIAL_HEADERS: Final = frozenset(
    {"authorization", "proxy-authorization", "x-api-key", "api-key", "x-goog-api-key"}
)
#: Query parameters that carry credentials (Gemini's ``?key=``).
CREDENTIAL_PARAMS: Final = frozenset({"key", "api_key", "api-key", "access_token"})
_REDACTED: Final = "***"
# A 404 message names at most this much of the path (the head may be 64 KiB).
_MAX_PATH_SHOWN: Final = 200


def redact_target(target: str) -> str:
    """``target`` with the value of every credential query parameter as ``***``."""
    path, sep, query = target.partition("?")
    if not sep:
        return target
    items = []
    for item in query.split("&"):
        name, eq, _ = item.partition("=")
        items.append(f"{name}={_REDACTED}" if eq and name.lower() in CREDENTIAL_PARAMS else item)
    return f"{path}?{'&'.join(items)}"


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """A request as the server received it. ``headers`` has lower-case names (a repeated
    header keeps its last value); ``json`` is the parsed body, or None when it was empty
    or not JSON.

    Unless the server was built with ``keep_credentials=True`` (for tests that check what
    a client sent), the values of :data:`CREDENTIAL_HEADERS` and of the
    :data:`CREDENTIAL_PARAMS` in ``target`` are recorded as ``***``. ``repr`` never shows
    header values or the body, and always redacts the target."""

    method: str
    target: str
    headers: Mapping[str, str]
    body: bytes
    json: Any = field(default=None)

    def __repr__(self) -> str:
        return (
            f"RecordedRequest(method={self.method!r}, target={redact_target(self.target)!r}, "
            f"headers=[{', '.join(self.headers)}], body=<{len(self.body)} bytes>)"
        )


def _reason(status: int) -> bytes:
    try:
        return _REASONS.get(status, HTTPStatus(status).phrase).encode()
    except ValueError:
        return b"Status"


def _openai_error(message: str, type_: str, param: str | None, code: str | None) -> bytes:
    error = {"message": message, "type": type_, "param": param, "code": code}
    return json.dumps({"error": error}).encode()


def _parse_transcript(transcript: bytes) -> list[Any] | None:
    """The h11 events of a recorded response, or None when it is not one complete,
    self-framed HTTP/1.1 response (then the connection closes after replaying it)."""
    client = h11.Connection(h11.CLIENT, max_incomplete_event_size=len(transcript) + 1)
    client.send(h11.Request(method="POST", target="/", headers=[("host", "replay")]))
    client.send(h11.EndOfMessage())
    events: list[Any] = []
    try:
        client.receive_data(transcript)
        while True:
            event = client.next_event()
            if event is h11.NEED_DATA or event is h11.PAUSED:
                return None
            if isinstance(event, h11.InformationalResponse):
                return None
            events.append(event)
            if isinstance(event, h11.EndOfMessage):
                return events
    except h11.RemoteProtocolError:
        return None


class _Replay:
    """The server's state and its connection handler; lives on one event loop."""

    def __init__(
        self,
        *,
        text: str | None,
        script: Script | None,
        token_delay: float,
        host: str,
        port: int,
        ssl_context: ssl.SSLContext | None,
        faults: Sequence[Fault],
        transcript: bytes | None,
        max_recorded: int,
        keep_credentials: bool,
    ) -> None:
        if text is not None and script is not None:
            raise ValueError("give ReplayServer a text or a script, not both")
        if token_delay < 0:
            raise ValueError("token_delay must not be negative")
        self.text = DEFAULT_TEXT if text is None and script is None else text
        self.script = script
        self.token_delay = token_delay
        self.host = host
        self.port = port
        self.ssl_context = ssl_context
        self.transcript = transcript
        self.transcript_events = None if transcript is None else _parse_transcript(transcript)
        # deque: appended from the caller's thread, popped on the loop (both thread-safe).
        self.faults: collections.deque[Fault] = collections.deque(faults)
        self.requests: list[RecordedRequest] = []
        self.max_recorded = max(1, max_recorded)
        self.keep_credentials = keep_credentials
        self.connections = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._dialects: list[Dialect] | None = None
        self._rendered: dict[tuple[str, str, int, bool], list[bytes] | bytes] = {}

    # --- lifecycle ----------------------------------------------------------------------
    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._handle,
            self.host,
            self.port,
            ssl=self.ssl_context,
            backlog=_BACKLOG,
            limit=_READ_SIZE,
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        # A connection accepted just now has a handler task that has not run yet (and so
        # has not registered itself): let it start, so it is cancelled and closed too.
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    @property
    def base_url(self) -> str:
        scheme = "https" if self.ssl_context is not None else "http"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{self.port}/v1"

    # --- one connection ---------------------------------------------------------------
    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=_MAX_HEAD)
        try:
            while True:
                request = await self._read_request(conn, reader, writer)
                if request is None:
                    break
                keep = await self._respond(conn, writer, request)
                if not keep or conn.our_state is not h11.DONE:
                    break
                if conn.their_state is not h11.DONE:
                    break
                conn.start_next_cycle()
        except (h11.ProtocolError, OSError):  # the client broke the protocol or went away
            pass
        except asyncio.CancelledError:
            # The server is closing. Not re-raised: asyncio's stream callback would log
            # the cancelled task as an error.
            pass
        finally:
            if task is not None:
                self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _read_request(
        self,
        conn: h11.Connection,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> RecordedRequest | None:
        head: h11.Request | None = None
        body: list[bytes] = []
        size = 0
        while True:
            try:
                event = conn.next_event()
            except h11.RemoteProtocolError as exc:
                # A malformed or oversized head: say so (400/431), then close.
                # h11's message quotes the offending line, which may be a credential
                # header: the answer says only what kind of fault it was.
                if conn.our_state in (h11.IDLE, h11.SEND_RESPONSE):
                    status = exc.error_status_hint
                    message = (
                        "request head too large"
                        if status == 431
                        else "bad request: malformed HTTP request head"
                    )
                    await self._send_whole(
                        conn,
                        writer,
                        status,
                        _openai_error(message, "invalid_request_error", None, None),
                    )
                return None
            if event is h11.NEED_DATA:
                data = await reader.read(_READ_SIZE)
                conn.receive_data(data)
                continue
            if isinstance(event, h11.Request):
                head = event
            elif isinstance(event, h11.Data):
                size += len(event.data)
                if size > _MAX_BODY:
                    await self._send_whole(
                        conn,
                        writer,
                        413,
                        _openai_error(
                            "request body too large", "invalid_request_error", None, None
                        ),
                    )
                    return None
                body.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                assert head is not None
                raw = b"".join(body)
                try:
                    parsed = json.loads(raw) if raw else None
                except ValueError:
                    parsed = None
                headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in head.headers}
                target = head.target.decode("ascii", "replace")
                if not self.keep_credentials:
                    target = redact_target(target)
                    for name in CREDENTIAL_HEADERS & headers.keys():
                        headers[name] = _REDACTED
                recorded = RecordedRequest(
                    head.method.decode("ascii", "replace"),
                    target,
                    headers,
                    raw,
                    parsed,
                )
                if len(self.requests) >= self.max_recorded:
                    # Drop the older half at once: amortised O(1) per request.
                    del self.requests[: len(self.requests) - self.max_recorded // 2]
                self.requests.append(recorded)
                return recorded
            else:  # ConnectionClosed (or PAUSED, which cannot happen before a response)
                return None

    # --- answering --------------------------------------------------------------------
    def _dialect_for(self, method: str, target: str) -> Dialect | None:
        if self._dialects is None:
            dialects = []
            for name in DIALECT_NAMES:
                try:
                    dialects.append(get_dialect(name))
                except Exception:  # not written yet (or broken): serve the others
                    continue
            self._dialects = dialects
        for dialect in self._dialects:
            if dialect.matches(method, target):
                return dialect
        return None

    def _script_for(self, request: RecordedRequest) -> tuple[Script, str, int]:
        """The script to answer with, and a cache key part (model, input tokens)."""
        if self.script is not None:
            return self.script, "", 0
        assert self.text is not None
        body = request.json
        model = body.get("model") if isinstance(body, dict) else None
        model = model if isinstance(model, str) and model else "replay-1"
        # Not a tokenizer: a stable estimate so usage is plausible and deterministic.
        input_tokens = max(1, len(request.body) // 4)
        output = len(split_tokens(self.text))
        usage = Usage(input_tokens, output, input_tokens + output)
        return Script(text=self.text, usage=usage, model=model), model, input_tokens

    def _render(self, dialect: Dialect, request: RecordedRequest, stream: bool) -> Any:
        # Rendering is pure and the same for the same model and prompt size: cache it
        # (the benchmark sends thousands of identical requests).
        script, model, tokens = self._script_for(request)
        key = (dialect.name, model, tokens, stream)
        rendered = self._rendered.get(key)
        if rendered is None:
            rendered = dialect.render_stream(script) if stream else dialect.render_body(script)
            if len(self._rendered) > 64:
                self._rendered.clear()
            self._rendered[key] = rendered
        return rendered

    async def _respond(
        self, conn: h11.Connection, writer: asyncio.StreamWriter, request: RecordedRequest
    ) -> bool:
        """Answer one request; False when the connection must close afterwards."""
        path = request.target.partition("?")[0]
        if request.method == "GET" and (path.endswith("/models") or path == "/api/tags"):
            return await self._send_models(conn, writer)
        dialect = self._dialect_for(request.method, request.target)
        # A recorded answer, unless a fault is queued and a dialect can render it.
        transcript = self.transcript is not None and request.method == "POST"
        if transcript and (dialect is None or not self.faults):
            return await self._send_transcript(conn, writer)
        if dialect is None:
            # The path only: never the query (it may hold ``key=``) nor a header.
            shown = path if len(path) <= _MAX_PATH_SHOWN else path[:_MAX_PATH_SHOWN] + "..."
            message = f"no replay route for {request.method} {shown}"
            body = _openai_error(message, "invalid_request_error", None, "unknown_url")
            return await self._send_whole(conn, writer, 404, body)
        fault = self.faults.popleft() if self.faults else None
        if not isinstance(request.json, dict):
            body = dialect.render_error(400, "the request body is not a JSON object")
            return await self._send_whole(conn, writer, 400, body)
        stream = dialect.is_stream_request(request.target, request.json)
        if fault is not None:
            kind = fault.kind
            if kind == "status":
                return await self._send_status_fault(conn, writer, dialect, fault)
            if kind == "reject_stream" and stream:
                body = _openai_error(
                    fault.message or "streaming is not supported for this model",
                    "invalid_request_error",
                    "stream",
                    "unsupported_parameter",
                )
                return await self._send_whole(conn, writer, 400, body)
            if kind == "cut" and fault.after_events is None:
                return False
            if kind == "stall" and fault.after_events is None:
                await asyncio.sleep(fault.seconds if fault.seconds is not None else _DEFAULT_STALL)
            if kind == "json" and stream:
                stream = False
        if stream:
            events = self._render(dialect, request, True)
            return await self._send_stream(conn, writer, dialect, events, fault)
        body = self._render(dialect, request, False)
        return await self._send_body(conn, writer, body, fault)

    async def _send_models(self, conn: h11.Connection, writer: asyncio.StreamWriter) -> bool:
        model = self.script.model if self.script is not None else "replay-1"
        entry = {"id": model, "object": "model", "created": 1700000000, "owned_by": "libchatty"}
        body = json.dumps({"object": "list", "data": [entry]}).encode()
        return await self._send_whole(conn, writer, 200, body)

    async def _send_status_fault(
        self, conn: h11.Connection, writer: asyncio.StreamWriter, dialect: Dialect, fault: Fault
    ) -> bool:
        status = fault.status if fault.status is not None else 500
        message = fault.message or f"replay fault: HTTP {status} {_reason(status).decode()}"
        headers: list[tuple[bytes, bytes]] = []
        retry_after = fault.retry_after
        if retry_after is None and status == 429:
            retry_after = 1
        if isinstance(retry_after, str):  # sent as given: an HTTP-date, or a bad value
            headers.append((b"retry-after", retry_after.encode("latin-1")))
        elif retry_after is not None:
            headers.append((b"retry-after", f"{retry_after:g}".encode()))
        body = dialect.render_error(status, message)
        return await self._send_whole(conn, writer, status, body, headers)

    async def _send_whole(
        self,
        conn: h11.Connection,
        writer: asyncio.StreamWriter,
        status: int,
        body: bytes,
        extra: Sequence[tuple[bytes, bytes]] = (),
        content_type: bytes = b"application/json",
    ) -> bool:
        headers = [
            (b"content-type", content_type),
            (b"content-length", str(len(body)).encode()),
            _SERVER_HEADER,
            *extra,
        ]
        data = conn.send(h11.Response(status_code=status, headers=headers, reason=_reason(status)))
        data += conn.send(h11.Data(data=body)) + conn.send(h11.EndOfMessage())
        writer.write(data)
        await writer.drain()
        return True

    async def _send_body(
        self, conn: h11.Connection, writer: asyncio.StreamWriter, body: bytes, fault: Fault | None
    ) -> bool:
        if fault is None or fault.kind not in ("cut", "malformed", "stall"):
            return await self._send_whole(conn, writer, 200, body)
        if fault.kind == "malformed":
            # Same length, so the framing is right and only the JSON is broken.
            broken = body[: len(body) // 2] + b" " * (len(body) - len(body) // 2)
            return await self._send_whole(conn, writer, 200, broken)
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            _SERVER_HEADER,
        ]
        writer.write(conn.send(h11.Response(status_code=200, headers=headers)))
        half = len(body) // 2
        writer.write(conn.send(h11.Data(data=body[:half])))
        await writer.drain()
        if fault.kind == "cut":
            return False
        await asyncio.sleep(fault.seconds if fault.seconds is not None else _DEFAULT_STALL)
        writer.write(conn.send(h11.Data(data=body[half:])) + conn.send(h11.EndOfMessage()))
        await writer.drain()
        return True

    async def _send_stream(
        self,
        conn: h11.Connection,
        writer: asyncio.StreamWriter,
        dialect: Dialect,
        events: list[bytes],
        fault: Fault | None,
    ) -> bool:
        headers = [
            (b"content-type", _CONTENT_TYPES.get(dialect.framing, b"text/event-stream")),
            (b"transfer-encoding", b"chunked"),
            (b"cache-control", b"no-cache"),
            _SERVER_HEADER,
        ]
        writer.write(conn.send(h11.Response(status_code=200, headers=headers)))
        at = -1 if fault is None or fault.kind == "json" else (fault.after_events or 0)
        kind = fault.kind if fault is not None else ""
        delay = self.token_delay
        batch: list[bytes] = []
        batch_size = 0
        for i, event in enumerate(events):
            if i == at:
                if kind == "malformed":
                    event = _MALFORMED.get(dialect.framing, _MALFORMED["sse"])
                elif kind in ("cut", "stall", "stream_error"):
                    if batch:
                        writer.write(conn.send(h11.Data(data=b"".join(batch))))
                        batch, batch_size = [], 0
                    await writer.drain()
                    if kind == "cut":
                        return False
                    if kind == "stream_error":
                        message = fault.message if fault is not None else None
                        error = dialect.render_stream_error(message or "replay fault: server error")
                        writer.write(conn.send(h11.Data(data=error)))
                        break
                    seconds = fault.seconds if fault is not None else None
                    await asyncio.sleep(seconds if seconds is not None else _DEFAULT_STALL)
            if delay:
                if i:
                    await asyncio.sleep(delay)
                writer.write(conn.send(h11.Data(data=event)))
                await writer.drain()
                continue
            batch.append(event)
            batch_size += len(event)
            if batch_size >= _BATCH_BYTES:
                writer.write(conn.send(h11.Data(data=b"".join(batch))))
                batch, batch_size = [], 0
                await writer.drain()
        else:
            if at >= len(events) and kind in ("cut", "stream_error"):
                # The fault lies past the last event: apply it at the very end.
                if batch:
                    writer.write(conn.send(h11.Data(data=b"".join(batch))))
                    batch = []
                await writer.drain()
                if kind == "cut":
                    return False
                message = fault.message if fault is not None else None
                error = dialect.render_stream_error(message or "replay fault: server error")
                writer.write(conn.send(h11.Data(data=error)))
        if batch:
            writer.write(conn.send(h11.Data(data=b"".join(batch))))
        writer.write(conn.send(h11.EndOfMessage()))
        await writer.drain()
        return True

    async def _send_transcript(self, conn: h11.Connection, writer: asyncio.StreamWriter) -> bool:
        assert self.transcript is not None
        writer.write(self.transcript)
        await writer.drain()
        if self.transcript_events is None:
            return False
        # The bytes went out as recorded; walk h11 through the same response (its
        # output discarded) so keep-alive bookkeeping stays right for the next request.
        try:
            for event in self.transcript_events:
                if isinstance(event, h11.Response):
                    event = h11.Response(
                        status_code=event.status_code, headers=event.headers, reason=event.reason
                    )
                conn.send(event)
        except h11.LocalProtocolError:
            return False
        return True


class ReplayServer:
    """The replay server. A context manager (sync: loop in a background thread; or
    ``async with`` on the running asyncio loop) that listens while inside.

    ``base_url`` is ``http://HOST:PORT/v1`` (``https`` with ``ssl_context``);
    ``connections`` counts accepted TCP connections; ``requests`` lists every request
    received, in order; :meth:`add_fault` queues a :class:`Fault` for a coming chat
    request. Give ``text`` (tokenised into deltas), a ``script``, or a ``transcript``
    (raw bytes of one HTTP response, replayed as is to every chat request; when it is a
    complete, self-framed response the connection stays open for the next request).

    With ``token_delay`` each wire event is its own HTTP chunk, written after that many
    seconds; without it, events are written in chunks of about 16 KiB. ``requests``
    keeps the last ``max_recorded`` requests (older ones are dropped in bulk, so a
    long-running server does not grow without bound). Credentials a client sends
    (:data:`CREDENTIAL_HEADERS`, :data:`CREDENTIAL_PARAMS`) are recorded as ``***``
    unless ``keep_credentials=True`` (tests checking what a client sent); they never
    appear in an answer the server writes.
    """

    def __init__(
        self,
        text: str | None = None,
        script: Script | None = None,
        token_delay: float = 0.0,
        host: str = "127.0.0.1",
        port: int = 0,
        ssl_context: ssl.SSLContext | None = None,
        faults: Sequence[Fault] = (),
        transcript: bytes | None = None,
        *,
        max_recorded: int = 100_000,
        keep_credentials: bool = False,
    ) -> None:
        self._replay = _Replay(
            text=text,
            script=script,
            token_delay=token_delay,
            host=host,
            port=port,
            ssl_context=ssl_context,
            faults=faults,
            transcript=transcript,
            max_recorded=max_recorded,
            keep_credentials=keep_credentials,
        )
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None

    def __repr__(self) -> str:
        return f"<ReplayServer {self.base_url}>"

    @property
    def base_url(self) -> str:
        return self._replay.base_url

    @property
    def host(self) -> str:
        return self._replay.host

    @property
    def port(self) -> int:
        return self._replay.port

    @property
    def connections(self) -> int:
        return self._replay.connections

    @property
    def requests(self) -> list[RecordedRequest]:
        return self._replay.requests

    def add_fault(self, fault: Fault) -> None:
        """Queue ``fault``: the next chat request without one takes it."""
        self._replay.faults.append(fault)

    # --- in a background thread ---------------------------------------------------------
    def start(self) -> None:
        """Start listening (in a daemon thread); returns once the port is bound."""
        if self._thread is not None:
            raise RuntimeError("this ReplayServer is already running")
        ready = threading.Event()
        failure: list[BaseException] = []

        async def run() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            try:
                await self._replay.start()
            except BaseException as exc:
                failure.append(exc)
                ready.set()
                return
            ready.set()
            try:
                await self._stop.wait()
            finally:
                await self._replay.close()

        self._thread = threading.Thread(
            target=asyncio.run, args=(run(),), name="libchatty-replay", daemon=True
        )
        self._thread.start()
        if not ready.wait(timeout=30):
            raise RuntimeError("the replay server did not start within 30 s")
        if failure:
            self._thread.join(timeout=5)
            self._thread = None
            raise failure[0]

    def close(self) -> None:
        """Stop listening, drop open connections, and join the thread."""
        thread, loop, stop = self._thread, self._loop, self._stop
        if thread is None or loop is None or stop is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop already ended
            loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=30)
        self._thread = None

    def __enter__(self) -> ReplayServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- on the caller's asyncio loop ---------------------------------------------------
    async def __aenter__(self) -> ReplayServer:
        await self._replay.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._replay.close()


# --- python -m libchatty.serve ----------------------------------------------------------


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m libchatty.serve",
        description="libchatty's local replay server: answers chat requests in every "
        "provider dialect with a scripted, streamed answer.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    parser.add_argument("--text", help="the answer text (default: a short greeting)")
    parser.add_argument(
        "--transcript", metavar="FILE", help="replay this raw HTTP response file instead"
    )
    parser.add_argument(
        "--token-delay", type=float, default=0.0, metavar="S", help="seconds between events"
    )
    parser.add_argument(
        "--print-url", action="store_true", help="print only the base URL on stdout when ready"
    )
    return parser.parse_args(argv)


async def _serve(args: argparse.Namespace) -> None:
    transcript = None
    if args.transcript:
        with open(args.transcript, "rb") as file:
            transcript = file.read()
    server = ReplayServer(
        text=args.text,
        token_delay=args.token_delay,
        host=args.host,
        port=args.port,
        transcript=transcript,
        max_recorded=1000,  # nobody reads them here; keep memory flat under a benchmark
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    async with server:
        if args.print_url:
            print(server.base_url, flush=True)
        else:
            print(f"libchatty replay server on {server.base_url} (Ctrl-C to stop)", flush=True)
        await stop.wait()


def _raise_open_file_limit() -> None:
    """Each connection is a file descriptor: allow as many as the hard limit does, so
    the server carries the 10,000-connection benchmark."""
    try:
        import resource
    except ImportError:  # not on Unix
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the replay server until SIGINT/SIGTERM. Returns the exit status."""
    args = _parse_args(argv)
    _raise_open_file_limit()
    try:
        asyncio.run(_serve(args))
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        print(f"libchatty.serve: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
