"""What every client dialect does the same way, written once.

* **Shapes** (:func:`expect_object`, :func:`optional_str`, :func:`expect_list`,
  :func:`expect_int`): a check where the wire can be wrong, raising a
  :class:`~libchatty.exceptions.RemoteProtocolError` that says what was expected. A dialect
  never lets ``KeyError``/``TypeError`` out of a wrong shape: those are our bugs.
* **Staging** (:class:`Staged`): the pieces of one wire event are collected while its
  fields are checked and reach the accumulator only once every field passed, so a bad
  later field never leaves text in ``Error.partial`` that no ``Delta`` carried.
* **In-stream errors** (:func:`stream_error`): one mapper from a provider's error payload
  to an ``Error``, driven by each dialect's table ``provider_type -> (kind, retryable)``.
* **Requests**: auth headers (:func:`auth_headers`; the caller's own headers win), tool
  arguments as a JSON object (:func:`arguments_object`), sampling-option renames
  (:func:`sampling`), the one place a message's content becomes text
  (:func:`message_text`), tool results in the user turn (:func:`turns_joining_results`).
* **Refusals** worded once: ``n`` above 1 where a provider answers once
  (:func:`refuse_n`), a content part a provider cannot take (:func:`part_name`), and a
  tool call without the id a provider matches its result by (:func:`sendable_calls`).
* **Reasoning budgets** of the APIs that take tokens, not an effort
  (:data:`THINKING_BUDGETS`, :func:`thinking_budget`).
* **Endpoints and headers**: Vertex AI locations (:func:`is_vertex`), the request's own
  headers after the dialect's (:func:`with_request_headers`, :func:`bearer_headers`).
* **Ends and metadata**: a stream stopped early (:func:`incomplete`, :class:`MessageStreamDecoder`),
  a response's ``id``/``model`` (:func:`response_meta`, :func:`with_meta`).
* **Error bodies**: their JSON object, best effort (:func:`object_or_empty`; the readers
  are in :mod:`.error_bodies`; :func:`openai_error` loads the OpenAI dialects' with the
  first error); **limits** shared by every dialect (:data:`MAX_MESSAGE`,
  :data:`MAX_TOOL_CALLS`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Final

from ..accumulate import Accumulator
from ..endpoint import Endpoint
from ..events import Delta, Done, Error, Event, ToolCall
from ..exceptions import RemoteProtocolError
from ..jsonload import JSONDecodeError, loads
from ..request import ChatRequest, Message, Tool
from ..sse import ServerSentEvent
from ..values import replaced
from .base import StreamDecoder

if TYPE_CHECKING:
    from ..httperrors import Headers

__all__ = [
    "ANSWER_TOKENS",
    "MAX_MESSAGE",
    "MAX_TOOL_CALLS",
    "THINKING_BUDGETS",
    "ErrorTable",
    "MessageStreamDecoder",
    "Staged",
    "arguments_object",
    "auth_headers",
    "bearer",
    "bearer_headers",
    "event_kind",
    "event_payload",
    "expect_int",
    "expect_list",
    "expect_object",
    "function_call",
    "function_tool",
    "incomplete",
    "is_vertex",
    "maybe_str",
    "message_text",
    "object_or_empty",
    "openai_error",
    "optional_str",
    "part_name",
    "refuse_n",
    "response_meta",
    "sampling",
    "sendable_calls",
    "stream_error",
    "thinking_budget",
    "turns_joining_results",
    "with_meta",
    "with_request_headers",
]

#: Error messages are for humans; a provider that sends megabytes gets them cut here.
MAX_MESSAGE: Final = 2000
#: Tool calls per response: far above what any model emits, low enough to bound memory.
MAX_TOOL_CALLS: Final = 1024
# A provider's error type is a short identifier.
_MAX_TYPE: Final = 100
# What _parsed returns for text that is not JSON (not None: that is JSON's null).
_NOT_JSON: Final = object()

#: ``Reasoning.effort`` -> thinking budget (tokens), for the APIs that take a budget and
#: no effort: Anthropic (direct, on Vertex and on Bedrock) and Cohere.
THINKING_BUDGETS: Final = {"low": 2048, "medium": 8192, "high": 24576}
#: Answer tokens on top of the thinking budget when the caller set no ``max_tokens``
#: (Anthropic counts thinking in ``max_tokens``, which must exceed the budget).
ANSWER_TOKENS: Final = 4096
# A Vertex AI base URL: .../projects/{project}/locations/{location}. A pattern, not a
# compiled one: only a Vertex endpoint reads it (re's cache compiles it on first use).
_VERTEX_PREFIX: Final = r"(?:^|/)projects/[^/]+/locations/[^/]+$"

#: A dialect's in-stream error types: ``provider_type -> (kind, retryable)``.
ErrorTable = Mapping[str, tuple[str, bool]]


# --- shapes ---------------------------------------------------------------------------------
def expect_object(value: Any, what: str) -> dict[str, Any]:
    """``value`` when it is a JSON object. Parsed JSON objects are always dicts: an exact
    type check is much cheaper than ``isinstance`` against the Mapping ABC."""
    if type(value) is not dict:
        raise RemoteProtocolError(f"{what} is not a JSON object")
    return value


def optional_str(value: Any, what: str) -> str:
    """``value`` when it is a string, ``""`` when it is null or absent."""
    if value is None:
        return ""
    if type(value) is not str:
        raise RemoteProtocolError(f"{what} is not a string")
    return value


def expect_list(value: Any, what: str) -> list[Any]:
    """``value`` when it is a list, ``[]`` when it is null or absent."""
    if value is None:
        return []
    if type(value) is not list:
        raise RemoteProtocolError(f"{what} is not a list")
    return value


def maybe_str(mapping: Mapping[str, Any], key: str, what: str) -> str | None:
    """``mapping[key]``: a string, or None when null or absent (:func:`optional_str`
    reads both as ``""``)."""
    value = mapping.get(key)
    return None if value is None else optional_str(value, f"{what}.{key}")


def expect_int(value: Any, what: str, limit: int) -> int:
    """``value`` when it is an int in ``0 <= value < limit`` (a bool is not an int)."""
    if type(value) is not int or not 0 <= value < limit:
        raise RemoteProtocolError(f"{what} is not an integer below {limit}")
    return value


def _parsed(text: str | bytes) -> Any:
    """``text`` as JSON, or ``_NOT_JSON``."""
    try:
        return loads(text)
    except JSONDecodeError:
        return _NOT_JSON


def event_payload(event: ServerSentEvent, provider: str) -> dict[str, Any]:
    """The JSON object a named server-sent event carries (Anthropic, Cohere)."""
    value = _parsed(event.data)
    if type(value) is not dict:
        what = "carries data that is not JSON" if value is _NOT_JSON else "is not a JSON object"
        raise RemoteProtocolError(f"{provider} event {event.event[:40]!r} {what}")
    return value


def event_kind(payload: Mapping[str, Any], event: ServerSentEvent) -> str:
    """What an event is: its data's ``type`` (authoritative), else its ``event:`` name."""
    kind = payload.get("type")
    return kind if type(kind) is str else event.event


