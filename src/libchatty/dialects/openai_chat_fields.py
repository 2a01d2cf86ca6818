"""Checked readers of OpenAI chat-completions wire values, shared by the stream decoder
and the whole-body decoder in :mod:`.openai_chat`.

Each reader takes a value as the JSON parser gave it and returns it in libchatty's
terms, or raises :class:`~libchatty.exceptions.RemoteProtocolError` saying what is
wrong. Parsed JSON objects are always dicts, so exact type checks are used (much
cheaper than ``isinstance`` against the Mapping ABC on the hot path).
"""

from __future__ import annotations

from typing import Any, Final

from ..accumulate import Accumulator
from ..events import RETRYABLE_STATUSES, Error, Usage
from ..exceptions import RemoteProtocolError
from .base import dumps, make_usage
from .plumbing import MAX_TOOL_CALLS, stream_error

__all__ = [
    "MAX_CHOICES",
    "arguments_text",
    "choice_index",
    "content_parts",
    "excerpt",
    "provider_error",
    "text_of",
    "tool_call_fields",
    "usage_of",
]

# OpenAI caps ``n`` at 128; a larger index is garbage, and an unbounded one would make the
# accumulator build a tuple of that many strings at the end.
MAX_CHOICES: Final = 128
# Words in a provider's error type that say "the same request may succeed later".
_RETRYABLE_WORDS: Final = ("server", "overload", "rate", "timeout", "unavailable", "internal")


def excerpt(text: str, limit: int = 80) -> str:
    """A short, repr-quoted excerpt of wire data for an error message."""
    return repr(text[:limit]) + ("..." if len(text) > limit else "")


def choice_index(value: Any) -> int:
    """A choice index: absent/null/0 are 0; anything else must be a small int."""
    if not value:
        return 0
    if type(value) is not int or not 0 < value < MAX_CHOICES:
        raise RemoteProtocolError(f"invalid choice index {excerpt(str(value))}")
    return value


def text_of(value: Any, what: str) -> str:
    """A text field: null is empty; a string is itself; a list of content parts (Mistral's
    ``[{"type": "text", "text": ...}]``) is the concatenation of its text parts."""
    if value is None:
        return ""
    if type(value) is str:
        return value
    if type(value) is list:
        return "".join(
            part["text"]
            for part in value
            if type(part) is dict and part.get("type") == "text" and type(part.get("text")) is str
        )
    raise RemoteProtocolError(f"{what} is not a string: {excerpt(str(value))}")


def arguments_text(value: Any) -> str:
    """Tool-call arguments: JSON text on the wire; an object (some compatible servers) is
    re-encoded compactly so callers always get a string."""
    if value is None:
        return ""
    if type(value) is str:
        return value
    if type(value) in (dict, list):
        return dumps(value).decode()
    raise RemoteProtocolError(f"tool call arguments are not a string: {excerpt(str(value))}")


def _optional_str(value: Any) -> str | None:
    return value if type(value) is str and value else None


def tool_call_fields(call: Any) -> tuple[str | None, str | None, str, int | None]:
    """``(id, name, argument text, index)`` of a tool call (streamed or whole), every
    field checked; ``index`` is None when the server sent none."""
    if type(call) is not dict:
        raise RemoteProtocolError("a tool call is not a JSON object")
    function = call.get("function") or {}
    if type(function) is not dict:
        raise RemoteProtocolError("a tool call's 'function' is not a JSON object")
    index = call.get("index")
    if index is not None and (type(index) is not int or not 0 <= index < MAX_TOOL_CALLS):
        raise RemoteProtocolError(f"invalid tool call index {excerpt(str(index))}")
    return (
        _optional_str(call.get("id")),
        _optional_str(function.get("name")),
        arguments_text(function.get("arguments")),
        index,
    )


def _count(mapping: dict[str, Any], key: str) -> int | None:
    # base.get_int without its Mapping ABC check: parsed JSON objects are always dicts.
    value = mapping.get(key)
    return value if type(value) is int else None


def usage_of(raw: Any) -> Usage | None:
    """OpenAI-style usage counts (``completion_tokens`` include reasoning tokens)."""
    if type(raw) is not dict:
        return None
    details = raw.get("completion_tokens_details")
    cached = raw.get("prompt_tokens_details")
    return make_usage(
        _count(raw, "prompt_tokens"),
        _count(raw, "completion_tokens"),
        _count(raw, "total_tokens"),
        _count(details, "reasoning_tokens") if type(details) is dict else None,
        _count(cached, "cached_tokens") if type(cached) is dict else None,
    )


def provider_error(acc: Accumulator, error: Any) -> Error:
    """The ``Error`` for an error object in a 200 response: ``{"message", "type",
    "code"}`` (``code`` may be an int status, retryable if it says so), or a bare string."""
    if type(error) is not dict:
        text = error if type(error) is str else dumps(error).decode()
        return stream_error(acc, text, None, {}, default="the provider reported an error")
    message = error.get("message")
    if type(message) is not str or not message:
        message = dumps(error).decode()
    raw_type = error.get("type") or error.get("code")
    code = error.get("code")
    return stream_error(
        acc,
        message,
        None if raw_type is None else str(raw_type),
        {},
        default="",
        retry_words=_RETRYABLE_WORDS,
        retryable=type(code) is int and code in RETRYABLE_STATUSES,
    )


def content_parts(parts: list[Any]) -> list[tuple[str, bool]]:
    """Mistral's list-form content: ``(text, is_reasoning)`` for each text or thinking part."""
    out: list[tuple[str, bool]] = []
    for part in parts:
        if type(part) is not dict:
            continue
        kind = part.get("type")
        if kind == "text" and type(part.get("text")) is str and part["text"]:
            out.append((part["text"], False))
        elif kind == "thinking":
            text = text_of(part.get("thinking"), "a thinking part")
            if text:
                out.append((text, True))
    return out
