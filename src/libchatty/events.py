"""The events a :class:`~libchatty.call.Call` hands back: ``Delta``, ``Done``, ``Error``.

Frozen and slotted: cheap to build on the hot path, safe to share between threads.
They are :class:`~libchatty.values.Value` classes rather than ``@dataclass`` ones: the
same behaviour (``==``, ``hash``, ``repr``, pickling, immutability; ``dataclasses``'
``replace``, ``fields``, ``asdict`` and ``is_dataclass`` work on them) without ~4 ms of
dataclass machinery at import (issue 14), and a ``Delta`` is built as fast as by a
hand-written ``__init__``.
A response yields any number of ``Delta`` events and then exactly one terminal event,
``Done`` or ``Error``; nothing follows a terminal event.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import field
from typing import Any, Final

from .values import Value, frozen

__all__ = [
    "DELTA_KINDS",
    "ERROR_KINDS",
    "RETRYABLE_STATUSES",
    "Citation",
    "Delta",
    "Done",
    "Error",
    "Event",
    "ToolCall",
    "Usage",
]

#: What a :class:`Delta` carries.
DELTA_KINDS: Final = frozenset({"text", "reasoning", "tool_call", "refusal"})

#: Every ``Error.kind``. The first group comes from the core, the second from bindings.
ERROR_KINDS: Final = frozenset(
    {
        "bad_request",  # 400, 413, 422 and other 4xx not named below
        "auth",  # 401
        "billing",  # 402
        "permission",  # 403
        "not_found",  # 404
        "redirect",  # 3xx: never followed, the key could leak to another host
        "rate_limit",  # 429
        "overloaded",  # 503, 529, provider "overloaded" events
        "server",  # other 5xx
        "provider",  # an error reported inside a 200 stream
        "protocol",  # malformed HTTP, SSE or JSON
        "incomplete",  # the stream ended before its terminal marker
        "limit",  # a configured bound was exceeded
        "timeout",
        "connection",
        "callback",
        "cancelled",
    }
)

#: HTTP statuses worth retrying (the request may succeed unchanged later).
RETRYABLE_STATUSES: Final = frozenset({408, 409, 429, 500, 502, 503, 504, 529})


@frozen
class Delta(Value):
    """A piece of output as it arrives.

    ``kind`` is ``"text"`` (answer text), ``"reasoning"``, ``"tool_call"`` (``text`` is
    a fragment of the arguments) or ``"refusal"``. ``index`` is the choice index for
    text, reasoning and refusals, and the tool-call index for tool calls.
    ``tool_call_id`` and ``tool_name`` are set on a tool call's first fragment (and
    whenever the provider repeats them).
    """

    text: str
    kind: str = "text"
    index: int = 0
    tool_call_id: str | None = None
    tool_name: str | None = None


@frozen
class ToolCall(Value):
    """A complete tool call: ``arguments`` is the JSON text the model produced.

    ``signature`` is an opaque token some providers attach to a call (Gemini's
    ``thoughtSignature``) and require back, unchanged, when the call is replayed in the
    conversation; None when the provider sent none.
    """

    id: str | None
    name: str
    arguments: str
    signature: str | None = None


@frozen
class Usage(Value):
    """Token counts as the provider reported them (never invented)."""

    input_tokens: int | None
    output_tokens: int | None
    total_tokens: int | None
    reasoning_tokens: int | None = None
    cached_tokens: int | None = None


@frozen
class Citation(Value):
    """A span of the answer (``start``..``end``, ``text``) grounded in ``sources`` (the
    provider's source objects, e.g. Cohere's ``{"type": "document"|"tool", "id",
    "document"|"tool_output"}``). ``type`` is the provider's kind of span (Cohere:
    ``TEXT_CONTENT`` or ``THINKING_CONTENT``) when sent."""

    start: int | None
    end: int | None
    text: str
    sources: tuple[Mapping[str, Any], ...] = field(default=(), hash=False)  # dicts
    type: str | None = None


@frozen
class Done(Value):
    """The successful end of a response.

    ``finish_reason`` is normalised to ``"stop"``, ``"length"``, ``"tool_calls"`` or
    ``"content_filter"`` where the provider's value maps to one (anything else passes
    through); ``raw_finish_reason`` is the value on the wire. ``text`` and ``reasoning``
    are the complete text of choice 0; ``refusal`` the refusal text, if any.
    ``choices`` holds the complete answer text of every choice when ``n > 1``.
    ``reasoning_signature`` is the opaque signature of the reasoning (Anthropic's
    thinking-block ``signature``), which the provider requires back with the reasoning
    when the turn is replayed (extended thinking with tool use); None when none was sent.
    ``response_id`` and ``model`` are what the server reported (the response's id and
    the model that answered, which may differ from the one asked for); None when it sent
    none. ``citations`` are the spans of the answer the provider grounded in sources
    (Cohere), in arrival order.
    """

    finish_reason: str | None
    text: str
    reasoning: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    usage: Usage | None = None
    raw_finish_reason: str | None = None
    refusal: str = ""
    choices: tuple[str, ...] = ()
    reasoning_signature: str | None = None
    response_id: str | None = None
    model: str | None = None
    citations: tuple[Citation, ...] = ()


@frozen
class Error(Value):
    """The unsuccessful end of a response. Nothing received is lost: ``partial`` holds
    the answer text that arrived before the error.

    ``kind`` is one of :data:`ERROR_KINDS`. ``status`` is the HTTP status when there was
    one. ``retry_after`` is in seconds, from ``Retry-After``, the provider's rate-limit
    headers or its body; ``retry_after_date`` is an HTTP-date ``Retry-After`` passed
    through for the binding to resolve with its clock. ``retryable`` says whether the
    same request could succeed later. ``provider_type`` is the provider's own error
    type or code (e.g. ``"overloaded_error"``), when it sent one. ``request_id`` is the
    provider's id for the request, from the response head (``x-request-id``,
    ``request-id``, ``x-amzn-requestid``, ``apim-request-id``: the first found), and
    ``headers`` the response head (lower-case names) without cookies or credential
    headers: what a support ticket or a log line needs. Neither takes part in ``==``.

    An ``Error`` from a :class:`~libchatty.call.Call` never holds a credential the
    request carried (the API key, credential headers, a proxy password), nor a fragment
    of 8 or more characters of one, in ``message``, ``provider_type`` or
    ``retry_after_date``: servers echo keys, and the call removes them. ``partial`` is
    the model's answer as delivered in deltas, and is never rewritten.
    """

    kind: str
    message: str
    status: int | None = None
    retry_after: float | None = None
    retryable: bool = False
    partial: str = ""
    provider_type: str | None = None
    retry_after_date: str | None = None
    # Metadata of the response, not of the failure: left out of ==, so the same failure
    # read from two responses compares equal (and out of the repr: a head is long).
    request_id: str | None = field(default=None, compare=False)
    headers: tuple[tuple[str, str], ...] = field(default=(), compare=False, repr=False)


Event = Delta | Done | Error
