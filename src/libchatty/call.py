"""``Call``: the state machine of one chat request/response, with two doors.

It opens no socket and reads no clock. The **raw door** is for code that owns the
socket: send ``call.start()`` to ``call.host:call.port`` (TLS when ``call.tls``) and
feed every read to ``call.receive_data`` -- ``b""`` when the peer closed::

    call = Call(endpoint, ChatRequest(model="gpt-4o-mini", messages=[...]))
    sock.sendall(call.start())
    while call.wants_data:
        for event in call.receive_data(sock.recv(65536)):
            ...  # Delta..., then one Done or Error

The **framed door** is for an HTTP stack that de-frames and decodes the body itself
(httpx, aiohttp, requests)::

    req = call.http_request()            # method, url, headers, body
    resp = stack.send(req)               # the stack writes Host, Content-Length...
    events = call.receive_head(resp.status, resp.headers)
    for piece in resp.iter_bytes():
        events += call.receive_body(piece)
    events += call.receive_end()         # receive_end(False): the transport failed

The raw door is h11 (request, response head) and :mod:`libchatty.http1body` (body
framing) feeding the same head/body/end steps as the framed door: one body path. Using
both doors on one call, or calling them out of order, raises LocalProtocolError saying
what to call; nothing the peer sends raises: it becomes an ``Error`` event.

The status and the Content-Type pick the body mode (:data:`_MEDIA_MODES`): non-2xx ->
a bounded error body -> one ``Error`` (the dialect's ``decode_error``); an event stream
(SSE, NDJSON, AWS event stream) -> the dialect's stream decoder; JSON -> the whole body,
bounded -> ``Delta``... + ``Done`` (also when a stream was asked for and the server did
not stream). A response yields ``Delta`` events and then exactly one terminal ``Done`` or
``Error``; after it, nothing. A stream that stops before its terminal marker is
``Error("incomplete")``, never ``Done``; every ``Error`` carries the ``partial`` text.
After ``Done`` the raw door may still want data (``wants_data``): the rest of the body is
read and discarded so that the connection can be reused (``reusable``).

Every ``Error`` leaves the call through one place (``_seal``), which fills ``status``
(when the decoder did not), ``request_id`` and ``headers`` from the response head, and
removes the credentials the request carried -- the API key, credential headers and
query values, AWS secret key and session token, and the ``secrets`` the driver passes
(a proxy password) -- and any fragment of 8 or more characters of one, from ``message``,
``provider_type``, ``retry_after_date`` and the header values (:mod:`libchatty.redact`).
``partial`` is left as it is: it is the model's own answer, already delivered as deltas.

A body the server compressed anyway (raw door: ``Content-Encoding: gzip`` or
``deflate``) is inflated as it arrives, bounded by ``max_decoded_size``; any other coding
is ``Error("protocol")`` naming it. A streamed answer is bounded by ``max_response_size``
characters of text, reasoning, refusal and tool arguments: beyond it, ``Error("limit")``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Final

import h11

from .callbody import CallBody
from .callhead import (
    HTTPRequest,
    Packed,
    header_pairs,
    header_value,
    reason_phrase,
)
from .callstate import (
    BODY,
    DATA,
    END,
    HEAD,
    HTTP_REQUEST,
    START,
    TRANSITIONS,
    Input,
    Mode,
    misuse,
)
from .dialects import get_dialect
from .dialects.base import RequestSpec, StreamDecoder
from .endpoint import Endpoint
from .events import Event
from .exceptions import LocalProtocolError, RemoteProtocolError
from .framing import DISCARD, Framer
from .http1body import BodyReader, CloseDelimitedBody, keeps_alive, reader_for
from .redact import Redactor
from .request import ChatRequest

if TYPE_CHECKING:
    from datetime import datetime  # only Bedrock's signing needs one, from the caller

    from .contentcoding import ContentDecoder, UnsupportedEncoding

__all__ = ["USER_AGENT", "Call", "HTTPRequest"]

USER_AGENT: Final = "libchatty/0.1"

#: Bounds, each with the reason it is this size.
DEFAULT_MAX_HEAD_SIZE: Final = 64 * 1024  # real heads are ~1-2 KiB; h11's own default
DEFAULT_MAX_EVENT_SIZE: Final = 4 * 1024 * 1024  # one SSE event / JSON line / AWS message
DEFAULT_MAX_BODY_SIZE: Final = 16 * 1024 * 1024  # a whole non-streamed completion
DEFAULT_MAX_ERROR_BODY_SIZE: Final = 64 * 1024  # error bodies are short; keep the start
# A streamed answer, in characters of text + reasoning + refusal + tool arguments: far
# above any model's output limit (~128k tokens is well under 1 MiB), so only a runaway
# or hostile stream reaches it.
DEFAULT_MAX_RESPONSE_SIZE: Final = 16 * 1024 * 1024
# A compressed body, decoded: a long streamed answer is tens of MiB of SSE; a zip bomb
# stops here (it is inflated piece by piece, never held whole).
DEFAULT_MAX_DECODED_SIZE: Final = 256 * 1024 * 1024

_RAW: Final = "raw"
_FRAMED: Final = "framed"

_ACCEPT: Final = {
    "ndjson": "application/x-ndjson",
    "eventstream": "application/vnd.amazon.eventstream",
    "sse": "text/event-stream",
}

# Module-level names for the modes tested on every read (a global is a cheap lookup).
_NEW: Final = Mode.NEW
_AWAIT_HEAD: Final = Mode.AWAIT_HEAD
_DRAIN: Final = Mode.DRAIN
_CLOSED: Final = Mode.CLOSED
_TAKES_DATA: Final = frozenset(m for m, row in TRANSITIONS.items() if DATA in row)
_TAKES_BODY: Final = frozenset(m for m, row in TRANSITIONS.items() if BODY in row)


class Call(CallBody):
    """One request/response exchange. See the module docstring for the protocol."""

    # What the doors add to CallBody's slots.
    __slots__ = (
        "_big_read",
        "_door",
        "_h11",
        "_keep_alive",
        "_max_head_size",
        "_method",
        "_now",
        "_reader",
        "_user_agent",
        "host",
        "port",
        "tls",
    )

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
        now: datetime | None = None,
    ) -> None:
        """``secrets``: credentials sent outside the endpoint (a proxy password, a
        ``Proxy-Authorization`` value) to be removed from every ``Error`` too; the
        endpoint's own are always removed. ``now``: the current UTC time, for a dialect
        that signs its requests (Bedrock with AWS credentials); the core reads no clock."""
        self.endpoint = endpoint
        self.request = request
        self.dialect = get_dialect(endpoint.dialect)
        self.host: str = endpoint.host
        self.port: int = endpoint.port
        self.tls: bool = endpoint.tls
        self.status: int | None = None
        #: True once a Delta was returned (a retry could duplicate output).
        self.delivered = False
        self._max_head_size = max_head_size
        self._max_event_size = max_event_size
        self._max_body_size = max_body_size
        self._max_error_body_size = max_error_body_size
        self._max_response_size = max_response_size
        self._max_decoded_size = max_decoded_size
        self._user_agent = user_agent
        self._now = now
        # Only an error needs the redactor: it is built then, so a call that succeeds
        # pays nothing for it.
        self._secrets = tuple(secrets)
        self._redactor: Redactor | None = None
        self._mode = _NEW
        self._door: str | None = None
        self._h11: h11.Connection | None = None
        self._method = b"POST"
        self._reader: BodyReader | None = None
        self._keep_alive = False
        self._big_read = False
        self._coding: ContentDecoder | None = None  # None: identity, the body as it comes
        self._coding_failed = False  # an error body whose coding broke: keep what we have
        self._unsupported: UnsupportedEncoding | None = None
        self._decoder: StreamDecoder | None = None
        self._sse_fields: list[tuple[int, str, str]] | tuple[()] = ()  # CallBody._sse_field
        self._framer: Framer = DISCARD
        self._handle: Any = None  # the item handler of the body mode
        self._live: Callable[[StreamDecoder, bytes], list[Event] | None] | None = None
        self._reason = ""
        self._head: Packed = b""
        self._visible: tuple[tuple[str, str], ...] | None = None

    @property
    def reusable(self) -> bool:
        """True (raw door) when the whole response was read, both sides keep the
        connection, and nothing came after the response's end (bytes past a
        ``Content-Length``, another response nobody asked for: they would become the
        next call's answer)."""
        reader = self._reader
        return (
            self._mode is _CLOSED
            and self._keep_alive
            and reader is not None
            and reader.done
            and not reader.trailing
            and type(reader) is not CloseDelimitedBody
        )

    @property
    def content_type(self) -> bytes | None:
        """The response's ``Content-Type`` header as sent (the first one), or None."""
        return header_value(self._head, b"content-type")

    # --- the table ------------------------------------------------------------------
    def _check(self, what: Input, door: str) -> None:
        """A caller's input: refused (LocalProtocolError saying what to call) unless it
        comes through this call's door and the table has it for this mode. The move
        itself is made (``_to``) once the input is handled."""
        if (door is not self._door and self._door is not None) or (
            what not in TRANSITIONS[self._mode]
        ):
            raise LocalProtocolError(misuse(what, self._mode, self._door))
        self._door = door

    # --- sending ----------------------------------------------------------------------
    def _request_headers(self, spec: RequestSpec) -> list[tuple[str, str]]:
        if self.request.stream:
            accept = _ACCEPT.get(self.dialect.framing, "text/event-stream")
        else:
            accept = "application/json"
        return [
            ("User-Agent", self._user_agent),
            ("Accept", accept),
            # A compressed event stream cannot be decoded as it arrives.
            ("Accept-Encoding", "identity"),
            ("Content-Type", "application/json"),
            *spec.headers,
        ]

    def start(self) -> bytes:
        """The complete HTTP/1.1 request to send (the raw door)."""
        self._check(START, _RAW)
        spec = self.dialect.build_request(self.endpoint, self.request)
        headers = [
            ("Host", self.endpoint.host_header),
            *self._request_headers(spec),
            ("Content-Length", str(len(spec.body))),
        ]
        headers += self.dialect.sign_request(spec, self.endpoint, self._now, headers)
        self._method = spec.method.encode("ascii", "replace")
        conn = self._h11 = h11.Connection(h11.CLIENT, max_incomplete_event_size=self._max_head_size)
        refused = False
        try:
            data = conn.send(h11.Request(method=spec.method, target=spec.target, headers=headers))
        except h11.LocalProtocolError:
            refused = True
        if refused:
            # Raised out here, not in the except block: h11's exception quotes the
            # offending header, which may be the key, and would stay reachable as
            # __context__ even with "from None".
            raise LocalProtocolError("the request has an invalid header or target")
        data = (data or b"") + (conn.send(h11.Data(data=spec.body)) or b"")
        data += conn.send(h11.EndOfMessage()) or b""
        self._to(START)
        return data

    def http_request(self) -> HTTPRequest:
        """The request for a stack that frames HTTP itself (the framed door)."""
        self._check(HTTP_REQUEST, _FRAMED)
        spec = self.dialect.build_request(self.endpoint, self.request)
        headers = self._request_headers(spec)
        headers += self.dialect.sign_request(spec, self.endpoint, self._now, headers)
        url = f"{self.endpoint.scheme}://{self.endpoint.host_header}{spec.target}"
        self._to(HTTP_REQUEST)
        return HTTPRequest(spec.method, url, headers, spec.body)

    # --- the framed door --------------------------------------------------------------
    def receive_head(self, status: int, headers: Any, *, reason: str | None = None) -> list[Event]:
        """The response's status and headers (pairs or a mapping, str or bytes).
        ``Transfer-Encoding``, ``Content-Length`` and ``Content-Encoding`` are ignored:
        the body given to :meth:`receive_body` is already de-framed and decoded. A 1xx
        status is informational: the real head is still to come."""
        self._check(HEAD, _FRAMED)
        if type(status) is not int or not 100 <= status <= 999:
            raise LocalProtocolError(
                f"Call.receive_head() wants an HTTP status code (100-999), not {status!r}"
            )
        raw = header_pairs(headers)
        out: list[Event] = []
        if status >= 200:
            self._on_head(status, raw, reason_phrase(status) if reason is None else reason, out)
        return out

    def receive_body(self, data: bytes) -> list[Event]:
        """Body bytes as the stack hands them, at any split."""
        # _check inlined (once per piece): the door was set by http_request().
        mode = self._mode
        if self._door is not _FRAMED or mode not in _TAKES_BODY:
            raise LocalProtocolError(misuse(BODY, mode, self._door))
        out: list[Event] = []
        if data:
            if type(data) is not bytes:  # a bytearray or memoryview: ours from now on
                data = bytes(data)
            # Never a Content-Encoding here: this door is handed decoded bodies and
            # header_pairs drops the header, so the body goes straight to its framer.
            self._frame(data, out)
        return out

    def receive_end(self, complete: bool = True) -> list[Event]:
        """The body ended as its framing said (``complete``), or the transport failed
        before it ended (``False``: ``Error("incomplete")`` with the partial text, unless
        the terminal event was already returned)."""
        self._check(END, _FRAMED)
        out: list[Event] = []
        self._on_end(complete, out)
        return out

    # --- the raw door -----------------------------------------------------------------
    def receive_data(self, data: bytes) -> list[Event]:
        """Feed bytes read from the connection (``b""``: the peer closed); returns the
        events they complete."""
        mode = self._mode
        if self._door is not _RAW or mode not in _TAKES_DATA:
            raise LocalProtocolError(misuse(DATA, mode, self._door))
        out: list[Event] = []
        if mode is _AWAIT_HEAD:
            self._read_head(data, out)
        else:
            self._read_body(data, out)
        return out

    def _read_head(self, data: bytes, out: list[Event]) -> None:
        conn = self._h11
        assert conn is not None
        if len(data) > self._max_head_size:
            self._big_read = True
        conn.receive_data(data)
        while True:
            try:
                event = conn.next_event()
            except h11.RemoteProtocolError as exc:
                self._head_fault(exc, eof=not data, out=out)
                return
            if event is h11.NEED_DATA:
                return
            if type(event) is h11.Response:
                break
            if type(event) is h11.ConnectionClosed:
                self._terminate(self._error("connection", "the connection closed"), out)
                return
            # InformationalResponse (100 Continue): the real head follows.
        self._reader = reader = reader_for(self._method, event)
        # Both sides keep the connection: the server's head says so, and h11 -- which saw
        # our request's headers and this head, and is fed nothing after it -- is done
        # with our side (not MUST_CLOSE).
        self._keep_alive = keeps_alive(event) and conn.our_state is h11.DONE
        rest = conn.trailing_data[0]
        # The body is read by http1body, not h11: dropping the connection frees its
        # receive buffer (a copy of ``rest``) and state for the rest of the stream.
        self._h11 = None
        # raw_items() is h11's cheap accessor; iterating h11's Headers goes through one
        # Python __getitem__ per header.
        raw = event.headers.raw_items()
        if self._big_read and (
            # h11 bounds a head still arriving; only a large read needs counting here.
            sum(len(name) + len(value) + 4 for name, value in raw) > self._max_head_size
        ):
            self.status = event.status_code
            self._terminate(self._error("limit", "the response head is too large"), out)
            return
        self._on_head(event.status_code, raw, event.reason.decode("latin-1", "replace"), out)
        if self._mode is _CLOSED:
            return
        if rest:
            self._read_body(bytes(rest), out)
        elif reader.done:  # an empty body (Content-Length: 0, 204, HEAD)
            self._on_end(True, out)

    def _read_body(self, data: bytes, out: list[Event]) -> None:
        reader = self._reader
        assert reader is not None
        try:
            body = reader.feed(data)
        except RemoteProtocolError as exc:
            if exc.items:  # what the read carried before the fault is not lost
                self._on_body(exc.items[0], out)
            if self._mode is _DRAIN:
                self._to(END)  # the answer is complete; only reuse is lost
            elif not data:
                self._on_end(False, out)
            elif self._mode is not _CLOSED:
                self._terminate(self._error("protocol", f"malformed HTTP response: {exc}"), out)
            return
        if body:
            self._on_body(body, out)
        if reader.done and self._mode is not _CLOSED:
            self._on_end(True, out)

    def _head_fault(self, exc: h11.RemoteProtocolError, *, eof: bool, out: list[Event]) -> None:
        if exc.error_status_hint == 431:
            error = self._error("limit", "the response head is too large")
        elif eof:
            error = self._error(
                "connection",
                "the server closed the connection before sending a response",
                retryable=True,
            )
        else:
            error = self._error("protocol", f"malformed HTTP response: {exc}")
        self._terminate(error, out)
