"""What the caller asks for: :class:`Message`, :class:`Tool` and :class:`ChatRequest`.

These are dialect-neutral; each dialect renders them into its own JSON body. Invalid
values raise ``ValueError`` naming the field, before anything is sent. Content parts
(images, documents, audio) are in :mod:`libchatty.content`; structured output and
reasoning settings in :mod:`libchatty.options`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import field
from typing import TYPE_CHECKING, Any, Final

from .endpoint import check_header_name, check_header_value
from .events import ToolCall
from .values import Value, frozen, set_fields
from .values import value as value_class  # "value" is a common local name here

if TYPE_CHECKING:
    # At run time each is imported where it is used, so a chat with string content
    # loads none of them: options by the requests that set them
    # (ChatRequest._check_options), content by the messages with parts, toolchoice by
    # the requests with a tool_choice (and a refused role's message); TOOL_MODES and
    # normalize_tool_choice through __getattr__ below.
    from .content import ContentPart
    from .options import Reasoning, ResponseFormat
    from .toolchoice import TOOL_MODES, normalize_tool_choice

__all__ = [
    "FRAMING_HEADERS",
    "MAX_N",
    "ROLES",
    "SEED_RANGE",
    "TOOL_MODES",
    "ChatRequest",
    "Message",
    "Tool",
    "as_message",
    "normalize_tool_choice",
]

ROLES = frozenset({"system", "developer", "user", "assistant", "tool"})

if not TYPE_CHECKING:  # a module __getattr__ would hide misspelt names from mypy

    def __getattr__(name: str) -> Any:
        # TOOL_MODES and normalize_tool_choice live in toolchoice, imported the first
        # time one is named here (PEP 562).
        if name not in ("TOOL_MODES", "normalize_tool_choice"):
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        from . import toolchoice

        return getattr(toolchoice, name)


@value_class()
class Message(Value):
    """One message of the conversation.

    * ``role``: ``system``, ``developer``, ``user``, ``assistant`` or ``tool``.
    * ``content``: the text, or a sequence of content parts (:class:`~libchatty.content.
      TextPart`, ``ImagePart``, ``DocumentPart``, ``AudioPart``, plain strings or
      OpenAI-style dict parts, see :func:`~libchatty.content.as_part`), kept as a tuple
      of part objects; ``None`` is allowed for an assistant message that only carries
      tool calls. A str stays a str. :attr:`text` is the text of any form and
      :attr:`parts` the parts of any form.
    * ``tool_calls``: the calls an assistant message made (send them back so the model
      sees its own calls in a tool loop).
    * ``tool_call_id`` (and optionally ``name``): for a ``tool`` message, which call this
      is the result of.
    * ``reasoning`` and ``reasoning_signature``: an assistant turn's reasoning as the
      provider returned it (``Done.reasoning``/``Done.reasoning_signature``). Providers
      that sign their reasoning (Anthropic extended thinking) need it back, unchanged, in
      a tool loop; dialects that have no such field ignore it.
    """

    __slots__ = (  # noqa: RUF023 - the fields, in order
        "role",
        "content",
        "tool_calls",
        "tool_call_id",
        "name",
        "reasoning",
        "reasoning_signature",
    )
    role: str
    content: str | tuple[ContentPart, ...] | None
    tool_calls: tuple[ToolCall, ...]
    tool_call_id: str | None
    name: str | None
    reasoning: str | None
    reasoning_signature: str | None

    # Written out (not generated) so the constructor takes what callers write -- a list
    # of parts, plain strings or dicts -- while the attributes keep their normalised,
    # narrow types for dialects. ``dataclasses.replace`` goes through it too.
    def __init__(
        self,
        role: str,
        content: str | Iterable[ContentPart | str | Mapping[str, Any]] | None = "",
        tool_calls: Iterable[ToolCall] = (),
        tool_call_id: str | None = None,
        name: str | None = None,
        reasoning: str | None = None,
        reasoning_signature: str | None = None,
    ) -> None:
        set_fields(
            self, role, content, tool_calls, tool_call_id, name, reasoning, reasoning_signature
        )
        self.__post_init__()

    def __post_init__(self) -> None:
        if not isinstance(self.role, str) or self.role not in ROLES:
            from .toolchoice import shown

            raise ValueError(
                f"Message.role must be one of {sorted(ROLES)}, not {shown(self.role)}"
            )
        content = self.content
        if content is not None and not isinstance(content, str):
            if isinstance(content, (bytes, bytearray, Mapping)) or not hasattr(content, "__iter__"):
                raise ValueError(
                    "Message.content must be a str, None, or a sequence of content parts"
                )
            from .content import as_part  # only a message with parts pays for the module

            object.__setattr__(self, "content", tuple(as_part(part) for part in content))
        if self.role == "tool" and not self.tool_call_id:
            raise ValueError("Message.tool_call_id is required for a 'tool' message")
        if not isinstance(self.tool_calls, tuple):
            object.__setattr__(self, "tool_calls", tuple(self.tool_calls))

    @property
    def text(self) -> str:
        """The message's text: ``content`` itself, or its text parts joined."""
        content = self.content
        if content is None:
            return ""
        if isinstance(content, str):
            return content
        from .content import TextPart  # loaded already: the parts are its classes

        return "".join(part.text for part in content if isinstance(part, TextPart))

    @property
    def parts(self) -> tuple[ContentPart, ...]:
        """``content`` as parts (a str is one :class:`~libchatty.content.TextPart`;
        empty text and ``None`` are no parts)."""
        content = self.content
        if not content:
            return ()
        from .content import TextPart

        if isinstance(content, str):
            return (TextPart(content),)
        return content


