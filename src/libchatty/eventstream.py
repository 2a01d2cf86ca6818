"""AWS event stream (``application/vnd.amazon.eventstream``): binary messages in and out.

Bedrock's streaming responses are a sequence of length-prefixed binary messages, each::

    total length    uint32  the whole message, these 4 bytes and the final CRC included
    headers length  uint32  bytes of the headers section
    prelude CRC     uint32  CRC32 of the 8 bytes above
    headers         name length (uint8), UTF-8 name, type (uint8), value; repeated
    payload         total length - headers length - 16 bytes
    message CRC     uint32  CRC32 of every byte of the message before it

all big-endian. :class:`EventStreamDecoder` turns any split of such a stream into
:class:`EventStreamMessage` values; :func:`encode_message` writes one message (for tests
and the replay server).

What the caller may rely on:

* any split of the same bytes into chunks gives the same messages and the same error;
* the prelude CRC is checked before its lengths are trusted, then the lengths (total at
  least 16, headers within the message, total at most ``max_message_size``) before a
  byte of the message body is buffered: a lying length costs nothing; the message CRC is
  checked before the message is returned;
* malformed input raises :class:`~libchatty.exceptions.RemoteProtocolError`, a message
  over the bound :class:`~libchatty.exceptions.LimitExceeded` (a subclass); both carry in
  ``items`` the messages the same ``feed`` decoded before the fault. The decoder is then
  failed, and every later ``feed``/``close`` raises
  :class:`~libchatty.exceptions.LocalProtocolError`;
* the work is ``struct.unpack_from``, slicing and ``zlib.crc32`` per message and per
  header, never a Python loop per byte; a big message arriving in tiny pieces is buffered
  as fragments and joined once, so decoding stays linear.

Header values, by wire type (:class:`HeaderType`):

==========================  ===============================================
``bool_true``/``bool_false``  ``bool``
``byte``, ``short``,          ``int`` (signed 8, 16, 32, 64 bits)
``integer``, ``long``
``byte_array``                ``bytes``
``string``                    ``str`` (invalid UTF-8 is a RemoteProtocolError)
``timestamp``                 timezone-aware UTC ``datetime``, millisecond precision
                              (a value outside ``datetime``'s years 1-9999 is a
                              RemoteProtocolError)
``uuid``                      ``bytes`` of length 16 (as botocore gives it;
                              ``uuid.UUID(bytes=value)`` makes a UUID of it)
==========================  ===============================================

Several wire types share a Python type, so each message also records
``header_types``; :func:`encode_message` takes them back, and re-encoding a decoded
message gives exactly its bytes. A header name repeated in one message is a
RemoteProtocolError (as in botocore: a dict cannot hold both).
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from enum import IntEnum

from .exceptions import LimitExceeded, RemoteProtocolError
from .lines import BufferedDecoder

__all__ = [
    "DEFAULT_MAX_MESSAGE_SIZE",
    "EventStreamDecoder",
    "EventStreamMessage",
    "HeaderType",
    "HeaderValue",
    "encode_message",
]

HeaderValue = bool | int | bytes | str | datetime

# botocore accepts up to 128 KiB of headers and 24 MiB of payload; accepting the same by
# default means we never refuse what the official SDK would decode. Bedrock's own
# messages are a few hundred bytes of JSON.
DEFAULT_MAX_MESSAGE_SIZE = 24 * 1024 * 1024 + 128 * 1024 + 16

_PRELUDE = struct.Struct(">III")  # total length, headers length, prelude CRC
_PRELUDE_SIZE = 12
_OVERHEAD = 16  # prelude and message CRC: the smallest message (no headers, no payload)
_U8 = struct.Struct(">B")
_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MILLISECOND = timedelta(milliseconds=1)


class HeaderType(IntEnum):
    """The wire type codes of header values."""

    BOOL_TRUE = 0
    BOOL_FALSE = 1
    BYTE = 2
    SHORT = 3
    INTEGER = 4
    LONG = 5
    BYTE_ARRAY = 6
    STRING = 7
    TIMESTAMP = 8
    UUID = 9


# Fixed-size integer values, by type: the table both directions read.
_INTEGERS: dict[HeaderType, struct.Struct] = {
    HeaderType.BYTE: struct.Struct(">b"),
    HeaderType.SHORT: struct.Struct(">h"),
    HeaderType.INTEGER: struct.Struct(">i"),
    HeaderType.LONG: struct.Struct(">q"),
    HeaderType.TIMESTAMP: struct.Struct(">q"),  # milliseconds since the Unix epoch
}
_UUID_SIZE = 16
_TYPES = tuple(HeaderType)  # by wire code: _TYPES[code] is HeaderType(code), faster
# The header-section cache: bounded in entries and in the size of each key.
_CACHED_SECTIONS = 32
_CACHED_SECTION_SIZE = 1024


@dataclass(frozen=True, slots=True)
class EventStreamMessage:
    """One decoded message.

    ``headers`` maps each header name to its value (types in the module docstring), in
    wire order; ``payload`` is the raw payload bytes (for Bedrock, JSON). ``header_types``
    gives each header's wire type; it is not part of equality, so two messages are equal
    when their header values and payloads are.
    """

    headers: dict[str, HeaderValue]
    payload: bytes
    header_types: dict[str, HeaderType] = field(default_factory=dict, compare=False)


class EventStreamDecoder(BufferedDecoder):
    """Decode an event stream: ``feed(data)`` returns the messages completed by ``data``.

    ``close()`` ends the stream: it raises RemoteProtocolError if a partial message is
    held (the stream was cut), and otherwise returns ``[]``. ``buffered`` is the number of
    bytes held for the incomplete message; it never exceeds ``max_message_size``.
    """

    __slots__ = ("_headers_seen", "_need")
    _name = "event stream decoder"

    def __init__(self, max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE) -> None:
        if max_message_size < _OVERHEAD:
            raise ValueError(f"max_message_size must be at least {_OVERHEAD}")
        super().__init__(max_message_size)
        # Bytes needed before the next step can run: the prelude, then the whole message.
        self._need = _PRELUDE_SIZE
        # Header sections already parsed, by their bytes. A Bedrock stream repeats a
        # handful of them (only ``:event-type`` varies), so most messages skip the parser.
        self._headers_seen: dict[bytes, tuple[dict[str, HeaderValue], dict[str, HeaderType]]]
        self._headers_seen = {}

    @property
    def max_message_size(self) -> int:
        return self._max

    def feed(self, data: bytes | bytearray | memoryview) -> list[EventStreamMessage]:
        """The messages completed by ``data``, in order (any bytes-like is accepted)."""
        if self._failed:
            raise self._failed_earlier()
        if not data:
            return []
        if type(data) is not bytes:
            data = bytes(data)  # never keep a buffer the caller may reuse
        pending = self.pending
        if pending.size + len(data) < self._need:
            pending.append(data)
            return []
        buf = pending.join(data)
        messages: list[EventStreamMessage] = []
        try:
            end = self._decode(buf, messages)
        except RemoteProtocolError as exc:
            self._fail()
            raise type(exc)(str(exc), items=messages) from None
        if end < len(buf):
            pending.append(buf[end:] if end else buf)
        return messages

    def close(self) -> list[EventStreamMessage]:
        """End of stream: ``[]``, or RemoteProtocolError if it ended inside a message."""
        if self._failed:
            raise self._failed_earlier()
        held = self.pending.size
        if held:
            self._fail()
            want = "a message prelude" if self._need == _PRELUDE_SIZE else "a message"
            raise RemoteProtocolError(
                f"event stream ended inside {want}: {held} of {self._need} bytes received"
            )
        return []

    def _decode(self, buf: bytes, out: list[EventStreamMessage]) -> int:
        """Append the whole messages in ``buf`` to ``out``; return where the rest starts.

        Sets ``_need`` to the size of the first incomplete piece (prelude or message).
        """
        view = memoryview(buf)  # CRCs over slices of a view copy nothing
        seen = self._headers_seen
        size = len(buf)
        at = 0
        while True:
            left = size - at
            if left < _PRELUDE_SIZE:
                self._need = _PRELUDE_SIZE
                return at
            total, headers_size, prelude_crc = _PRELUDE.unpack_from(buf, at)
            if zlib.crc32(view[at : at + 8]) != prelude_crc:
                raise RemoteProtocolError("event stream prelude CRC mismatch")
            if total < _OVERHEAD:
                raise RemoteProtocolError(
                    f"event stream message length {total} is below the minimum of {_OVERHEAD}"
                )
            if headers_size > total - _OVERHEAD:
                raise RemoteProtocolError(
                    f"event stream headers length {headers_size} does not fit in a "
                    f"message of {total} bytes"
                )
            if total > self._max:
                raise LimitExceeded(
                    f"event stream message of {total} bytes exceeds the limit of {self._max} bytes"
                )
            if left < total:
                self._need = total
                return at
            end = at + total
            (message_crc,) = _U32.unpack_from(buf, end - 4)
            if zlib.crc32(view[at + 8 : end - 4], prelude_crc) != message_crc:
                raise RemoteProtocolError("event stream message CRC mismatch")
            headers_end = at + _PRELUDE_SIZE + headers_size
            section = buf[at + _PRELUDE_SIZE : headers_end]
            parsed = seen.get(section)
            if parsed is None:
                parsed = _parse_headers(section)
                if len(section) <= _CACHED_SECTION_SIZE:
                    if len(seen) >= _CACHED_SECTIONS:
                        seen.clear()
                    seen[section] = parsed
            # Copies: a caller may change a message's dicts, never another message's.
            out.append(
                EventStreamMessage(dict(parsed[0]), buf[headers_end : end - 4], dict(parsed[1]))
            )
            at = end


def _parse_headers(section: bytes) -> tuple[dict[str, HeaderValue], dict[str, HeaderType]]:
    """The headers in one headers section; every length is checked against its end."""
    headers: dict[str, HeaderValue] = {}
    types: dict[str, HeaderType] = {}
    end = len(section)
    at = 0
    while at < end:
        name_end = at + 1 + section[at]
        if name_end >= end:  # the name, then at least its type byte
            raise RemoteProtocolError("event stream header name runs past the headers")
        name = _utf8(section[at + 1 : name_end], "header name")
        if name in headers:
            raise RemoteProtocolError(f"event stream header {name!r} is repeated")
        code = section[name_end]
        if code >= len(_TYPES):
            raise RemoteProtocolError(f"event stream header {name!r} has unknown type {code}")
        kind = _TYPES[code]
        at = name_end + 1
        value: HeaderValue
        if kind is HeaderType.STRING or kind is HeaderType.BYTE_ARRAY:
            # A uint16 length, then the bytes. Strings first: they are nearly all of them.
            stop = at + 2 + (_U16.unpack_from(section, at)[0] if at + 2 <= end else 0)
            if stop > end:
                raise RemoteProtocolError(f"event stream header {name!r} runs past the headers")
            raw = section[at + 2 : stop]
            value = _utf8(raw, f"header {name!r}") if kind is HeaderType.STRING else raw
            at = stop
        elif kind is HeaderType.BOOL_TRUE or kind is HeaderType.BOOL_FALSE:
            value = kind is HeaderType.BOOL_TRUE
        else:
            size = _UUID_SIZE if kind is HeaderType.UUID else _INTEGERS[kind].size
            if at + size > end:
                raise RemoteProtocolError(f"event stream header {name!r} runs past the headers")
            if kind is HeaderType.UUID:
                value = section[at : at + size]
            else:
                (number,) = _INTEGERS[kind].unpack_from(section, at)
                value = _timestamp(number, name) if kind is HeaderType.TIMESTAMP else number
            at += size
        headers[name] = value
        types[name] = kind
    return headers, types


def _utf8(raw: bytes, what: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise RemoteProtocolError(f"event stream {what} is not valid UTF-8") from None


def _timestamp(millis: int, name: str) -> datetime:
    try:
        return _EPOCH + millis * _MILLISECOND
    except OverflowError:
        raise RemoteProtocolError(
            f"event stream header {name!r}: timestamp {millis} ms is out of range"
        ) from None


# -- encoding --------------------------------------------------------------------------


def encode_message(
    headers: Mapping[str, HeaderValue],
    payload: bytes = b"",
    header_types: Mapping[str, HeaderType] | None = None,
) -> bytes:
    """One event stream message with ``headers`` (in their order) and ``payload``.

    A header's wire type is ``header_types[name]`` when given, else chosen from its value:
    ``bool`` -> bool_true/bool_false, ``int`` -> integer (long if it does not fit 32
    bits), ``bytes`` -> byte_array, ``str`` -> string, ``datetime`` -> timestamp (it must
    be timezone-aware; sub-millisecond digits are dropped). A uuid needs its type given
    and 16 bytes. A value that does not fit its type or the format (name over 255 bytes,
    string or byte array over 65535, message over 4 GiB) raises ValueError.
    """
    types = header_types or {}
    parts: list[bytes] = []
    for name, value in headers.items():
        raw_name = name.encode("utf-8")
        if len(raw_name) > 0xFF:
            raise ValueError(f"header name {name[:40]!r}... is longer than 255 bytes")
        kind = types.get(name)
        if kind is None:
            kind = _type_of(value, name)
        parts.append(_U8.pack(len(raw_name)) + raw_name + _U8.pack(kind))
        parts.append(_encode_value(HeaderType(kind), value, name))
    header_bytes = b"".join(parts)
    total = _OVERHEAD + len(header_bytes) + len(payload)
    if total > 0xFFFFFFFF:
        raise ValueError(f"an event stream message of {total} bytes does not fit 32 bits")
    prelude = _U32.pack(total) + _U32.pack(len(header_bytes))
    prelude += _U32.pack(zlib.crc32(prelude))
    body = prelude + header_bytes + bytes(payload)
    return body + _U32.pack(zlib.crc32(body))


def _type_of(value: HeaderValue, name: str) -> HeaderType:
    if isinstance(value, bool):
        return HeaderType.BOOL_TRUE if value else HeaderType.BOOL_FALSE
    if isinstance(value, int):
        return HeaderType.INTEGER if -(1 << 31) <= value < 1 << 31 else HeaderType.LONG
    if isinstance(value, bytes):
        return HeaderType.BYTE_ARRAY
    if isinstance(value, str):
        return HeaderType.STRING
    if isinstance(value, datetime):
        return HeaderType.TIMESTAMP
    raise ValueError(f"header {name!r}: cannot encode a {type(value).__name__}")


def _encode_value(kind: HeaderType, value: HeaderValue, name: str) -> bytes:
    if kind is HeaderType.BOOL_TRUE or kind is HeaderType.BOOL_FALSE:
        if value is not (kind is HeaderType.BOOL_TRUE):
            raise ValueError(f"header {name!r}: type {kind.name} needs the value {value!r}")
        return b""
    if kind is HeaderType.TIMESTAMP:
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise ValueError(f"header {name!r}: a timestamp must be an aware datetime")
        value = (value - _EPOCH) // _MILLISECOND
    if kind in _INTEGERS:
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValueError(f"header {name!r}: type {kind.name} needs an int")
        try:
            return _INTEGERS[kind].pack(value)
        except struct.error:
            raise ValueError(f"header {name!r}: {value} does not fit {kind.name}") from None
    if kind is HeaderType.UUID:
        if not isinstance(value, bytes) or len(value) != _UUID_SIZE:
            raise ValueError(f"header {name!r}: a uuid must be 16 bytes")
        return value
    if kind is HeaderType.STRING:
        if not isinstance(value, str):
            raise ValueError(f"header {name!r}: type STRING needs a str")
        raw = value.encode("utf-8")
    elif isinstance(value, bytes):
        raw = value
    else:
        raise ValueError(f"header {name!r}: type BYTE_ARRAY needs bytes")
    if len(raw) > 0xFFFF:
        raise ValueError(f"header {name!r}: {len(raw)} bytes is longer than 65535")
    return _U16.pack(len(raw)) + raw