# --- staging ----------------------------------------------------------------------------------
_Step = tuple[Callable[..., Delta | None], tuple[Any, ...]]


class Staged:
    """The accumulator calls of one wire event, held until the event is fully checked.

    The methods mirror those of :class:`~libchatty.accumulate.Accumulator` that the
    staging dialects call (Gemini, Ollama, OpenAI Responses); :meth:`commit` makes the
    calls in order and returns the deltas they made. Not for the hot path: a plain
    text event goes straight to the accumulator (it has no later field to fail)."""

    __slots__ = ("_steps",)

    def __init__(self) -> None:
        self._steps: list[_Step] = []

    def text(self, piece: str, index: int = 0) -> None:
        self._steps.append((Accumulator.text, (piece, index)))

    def reasoning(self, piece: str, index: int = 0) -> None:
        self._steps.append((Accumulator.reasoning, (piece, index)))

    def refusal(self, piece: str, index: int = 0) -> None:
        self._steps.append((Accumulator.refusal, (piece, index)))

    def tool_call(
        self, index: int, fragment: str, id: str | None = None, name: str | None = None
    ) -> None:
        self._steps.append((Accumulator.tool_call, (index, fragment, id, name)))

    def set_tool_signature(self, index: int, signature: str) -> None:
        self._steps.append((Accumulator.set_tool_signature, (index, signature)))

    def commit(self, acc: Accumulator) -> list[Event]:
        out: list[Event] = []
        for method, args in self._steps:
            delta = method(acc, *args)
            if delta is not None:
                out.append(delta)
        self._steps.clear()
        return out


