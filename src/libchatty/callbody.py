"""The one body path of a :class:`~libchatty.call.Call`: what both doors feed.

A head picks the body mode (a move in :data:`~libchatty.callstate.TRANSITIONS`), and
with it a framer (:mod:`libchatty.framing`) and an item handler: the dialect's stream
decoder for an event stream, the whole-body and error-body readers otherwise. Body bytes
go to the framer, its items to the handler; the first terminal event ends the answer,
and every ``Error`` leaves through ``_seal``. ``Call`` (:mod:`libchatty.call`) adds the
doors: the request, h11 and the HTTP/1.1 body reader for the raw door, argument checks
for the framed one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Final

from .callhead import (
    Packed,
    body_headers,
    head_request_id,
    pack_head,
    unpack_head,
    visible_headers,
)
from .callstate import (
    DONE,
    END,
    FAULT,
    FRAMING_HEADS,
    MEDIA_HEADS,
    STREAMING,
    TRANSITIONS,
    Input,
    Mode,
)
from .dialects.base import Dialect, StreamDecoder
from .endpoint import Endpoint
from .events import Delta, Done, Error, Event
from .exceptions import LimitExceeded, RemoteProtocolError
from .framing import DISCARD, Framer, WholeBody, eventstream_framer
from .jsonload import loads
from .redact import Redactor, endpoint_secrets, redactor_for
from .request import ChatRequest
from .sse import ServerSentEvent, SSEDecoder

if TYPE_CHECKING:
    # Imported where used: only a compressed body, only an NDJSON stream needs them.
    from .contentcoding import ContentDecoder, UnsupportedEncoding

__all__ = ["CallBody"]

# What a dialect may raise for wire data of the wrong shape (its documented contract,
# dialects/base.py): these become Error("protocol"/"limit"). Anything else is our bug
# and propagates.
_DECODE_FAULTS: Final = (RemoteProtocolError,)

# The SSE decoder's live shape test, and the event its undecoded data stands for, called
# with the framer (an SSEDecoder whenever CallBody._live is set).
_live_data: Final[Callable[[Any, bytes], bytes | None]] = SSEDecoder.live_data
_message_event: Final[Callable[[Any, bytes], ServerSentEvent]] = SSEDecoder.message_event

# Module-level names for the modes tested on every read (a global is a cheap lookup).
_NEW: Final = Mode.NEW
_DRAIN: Final = Mode.DRAIN
_CLOSED: Final = Mode.CLOSED
_ERROR_BODY: Final = Mode.ERROR_BODY
_JSON_BODY: Final = Mode.JSON_BODY


class CallBody:
    """The state and body path a :class:`~libchatty.call.Call` is made of (it sets every
    attribute below in its constructor)."""

    # Slotted, as Call is: a __dict__ would cost each of 10,000 concurrent streams ~1.6 KB.
    __slots__ = (
        "_coding",
        "_coding_failed",
        "_decoder",
        "_framer",
        "_handle",
        "_head",
        "_live",
        "_max_body_size",
        "_max_decoded_size",
        "_max_error_body_size",
        "_max_event_size",
        "_max_response_size",
        "_mode",
        "_reason",
        "_redactor",
        "_secrets",
        "_sse_fields",
        "_unsupported",
        "_visible",
        "delivered",
        "dialect",
        "endpoint",
        "request",
        "status",
    )
    endpoint: Endpoint
    request: ChatRequest
    dialect: Dialect
    status: int | None
    delivered: bool
    _max_event_size: int
    _sse_fields: list[tuple[int, str, str]] | tuple[()]  # () until the first
    _max_body_size: int
    _max_error_body_size: int
    _max_response_size: int
    _max_decoded_size: int
    _secrets: tuple[str, ...]
    _redactor: Redactor | None
    _mode: Mode
    _coding: ContentDecoder | None
    _coding_failed: bool
    _unsupported: UnsupportedEncoding | None
    _decoder: StreamDecoder | None
    _framer: Framer
    _handle: Any
    # The live shape's shortcut (an SSE stream whose decoder has one, until the answer
    # ends): the decoder class's message_data, called with the decoder. A function all
    # calls share: a bound method would be 64 bytes of each of 10,000 streams.
    _live: Callable[[StreamDecoder, bytes], list[Event] | None] | None
    _reason: str
    _head: Packed  # the response headers, packed while the body streams (pack_head)
    _visible: tuple[tuple[str, str], ...] | None

    # --- what the binding asks ------------------------------------------------------
    @property
    def finished(self) -> bool:
        """True once the terminal ``Done`` or ``Error`` was returned."""
        return self._mode is _DRAIN or self._mode is _CLOSED

    @property
    def wants_data(self) -> bool:
        """True while the binding should keep reading and feeding bytes."""
        mode = self._mode
        return mode is not _CLOSED and mode is not _NEW

    @property
    def headers(self) -> list[tuple[bytes, bytes]]:
        """The response headers (names lower-cased); empty before the head arrived."""
        return [(name.lower(), value) for name, value in unpack_head(self._head)]

    @property
    def response_headers(self) -> tuple[tuple[str, str], ...]:
        """The response headers safe to log or show: lower-case names, no cookies or
        credential-named headers, credentials removed from values."""
        if self._visible is None:
            self._visible = visible_headers(unpack_head(self._head), self._redact())
        return self._visible

    @property
    def request_id(self) -> str | None:
        """The provider's request id from the response head, if it sent one."""
        return head_request_id(self._head)

    @property
    def text(self) -> str:
        """The answer text received so far."""
        return self._decoder.acc.partial if self._decoder is not None else ""

    # --- the table ------------------------------------------------------------------
    def _to(self, what: Input) -> None:
        """Move by the table (a missing entry here is a bug: KeyError)."""
        self._mode = TRANSITIONS[self._mode][what]

    # --- one body path for both doors -----------------------------------------------
    def _on_head(
        self, status: int, raw: list[tuple[bytes, bytes]], reason: str, out: list[Event]
    ) -> None:
        self.status = status
        self._head = pack_head(raw)
        self._reason = reason
        media, coding = body_headers(raw)
        if not 200 <= status < 300:
            self._to(Input.ERROR_HEAD)
            self._framer = WholeBody(self._max_error_body_size, truncate=True)
            self._handle = self._error_body
            if coding is not None:
                self._set_coding(coding, out)
            return
        head = MEDIA_HEADS.get(media)
        if head is None:
            if media.endswith("+json") or not self.request.stream:
                head = Input.JSON_HEAD
            else:  # an unlabelled stream: trust the dialect's framing
                head = FRAMING_HEADS.get(self.dialect.framing, Input.SSE_HEAD)
        self._to(head)
        mode = self._mode
        if coding is not None and not self._set_coding(coding, out):
            return
        if mode is _JSON_BODY:
            self._framer = WholeBody(self._max_body_size, truncate=False)
            self._handle = self._whole_body
            return
        decoder = self._decoder = self.dialect.stream_decoder(self.request)
        if mode is Mode.SSE:
            message_data = type(decoder).message_data
            if message_data is not StreamDecoder.message_data:
                self._live = message_data
            self._framer = SSEDecoder(
                self._max_event_size,
                on_unknown_field=self._sse_field,
                undecoded_messages=self._live is not None,  # for _handle_items
            )
            self._handle = decoder.sse_event
        elif mode is Mode.NDJSON:
            from .ndjson import NDJSONDecoder

            self._framer = NDJSONDecoder(self._max_event_size)
            self._handle = decoder.json_line
        else:
            self._framer = eventstream_framer(self._max_event_size)
            self._handle = decoder.stream_message

    def _set_coding(self, header: bytes, out: list[Event]) -> bool:
        """Prepare to decode the body's Content-Encoding; False when the call ended."""
        from .contentcoding import UnsupportedEncoding, content_decoder

        try:
            self._coding = content_decoder(header, self._max_decoded_size)
        except UnsupportedEncoding as exc:
            if self._mode is _ERROR_BODY:
                self._unsupported = exc  # the body is drained unread; the status speaks
                self._coding_failed = True
                self._framer = WholeBody(0, truncate=True)  # read nothing of it
                return True
            self._terminate(self._error("protocol", str(exc)), out)
            return False
        return True

    def _on_body(self, data: bytes, out: list[Event]) -> None:
        if self._coding is None:
            self._frame(data, out)
        else:
            self._on_coded_body(data, out)

    def _frame(self, data: bytes, out: list[Event]) -> None:
        """Decoded body bytes to the mode's framer, its items to the mode's handler."""
        live = self._live
        if live is not None:
            payload = _live_data(self._framer, data)
            if payload is not None:
                # One whole "message" event, counted by the SSE decoder: its data goes to
                # the stream decoder undecoded, and only the uncommon event is built.
                decoder = self._decoder
                assert decoder is not None  # set with _live
                events = live(decoder, payload)
                if events is None:
                    self._handle_items([_message_event(self._framer, payload)], out)
                elif events:  # deltas only: delivered and counted as _handle_items does
                    out.extend(events)
                    self.delivered = True
                    if decoder.acc.counted > self._max_response_size:
                        self._terminate(self._too_long(), out)
                return
        try:
            items = self._framer.feed(data)
        except RemoteProtocolError as exc:
            self._items(exc.items, out)
            self._decode_fault(exc, out)
            return
        if self._sse_fields:
            self._items(items, out)
        elif items:
            self._handle_items(items, out)

    def _sse_field(self, name: str, value: str) -> None:
        """An SSE field the spec ignores (llama.cpp's ``error:``), kept with the number of
        events before it: :meth:`_items` hands it to the dialect in stream order, so a
        field after the terminal event never counts, however the reads were split."""
        framer = self._framer
        assert isinstance(framer, SSEDecoder)
        fields = self._sse_fields
        if isinstance(fields, tuple):
            fields = self._sse_fields = []
        fields.append((framer.dispatched, name, value))

    def _on_coded_body(self, data: bytes, out: list[Event]) -> None:
        """Inflate and pass on, one bounded piece at a time, stopping when the answer
        ended (the rest is only drained) or an error body holds all it may."""
        coding = self._coding
        assert coding is not None
        if self._body_unwanted():
            return
        try:
            for piece in coding.feed(data):
                self._frame(piece, out)
                if self._body_unwanted():
                    return
        except RemoteProtocolError as exc:
            self._coding_fault(exc, out)

    def _body_unwanted(self) -> bool:
        """Whether inflating more is wasted: the answer ended (the rest is only
        drained), or an error body holds all it may or cannot be decoded."""
        if self._mode is _ERROR_BODY:
            framer = self._framer
            return self._coding_failed or (isinstance(framer, WholeBody) and framer.full)
        return self.finished

    def _coding_fault(self, exc: RemoteProtocolError, out: list[Event]) -> None:
        if self._mode is _ERROR_BODY:
            self._coding_failed = True  # the status speaks; keep the body decoded so far
        else:
            self._decode_fault(exc, out)

    def _items(self, items: list[Any], out: list[Event]) -> None:
        """Hand each decoded item to the mode's handler, and any SSE field read among
        them to the dialect, in stream order; stop at the terminal event."""
        if not self._sse_fields:
            self._handle_items(items, out)
            return
        framer, decoder = self._framer, self._decoder
        assert isinstance(framer, SSEDecoder) and decoder is not None
        first = framer.dispatched - len(items)  # the stream index of items[0]
        fields, self._sse_fields = self._sse_fields, ()
        done = 0
        for dispatched, name, value in fields:
            if dispatched - first > done:
                self._handle_items(items[done : dispatched - first], out)
                done = dispatched - first
            if self.finished:
                return
            decoder.sse_field(name, value)
        self._handle_items(items[done:], out)

    def _handle_items(self, items: list[Any], out: list[Event]) -> None:
        handle = self._handle
        # With the live shortcut, the SSE decoder gives "message" events as their data's
        # bytes (undecoded_messages): the shortcut reads them; as in _frame, only the
        # event it declines is built.
        live, decoder = self._live, self._decoder
        for item in items:
            if live is not None and type(item) is bytes:
                got = live(decoder, item)  # type: ignore[arg-type]  # set with _live
                if got is not None:  # deltas only; it never raises (as in _frame)
                    if got:
                        out += got
                        self.delivered = True
                    continue
                item = _message_event(self._framer, item)
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
        # Once per batch, not per delta: the count trails by less than COMPACT_AT pieces
        # of each kind, and the Done is checked exactly.
        if self._mode in STREAMING:
            assert self._decoder is not None
            if self._decoder.acc.counted > self._max_response_size:
                self._terminate(self._too_long(), out)

    def _on_end(self, complete: bool, out: list[Event]) -> None:
        """The body ended: ``complete`` as its framing said, or cut short."""
        if self.finished or not complete:
            if not self.finished:
                self._terminate(
                    self._error("incomplete", "the connection closed before the response ended"),
                    out,
                )
            if self._mode is not _CLOSED:
                self._to(END)
            return
        coding = self._coding
        if coding is not None and not self._body_unwanted():
            try:
                coding.close()
            except RemoteProtocolError as exc:
                self._coding_fault(exc, out)
        if not self.finished:
            try:
                items = self._framer.close()
            except RemoteProtocolError as exc:
                self._items(exc.items, out)
                self._decode_fault(exc, out)
            else:
                self._items(items, out)
        if not self.finished:
            self._terminate(self._end_event(), out)
        if self._mode is not _CLOSED:
            self._to(END)

    def _end_event(self) -> Event:
        """What a body that ended without a terminal event means, by mode."""
        if self._decoder is not None and self._mode in STREAMING:
            try:
                return self._decoder.end()
            except _DECODE_FAULTS as exc:
                return self._error("protocol", f"malformed response: {exc}")
        return self._error("protocol", "the response body has no result")

    def _whole_body(self, body: bytes) -> list[Event]:
        try:
            value = loads(body)
        except (ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError
            raise RemoteProtocolError(f"the response body is not JSON ({exc})") from None
        events = self.dialect.decode_body(value)
        if not events or type(events[-1]) is Delta:
            return [self._error("protocol", "the response body has no result")]
        return events

    def _error_body(self, body: bytes) -> list[Event]:
        assert self.status is not None
        error = self.dialect.decode_error(self.status, self._reason, self.headers, body, "")
        if self._unsupported is not None:
            error = replace(error, message=f"{error.message} ({self._unsupported})")
        return [error]

    # --- ending -----------------------------------------------------------------------
    def _finish(self, event: Event, out: list[Event]) -> None:
        """``event``, the last of ``out``, is the terminal event (a decoder's or ours):
        the one place an ``Error`` leaves the call, sealed (see the module docstring)."""
        self._live = None  # nothing is decoded after the answer ended
        if type(event) is Done:
            if self._mode in STREAMING and _answer_size(event) > self._max_response_size:
                out[-1] = self._seal(self._too_long())
                self._to(FAULT)
                return
            # Keep reading to the end of the body so the connection can be reused.
            self._to(DONE)
            self._framer = DISCARD
        else:
            assert type(event) is Error
            out[-1] = self._seal(event)
            self._to(FAULT)

    def _redact(self) -> Redactor:
        redact = self._redactor
        if redact is None:
            endpoint = self.endpoint
            secrets = endpoint_secrets(endpoint.api_key, endpoint.headers, endpoint.base_url)
            aws = endpoint.aws_credentials
            if aws is not None:
                secrets += [aws.secret_access_key, aws.session_token or ""]
            redact = self._redactor = redactor_for((*secrets, *self._secrets))
        return redact

    def _seal(self, error: Error) -> Error:
        """``error`` with the HTTP status and the response's request id and headers
        filled in, and every secret removed from the text that came from the server
        (``partial`` excepted: module docstring)."""
        redact = self._redact()
        return replace(
            error,
            status=error.status if error.status is not None else self.status,
            message=redact(error.message),
            provider_type=None if error.provider_type is None else redact(error.provider_type),
            retry_after_date=(
                None if error.retry_after_date is None else redact(error.retry_after_date)
            ),
            request_id=(error.request_id if error.request_id is not None else self.request_id),
            headers=error.headers or self.response_headers,
        )

    def _terminate(self, event: Event, out: list[Event]) -> None:
        """Append a terminal event made here (not by a decoder) and stop."""
        if self.finished:
            return
        out.append(event)
        self._finish(event, out)

    def _too_long(self) -> Error:
        return self._error(
            "limit", f"the streamed answer exceeds {self._max_response_size} characters"
        )

    def _error(self, kind: str, message: str, **fields: Any) -> Error:
        return Error(kind=kind, message=message, status=self.status, partial=self.text, **fields)

    def _decode_fault(self, exc: BaseException, out: list[Event]) -> None:
        if self.finished:
            return
        if isinstance(exc, LimitExceeded):
            error = self._error("limit", str(exc))
        else:
            error = self._error("protocol", f"malformed response: {exc}")
        self._terminate(error, out)


def _answer_size(done: Done) -> int:
    """The characters ``max_response_size`` counts in a finished answer."""
    size = len(done.text) + len(done.reasoning) + len(done.refusal)
    size += sum(len(call.arguments) for call in done.tool_calls)
    return size + sum(len(text) for text in done.choices[1:])
