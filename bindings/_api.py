"""What every binding shares with its users: the types of the public API.

* :class:`Completion` -- what ``chat()`` returns.
* :class:`Timeout` -- ``connect``, ``idle`` (no byte for that long; keep-alive comments
  count as bytes), ``total`` and the opt-in ``stall`` (no content for that long;
  keep-alive comments do not count) seconds; each, when exceeded, ends the call with
  ``Error("timeout")``. ``None`` disables one.
* :data:`STOP` -- return it from ``on_delta``/``on_event`` to stop streaming cleanly.
* :class:`MissingAPIKeyError` -- raised by a client constructor when the provider needs a
  key and none was given or found; the message names the variables to set.
* :class:`ChatOptions` -- the typed keyword options of ``chat()``/``stream()``;
  :class:`ChatArguments` (:class:`AsyncChatArguments`) adds the callbacks: ``chat()``'s
  keywords; :class:`EventStreamOptions` and :class:`PartialStreamOptions` add ``partial``:
  ``stream()``'s. They are defined in :mod:`libchatty.bindings._chat_options`, loaded
  the first time one is named at run time.

``chat()`` also takes ``on_partial(partial)``: called with each
:class:`~libchatty.partial_objects.PartialObject` -- the structured answer as it fills in
(when ``response_format`` is set) and each tool call's arguments (always) -- then one
``complete=True`` partial per whole document before ``Done``. Its value is the parser's
live object (see :mod:`libchatty.partial_objects`): copy it to keep a snapshot. Giving it
makes the call stream. ``stream(..., partial=True)`` yields the same ``PartialObject``
events among the others (after the ``Delta`` that made them, before ``Done``).

The client's constructor keywords and their resolution into a configuration are in
:mod:`libchatty.bindings._config`; the callbacks are run by
:mod:`libchatty.bindings._chat_run`.

The callbacks (the same in every binding; async clients also accept ``async def``):

* ``on_delta(text: str, done: bool)`` -- called with each piece of answer text
  (``done=False``) and once more at the end of a successful answer with ``("", True)``.
* ``on_event(event)`` -- called with every typed event (``Delta`` of any kind: text,
  reasoning, tool-call fragments, refusals; then the final ``Done``). An ``Error`` is not
  passed to callbacks: it is raised as :class:`~libchatty.exceptions.ChatError`.

A callback that raises stops the call at once: the connection is closed (never reused)
and that same exception reaches the caller of ``chat()``. A callback that returns
:data:`STOP` ends the call cleanly: ``chat()`` returns a :class:`Completion` with the text
received so far and ``finish_reason="stopped"``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from itertools import repeat
from operator import attrgetter
from typing import TYPE_CHECKING, Any, ClassVar, Final

from libchatty.events import Citation, Done, Event, ToolCall, Usage
from libchatty.exceptions import LibchattyError
from libchatty.request import ChatRequest, Message, as_message

if TYPE_CHECKING:
    from libchatty.partial_objects import PartialObject
    from libchatty.ratelimit import RateLimit

    from ._chat_options import (
        AsyncChatArguments,
        ChatArguments,
        ChatOptions,
        EventStreamOptions,
        PartialStreamOptions,
    )

__all__ = [
    "CALL_OPTIONS",
    "CHAT_OPTIONS",
    "STOP",
    "AsyncChatArguments",
    "AsyncOnDelta",
    "AsyncOnEvent",
    "AsyncOnPartial",
    "ChatArguments",
    "ChatOptions",
    "Completion",
    "EventStreamOptions",
    "Messages",
    "MissingAPIKeyError",
    "OnDelta",
    "OnEvent",
    "OnPartial",
    "PartialStreamOptions",
    "Timeout",
    "build_request",
    "call_settings",
]


# --- what chat() returns ---------------------------------------------------------------


_set_field: Final = object.__setattr__
# Every field of a Done, in one C call.
_done_values: Final[Callable[[Done], tuple[Any, ...]]] = attrgetter(*Done.__slots__)


class _Value:
    """An immutable slotted value: ``==``, ``hash`` and ``repr`` from ``__slots__``.

    What ``@dataclass(frozen=True, slots=True)`` would give; written out because building
    each dataclass costs about half a millisecond of import time, which every program
    importing a binding would pay.
    """

    __slots__ = ()
    _fields: ClassVar[tuple[str, ...]] = ()  # in declaration order (slots are sorted)

    def _assign(self, values: Mapping[str, Any]) -> None:
        """Set every field from ``values``: an ``__init__`` whose parameters are the
        fields passes its ``locals()``."""
        fields = self._fields
        # object.__setattr__ (what a frozen dataclass's __init__ uses) mapped over the
        # fields: no Python step per field (every call builds a Completion of 17).
        deque(map(_set_field, repeat(self), fields, map(values.__getitem__, fields)), 0)

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self._fields)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, _Value)
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._fields)
        return f"{type(self).__name__}({fields})"

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # copy, deepcopy and pickle rebuild through __init__ (fields in __init__ order).
        return type(self), self._values()

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")


class _CompletionFields:
    """A :class:`Completion`'s fields, assignable: what :meth:`Completion.from_done` fills
    with plain attribute stores and then seals (``__class__ = Completion``: the same
    layout, and a Completion refuses assignment). ``object.__setattr__`` per field, as
    ``__init__`` does, costs five times as much, and every call builds one."""

    __slots__ = (  # noqa: RUF023 - the fields, in order
        "text",
        "reasoning",
        "refusal",
        "tool_calls",
        "finish_reason",
        "raw_finish_reason",
        "usage",
        "streamed",
        "choices",
        "reasoning_signature",
        "response_id",
        "model",
        "citations",
        "request_id",
        "headers",
        "rate_limit",
        "parsed",
    )
    text: str
    reasoning: str
    refusal: str
    tool_calls: tuple[ToolCall, ...]
    finish_reason: str | None
    raw_finish_reason: str | None
    usage: Usage | None
    streamed: bool
    choices: tuple[str, ...]
    reasoning_signature: str | None
    response_id: str | None
    model: str | None
    citations: tuple[Citation, ...]
    request_id: str | None
    headers: tuple[tuple[str, str], ...]
    rate_limit: RateLimit | None
    parsed: Any


class Completion(_CompletionFields, _Value):
    """A finished answer (immutable).

    ``text``/``reasoning``/``refusal`` are complete (choice 0; ``choices`` holds every
    choice's text when ``n > 1`` was asked). ``finish_reason`` is
    normalised (``stop``, ``length``, ``tool_calls``, ``content_filter``), or
    ``"stopped"`` when a callback returned :data:`STOP` (then only ``text`` and the
    response head's ``request_id``/``headers``/``rate_limit`` are filled: the answer
    text received until then). ``raw_finish_reason`` is the provider's value.
    ``streamed`` says whether the answer arrived as a stream of events: False for a
    request without callbacks, after the non-streaming fallback, or when the server
    answered a streaming request with one JSON body. ``reasoning_signature`` is the
    provider's opaque signature of ``reasoning`` (Anthropic extended thinking), or None.

    What applications log and show:

    * ``response_id`` and ``model``: as the server reported them (``Done``), or None;
    * ``citations``: the sources the provider cited (Cohere), in order;
    * ``request_id``: the provider's request id from the response head (``x-request-id``,
      ``request-id``, ``x-amzn-requestid``...), or None;
    * ``headers``: the response head as ``(name, value)`` str pairs, names lower-case,
      without cookies or credential headers (what a support ticket needs);
    * ``rate_limit``: :func:`libchatty.ratelimit.parse_rate_limit` of those headers at
      the time the response ended (a :class:`~libchatty.ratelimit.RateLimit`), or None
      when the provider reported none;
    * ``parsed``: with ``response_format``, the structured answer read by
      :func:`libchatty.structured.parse_structured` (the JSON value, or the pydantic
      instance for a model class); None without ``response_format``.

    In a tool loop, append :meth:`to_message` to the conversation, then one ``tool``
    message per call: the signatures the provider needs back travel with it.
    """

    _fields = _CompletionFields.__slots__
    __slots__ = ()  # the fields are _CompletionFields' slots

    def __init__(
        self,
        text: str,
        reasoning: str = "",
        refusal: str = "",
        tool_calls: tuple[ToolCall, ...] = (),
        finish_reason: str | None = None,
        raw_finish_reason: str | None = None,
        usage: Usage | None = None,
        streamed: bool = False,
        choices: tuple[str, ...] = (),
        reasoning_signature: str | None = None,
        response_id: str | None = None,
        model: str | None = None,
        citations: tuple[Citation, ...] = (),
        request_id: str | None = None,
        headers: tuple[tuple[str, str], ...] = (),
        rate_limit: RateLimit | None = None,
        parsed: Any = None,
    ) -> None:
        self._assign(locals())

    def __hash__(self) -> int:
        # ``parsed`` may be a dict or list (JSON): hash the rest, so that a Completion
        # without one stays hashable as before (equality still compares it).
        return hash(self._values()[:-1])

    def __repr__(self) -> str:
        # The headers are left out: long, and a log line gets them on purpose or not at all.
        fields = ", ".join(
            f"{name}={getattr(self, name)!r}" for name in self._fields if name != "headers"
        )
        return f"Completion({fields})"

    @classmethod
    def from_done(
        cls,
        done: Done,
        streamed: bool,
        *,
        request_id: str | None = None,
        headers: tuple[tuple[str, str], ...] = (),
        rate_limit: RateLimit | None = None,
        parsed: Any = None,
    ) -> Completion:
        """The completion of ``done``, with the response head's metadata (given by the
        binding, which has the call) and the parsed structured answer."""
        if cls is not Completion:  # a subclass may have another layout: its __init__
            # A Completion carries every field of Done (a core value's __slots__ are its
            # fields).
            answer = dict(zip(Done.__slots__, _done_values(done), strict=True))
            return cls(**answer, streamed=streamed, request_id=request_id, headers=headers,
                       rate_limit=rate_limit, parsed=parsed)
        new = _CompletionFields()
        # Every field of Done (tests/test_completion_metadata.py checks that none is missed).
        (
            new.finish_reason, new.text, new.reasoning, new.tool_calls, new.usage,
            new.raw_finish_reason, new.refusal, new.choices, new.reasoning_signature,
            new.response_id, new.model, new.citations,
        ) = _done_values(done)
        new.streamed = streamed
        new.request_id = request_id
        new.headers = headers
        new.rate_limit = rate_limit
        new.parsed = parsed
        new.__class__ = Completion  # sealed: see _CompletionFields
        return new  # type: ignore[return-value]  # a Completion now

    def to_message(self) -> Message:
        """The assistant turn to append to the conversation (a tool loop's next request):
        the text (None when empty and there are tool calls), the tool calls with their
        signatures, the reasoning and its signature (None when there is none)."""
        return Message(
            role="assistant",
            content=None if not self.text and self.tool_calls else self.text,
            tool_calls=self.tool_calls,
            reasoning=self.reasoning or None,
            reasoning_signature=self.reasoning_signature,
        )


class _Stop:
    """The type of :data:`STOP` (one instance)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "STOP"


#: Return this from a callback to stop streaming cleanly (see the module docstring).
STOP: Final = _Stop()

#: ``on_delta(text, done)``: the return value is ignored unless it is :data:`STOP`.
OnDelta = Callable[[str, bool], object]
#: ``on_event(event)``: the return value is ignored unless it is :data:`STOP`.
OnEvent = Callable[[Event], object]
#: The conversation ``chat()``/``stream()`` take: a string (one user message) or a list
#: of :class:`~libchatty.request.Message` or OpenAI-style dicts.
Messages = str | Sequence[Message | Mapping[str, Any]]
#: An ``on_delta`` for async clients: plain or ``async def``.
AsyncOnDelta = Callable[[str, bool], object | Awaitable[object]]
#: An ``on_event`` for async clients: plain or ``async def``.
AsyncOnEvent = Callable[[Event], object | Awaitable[object]]
#: ``on_partial(partial)``: the return value is ignored unless it is :data:`STOP`.
OnPartial = Callable[["PartialObject"], object]
#: An ``on_partial`` for async clients: plain or ``async def``.
AsyncOnPartial = Callable[["PartialObject"], object | Awaitable[object]]


# --- timeouts ------------------------------------------------------------------------------


class Timeout(_Value):
    """Seconds allowed; ``None`` waits forever.

    * ``connect``: to open the connection (DNS, TCP, proxy tunnel, TLS handshake);
    * ``idle``: between two reads that bring bytes (a keep-alive comment counts, so a
      reasoning model thinking quietly behind ``: ping`` lines is not cut off). Also
      bounds the wait for the first byte of the response;
    * ``total``: the whole call, retries and their backoff included;
    * ``stall`` (opt-in): on a streaming request, from the first byte of the response
      to the first piece of content and between two pieces of content. Only a read that
      brings a ``Delta`` resets it -- keep-alive comments and ``ping`` events do not --
      so a server trickling nothing but keep-alives is cut off. Exceeding it ends the
      call (not retried, no fallback) with ``Error("timeout")`` saying "stall timeout",
      with the partial text.

    The default idle timeout is long because a non-streamed answer sends nothing until
    the model has finished. A timeout never triggers the fallback to a non-streaming
    request: that request would wait just as long.
    """

    _fields = __slots__ = ("connect", "idle", "total", "stall")
    connect: float | None
    idle: float | None
    total: float | None
    stall: float | None

    def __init__(
        self,
        connect: float | None = 10.0,
        idle: float | None = 300.0,
        total: float | None = None,
        stall: float | None = None,
    ) -> None:
        for name, value in (
            ("connect", connect), ("idle", idle), ("total", total), ("stall", stall)
        ):
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0
            ):
                raise ValueError(f"Timeout.{name} must be a positive number or None")
            object.__setattr__(self, name, value)

    @classmethod
    def coerce(cls, value: Timeout | float | None) -> Timeout:
        """A :class:`Timeout` from a number (connect and idle, no total), ``None`` (no
        timeouts at all) or a :class:`Timeout`."""
        if isinstance(value, Timeout):
            return value
        if value is None:
            return cls(None, None, None)
        return cls(connect=value, idle=value, total=None)


