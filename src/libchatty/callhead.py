"""The heads of a ``Call``: the framed door's request, and what is read from a response head.

* :class:`HTTPRequest` -- the request as a user's own HTTP stack sends it (httpx,
  aiohttp, requests): method, absolute URL, headers, body; the stack owns the framing.
* :func:`header_pairs` -- response headers as any stack hands them, made the
  ``(lower-case bytes, bytes)`` pairs the core reads.
* :func:`header_value` -- one header of a packed head.
* :func:`body_headers` -- the media type and ``Content-Encoding`` that pick a body mode.
* :func:`request_id` (:func:`head_request_id` of a packed head) and
  :func:`visible_headers` -- the response metadata an ``Error`` and a completion carry,
  never a credential.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import field
from operator import itemgetter
from typing import Any, Final

from .exceptions import LocalProtocolError
from .redact import Redactor, is_credential_name
from .values import Value, frozen

__all__ = [
    "REQUEST_ID_HEADERS",
    "HTTPRequest",
    "Packed",
    "body_headers",
    "head_request_id",
    "header_pairs",
    "header_value",
    "pack_head",
    "reason_phrase",
    "request_id",
    "unpack_head",
    "visible_headers",
]


@frozen
class HTTPRequest(Value):
    """The request of a :class:`~libchatty.call.Call`, for the framed door
    (``call.http_request()``): send ``method`` to ``url`` (absolute, query included)
    with ``headers`` and ``body``. ``headers`` has no ``Host``, ``Content-Length``,
    ``Transfer-Encoding`` or ``Connection``: the sending stack writes those.

    Its repr shows header names only and the URL without its query: header values and
    query parameters carry credentials (``Authorization``, Gemini's ``key=``)."""

    method: str
    url: str
    headers: list[tuple[str, str]] = field(repr=False)
    body: bytes = field(repr=False)

    def __repr__(self) -> str:
        # urllib.parse (and the ipaddress module it imports, ~3 ms) when a request is
        # shown, not when libchatty is imported.
        from urllib.parse import urlsplit

        parts = urlsplit(self.url)
        shown = f"{parts.scheme}://{parts.netloc}{parts.path}" + ("?..." if parts.query else "")
        names = ", ".join(name for name, _ in self.headers)
        return (
            f"HTTPRequest(method={self.method!r}, url={shown!r}, headers=[{names}], "
            f"body=<{len(self.body)} bytes>)"
        )


# Headers that describe how the body was framed and encoded on the wire. A stack that
# hands over a de-framed, decoded body keeps them as they were (httpx does): honouring
# them would read a plain body as chunked or compressed.
_FRAMING: Final = frozenset({b"transfer-encoding", b"content-length", b"content-encoding"})


def _as_bytes(value: object, what: str) -> bytes:
    """A header name or value that is not ``bytes`` (header_pairs keeps those as they
    are) as bytes."""
    if isinstance(value, str):
        try:
            return value.encode("latin-1")
        except UnicodeEncodeError:
            return value.encode("utf-8")  # a stack that decoded the header as UTF-8
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    raise LocalProtocolError(
        f"receive_head() wants header {what}s as str or bytes, not {type(value).__name__}"
    )


def header_pairs(headers: Any) -> list[tuple[bytes, bytes]]:
    """``headers`` -- an iterable of ``(name, value)`` pairs of ``str`` or ``bytes``, or a
    mapping (httpx ``Headers``, aiohttp ``CIMultiDictProxy``, requests
    ``CaseInsensitiveDict``) -- as ``(lower-case name, value)`` byte pairs, framing
    headers dropped. Repeated headers are kept as the stack gives them."""
    if isinstance(headers, (str, bytes)):
        raise LocalProtocolError("receive_head() wants headers as (name, value) pairs or a mapping")
    items: Iterable[Any]
    if type(headers) is list or type(headers) is tuple:  # pairs: the stack's raw head
        items = headers
    elif callable(multi := getattr(headers, "multi_items", None)):  # httpx: items() joins
        items = multi()
    elif isinstance(headers, Mapping) or callable(getattr(headers, "items", None)):
        items = headers.items()
    else:
        items = headers
    out: list[tuple[bytes, bytes]] = []
    try:
        for name, value in items:
            # Bytes, the common case (h11's pairs, a stack's raw head), without a call.
            key = (name if type(name) is bytes else _as_bytes(name, "name")).lower()
            if key not in _FRAMING:
                out.append((key, value if type(value) is bytes else _as_bytes(value, "value")))
    except (TypeError, ValueError):
        raise LocalProtocolError(
            "receive_head() wants headers as (name, value) pairs or a mapping"
        ) from None
    return out


# How a kept head is packed: "name:value" lines joined by LF.
_NAME_END: Final = b":"
_LINE_END: Final = b"\n"

Packed = bytes | list[tuple[bytes, bytes]]


def pack_head(raw_headers: list[tuple[bytes, bytes]]) -> Packed:
    """The response headers as a call keeps them while its body streams: one bytes
    object, a third of the pairs' memory or less (a pair is two bytes objects and a
    tuple, ~180 bytes; a provider sends 15-25 headers, and 10,000 streams keep theirs).
    The pairs themselves when a byte of the packing is in one (a name with a colon or
    a line end, a value with a line end: h11 lets none through, a stack might)."""
    # map() over C functions: no Python step per header (every call packs its head).
    packed = _LINE_END.join(map(_NAME_END.join, raw_headers))
    if packed.count(_LINE_END) != len(raw_headers) - 1 or _NAME_END in b"".join(
        map(_name_of, raw_headers)
    ):
        return raw_headers
    return packed


_name_of: Final = itemgetter(0)
_value_of: Final = itemgetter(1)


def unpack_head(packed: Packed) -> list[tuple[bytes, bytes]]:
    """The pairs :func:`pack_head` packed, as they were."""
    if isinstance(packed, list):
        return packed
    if not packed:
        return []
    # A comprehension: a quarter cheaper than map(tuple, map(split...)) on Python 3.11.
    return [tuple(line.split(_NAME_END, 1)) for line in packed.split(_LINE_END)]  # type: ignore[misc]


def header_value(packed: Packed, name: bytes) -> bytes | None:
    """The value of the first header called ``name`` (lower-case, no colon or line end)
    in a head :func:`pack_head` packed, or None: without unpacking it (a name starts the
    head or follows a line end, and no value holds a line end)."""
    if isinstance(packed, list):
        for key, value in packed:
            if key.lower() == name:
                return value
        return None
    return _packed_value(packed, _LINE_END + packed.lower(), _LINE_END + name + _NAME_END)


def _packed_value(packed: bytes, lowered: bytes, line_start: bytes) -> bytes | None:
    """The value on the first line of ``packed`` that starts with ``line_start`` (LF,
    name, colon), found in ``lowered`` (LF + ``packed`` lower-cased), or None."""
    at = lowered.find(line_start)
    if at < 0:
        return None
    start = at + len(line_start) - 1  # lowered has one byte more, in front
    end = packed.find(_LINE_END, start)
    return packed[start:] if end < 0 else packed[start:end]


def body_headers(raw_headers: list[tuple[bytes, bytes]]) -> tuple[str, bytes | None]:
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


#: The headers a provider names its request id in, first match wins: OpenAI and most
#: OpenAI-compatible servers, Anthropic, AWS (Bedrock), Azure's API management. Not
#: ``cf-ray``: it names a Cloudflare edge hop, not the provider's request.
REQUEST_ID_HEADERS: Final = (
    b"x-request-id",
    b"request-id",
    b"x-amzn-requestid",
    b"apim-request-id",
)

# Never copied out of the head, whatever the redactor knows: a session cookie is a
# credential the endpoint did not send, so no secret list could catch it.
_NEVER_SHOWN: Final = frozenset({"set-cookie", "set-cookie2", "cookie"})


# Where each of REQUEST_ID_HEADERS starts a line of a packed head (header_value's form).
_REQUEST_ID_LINES: Final = tuple(_LINE_END + name + _NAME_END for name in REQUEST_ID_HEADERS)


def head_request_id(packed: Packed) -> str | None:
    """:func:`request_id` of a head :func:`pack_head` packed, without unpacking it: the
    first value of each name in turn, unless one is blank (the next value of that name
    may then be the id: the whole head is read)."""
    if isinstance(packed, list):
        return request_id(packed)
    lowered = _LINE_END + packed.lower()
    for line_start in _REQUEST_ID_LINES:
        value = _packed_value(packed, lowered, line_start)
        if value is not None:
            return value.decode("latin-1").strip() or request_id(unpack_head(packed))
    return None


def request_id(raw_headers: list[tuple[bytes, bytes]]) -> str | None:
    """The provider's request id from a response head (:data:`REQUEST_ID_HEADERS`)."""
    found: dict[bytes, str] = {}
    for name, value in raw_headers:
        key = name.lower()
        if key in REQUEST_ID_HEADERS and key not in found:
            text = value.decode("latin-1").strip()
            if text:  # an empty one names nothing: the next header may
                found[key] = text
    for key in REQUEST_ID_HEADERS:
        if key in found:
            return found[key]
    return None


def _shown_name(name: bytes) -> str | None:
    """The name a header is shown under (lower-case), or None when it is never shown."""
    if name.lower() in _FRAMING:  # how this hop framed the body: the same via both doors
        return None
    key = name.decode("latin-1").lower()
    # Rate-limit headers name "tokens" (x-ratelimit-remaining-tokens) and are wanted.
    if key in _NEVER_SHOWN or (is_credential_name(key) and "ratelimit" not in key):
        return None
    return key


# _shown_name's answers: every call shows its head, and a provider sends the same 15-25
# names every time. Bounded: a server inventing names fills it, then they are computed.
_SHOWN_NAMES: Final[dict[bytes, str | None]] = {}
_MAX_SHOWN_NAMES: Final = 1024


def visible_headers(
    raw_headers: list[tuple[bytes, bytes]], redact: Redactor
) -> tuple[tuple[str, str], ...]:
    """The response headers safe to show: lower-case names, values through ``redact``;
    cookies, credential-named headers (``authorization``, ``x-api-key``...) and the
    framing headers left out."""
    known = _SHOWN_NAMES
    out = []
    for name, value in raw_headers:
        try:
            key = known[name]
        except KeyError:
            key = _shown_name(name)
            if len(known) < _MAX_SHOWN_NAMES:
                known[name] = key
        if key is not None:
            out.append((key, value.decode("latin-1")))
    # Every call shows its head (Completion.headers): one scan of all the values finds
    # that none holds a secret, the common case; otherwise each value is redacted.
    if redact.leaks("\n".join(map(_value_of, out))):
        out = [(key, redact(value)) for key, value in out]
    return tuple(out)


# The standard reason phrases (RFC 9110) of the statuses providers send, for a framed
# door that is given a status without its phrase: the error message then reads as it
# does through the raw door.
_REASONS: Final = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    402: "Payment Required",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    409: "Conflict",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    424: "Failed Dependency",
    429: "Too Many Requests",
    500: "Internal Server Error",
    501: "Not Implemented",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def reason_phrase(status: int) -> str:
    """The standard reason phrase of ``status``, or ``""``."""
    return _REASONS.get(status, "")