def as_message(value: Message | Mapping[str, Any]) -> Message:
    """Accept a :class:`Message` or an OpenAI-style dict (``{"role", "content", ...}``)."""
    if isinstance(value, Message):
        return value
    if not isinstance(value, Mapping):
        raise ValueError(f"a message must be a Message or a mapping, not {type(value).__name__}")
    if "role" not in value:
        raise ValueError("a message mapping needs a 'role'")
    raw_calls = value.get("tool_calls") or ()
    if not isinstance(raw_calls, (list, tuple)):
        raise ValueError("a message's 'tool_calls' must be a list")
    return Message(
        role=value["role"],
        content=value.get("content", ""),
        tool_calls=tuple(map(_tool_call, range(len(raw_calls)), raw_calls)),
        tool_call_id=value.get("tool_call_id"),
        name=value.get("name"),
        reasoning=value.get("reasoning"),
        reasoning_signature=value.get("reasoning_signature"),
    )


def _tool_call(index: int, raw: object) -> ToolCall:
    """One OpenAI-style ``tool_calls`` entry (``{"id", "function": {"name",
    "arguments"}}``, or the function fields at the top level). ``arguments`` is JSON
    text; an object (Ollama's and Anthropic's form) is serialised."""
    what = f"a message's tool_calls[{index}]"
    if isinstance(raw, ToolCall):
        return raw
    if not isinstance(raw, Mapping):
        raise ValueError(f"{what} must be an object")
    function = raw.get("function", raw)
    if not isinstance(function, Mapping):
        raise ValueError(f"{what}: 'function' must be an object")
    name = function.get("name")
    if not isinstance(name, str) or not name:
        raise ValueError(f"{what} needs a function name")
    arguments = function.get("arguments", "")
    if isinstance(arguments, Mapping):
        import json  # not at import: see jsonload

        arguments = json.dumps(arguments, separators=(",", ":"), ensure_ascii=False)
    if not isinstance(arguments, str):
        raise ValueError(f"{what}: 'arguments' must be JSON text or an object")
    call_id, signature = raw.get("id"), raw.get("signature")
    if not isinstance(call_id, (str, type(None))) or not isinstance(signature, (str, type(None))):
        raise ValueError(f"{what}: 'id' and 'signature' must be strings")
    return ToolCall(call_id, name, arguments, signature)


@value_class()
class Tool(Value):
    """A function the model may call: ``parameters`` is its JSON Schema (None or left
    out: an object with no properties, a fresh dict each time)."""

    __slots__ = ("name", "description", "parameters")  # noqa: RUF023 - the fields, in order
    name: str
    description: str
    parameters: Mapping[str, Any]

    def __init__(
        self, name: str, description: str = "", parameters: Mapping[str, Any] | None = None
    ) -> None:
        if parameters is None:
            parameters = {"type": "object", "properties": {}}
        set_fields(self, name, description, parameters)

    @classmethod
    def coerce(cls, value: Tool | Mapping[str, Any]) -> Tool:
        """Accept a :class:`Tool` or an OpenAI-style ``{"type": "function", ...}`` dict."""
        if isinstance(value, Tool):
            return value
        function = value.get("function", value)
        if not isinstance(function, Mapping) or not function.get("name"):
            raise ValueError("ChatRequest.tools: each tool needs a function name")
        return cls(
            name=function["name"],
            description=function.get("description", ""),
            parameters=function.get("parameters") or {"type": "object", "properties": {}},
        )