# --- configuration errors ----------------------------------------------------------------


class MissingAPIKeyError(LibchattyError, ValueError):
    """The provider needs an API key and none was given or found in the environment.

    ``variables`` lists the environment variables that were checked, in order.
    """

    def __init__(self, provider: str | None, base_url: str, variables: tuple[str, ...]) -> None:
        where = f"provider {provider!r}" if provider else base_url
        names = " or ".join(variables)
        super().__init__(
            f"no API key for {where}: set {names} in the environment, or pass api_key=..."
        )
        self.variables = variables


# --- the request ------------------------------------------------------------------------------

#: The keyword options ``chat()``/``stream()`` accept: the keys of :class:`ChatOptions`
#: (written out, so that checking a call's options does not build the TypedDict;
#: tests/test_typed_options.py keeps the two equal).
CHAT_OPTIONS: Final = frozenset(
    {
        "temperature",
        "top_p",
        "max_tokens",
        "stop",
        "tools",
        "tool_choice",
        "extra",
        "response_format",
        "reasoning",
        "seed",
        "n",
        "headers",
        "timeout",
        "max_retries",
    }
)
#: The options that are the call's settings rather than the request's.
CALL_OPTIONS: Final = frozenset({"timeout", "max_retries"})

# ChatOptions and the other TypedDicts are in _chat_options, imported the first time one
# of them is named at run time (PEP 562); type checkers import it directly (above).
_CHAT_OPTION_TYPES: Final = frozenset(
    {
        "AsyncChatArguments",
        "ChatArguments",
        "ChatOptions",
        "EventStreamOptions",
        "PartialStreamOptions",
    }
)