# --- in-stream errors -------------------------------------------------------------------------
def stream_error(
    acc: Accumulator,
    message: Any,
    provider_type: Any,
    table: ErrorTable,
    *,
    default: str,
    retry_words: Iterable[str] = (),
    retryable: bool = False,
) -> Error:
    """The ``Error`` (status 200: the stream's) for an error the provider reported inside
    a successful response. ``message`` and ``provider_type`` are as the wire sent them
    (anything not a non-empty string is ignored; an int type, e.g. a status code, is
    kept as text). ``table`` gives the kind and retryability of known types; an unknown
    type is a ``"provider"`` error, retryable when it contains one of ``retry_words``
    (or when the caller knows better: ``retryable``, e.g. from a retryable status code)."""
    text = message if type(message) is str and message else default
    if type(provider_type) is int:
        provider_type = str(provider_type)
    name = provider_type[:_MAX_TYPE] if type(provider_type) is str and provider_type else None
    kind, known = table.get(name or "", ("provider", False))
    if name is not None and name not in table:
        lowered = name.lower()
        known = any(word in lowered for word in retry_words)
    retryable = known or retryable
    return acc.error(kind, text[:MAX_MESSAGE], status=200, retryable=retryable, provider_type=name)


# --- requests ---------------------------------------------------------------------------------
def auth_headers(endpoint: Endpoint, *own: tuple[str, str | None]) -> tuple[tuple[str, str], ...]:
    """The dialect's own headers (``("x-api-key", key)``...; a None or empty value is left
    out) unless the endpoint's headers already name them -- the caller's win -- followed
    by the endpoint's headers."""
    given = {name.lower() for name in endpoint.headers}
    headers = [(name, value) for name, value in own if value and name.lower() not in given]
    headers.extend(endpoint.headers.items())
    return tuple(headers)


def bearer(endpoint: Endpoint) -> tuple[tuple[str, str], ...]:
    """``Authorization: Bearer <key>`` (when there is a key) and the endpoint's headers."""
    key = endpoint.api_key
    return auth_headers(endpoint, ("Authorization", f"Bearer {key}" if key else None))


def bearer_headers(endpoint: Endpoint, request: ChatRequest) -> tuple[tuple[str, str], ...]:
    """:func:`bearer`'s headers, then the request's own (:func:`with_request_headers`)."""
    return with_request_headers(bearer(endpoint), request)


def arguments_object(arguments: str, name: str, provider: str) -> dict[str, Any]:
    """A tool call's JSON arguments as the object a provider wants back (``{}`` when
    empty); ``ValueError`` naming the call when they are not a JSON object."""
    if not arguments.strip():
        return {}
    value = _parsed(arguments)
    if value is _NOT_JSON:
        raise ValueError(
            f"the arguments of tool call {name!r} are not valid JSON ({provider} needs an object)"
        )
    if type(value) is not dict:
        raise ValueError(f"the arguments of tool call {name!r} are not a JSON object")
    return value


