"""Server-sent events: the WHATWG "event stream interpretation", exactly, bounded and fast.

:class:`SSEDecoder` turns response-body bytes into :class:`ServerSentEvent` values:

* the stream is UTF-8; one leading BOM (U+FEFF) is stripped, only one, even when it is
  split across chunks; invalid bytes become U+FFFD and never raise;
* lines end at CRLF, LF or CR, including a CR at the end of one chunk and an LF at the
  start of the next;
* a blank line dispatches the event; if no ``data`` line came, nothing is dispatched (the
  event type is reset) but the last event ID is still committed;
* ``id`` sets the last event ID *buffer*; it becomes the last event ID (and the ``id`` of
  events) at the next blank line, and persists across events; a value containing U+0000
  is ignored;
* ``retry`` is honoured only when its value is ASCII digits and nothing else, and takes
  effect at once;
* a line with no colon is a field with an empty value; one space after the colon is
  removed; the final LF of the data buffer is removed; unknown fields are ignored (but
  reported to ``on_unknown_field``); lines starting with a colon are comments (counted and
  reported to ``on_comment``);
* an event not ended by a blank line when the stream ends is discarded.

Any split of the same bytes into chunks yields the same events. Speed comes from the
shapes LLM APIs send: a chunk is split on blank lines once, and an event that is one
``data: ...`` line, or an ``event: ...`` line then one ``data: ...`` line, is built
directly (one slice and decode per field); a read that holds whole events with nothing
carried over skips the line splitter. Everything else goes through the line-by-line
interpretation, which the tests hold the fast paths to.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .exceptions import LimitExceeded, LocalProtocolError
from .lines import LineSplitter
from .values import Value, frozen

__all__ = ["DEFAULT_MAX_EVENT_SIZE", "SSEDecoder", "ServerSentEvent"]

# Large enough for any real LLM event (a whole non-streamed answer rarely reaches 1 MiB),
# small enough that a broken or hostile server cannot make us buffer without end.
DEFAULT_MAX_EVENT_SIZE = 4 * 1024 * 1024

_BOM = b"\xef\xbb\xbf"
_LF = b"\n"
_CR = b"\r"
_BLANK = b"\n\n"
_DATA_SP = b"data: "
_EVENT_SP = b"event: "
_NO_EVENTS: list[ServerSentEvent] = []  # SSEDecoder._out between feeds; never appended to
_MAX_RETRY_DIGITS = 640


@frozen
class ServerSentEvent(Value):
    """One dispatched event.

    ``event`` is the event type (``"message"`` unless an ``event`` field set it),
    ``data`` the data lines joined by LF, ``id`` the last event ID string at dispatch,
    ``retry`` the reconnection time in force at dispatch (milliseconds) or None.

    A frozen slotted value (:mod:`libchatty.values`: what ``@dataclass(frozen=True,
    slots=True)`` gives, ``dataclasses.replace`` included, without its import cost).
    """

    event: str = "message"
    data: str = ""
    id: str = ""
    retry: int | None = None


# Direct slot setters for the fast path (see SSEDecoder._process). They are only valid
# while these are exactly the fields; test_sse checks the two constructions agree.
if ServerSentEvent.__slots__ != ("event", "data", "id", "retry"):  # pragma: no cover
    raise ImportError("ServerSentEvent fields changed: update SSEDecoder's fast path")
_new_event = object.__new__
_slots = vars(ServerSentEvent)
_set_event: Callable[[ServerSentEvent, str], None] = _slots["event"].__set__
_set_data: Callable[[ServerSentEvent, str], None] = _slots["data"].__set__
_set_id: Callable[[ServerSentEvent, str], None] = _slots["id"].__set__
_set_retry: Callable[[ServerSentEvent, int | None], None] = _slots["retry"].__set__


class SSEDecoder:
    """Decode an event stream fed in chunks of any size.

    ``feed(data)`` returns the events completed by ``data``; ``close()`` ends the stream
    (an unterminated event is discarded, so it returns ``[]``; it exists for symmetry and
    to make ``feed`` after the end an error).

    Bounds: an event -- the bytes of all lines since the previous blank line, terminators
    not counted, including a line still incomplete -- may be at most ``max_event_size``
    bytes. Exceeding it raises :class:`~libchatty.exceptions.LimitExceeded` whose ``items``
    are the events dispatched earlier in the same ``feed``; ``buffered`` never exceeds the
    limit after ``feed`` returns. After any exception the decoder is failed and every later
    call raises :class:`~libchatty.exceptions.LocalProtocolError`.

    Observing the stream: ``on_comment(text)`` is called for every comment line (text
    after the colon, one leading space removed) -- keep-alives such as ``: ping`` -- and
    ``comments`` counts them; ``on_unknown_field(name, value)`` is called for every field
    the specification ignores (llama.cpp sends ``error: {...}``). Callbacks run inside
    ``feed`` in stream order; reading ``dispatched`` there tells how many events came
    before the line, so a caller can place the report among the events ``feed`` returns.
    An exception raised by a callback propagates out of ``feed`` (the decoder is failed).
    A binding that needs to know bytes arrived (to reset an idle timer) knows it from its
    own read; comments need no special handling for that.

    ``undecoded_messages=True`` is for a caller that reads the data as bytes (as
    :meth:`live_data`, for reads of many events): ``feed`` (and a ``LimitExceeded``'s
    ``items``) may then give, in place of an event, the undecoded ``bytes`` of its data:
    a ``message`` event whose ``id`` and ``retry`` are :attr:`last_event_id` and
    :attr:`retry` as that ``feed`` left them (:meth:`message_event` builds it).
    """

    __slots__ = (
        "_base",
        "_bom",
        "_closed",
        "_comments",
        "_data",
        "_ev_size",
        "_event",
        "_failed",
        "_id_buf",
        "_idle",
        "_last_id",
        "_lines",
        "_max",
        "_on_comment",
        "_on_unknown_field",
        "_out",
        "_pending",
        "_retry",
        "_undecoded",
        "_whole_events_max",
    )

    def __init__(
        self,
        max_event_size: int = DEFAULT_MAX_EVENT_SIZE,
        *,
        on_comment: Callable[[str], None] | None = None,
        on_unknown_field: Callable[[str, str], None] | None = None,
        undecoded_messages: bool = False,
    ) -> None:
        if max_event_size < 1:
            raise ValueError("max_event_size must be at least 1")
        self._max = max_event_size
        self._lines = LineSplitter(max_event_size)
        self._pending = self._lines.pending  # the incomplete line's fragments
        self._on_comment = on_comment
        self._on_unknown_field = on_unknown_field
        self._bom: bytes | None = b""  # bytes seen while the stream start is undecided
        self._data: list[bytes] = []  # values of this event's data lines
        self._event = b""  # the event type buffer
        self._ev_size = 0  # bytes of this event's complete lines
        self._id_buf = ""  # the last event ID buffer
        self._last_id = ""  # the last event ID string (committed at each blank line)
        self._retry: int | None = None
        self._comments = 0
        self._base = 0  # events returned by earlier feeds
        self._out: list[ServerSentEvent] = _NO_EVENTS  # events of the feed in progress
        self._failed = False
        self._closed = False
        # True when nothing is carried over between feeds (see feed); the stream start
        # is not idle, the BOM is still to be decided.
        self._idle = False
        self._whole_events_max = max_event_size + 1  # a line of the limit plus its LF
        self._undecoded = undecoded_messages

    # -- what a caller may read -------------------------------------------------------

    @property
    def last_event_id(self) -> str:
        """The last event ID string: the ID buffer as of the most recent blank line."""
        return self._last_id

    @property
    def retry(self) -> int | None:
        """The reconnection time in force (ms), set by the last valid ``retry`` field."""
        return self._retry

    @property
    def comments(self) -> int:
        """How many comment lines have been seen."""
        return self._comments

    @property
    def dispatched(self) -> int:
        """Events dispatched so far (inside a callback: before the current line)."""
        return self._base + len(self._out)

    @property
    def buffered(self) -> int:
        """Bytes held for the event in progress (at most ``max_event_size``)."""
        return self._ev_size + self._pending.size

    @property
    def max_event_size(self) -> int:
        return self._max

    # -- feeding ----------------------------------------------------------------------

    def feed(self, data: bytes) -> list[ServerSentEvent]:
        """The events completed by ``data``, in order. Any bytes-like ``data`` is accepted."""
        if type(data) is not bytes:
            data = bytes(data)  # h11 hands out bytearrays; never keep a caller's buffer
        if (
            self._idle
            and data[-2:] == _BLANK
            and _CR not in data
            and len(data) <= self._whole_events_max
        ):
            # The live-stream case: a read holding whole events, nothing carried over.
            # The line splitter would hand ``data`` back unchanged (no CR, no partial
            # line, every line within the limit), so go straight to the events; the
            # state stays idle, as ``data`` ends with a blank line.
            if data[:6] == _DATA_SP and data.find(_LF, 6) == len(data) - 2:
                # One read, one "data: " line: the live shape of OpenAI-like streams.
                # Nothing can fail here (decoding replaces, the size was checked), so
                # the general bookkeeping reduces to one event.
                self._last_id = last_id = self._id_buf
                ev = _new_event(ServerSentEvent)
                _set_event(ev, "message")
                _set_data(ev, data[6:-2].decode("utf-8", "replace"))
                _set_id(ev, last_id)
                _set_retry(ev, self._retry)
                self._base += 1
                return [ev]
            whole = True
        else:
            if self._failed or self._closed:
                raise LocalProtocolError(
                    "SSEDecoder failed earlier" if self._failed else "SSEDecoder already closed"
                )
            if self._bom is not None:
                data = self._strip_bom(data)
            if not data:
                return []
            whole = False
        out: list[ServerSentEvent] = []
        self._out = out
        try:
            if not whole:
                self._feed_lines(data, out)
            elif data[:6] != _DATA_SP or not self._data_events(data, len(data), out):
                self._process(data, out)
        except BaseException:
            self._failed = True
            self._idle = False
            raise
        finally:
            self._base += len(out)
            self._out = _NO_EVENTS
        return out

    def live_data(self, data: bytes) -> bytes | None:
        """The data of ``data``, undecoded, when ``data`` is the live shape: exactly one
        whole event of one ``data: `` line, fed with nothing carried over. The event is
        then counted as :meth:`feed` would have dispatched it (``dispatched``, the last
        event ID); its type is ``message`` and its ``id`` is :attr:`last_event_id`.
        Otherwise None, and nothing changed: hand ``data`` to :meth:`feed`.

        For a caller that parses the data itself (orjson reads bytes): the shape every
        token of an OpenAI-like stream has when it arrives, without building the event.
        ``data`` must be ``bytes``.
        """
        end = len(data) - 2
        if (
            self._idle
            and data.find(_LF, 6) == end
            and data[-1] == 10  # LF (find matched: data is not empty)
            and data[:6] == _DATA_SP
            and 13 not in data  # CR (an int: a third of the cost of b"\r")
            and end + 2 <= self._whole_events_max  # as feed's whole-events test
        ):
            self._last_id = self._id_buf
            self._base += 1
            return data[6:end]
        return None

    def message_event(self, data: bytes) -> ServerSentEvent:
        """The event that undecoded ``data`` stands for -- a payload of :meth:`live_data`,
        or an item of ``feed`` with ``undecoded_messages`` -- built as the fast paths
        build theirs."""
        ev = _new_event(ServerSentEvent)
        _set_event(ev, "message")
        _set_data(ev, data.decode("utf-8", "replace"))
        _set_id(ev, self._last_id)
        _set_retry(ev, self._retry)
        return ev

    def _feed_lines(self, data: bytes, out: list[ServerSentEvent]) -> None:
        """The general case: ``data`` through the line splitter, then the lines' events."""
        try:
            joined = self._lines.feed_joined(data)
        except LimitExceeded as exc:
            # Lines before the long one still count, in order, and may hit the
            # event limit first.
            self._process(exc.items[0] if exc.items else b"", out)
            raise LimitExceeded(f"SSE {exc}", items=out) from None
        if joined:
            self._process(joined, out)
        if self._ev_size + self._pending.size > self._max:
            raise LimitExceeded(
                f"SSE event larger than {self._max} bytes (no blank line after "
                f"{self._ev_size + self._pending.size} bytes)",
                items=out,
            )
        self._idle = self._bom is None and not self._ev_size and self._lines.at_line_start

    def close(self) -> list[ServerSentEvent]:
        """End of stream. An event without its closing blank line is discarded."""
        if self._failed:
            raise LocalProtocolError("SSEDecoder failed earlier")
        if not self._closed:
            self._closed = True
            self._idle = False
            self._lines.close()
            self._data = []
            self._event = b""
            self._ev_size = 0
            self._bom = None
        return []

    # -- internals --------------------------------------------------------------------

    def _strip_bom(self, data: bytes) -> bytes:
        head = self._bom + data if self._bom else data
        if len(head) < len(_BOM) and _BOM.startswith(head):
            self._bom = bytes(head)  # maybe the start of a BOM: wait for more (a copy)
            return b""
        self._bom = None
        return head[len(_BOM) :] if head.startswith(_BOM) else head

    def _process(self, joined: bytes, out: list[ServerSentEvent]) -> None:
        """Interpret complete lines (``joined``: LF-terminated lines, CR already gone)."""
        if (
            not self._ev_size
            and joined[:6] == _DATA_SP
            and self._data_events(joined, joined.rfind(_BLANK) + 2, out)
        ):
            return
        # Each piece before the last ends at a blank line: it is one event's lines.
        # The last piece holds lines of an event not yet ended.
        blocks = joined.split(_BLANK)
        last = blocks.pop()
        if blocks:
            if self._ev_size:
                # The first piece continues an event begun in an earlier feed.
                self._lines_then_dispatch(blocks[0], out)
                del blocks[0]
            append = out.append
            last_id = self._id_buf
            retry = self._retry
            limit = self._max
            for block in blocks:
                # Fast paths for the shapes LLM APIs send. A dispatch resets the state,
                # so every piece here starts a fresh event. ServerSentEvent(...) would
                # cost ~2x the slot setters: its frozen __init__ goes through
                # object.__setattr__ per field. Same object, same slots.
                if block[:6] == _DATA_SP and _LF not in block:
                    # One "data: " line (OpenAI chat, Gemini, most compatibles).
                    ev = _new_event(ServerSentEvent)
                    _set_event(ev, "message")
                    _set_data(ev, block[6:].decode("utf-8", "replace"))
                    _set_id(ev, last_id)
                    _set_retry(ev, retry)
                    append(ev)
                    continue
                if block[:7] == _EVENT_SP:
                    # "event: " then one "data: " line (Anthropic, OpenAI Responses).
                    # Two lines may exceed the event limit though each is within it.
                    nl = block.find(_LF)
                    if (
                        block[nl + 1 : nl + 7] == _DATA_SP
                        and block.find(_LF, nl + 1) < 0
                        and nl > 7
                        and len(block) <= limit
                    ):
                        ev = _new_event(ServerSentEvent)
                        _set_event(ev, block[7:nl].decode("utf-8", "replace"))
                        _set_data(ev, block[nl + 7 :].decode("utf-8", "replace"))
                        _set_id(ev, last_id)
                        _set_retry(ev, retry)
                        append(ev)
                        continue
                self._lines_then_dispatch(block, out)
                last_id = self._id_buf
                retry = self._retry
            self._last_id = self._id_buf
        if last:
            for line in last[:-1].split(_LF):
                self._line(line, out)

    def _data_events(self, joined: bytes, end: int, out: list[Any]) -> bool:
        """The bulk lane: when every event completed in ``joined`` is one ``data: `` line
        (OpenAI chat, Gemini, most compatibles) and nothing is carried over, all their
        data is one decode and one split (no decode: undecoded_messages). Returns False,
        having done nothing, otherwise.

        ``joined`` starts with ``data: `` and ``end`` is the offset just past its last
        blank line (< 8 if there is none).
        """
        if end < 8:  # no blank line, or no room for "data: " + "\n\n"
            return False
        if self._undecoded and end == len(joined):
            # The bytes lane (undecoded_messages): each event as its data's bytes. No
            # line follows the events in this feed, so none changes their id or retry
            # (and with nothing carried over, the last event ID is committed already).
            undecoded = joined[6 : end - 2].split(b"\n\ndata: ")
            if _LF in b"".join(undecoded):  # the shape test below
                return False
            out += undecoded
            return True
        # Whole-text decoding equals per-value decoding: a malformed UTF-8 sequence
        # never swallows the ASCII bytes that separate values.
        text = joined[6 : end - 2].decode("utf-8", "replace")
        values = text.split("\n\ndata: ")
        # The shape holds exactly when no value holds an LF: the separators hold every
        # one, and there is no other line. (A join and a memchr: scans are the cost
        # here, and counting LFs scans at a fifth of the speed.)
        if "\n" in "".join(values):
            return False
        append = out.append
        last_id = self._last_id = self._id_buf  # committed by the blank lines
        retry = self._retry
        for item in values:
            # ServerSentEvent(...) would cost ~2x: its __init__ goes through
            # object.__setattr__ per field. Same object, same slots.
            ev = _new_event(ServerSentEvent)
            _set_event(ev, "message")
            _set_data(ev, item)
            _set_id(ev, last_id)
            _set_retry(ev, retry)
            append(ev)
        if end < len(joined):  # lines of an event that is not complete yet
            for line in joined[end:-1].split(_LF):
                self._line(line, out)
        return True

    def _lines_then_dispatch(self, block: bytes, out: list[ServerSentEvent]) -> None:
        for line in block.split(_LF):
            self._line(line, out)
        self._dispatch(out)

    def _line(self, line: bytes, out: list[ServerSentEvent]) -> None:
        if not line:
            self._dispatch(out)
            return
        size = self._ev_size + len(line)
        if size > self._max:
            raise LimitExceeded(f"SSE event larger than {self._max} bytes", items=out)
        self._ev_size = size
        colon = line.find(b":")
        if colon == 0:
            self._comments += 1
            if self._on_comment is not None:
                text = line[2:] if line[1:2] == b" " else line[1:]
                self._on_comment(text.decode("utf-8", "replace"))
            return
        if colon < 0:
            field, value = line, b""
        else:
            field, value = line[:colon], line[colon + 1 :]
            if value[:1] == b" ":
                value = value[1:]
        if field == b"data":
            self._data.append(value)
        elif field == b"event":
            self._event = value
        elif field == b"id":
            if b"\x00" not in value:
                self._id_buf = value.decode("utf-8", "replace")
        elif field == b"retry":
            # bytes.isdigit() is true for ASCII digits only (no sign, space, "_", or
            # non-ASCII digit, all of which int() would accept).
            if value.isdigit():
                digits = value.lstrip(b"0") or b"0"
                # int() may refuse more than 640 digits (sys.set_int_max_str_digits); a
                # delay that long is meaningless, so such a value is ignored.
                if len(digits) <= _MAX_RETRY_DIGITS:
                    self._retry = int(digits)
        elif self._on_unknown_field is not None:
            self._on_unknown_field(
                field.decode("utf-8", "replace"), value.decode("utf-8", "replace")
            )

    def _dispatch(self, out: list[ServerSentEvent]) -> None:
        self._last_id = self._id_buf
        self._ev_size = 0
        if not self._data:
            self._event = b""
            return
        data = b"\n".join(self._data).decode("utf-8", "replace")
        event = self._event.decode("utf-8", "replace") if self._event else "message"
        self._data = []
        self._event = b""
        out.append(ServerSentEvent(event, data, self._last_id, self._retry))