#: ``ChatRequest.seed`` bounds: a signed 64-bit integer, what every provider's JSON parser
#: takes (Gemini documents a 32-bit seed: its dialect checks that narrower range).
SEED_RANGE: Final = (-(2**63), 2**63 - 1)
#: The most choices ``ChatRequest.n`` may ask for (OpenAI's limit).
MAX_N: Final = 128
#: Headers the call writes itself (framing, connection management and Host): a
#: per-request value would desynchronise or smuggle the request, so it is refused.
FRAMING_HEADERS: Final = frozenset(
    {
        "connection",
        "content-length",
        "host",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)


def _check_int(name: str, value: object, low: int, high: int) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"ChatRequest.{name} must be an integer from {low} to {high}")


def _check_headers(headers: object) -> dict[str, str]:
    """Names are HTTP tokens, unique ignoring case and not framing headers; values are
    checked like the endpoint's and never quoted (they may be credentials)."""
    if not isinstance(headers, Mapping):
        raise ValueError("ChatRequest.headers must be a mapping of str to str")
    seen: set[str] = set()
    for position, (name, value) in enumerate(headers.items()):
        check_header_name(f"ChatRequest.headers: the name of header #{position}", name)
        lowered = name.lower()
        if lowered in FRAMING_HEADERS:
            raise ValueError(
                f"ChatRequest.headers must not set {name!r}: the call writes it itself"
            )
        if lowered in seen:
            raise ValueError(f"ChatRequest.headers sets {name!r} twice (names ignore case)")
        seen.add(lowered)
        check_header_value(f"ChatRequest.headers: the value of header {name!r}", value)
    return dict(headers)


def _check_range(name: str, value: float | None, low: float, high: float) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"ChatRequest.{name} must be a number")
    if not math.isfinite(value) or not low <= value <= high:
        raise ValueError(f"ChatRequest.{name} must be within [{low}, {high}], not {value!r}")