def sampling(request: ChatRequest, names: Mapping[str, str]) -> dict[str, Any]:
    """The request's sampling options that are set, under the provider's names, in the
    order of ``names``: it maps ``temperature``, ``top_p``, ``max_tokens`` and ``stop``
    (a list) to the wire's keys; an option the mapping leaves out is not sent."""
    values = {
        "temperature": request.temperature,
        "top_p": request.top_p,
        "max_tokens": request.max_tokens,
        "stop": list(request.stop_list) or None,
    }
    return {wire: values[key] for key, wire in names.items() if values[key] is not None}


def message_text(message: Message, provider: str) -> str:
    """The one place a dialect turns a message's content into text. A content part that
    is not text cannot be sent yet: ``ValueError`` naming the provider and the part."""
    content = message.content
    if content is None or type(content) is str:
        return content or ""
    from ..content import TextPart  # loaded already: the parts are its classes

    for part in content:
        if not isinstance(part, TextPart):
            raise ValueError(
                f"{provider} messages carry text only here; {part_name(part)} "
                f"in a {message.role} message cannot be sent"
            )
    return message.text


def turns_joining_results(
    messages: Iterable[Message],
    result: Callable[[Message], dict[str, Any]],
    joined: Callable[[Message], list[dict[str, Any]]],
    turn: Callable[[Message], dict[str, Any]],
) -> tuple[list[Message], list[dict[str, Any]]]:
    """``(system and developer messages, turns)`` for an API that takes system text apart
    and tool results as blocks of a user turn (Anthropic, Bedrock): consecutive results
    share one user turn, which a user message directly after them joins with its
    ``joined`` blocks (roles alternate); any other message is its own ``turn``."""
    system: list[Message] = []
    turns: list[dict[str, Any]] = []
    results: list[dict[str, Any]] | None = None  # the open user turn holding tool results
    for message in messages:
        if message.role in ("system", "developer"):
            system.append(message)
        elif message.role == "tool":
            if results is None:
                results = []
                turns.append({"role": "user", "content": results})
            results.append(result(message))
        elif message.role == "user" and results is not None:
            results.extend(joined(message))
            results = None
        else:
            results = None
            turns.append(turn(message))
    return system, turns


def sendable_calls(message: Message, provider: str) -> tuple[ToolCall, ...]:
    """An assistant message's tool calls, each checked to carry the id ``provider``
    matches its result by: a call without one is a ``ValueError`` naming it."""
    for call in message.tool_calls:
        if not call.id:
            raise ValueError(
                f"tool call {call.name!r} has no id; {provider} needs one to match its result"
            )
    return message.tool_calls


def part_name(part: object) -> str:
    """``"an ImagePart"``, ``"a DocumentPart"``: a content part in a refusal."""
    name = type(part).__name__
    return f"{'an' if name[0] in 'AEIOU' else 'a'} {name}"


def refuse_n(request: ChatRequest, provider: str) -> None:
    """``ValueError`` naming ``provider`` when ``request.n`` asks for several answers
    from an API that gives one."""
    if request.n is not None and request.n > 1:
        raise ValueError(f"{provider} returns one answer per request: ChatRequest.n must be 1")


def thinking_budget(request: ChatRequest, provider: str, where: str = "") -> tuple[int, int]:
    """``(budget, max_tokens)`` of a request with ``reasoning``, for an API where thinking
    counts in ``max_tokens`` (Anthropic's): the budget is ``Reasoning.budget_tokens``,
    else :data:`THINKING_BUDGETS` of the effort (``medium`` when neither is set);
    ``max_tokens`` is the caller's, or the budget plus :data:`ANSWER_TOKENS`. A
    ``max_tokens`` at or below the budget is a ``ValueError``: the caller's limit is
    never raised silently."""
    reasoning = request.reasoning
    budget = (reasoning.budget(THINKING_BUDGETS) if reasoning else None) or THINKING_BUDGETS[
        "medium"
    ]
    if request.max_tokens is None:
        return budget, budget + ANSWER_TOKENS
    if request.max_tokens <= budget:
        raise ValueError(
            f"{provider} needs max_tokens ({request.max_tokens}) above the thinking budget "
            f"({budget}){where}: raise max_tokens or lower the reasoning effort or budget_tokens"
        )
    return budget, request.max_tokens


