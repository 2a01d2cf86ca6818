"""What every client dialect does the same way, written once.

* **Shapes** (:func:`expect_object`, :func:`expect_str`, :func:`optional_str`,
  :func:`expect_list`, :func:`expect_int`): a check where the wire can be wrong, raising
  :class:`~libchatty.exceptions.RemoteProtocolError` that says what was expected. A
  dialect never lets ``KeyError``/``TypeError`` out of a wrong shape: those are our bugs.
* **Staging** (:class:`Staged`): the pieces of one wire event are collected while its
  fields are checked and reach the accumulator only once every field passed, so a bad
  later field never leaves text in ``Error.partial`` that no ``Delta`` carried.
* **In-stream errors** (:func:`stream_error`): one mapper from a provider's error payload
  to an ``Error``, driven by each dialect's table ``provider_type -> (kind, retryable)``.
* **Requests**: auth headers (:func:`auth_headers`; the caller's own headers win), tool
  arguments as a JSON object (:func:`arguments_object`), sampling-option renames
  (:func:`sampling`), and the one place a message's content becomes text
  (:func:`message_text`).
* **Limits** shared by every dialect (:data:`MAX_MESSAGE`, :data:`MAX_TOOL_CALLS`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

from ..accumulate import Accumulator
from ..content import TextPart
from ..endpoint import Endpoint
from ..events import Delta, Error, Event
from ..exceptions import RemoteProtocolError
from ..jsonload import JSONDecodeError, loads
from ..request import ChatRequest, Message

__all__ = [
    "MAX_MESSAGE",
    "MAX_TOOL_CALLS",
    "ErrorTable",
    "Staged",
    "arguments_object",
    "auth_headers",
    "bearer",
    "expect_int",
    "expect_list",
    "expect_object",
    "expect_str",
    "message_text",
    "optional_str",
    "sampling",
    "stream_error",
]

#: Error messages are for humans; a provider that sends megabytes gets them cut here.
MAX_MESSAGE: Final = 2000
#: Tool calls per response: far above what any model emits, low enough to bound memory.
MAX_TOOL_CALLS: Final = 1024
# A provider's error type is a short identifier.
_MAX_TYPE: Final = 100

#: A dialect's in-stream error types: ``provider_type -> (kind, retryable)``.
ErrorTable = Mapping[str, tuple[str, bool]]


# --- shapes ---------------------------------------------------------------------------------
def expect_object(value: Any, what: str) -> dict[str, Any]:
    """``value`` when it is a JSON object. Parsed JSON objects are always dicts: an exact
    type check is much cheaper than ``isinstance`` against the Mapping ABC."""
    if type(value) is not dict:
        raise RemoteProtocolError(f"{what} is not a JSON object")
    return value


def expect_str(value: Any, what: str) -> str:
    """``value`` when it is a string."""
    if type(value) is not str:
        raise RemoteProtocolError(f"{what} is not a string")
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


def expect_int(value: Any, what: str, limit: int) -> int:
    """``value`` when it is an int in ``0 <= value < limit`` (a bool is not an int)."""
    if type(value) is not int or not 0 <= value < limit:
        raise RemoteProtocolError(f"{what} is not an integer below {limit}")
    return value


# --- staging ----------------------------------------------------------------------------------
_Step = tuple[Callable[..., Delta | None], tuple[Any, ...]]


class Staged:
    """The accumulator calls of one wire event, held until the event is fully checked.

    The methods mirror :class:`~libchatty.accumulate.Accumulator`'s; :meth:`commit` makes
    the calls in order and returns the deltas they made. Not for the hot path: a plain
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

    def set_tool_arguments(self, index: int, arguments: str) -> None:
        self._steps.append((Accumulator.set_tool_arguments, (index, arguments)))

    def add_reasoning_signature(self, fragment: str) -> None:
        self._steps.append((Accumulator.add_reasoning_signature, (fragment,)))

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


def arguments_object(arguments: str, name: str, provider: str) -> dict[str, Any]:
    """A tool call's JSON arguments as the object a provider wants back (``{}`` when
    empty); ``ValueError`` naming the call when they are not a JSON object."""
    if not arguments.strip():
        return {}
    try:
        value = loads(arguments)
    except JSONDecodeError:
        raise ValueError(
            f"the arguments of tool call {name!r} are not valid JSON ({provider} needs an object)"
        ) from None
    if type(value) is not dict:
        raise ValueError(f"the arguments of tool call {name!r} are not a JSON object")
    return value


def sampling(request: ChatRequest, names: Mapping[str, str]) -> dict[str, Any]:
    """The request's sampling options that are set, under the provider's names:
    ``names`` maps ``temperature``, ``top_p``, ``max_tokens`` and ``stop`` (a list) to
    the wire's keys; an option the mapping leaves out is not sent."""
    values = {
        "temperature": request.temperature,
        "top_p": request.top_p,
        "max_tokens": request.max_tokens,
        "stop": list(request.stop_list) or None,
    }
    return {
        names[key]: value for key, value in values.items() if key in names and value is not None
    }


def message_text(message: Message, provider: str) -> str:
    """The one place a dialect turns a message's content into text. A content part that
    is not text cannot be sent yet: ``ValueError`` naming the provider and the part."""
    content = message.content
    if content is None or type(content) is str:
        return content or ""
    for part in content:
        if not isinstance(part, TextPart):
            raise ValueError(
                f"{provider} messages carry text only here; a {type(part).__name__} "
                f"in a {message.role} message cannot be sent"
            )
    return message.text