if not TYPE_CHECKING:  # a module __getattr__ would hide misspelt names from mypy

    def __getattr__(name: str) -> Any:
        if name in _CHAT_OPTION_TYPES:
            from . import _chat_options

            return getattr(_chat_options, name)
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def call_settings(options: Mapping[str, Any]) -> tuple[Timeout | None, int | None]:
    """This call's ``(timeout, max_retries)`` from ``options`` (None: the client's).
    ``ValueError`` for a bad value, like the client constructor's."""
    timeout = options.get("timeout")
    max_retries = options.get("max_retries")
    if max_retries is not None and (
        isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0
    ):
        raise ValueError("max_retries must be a non-negative integer")
    return (None if timeout is None else Timeout.coerce(timeout)), max_retries


def build_request(
    messages: Messages,
    model: str,
    stream: bool,
    options: Mapping[str, Any],
) -> ChatRequest:
    """The :class:`ChatRequest` for a ``chat()`` call (the :data:`CALL_OPTIONS` are not
    the request's: see :func:`call_settings`). A plain string is one user message.
    An unknown option is a ``TypeError`` naming it; invalid values a ``ValueError``."""
    unknown = options.keys() - CHAT_OPTIONS
    if unknown:
        raise TypeError(
            f"unexpected option(s) {', '.join(sorted(unknown))}; "
            f"accepted: {', '.join(sorted(CHAT_OPTIONS))}"
        )
    if "timeout" in options or "max_retries" in options:
        options = {k: v for k, v in options.items() if k not in CALL_OPTIONS}
    if isinstance(messages, str):
        parsed: Sequence[Message] = (Message("user", messages),)
    else:
        parsed = tuple(map(as_message, messages))
    return ChatRequest(model=model, messages=parsed, stream=stream, **options)