@frozen
class ChatRequest(Value):
    """One chat completion request, independent of the provider's wire format.

    ``stream`` selects streaming. ``tools`` accepts :class:`Tool` objects or OpenAI-style
    dicts. ``tool_choice`` is ``"auto"``, ``"none"``, ``"required"`` or a tool name, or
    a provider's own tool_choice object (see :func:`normalize_tool_choice`); it is stored
    in that neutral form, which each dialect renders its own way. When ``tools`` is
    given, a named tool must be one of them (``ValueError`` otherwise); without ``tools``
    any name is accepted (the tools may come through ``extra``).
    ``response_format`` asks for structured output: a :class:`~libchatty.options.
    JSONSchema`, ``"json"`` (JSON mode), or a class with ``model_json_schema()`` (a
    pydantic model), or OpenAI's own ``response_format`` object; see
    :func:`~libchatty.options.as_response_format`. It is stored in the neutral form
    (:attr:`neutral_response_format` has the precise type). ``reasoning`` is
    a :class:`~libchatty.options.Reasoning`. ``seed`` and ``n`` (choices) are passed to
    providers that take them: ``seed`` a signed 64-bit integer (:data:`SEED_RANGE`),
    ``n`` from 1 to :data:`MAX_N`. ``headers`` are added to this request's HTTP headers
    (after the endpoint's): names are HTTP tokens, unique ignoring case, and not one of
    :data:`FRAMING_HEADERS`; values are checked like the endpoint's and never shown in a
    message or in ``repr`` (they may be credentials).
    ``extra`` is merged last into the JSON body, for provider-specific fields.
    """

    model: str
    messages: Sequence[Message]
    stream: bool = True
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    stop: str | Sequence[str] | None = None
    tools: Sequence[Tool | Mapping[str, Any]] | None = None
    tool_choice: str | Mapping[str, Any] | None = None
    extra: Mapping[str, Any] | None = None
    response_format: ResponseFormat | type | Mapping[str, Any] | None = None
    reasoning: Reasoning | None = None
    seed: int | None = None
    n: int | None = None
    headers: Mapping[str, str] | None = field(default=None, repr=False)

    # The fields' __init__, written out: frozen would compile it when the first request
    # is built, which every process's first call does (~0.15 ms).
    def __init__(
        self,
        model: str,
        messages: Sequence[Message],
        stream: bool = True,
        temperature: float | None = None,
        top_p: float | None = None,
        max_tokens: int | None = None,
        stop: str | Sequence[str] | None = None,
        tools: Sequence[Tool | Mapping[str, Any]] | None = None,
        tool_choice: str | Mapping[str, Any] | None = None,
        extra: Mapping[str, Any] | None = None,
        response_format: ResponseFormat | type | Mapping[str, Any] | None = None,
        reasoning: Reasoning | None = None,
        seed: int | None = None,
        n: int | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        set_fields(self, model, messages, stream, temperature, top_p, max_tokens, stop, tools,
                   tool_choice, extra, response_format, reasoning, seed, n, headers)
        self.__post_init__()

    def __post_init__(self) -> None:
        model = self.model
        if not isinstance(model, str) or not model.strip():
            raise ValueError("ChatRequest.model must be a non-empty string")
        if "\r" in model or "\n" in model or "\0" in model:
            raise ValueError("ChatRequest.model must not contain CR, LF or NUL")
        messages = tuple(map(as_message, self.messages))
        if not messages:
            raise ValueError("ChatRequest.messages must not be empty")
        object.__setattr__(self, "messages", messages)
        _check_range("temperature", self.temperature, 0.0, 2.0)
        _check_range("top_p", self.top_p, 0.0, 1.0)
        if self.max_tokens is not None and (
            isinstance(self.max_tokens, bool)
            or not isinstance(self.max_tokens, int)
            or self.max_tokens < 1
        ):
            raise ValueError("ChatRequest.max_tokens must be a positive integer")
        if isinstance(self.stop, str):
            object.__setattr__(self, "stop", (self.stop,))
        elif self.stop is not None:
            object.__setattr__(self, "stop", tuple(self.stop))
        if self.tools is not None:
            object.__setattr__(self, "tools", tuple(Tool.coerce(t) for t in self.tools))
        if self.tool_choice is not None:
            from .toolchoice import CHOICE_FIELD, TOOL_MODES, normalize_tool_choice, shown

            choice = normalize_tool_choice(self.tool_choice)
            object.__setattr__(self, "tool_choice", choice)
            names = {tool.name for tool in self.tool_list}
            if names and choice not in TOOL_MODES and choice not in names:
                raise ValueError(
                    f"{CHOICE_FIELD} names tool {shown(choice)}, which is not in "
                    "ChatRequest.tools"
                )
        if self.extra is not None and not isinstance(self.extra, Mapping):
            raise ValueError("ChatRequest.extra must be a mapping")
        if self.response_format is not None or self.reasoning is not None:
            self._check_options()
        _check_int("seed", self.seed, *SEED_RANGE)
        _check_int("n", self.n, 1, MAX_N)
        if self.headers is not None:
            object.__setattr__(self, "headers", _check_headers(self.headers))

    def _check_options(self) -> None:
        """``response_format`` in its neutral form, ``reasoning`` checked: only a request
        that sets one pays for loading libchatty.options."""
        from .options import Reasoning, as_response_format

        object.__setattr__(self, "response_format", as_response_format(self.response_format))
        if self.reasoning is not None and not isinstance(self.reasoning, Reasoning):
            raise ValueError("ChatRequest.reasoning must be a Reasoning")

    @property
    def tool_list(self) -> tuple[Tool, ...]:
        """The tools, normalised to :class:`Tool` objects (empty when none)."""
        return tuple(self.tools or ())  # type: ignore[arg-type]

    @property
    def neutral_tool_choice(self) -> str | None:
        """``tool_choice`` in its neutral form (always a str or None after construction):
        ``"auto"``, ``"none"``, ``"required"`` or a tool name."""
        return self.tool_choice  # type: ignore[return-value]

    @property
    def neutral_response_format(self) -> ResponseFormat | None:
        """``response_format`` in its neutral form (always after construction): None,
        ``"json"`` or a :class:`~libchatty.options.JSONSchema`."""
        value = self.response_format
        if value is None or isinstance(value, str):
            return value
        from .options import JSONSchema  # already loaded: the value is one of its classes

        return value if isinstance(value, JSONSchema) else None

    @property
    def stop_list(self) -> tuple[str, ...]:
        """The stop sequences as a tuple (empty when none)."""
        return tuple(self.stop or ())
