"""What the caller asks for: :class:`Message`, :class:`Tool` and :class:`ChatRequest`.

These are dialect-neutral; each dialect renders them into its own JSON body. Invalid
values raise ``ValueError`` naming the field, before anything is sent.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .events import ToolCall

__all__ = ["ROLES", "ChatRequest", "Message", "Tool", "as_message"]

ROLES = frozenset({"system", "developer", "user", "assistant", "tool"})


@dataclass(frozen=True, slots=True)
class Message:
    """One message of the conversation.

    * ``role``: ``system``, ``developer``, ``user``, ``assistant`` or ``tool``.
    * ``content``: the text (``None`` is allowed for an assistant message that only
      carries tool calls).
    * ``tool_calls``: the calls an assistant message made (send them back so the model
      sees its own calls in a tool loop).
    * ``tool_call_id`` (and optionally ``name``): for a ``tool`` message, which call this
      is the result of.
    * ``reasoning`` and ``reasoning_signature``: an assistant turn's reasoning as the
      provider returned it (``Done.reasoning``/``Done.reasoning_signature``). Providers
      that sign their reasoning (Anthropic extended thinking) need it back, unchanged, in
      a tool loop; dialects that have no such field ignore it.
    """

    role: str
    content: str | None = ""
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    name: str | None = None
    reasoning: str | None = None
    reasoning_signature: str | None = None

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"Message.role must be one of {sorted(ROLES)}, not {self.role!r}")
        if self.content is not None and not isinstance(self.content, str):
            raise ValueError("Message.content must be a str or None")
        if self.role == "tool" and not self.tool_call_id:
            raise ValueError("Message.tool_call_id is required for a 'tool' message")
        if not isinstance(self.tool_calls, tuple):
            object.__setattr__(self, "tool_calls", tuple(self.tool_calls))


def as_message(value: Message | Mapping[str, Any]) -> Message:
    """Accept a :class:`Message` or an OpenAI-style dict (``{"role", "content", ...}``)."""
    if isinstance(value, Message):
        return value
    if not isinstance(value, Mapping):
        raise ValueError(f"a message must be a Message or a mapping, not {type(value).__name__}")
    if "role" not in value:
        raise ValueError("a message mapping needs a 'role'")
    calls = []
    for raw in value.get("tool_calls") or ():
        function = raw.get("function", raw)
        calls.append(
            ToolCall(
                raw.get("id"),
                function["name"],
                function.get("arguments", ""),
                raw.get("signature"),
            )
        )
    return Message(
        role=value["role"],
        content=value.get("content", ""),
        tool_calls=tuple(calls),
        tool_call_id=value.get("tool_call_id"),
        name=value.get("name"),
        reasoning=value.get("reasoning"),
        reasoning_signature=value.get("reasoning_signature"),
    )


@dataclass(frozen=True, slots=True)
class Tool:
    """A function the model may call: ``parameters`` is its JSON Schema."""

    name: str
    description: str = ""
    parameters: Mapping[str, Any] = field(
        default_factory=lambda: {"type": "object", "properties": {}}
    )

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


def _check_range(name: str, value: float | None, low: float, high: float) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"ChatRequest.{name} must be a number")
    if not math.isfinite(value) or not low <= value <= high:
        raise ValueError(f"ChatRequest.{name} must be within [{low}, {high}], not {value!r}")


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """One chat completion request, independent of the provider's wire format.

    ``stream`` selects streaming. ``tools`` accepts :class:`Tool` objects or OpenAI-style
    dicts; ``tool_choice`` is ``"auto"``, ``"none"``, ``"required"`` or a tool name.
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
    tool_choice: str | None = None
    extra: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.model, str) or not self.model.strip():
            raise ValueError("ChatRequest.model must be a non-empty string")
        if any(c in self.model for c in "\r\n\0"):
            raise ValueError("ChatRequest.model must not contain CR, LF or NUL")
        messages = tuple(as_message(m) for m in self.messages)
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
        if self.extra is not None and not isinstance(self.extra, Mapping):
            raise ValueError("ChatRequest.extra must be a mapping")

    @property
    def tool_list(self) -> tuple[Tool, ...]:
        """The tools, normalised to :class:`Tool` objects (empty when none)."""
        return tuple(self.tools or ())  # type: ignore[arg-type]

    @property
    def stop_list(self) -> tuple[str, ...]:
        """The stop sequences as a tuple (empty when none)."""
        return tuple(self.stop or ())
