"""The interface every dialect implements, and the small helpers they share.

A dialect is one wire format (OpenAI chat completions, Anthropic Messages, ...), client
side: it knows how to build the request and how to turn a response body into events. It
knows nothing about sockets, nothing about other dialects, and nothing about the replay
server (the provider's side of the wire is :mod:`libchatty.replay`).

Per-response state lives in a :class:`StreamDecoder`, made fresh for every call.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from dataclasses import field
from typing import TYPE_CHECKING, Any, ClassVar

from ..accumulate import Accumulator
from ..endpoint import Endpoint
from ..events import Error, Event, Usage
from ..exceptions import RemoteProtocolError
from ..request import ChatRequest
from ..sse import ServerSentEvent
from ..values import Value, frozen

if TYPE_CHECKING:
    from datetime import datetime

    from ..eventstream import EventStreamMessage
    from ..httperrors import Headers

__all__ = [
    "Dialect",
    "HTTPRequest",
    "RequestSpec",
    "StreamDecoder",
    "compact_json",
    "dumps",
    "get_int",
    "json_object",
    "make_usage",
    "synthetic_call_id",
]


def dumps(value: Any) -> bytes:
    """Compact JSON as UTF-8 bytes (non-ASCII kept as is, as providers accept)."""
    global _encode
    if _encode is None:  # with the first request, not at import
        import json

        # One encoder for every request: json.dumps with options builds a new one per
        # call (a quarter of what writing a request body costs).
        _encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
    return _encode(value).encode()


_encode: Callable[[Any], str] | None = None


def compact_json(value: Any, provider: str, what: str) -> str:
    """``value`` -- an object the provider sent where libchatty exposes JSON text (tool
    arguments as an object: Anthropic, Gemini, Ollama) -- as compact JSON text.

    Straight to ``str``: a lone surrogate the provider escaped stays representable.
    Nesting deeper than the interpreter allows is the provider's fault, reported as
    :class:`~libchatty.exceptions.RemoteProtocolError` naming ``provider`` and ``what``.
    """
    import json

    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    except RecursionError:
        raise RemoteProtocolError(f"{provider} {what} is nested too deeply") from None


def json_object(value: Any, provider: str, what: str) -> dict[str, Any]:
    """``value`` when it is a JSON object, else a RemoteProtocolError naming ``provider``
    and ``what``. Parsed JSON objects are always dicts: an exact type check is much
    cheaper than ``isinstance`` against the Mapping ABC, and this runs on every event."""
    if type(value) is not dict:
        raise RemoteProtocolError(f"{provider} {what} is not a JSON object")
    return value


def get_int(mapping: Any, key: str) -> int | None:
    """``mapping[key]`` when it is an int (not a bool), else None: usage fields are
    optional and sometimes null."""
    if not isinstance(mapping, Mapping):
        return None
    value = mapping.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def make_usage(
    input_tokens: int | None,
    output_tokens: int | None,
    total_tokens: int | None = None,
    reasoning_tokens: int | None = None,
    cached_tokens: int | None = None,
) -> Usage | None:
    """A :class:`Usage`, or None when the provider sent no counts at all. The total is
    derived from input + output when the provider did not send it."""
    if input_tokens is None and output_tokens is None and total_tokens is None:
        return None
    if total_tokens is None and input_tokens is not None and output_tokens is not None:
        total_tokens = input_tokens + output_tokens
    return Usage(input_tokens, output_tokens, total_tokens, reasoning_tokens, cached_tokens)


def synthetic_call_id(response: str, index: int, name: str, arguments: str) -> str:
    """An id for a tool call whose provider sent none (Gemini, Ollama), so that every
    ``ToolCall`` the library returns has one and a tool result can name its call.

    Deterministic -- the same bytes give the same id, whatever the chunk split, streamed
    or not -- and, because ``response`` identifies the response (Gemini's ``responseId``,
    Ollama's ``created_at``) and ``index`` the call within it, distinct across the turns
    of a conversation. ``call_`` and 24 hex digits: a shape every provider accepts as a
    tool call id, should the conversation move to one that has ids. Dialects without ids
    never send it back: they match results to calls by name.
    """
    # Imported here: hashlib loads OpenSSL's libcrypto (~2.5 ms and ~4 MB of RSS per
    # process), and only Gemini and Ollama tool calls without ids need it.
    import hashlib

    digest = hashlib.sha256(
        f"{response}\0{index}\0{name}\0{arguments}".encode("utf-8", "surrogatepass")
    )
    return "call_" + digest.hexdigest()[:24]


@frozen
class RequestSpec(Value):
    """What a dialect wants sent (``target``: path and query). The
    :class:`~libchatty.call.Call` adds ``Host``,
    ``Content-Type``, ``Content-Length``, ``Accept``, ``Accept-Encoding`` and
    ``User-Agent``; ``headers`` holds the dialect's own (auth, version...).

    A frozen slotted value (:mod:`libchatty.values`), not a dataclass: the same
    behaviour without the dataclass machinery at import."""

    method: str
    target: str
    headers: tuple[tuple[str, str], ...] = field(repr=False)
    body: bytes = field(repr=False)

    def __repr__(self) -> str:
        # Header values carry the API key (Authorization, x-api-key, x-goog-api-key...):
        # show only the names.
        names = ", ".join(name for name, _ in self.headers)
        return (
            f"RequestSpec(method={self.method!r}, target={self.target!r}, "
            f"headers=[{names}], body=<{len(self.body)} bytes>)"
        )


# The name dialects were written against; libchatty.HTTPRequest is the framed door's
# request (libchatty.callhead), a different thing.
HTTPRequest = RequestSpec


class StreamDecoder(ABC):
    """The state of one streamed response.

    The call hands it each SSE event (or each NDJSON value, or each AWS event stream
    message) in order and, when the body ends, calls :meth:`end`. Methods return the
    events to emit: ``Delta`` events and at most one terminal ``Done``/``Error``, which
    must come last. Once a terminal event has been returned the call stops feeding this
    decoder.

    Wire data of the wrong shape must raise
    :class:`~libchatty.exceptions.RemoteProtocolError` saying what was expected (a bound
    exceeded: :class:`~libchatty.exceptions.LimitExceeded`): the call turns those into
    ``Error("protocol")`` (``Error("limit")``) carrying ``acc.partial``. Any other
    exception is a bug in the dialect and propagates out of the call unchanged.
    """

    acc: Accumulator

    def __init__(self) -> None:
        self.acc = Accumulator()

    def sse_event(self, event: ServerSentEvent) -> list[Event]:
        raise RemoteProtocolError("this provider does not stream server-sent events")

    def message_data(self, payload: bytes) -> list[Event] | None:
        """A shortcut some decoders take for the events LLM streams send most: the
        events of a whole SSE event of type ``message`` whose data is ``payload``
        (undecoded UTF-8), or None when the decoder has no shortcut for it. The call
        takes it for a read that is one such event (the live shape) and for each event
        of a read of many that are all such (the SSE decoder's ``undecoded_messages``).
        After None the call hands the decoded event to :meth:`sse_event` next (the
        decoder may keep what it parsed of it for that call, and nothing else); a list
        must be exactly what :meth:`sse_event` returns, and holds deltas only. Never
        raises."""
        return None

    def sse_field(self, name: str, value: str) -> None:
        """An SSE field the spec does not know (e.g. llama.cpp's ``error:`` line). Most
        dialects ignore them."""
        return None

    def json_line(self, value: Any) -> list[Event]:
        raise RemoteProtocolError("this provider does not stream JSON lines")

    def stream_message(self, message: EventStreamMessage) -> list[Event]:
        raise RemoteProtocolError("this provider does not stream AWS event stream messages")

    @abstractmethod
    def end(self) -> Event:
        """The body ended. ``Done`` if the stream reached its proper end, otherwise
        ``Error("incomplete", partial=...)`` (or the error the stream announced)."""


class Dialect(ABC):
    """One wire format. Instances are stateless and shared."""

    #: The ``Endpoint.dialect`` name.
    name: ClassVar[str]
    #: How its streams are framed: ``"sse"``, ``"ndjson"`` or ``"eventstream"`` (AWS
    #: event stream, ``application/vnd.amazon.eventstream``: Bedrock).
    framing: ClassVar[str] = "sse"

    # --- the client side ----------------------------------------------------------------
    @abstractmethod
    def build_request(self, endpoint: Endpoint, request: ChatRequest) -> RequestSpec:
        """The request for ``request`` at ``endpoint``: exact bytes the provider accepts.
        The streaming switch follows ``request.stream``."""

    def sign_request(
        self,
        http_request: RequestSpec,
        endpoint: Endpoint,
        now: datetime | None,
        sent_headers: Iterable[tuple[str, str]] = (),
    ) -> list[tuple[str, str]]:
        """Headers that sign ``http_request`` (sent with ``sent_headers``) at ``now``;
        most dialects sign nothing. A dialect that must sign and has no ``now`` raises
        :class:`~libchatty.exceptions.LocalProtocolError`."""
        return []

    def decode_error(
        self, status: int, reason: str, headers: Headers, body: bytes, partial: str = ""
    ) -> Error:
        """The ``Error`` for a non-2xx response (``body``: its bounded start). The shared
        reading (:func:`~libchatty.httperrors.error_from_response`) unless the provider
        names its errors elsewhere (Bedrock: ``x-amzn-ErrorType``)."""
        # Imported here: only an error response needs it (~0.4 ms of start-up otherwise).
        from ..httperrors import error_from_response

        return error_from_response(status, reason, headers, body, partial)

    #: The class of its stream decoders (built with no arguments), unless the dialect
    #: overrides :meth:`stream_decoder` to build one from the request.
    decoder: ClassVar[type[StreamDecoder]]

    def stream_decoder(self, request: ChatRequest) -> StreamDecoder:
        """A fresh decoder for one streamed response."""
        return self.decoder()

    @abstractmethod
    def decode_body(self, body: Any) -> list[Event]:
        """A whole (non-streamed) JSON response, already parsed: one ``Delta`` per
        choice with text (and per reasoning/tool call), then ``Done``. Used both for
        ``stream=False`` and for a server that answered a stream request with JSON."""