def function_tool(tool: Tool) -> dict[str, Any]:
    """A tool as OpenAI chat completions declares it (Ollama and Cohere copy the shape):
    ``{"type": "function", "function": {"name", "description", "parameters"}}``."""
    function = {"name": tool.name, "description": tool.description}
    return {"type": "function", "function": {**function, "parameters": dict(tool.parameters)}}


def function_call(call: ToolCall, arguments: str) -> dict[str, Any]:
    """A tool call, with ``arguments`` as its JSON text, as OpenAI chat completions sends
    it back (Cohere copies the shape): ``{"id", "type": "function", "function": {...}}``."""
    function = {"name": call.name, "arguments": arguments}
    return {"id": call.id, "type": "function", "function": function}


def is_vertex(endpoint: Endpoint) -> bool:
    """Whether ``endpoint``'s base URL is a Vertex AI project location (it ends in
    ``/projects/{project}/locations/{location}``)."""
    return re.search(_VERTEX_PREFIX, endpoint.path_prefix) is not None


def with_request_headers(
    headers: tuple[tuple[str, str], ...], request: ChatRequest
) -> tuple[tuple[str, str], ...]:
    """``headers`` then the request's own; one of the request's replaces a header of
    the same name (ignoring case), so no header is sent twice."""
    own = request.headers
    if not own:
        return headers
    names = {name.lower() for name in own}
    kept = [(name, value) for name, value in headers if name.lower() not in names]
    return (*kept, *own.items())


# --- ends and metadata --------------------------------------------------------------------------
def incomplete(acc: Accumulator, stream: str, awaited: str, status: int | None = None) -> Error:
    """The ``Error("incomplete")`` of ``stream`` (``"the Ollama stream"``), which ended
    before ``awaited``: the event that would have ended it."""
    return acc.error("incomplete", f"{stream} ended before {awaited}", status=status)


class MessageStreamDecoder(StreamDecoder):
    """A stream that brackets one message between an opening and a closing event
    (Anthropic, Cohere, Bedrock): a body that ends before the closing one is incomplete,
    naming it -- or the opening one, if a subclass never set ``_started`` on its arrival."""

    #: The provider (named in the error), and the events that open and close the message.
    provider: ClassVar[str]
    opening: ClassVar[str]
    closing: ClassVar[str]

    def __init__(self) -> None:
        super().__init__()
        self._started = False

    def end(self) -> Event:
        awaited = self.closing if self._started else self.opening
        return incomplete(self.acc, f"the {self.provider} stream", awaited)


def response_meta(value: Mapping[str, Any], what: str) -> tuple[str | None, str | None]:
    """``(id, model)`` of a response, for ``Done.response_id``/``Done.model``: absent,
    null and empty are None, any other non-string a RemoteProtocolError naming
    ``what`` (``"the response's 'id' is not a string"``)."""
    found: list[str | None] = []
    for key in ("id", "model"):
        item = value.get(key)
        if item is not None and type(item) is not str:
            raise RemoteProtocolError(f"{what} {key!r} is not a string")
        found.append(item or None)
    return found[0], found[1]


def with_meta(done: Done, meta: tuple[str | None, str | None] | None) -> Done:
    """``done`` with the response id and model the server reported, if any."""
    if meta is None or meta == (None, None):
        return done
    return replaced(done, response_id=meta[0], model=meta[1])


# --- error bodies -------------------------------------------------------------------------------
def object_or_empty(raw: bytes) -> dict[str, Any]:
    """``raw`` as a JSON object, or ``{}`` when it is not one (an error's details are
    best effort)."""
    value = _parsed(raw)
    return value if type(value) is dict else {}


def openai_error(
    status: int, reason: str, headers: Headers, body: bytes, partial: str = ""
) -> Error:
    """The OpenAI dialects' ``decode_error``: Azure's content filter named
    (:func:`~.azure_errors.decode_error`), whose modules the first error response loads."""
    from .azure_errors import decode_error

    return decode_error(status, reason, headers, body, partial)
