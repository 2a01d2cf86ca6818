"""``Call``: the state machine of one chat request/response over HTTP/1.1.

It writes the request with h11 and is handed the response bytes as they arrive; it
returns typed events. It opens no socket and reads no clock: a binding (or your own
network code) connects to ``call.host:call.port`` (TLS when ``call.tls``), sends
``call.start()``, and feeds every chunk it reads to ``call.receive_data`` --
``b""`` when the peer closed::

    call = Call(endpoint, ChatRequest(model="gpt-4o-mini", messages=[...]))
    sock.sendall(call.start())
    while call.wants_data:
        for event in call.receive_data(sock.recv(65536)):
            ...  # Delta..., then one Done or Error

The response mode follows the status and the Content-Type:

========================  =================================================
non-2xx                   bounded error body -> one ``Error`` (httperrors)
``text/event-stream``     SSE -> the dialect's stream decoder
``application/x-ndjson``  JSON lines -> the dialect's stream decoder
``application/json``      the whole body, bounded -> ``Delta``... + ``Done``
                          (also when a stream was asked for and the server
                          did not stream: the caller cannot tell)
========================  =================================================

A response yields ``Delta`` events and then exactly one terminal ``Done`` or ``Error``;
after it, nothing. A stream that stops before its terminal marker is
``Error("incomplete")``, never ``Done``; every ``Error`` carries the ``partial`` text.
After ``Done`` the call may still want data (``wants_data``): the rest of the HTTP body
is read and discarded so that the connection can be reused (``reusable``).

Every ``Error`` leaves the call through one place (``_finish``), which

* fills ``status`` with the response's HTTP status when the head had arrived and the
  decoder did not say (so the same cut-off stream reads the same in every dialect);
* removes the credentials the request carried -- the API key, credential headers and
  query values of the endpoint, and the ``secrets`` the driver passes (a proxy
  password) -- and any fragment of 8 or more characters of one, from ``message``,
  ``provider_type`` and ``retry_after_date`` (see :mod:`libchatty.redact`). ``partial``
  is left as it is: it is the model's own answer, which the caller already received as
  deltas, and changing it would break "nothing received is lost".

A body the server compressed anyway (``Content-Encoding: gzip`` or ``deflate``) is
inflated as it arrives, bounded by ``max_decoded_size`` (:mod:`libchatty.contentcoding`);
any other coding is ``Error("protocol")`` naming it (for an error status: the status's
error, its body unread). A streamed answer is bounded by ``max_response_size``
characters of text, reasoning, refusal and tool arguments: beyond it,
``Error("limit")`` with the partial text.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from enum import Enum
from typing import Any, Final

import h11

from .contentcoding import ContentDecoder, UnsupportedEncoding, content_decoder
from .dialects import get_dialect
from .dialects.base import StreamDecoder
from .endpoint import Endpoint
from .events import Delta, Done, Error, Event
from .exceptions import LimitExceeded, LocalProtocolError, RemoteProtocolError
from .httperrors import error_from_response
from .jsonload import loads
from .ndjson import NDJSONDecoder
from .redact import Redactor, endpoint_secrets
from .request import ChatRequest
from .sse import SSEDecoder

__all__ = ["USER_AGENT", "Call"]

USER_AGENT: Final = "libchatty/0.1"

#: Bounds, each with the reason it is this size.
DEFAULT_MAX_HEAD_SIZE: Final = 64 * 1024  # real heads are ~1-2 KiB; h11's own default
DEFAULT_MAX_EVENT_SIZE: Final = 4 * 1024 * 1024  # one SSE event / JSON line
DEFAULT_MAX_BODY_SIZE: Final = 16 * 1024 * 1024  # a whole non-streamed completion
DEFAULT_MAX_ERROR_BODY_SIZE: Final = 64 * 1024  # error bodies are short; keep the start
# A streamed answer, in characters of text + reasoning + refusal + tool arguments: far
# above any model's output limit (~128k tokens is well under 1 MiB), so only a runaway
# or hostile stream reaches it.
DEFAULT_MAX_RESPONSE_SIZE: Final = 16 * 1024 * 1024
# A compressed body, decoded: a long streamed answer is tens of MiB of SSE; a zip bomb
# stops here (it is inflated piece by piece, never held whole).
DEFAULT_MAX_DECODED_SIZE: Final = 256 * 1024 * 1024

# What a dialect decoder may let escape on a wrong JSON shape; all become Error("protocol").
_DECODE_FAULTS: Final = (
    RemoteProtocolError,
    KeyError,
    TypeError,
    ValueError,
    AttributeError,
    IndexError,
)


class _Mode(Enum):
    """What the call is doing with the bytes it is fed."""

    NEW = "new"  # start() not called yet
    AWAIT_HEAD = "await_head"
    SSE = "sse"
    NDJSON = "ndjson"
    JSON_BODY = "json_body"
    ERROR_BODY = "error_body"
    DRAIN = "drain"  # terminal event given; reading the rest of the body for reuse
    CLOSED = "closed"  # nothing more to read


# Module-level aliases for the checks made on every read: a global is a cheaper lookup
# than an Enum class attribute.
_NEW: Final = _Mode.NEW
_CLOSED: Final = _Mode.CLOSED
_SSE: Final = _Mode.SSE
_NDJSON: Final = _Mode.NDJSON

_STREAM_TYPES: Final = {
    "text/event-stream": _Mode.SSE,
    "application/x-ndjson": _Mode.NDJSON,
    "application/ndjson": _Mode.NDJSON,
    "application/jsonl": _Mode.NDJSON,
    "application/json": _Mode.JSON_BODY,
}


def _body_headers(raw_headers: list[tuple[bytes, bytes]]) -> tuple[str, bytes | None]:
    """(media type, Content-Encoding value or None) in one pass over the head."""
    media = ""
    coding = None
    for name, value in raw_headers:
        size = len(name)
        if size == 12 and name.lower() == b"content-type":
            media = value.split(b";", 1)[0].strip().lower().decode("latin-1")
        elif size == 16 and name.lower() == b"content-encoding":
            # Several Content-Encoding lines are one list (RFC 9110, 5.3).
            coding = value if coding is None else coding + b"," + value
    return media, coding


class Call:
    """One request/response exchange. See the module docstring for the protocol.

    Misuse -- ``start()`` twice, ``receive_data`` before ``start()`` or when
    ``wants_data`` is False -- raises :class:`~libchatty.exceptions.LocalProtocolError`.
    Nothing the peer sends raises: it becomes an ``Error`` event.
    """

    def __init__(
        self,
        endpoint: Endpoint,
        request: ChatRequest,
        *,
        max_head_size: int = DEFAULT_MAX_HEAD_SIZE,
        max_event_size: int = DEFAULT_MAX_EVENT_SIZE,
        max_body_size: int = DEFAULT_MAX_BODY_SIZE,
        max_error_body_size: int = DEFAULT_MAX_ERROR_BODY_SIZE,
        max_response_size: int = DEFAULT_MAX_RESPONSE_SIZE,
        max_decoded_size: int = DEFAULT_MAX_DECODED_SIZE,
        user_agent: str = USER_AGENT,
        secrets: Iterable[str] = (),
    ) -> None:
        """``secrets``: credentials sent outside the endpoint (a proxy password, a
        ``Proxy-Authorization`` value) to be removed from every ``Error`` too; the
        endpoint's own are always removed."""
        self.endpoint = endpoint
        self.request = request
        self.dialect = get_dialect(endpoint.dialect)
        self.host: str = endpoint.host
        self.port: int = endpoint.port
        self.tls: bool = endpoint.tls
        self.status: int | None = None
        self.delivered = False
        self.finished = False
        self._max_head_size = max_head_size
        self._max_event_size = max_event_size
        self._max_body_size = max_body_size
        self._max_error_body_size = max_error_body_size
        self._max_response_size = max_response_size
        self._max_decoded_size = max_decoded_size
        self._user_agent = user_agent
        # Only an error needs the redactor: it is built then (with the endpoint's own
        # credentials), so a call that succeeds pays nothing for it.
        self._secrets = tuple(secrets)
        self._redactor: Redactor | None = None
        self._coding: ContentDecoder | None = None  # None: identity, the body as it comes
        self._coding_failed = False  # an error body whose coding broke: keep what we have
        self._unsupported: UnsupportedEncoding | None = None
        self._h11 = h11.Connection(h11.CLIENT, max_incomplete_event_size=max_head_size)
        self._mode = _Mode.NEW
        self._decoder: StreamDecoder | None = None
        self._sse: SSEDecoder | None = None
        self._ndjson: NDJSONDecoder | None = None
        self._body: list[bytes] = []
        self._body_size = 0
        self._reason = ""
        self._big_read = False
        self._raw_headers: list[tuple[bytes, bytes]] = []

    # --- what the binding asks --------------------------------------------------------
    @property
    def wants_data(self) -> bool:
        """True while the binding should keep reading and feeding bytes."""
        mode = self._mode
        return mode is not _CLOSED and mode is not _NEW

    @property
    def reusable(self) -> bool:
        """True when the whole response was read, both sides keep the connection, and
        nothing came after the response's end (bytes past a ``Content-Length``, another
        response nobody asked for: they would become the next call's answer)."""
        return (
            self._mode is _Mode.CLOSED
            and self._h11.our_state is h11.DONE
            and self._h11.their_state is h11.DONE
            and self._h11.trailing_data == (b"", False)
        )

    @property
    def headers(self) -> list[tuple[bytes, bytes]]:
        """The response headers (names lower-cased, as h11 gives them); empty before
        the head arrived."""
        return [(name.lower(), value) for name, value in self._raw_headers]

    @property
    def text(self) -> str:
        """The answer text received so far."""
        return self._decoder.acc.partial if self._decoder is not None else ""

    # --- sending ------------------------------------------------------------------------
    def start(self) -> bytes:
        """The complete HTTP/1.1 request to send."""
        if self._mode is not _Mode.NEW:
            raise LocalProtocolError("Call.start() was already called")
        spec = self.dialect.build_request(self.endpoint, self.request)
        if self.request.stream:
            accept = "application/x-ndjson" if self.dialect.framing == "ndjson" else (
                "text/event-stream"
            )
        else:
            accept = "application/json"
        headers = [
            ("Host", self.endpoint.host_header),
            ("User-Agent", self._user_agent),
            ("Accept", accept),
            # A compressed event stream cannot be decoded as it arrives.
            ("Accept-Encoding", "identity"),
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(spec.body))),
            *spec.headers,
        ]
        refused = False
        try:
            data = self._h11.send(
                h11.Request(method=spec.method, target=spec.target, headers=headers)
            )
        except h11.LocalProtocolError:
            refused = True
        if refused:
            # Raised out here, not in the except block: h11's exception quotes the
            # offending header, which may be the key, and would stay reachable as
            # __context__ even with "from None".
            raise LocalProtocolError("the request has an invalid header or target")
        data = (data or b"") + (self._h11.send(h11.Data(data=spec.body)) or b"")
        data += self._h11.send(h11.EndOfMessage()) or b""
        self._mode = _Mode.AWAIT_HEAD
        return data

    # --- receiving ----------------------------------------------------------------------
    def receive_data(self, data: bytes) -> list[Event]:
        """Feed bytes read from the connection (``b""``: the peer closed); returns the
        events they complete."""
        if self._mode is _Mode.NEW:
            raise LocalProtocolError("Call.receive_data() before Call.start()")
        if self._mode is _Mode.CLOSED:
            raise LocalProtocolError("Call.receive_data() after the response ended")
        out: list[Event] = []
        if len(data) > self._max_head_size:
            self._big_read = True
        self._h11.receive_data(data)
        # One read usually holds many HTTP chunks (one SSE event each): their bytes are
        # collected and handed to the body decoder once, which costs far less per event
        # than one decoder call per chunk. Any other h11 event flushes them first.
        body: list[bytes] = []
        while self.wants_data:
            try:
                event = self._h11.next_event()
            except h11.RemoteProtocolError as exc:
                self._flush_body(body, out)
                if self.wants_data:
                    self._http_fault(exc, eof=not data, out=out)
                break
            if type(event) is h11.Data:
                body.append(event.data)
                continue
            self._flush_body(body, out)
            if event is h11.NEED_DATA or event is h11.PAUSED or not self.wants_data:
                break
            if type(event) is h11.Response:
                self._on_head(event, out)
            elif type(event) is h11.EndOfMessage:
                self._on_end(out)
            elif type(event) is h11.ConnectionClosed:
                self._terminate(self._error("connection", "the connection closed"), out)
            # InformationalResponse (100 Continue): nothing to do.
        return out

    def _flush_body(self, body: list[bytes], out: list[Event]) -> None:
        if body:
            # h11 may hand out bytearrays; decoders (and json.loads) want bytes.
            data = bytes(body[0]) if len(body) == 1 else b"".join(body)
            body.clear()
            if self._coding is None:
                self._on_body(data, out)
            else:
                self._on_coded_body(data, out)

    def _on_coded_body(self, data: bytes, out: list[Event]) -> None:
        """Inflate and pass on, one bounded piece at a time, stopping when the answer
        ended (the rest is only drained) or an error body holds all it may."""
        assert self._coding is not None
        mode = self._mode
        if (
            mode is _Mode.DRAIN
            or self._coding_failed
            or (mode is _Mode.ERROR_BODY and self._body_size >= self._max_error_body_size)
        ):
            return
        try:
            for piece in self._coding.feed(data):
                self._on_body(piece, out)
                if self._mode is not mode or (
                    mode is _Mode.ERROR_BODY and self._body_size >= self._max_error_body_size
                ):
                    return
        except RemoteProtocolError as exc:
            self._coding_fault(exc, out)

    def _coding_fault(self, exc: RemoteProtocolError, out: list[Event]) -> None:
        if self._mode is _Mode.ERROR_BODY:
            self._coding_failed = True  # the status speaks; keep the body decoded so far
        else:
            self._decode_fault(exc, out)

    def _on_head(self, response: h11.Response, out: list[Event]) -> None:
        self.status = status = response.status_code
        # raw_items() is h11's cheap accessor; iterating h11's Headers directly goes
        # through one Python __getitem__ per header (about 5 us for a typical head).
        self._raw_headers = response.headers.raw_items()
        self._reason = response.reason.decode("latin-1", "replace")
        # h11 bounds a head still arriving, so a head that came in reads no larger than
        # the limit is at most twice it; only a larger read needs counting here.
        if self._big_read and (
            sum(len(name) + len(value) + 4 for name, value in self._raw_headers)
            > self._max_head_size
        ):
            self._mode = _Mode.ERROR_BODY
            self._terminate(self._error("limit", "the response head is too large"), out)
            return
        if not 200 <= status < 300:
            self._mode = _Mode.ERROR_BODY
            coding = _body_headers(self._raw_headers)[1]
            if coding is not None:
                self._set_coding(coding, out)
            return
        media, coding = _body_headers(self._raw_headers)
        if coding is not None and not self._set_coding(coding, out):
            return
        mode = _STREAM_TYPES.get(media)
        if mode is None:
            if media.endswith("+json"):
                mode = _Mode.JSON_BODY
            elif self.request.stream:
                # An unlabelled stream: trust the dialect's framing.
                mode = _Mode.NDJSON if self.dialect.framing == "ndjson" else _Mode.SSE
            else:
                mode = _Mode.JSON_BODY
        self._mode = mode
        if mode is _Mode.SSE or mode is _Mode.NDJSON:
            decoder = self._decoder = self.dialect.stream_decoder(self.request)
            if mode is _Mode.SSE:
                self._sse = SSEDecoder(
                    self._max_event_size, on_unknown_field=decoder.sse_field
                )
            else:
                self._ndjson = NDJSONDecoder(self._max_event_size)

    def _set_coding(self, header: bytes, out: list[Event]) -> bool:
        """Prepare to decode the body's Content-Encoding; False when the call ended."""
        try:
            self._coding = content_decoder(header, self._max_decoded_size)
        except UnsupportedEncoding as exc:
            if self._mode is _Mode.ERROR_BODY:
                self._unsupported = exc  # the body is drained unread; the status speaks
                self._coding_failed = True
                return True
            self._terminate(self._error("protocol", str(exc)), out)
            return False
        return True

    def _on_body(self, data: bytes, out: list[Event]) -> None:
        mode = self._mode
        if mode is _SSE:
            assert self._sse is not None and self._decoder is not None
            try:
                events = self._sse.feed(data)
            except RemoteProtocolError as exc:
                self._stream_items(exc.items, out)
                if not self.finished:
                    self._decode_fault(exc, out)
                return
            if events:
                self._stream_items(events, out)
        elif mode is _NDJSON:
            assert self._ndjson is not None
            try:
                values = self._ndjson.feed(data)
            except RemoteProtocolError as exc:
                self._stream_items(exc.items, out)
                if not self.finished:
                    self._decode_fault(exc, out)
                return
            if values:
                self._stream_items(values, out)
        elif mode is _Mode.JSON_BODY or mode is _Mode.ERROR_BODY:
            if self._unsupported is not None:
                return  # an error body in a coding we cannot read: the status speaks
            limit = self._max_body_size if mode is _Mode.JSON_BODY else self._max_error_body_size
            room = limit - self._body_size
            if len(data) > room:
                if mode is _Mode.JSON_BODY:
                    self._terminate(
                        self._error("limit", f"the response body exceeds {limit} bytes"), out
                    )
                    return
                data = data[:room]  # an error body: its start says enough
            if data:
                self._body.append(data)
                self._body_size += len(data)
        # DRAIN: the terminal event is out; the rest is read only to reuse the connection.

    def _stream_items(self, items: list[Any], out: list[Event]) -> None:
        decoder = self._decoder
        assert decoder is not None
        handle = decoder.sse_event if self._mode is _SSE else decoder.json_line
        for item in items:
            try:
                got = handle(item)
            except _DECODE_FAULTS as exc:
                self._decode_fault(exc, out)
                return
            if got:
                out.extend(got)
                last = got[-1]
                if type(last) is Delta:
                    self.delivered = True
                else:
                    self.delivered = self.delivered or len(got) > 1
                    self._finish(last, out)
                    return
        # Once per batch, not per delta: compacts the answer text (memory near its size)
        # and counts it; the count trails by less than COMPACT_AT pieces, and the Done is
        # checked exactly.
        if decoder.acc.settle() > self._max_response_size:
            self._terminate(self._too_long(), out)

    def _too_long(self) -> Error:
        return self._error(
            "limit", f"the streamed answer exceeds {self._max_response_size} characters"
        )

    def _on_end(self, out: list[Event]) -> None:
        mode = self._mode
        if self._coding is not None and mode is not _Mode.DRAIN and not self._coding_failed:
            try:
                self._coding.close()
            except RemoteProtocolError as exc:
                self._coding_fault(exc, out)
                if self.finished:
                    self._mode = _Mode.CLOSED
                    return
        if mode is _Mode.SSE or mode is _Mode.NDJSON:
            assert self._decoder is not None
            try:
                if self._sse is not None:
                    self._stream_items(self._sse.close(), out)
                elif self._ndjson is not None:
                    self._stream_items(self._ndjson.close(), out)
                if not self.finished:
                    self._terminate(self._decoder.end(), out)
            except _DECODE_FAULTS as exc:
                self._decode_fault(exc, out)
        elif mode is _Mode.JSON_BODY:
            self._decode_whole_body(out)
        elif mode is _Mode.ERROR_BODY:
            assert self.status is not None
            error = error_from_response(
                self.status, self._reason, self.headers, b"".join(self._body)
            )
            if self._unsupported is not None:
                error = replace(error, message=f"{error.message} ({self._unsupported})")
            self._terminate(error, out)
        self._mode = _Mode.CLOSED

    def _decode_whole_body(self, out: list[Event]) -> None:
        body = b"".join(self._body)
        self._body = []
        try:
            events = self.dialect.decode_body(loads(body))
        except _DECODE_FAULTS as exc:
            self._decode_fault(exc, out)
            return
        if not events or type(events[-1]) is Delta:
            self._terminate(self._error("protocol", "the response body has no result"), out)
            return
        self.delivered = len(events) > 1  # everything before the terminal event is a Delta
        out.extend(events)
        self._finish(events[-1], out)

    # --- ending ---------------------------------------------------------------------------
    def _finish(self, event: Event, out: list[Event]) -> None:
        """``event``, the last of ``out``, is the terminal event (a decoder's or ours):
        the one place an ``Error`` leaves the call, sealed (see the module docstring)."""
        self.finished = True
        if type(event) is Done:
            if (self._mode is _SSE or self._mode is _NDJSON) and (
                _answer_size(event) > self._max_response_size
            ):
                out[-1] = self._seal(self._too_long())
                self._mode = _Mode.CLOSED
                return
            # Keep reading to the end of the body so the connection can be reused.
            self._mode = _Mode.DRAIN
            self._sse = None
            self._ndjson = None
        else:
            assert type(event) is Error
            out[-1] = self._seal(event)
            self._mode = _Mode.CLOSED

    def _seal(self, error: Error) -> Error:
        """``error`` with the HTTP status filled in and every secret removed from the
        text that came from the server (``partial`` excepted: module docstring)."""
        status = error.status if error.status is not None else self.status
        redact = self._redactor
        if redact is None:
            endpoint = self.endpoint
            redact = self._redactor = Redactor(
                [
                    *endpoint_secrets(endpoint.api_key, endpoint.headers, endpoint.base_url),
                    *self._secrets,
                ]
            )
        message = redact(error.message)
        provider_type = None if error.provider_type is None else redact(error.provider_type)
        date = None if error.retry_after_date is None else redact(error.retry_after_date)
        if (
            status == error.status
            and message == error.message
            and provider_type == error.provider_type
            and date == error.retry_after_date
        ):
            return error
        return replace(
            error,
            status=status,
            message=message,
            provider_type=provider_type,
            retry_after_date=date,
        )

    def _terminate(self, event: Event, out: list[Event]) -> None:
        """Append a terminal event made here (not by a decoder) and stop."""
        if self.finished:
            return
        out.append(event)
        self._finish(event, out)
        if type(event) is Error:
            self._mode = _Mode.CLOSED

    def _error(self, kind: str, message: str, **fields: Any) -> Error:
        return Error(kind=kind, message=message, status=self.status, partial=self.text, **fields)

    def _decode_fault(self, exc: BaseException, out: list[Event]) -> None:
        if isinstance(exc, LimitExceeded):
            error = self._error("limit", str(exc))
        else:
            detail = str(exc) if isinstance(exc, RemoteProtocolError) else repr(exc)
            error = self._error("protocol", f"malformed response: {detail}")
        self._terminate(error, out)

    def _http_fault(self, exc: h11.RemoteProtocolError, *, eof: bool, out: list[Event]) -> None:
        if self._mode is _Mode.DRAIN:
            self._mode = _Mode.CLOSED  # the answer is complete; only reuse is lost
            return
        if exc.error_status_hint == 431:
            error = self._error("limit", "the response head is too large")
        elif eof and self._mode is _Mode.AWAIT_HEAD:
            error = self._error(
                "connection",
                "the server closed the connection before sending a response",
                retryable=True,
            )
        elif eof:
            error = self._error("incomplete", "the connection closed before the response ended")
        else:
            error = self._error("protocol", f"malformed HTTP response: {exc}")
        self._terminate(error, out)


def _answer_size(done: Done) -> int:
    """The characters ``max_response_size`` counts in a finished answer."""
    size = len(done.text) + len(done.reasoning) + len(done.refusal)
    size += sum(len(call.arguments) for call in done.tool_calls)
    return size + sum(len(text) for text in done.choices[1:])
