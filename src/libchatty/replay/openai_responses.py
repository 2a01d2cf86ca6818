"""OpenAI's Responses API (``POST {base}/responses``), as the server sends it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from ..events import ToolCall, Usage
from .base import Renderer, dumps
from .openai_chat import error_body
from .script import Script, split_tokens

__all__ = ["RENDERER", "OpenAIResponsesRenderer"]

# Script finish reasons (normalised) -> ``incomplete_details.reason`` of an incomplete
# response; the others complete normally.
_INCOMPLETE_REASONS: Final = {"length": "max_output_tokens", "content_filter": "content_filter"}

# Error ``type`` and ``code`` OpenAI uses per status.
_ERROR_TYPES: Final[dict[int, tuple[str, str | None]]] = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    404: ("invalid_request_error", "model_not_found"),
    429: ("requests", "rate_limit_exceeded"),
    500: ("server_error", None),
    503: ("server_error", None),
}


class _Events:
    """Numbers the events of one rendered stream (``sequence_number``)."""

    def __init__(self) -> None:
        self.events: list[bytes] = []

    def emit(self, kind: str, **fields: Any) -> None:
        value = {"type": kind, **fields, "sequence_number": len(self.events)}
        self.events.append(b"event: " + kind.encode() + b"\ndata: " + dumps(value) + b"\n\n")


def _wire_usage(usage: Usage | None) -> dict[str, Any] | None:
    if usage is None:
        return None
    wire: dict[str, Any] = {"input_tokens": usage.input_tokens}
    if usage.cached_tokens is not None:
        wire["input_tokens_details"] = {"cached_tokens": usage.cached_tokens}
    wire["output_tokens"] = usage.output_tokens
    if usage.reasoning_tokens is not None:
        wire["output_tokens_details"] = {"reasoning_tokens": usage.reasoning_tokens}
    wire["total_tokens"] = usage.total_tokens
    return wire


def _output_items(script: Script) -> list[dict[str, Any]]:
    """The finished output items of ``script``: reasoning, message, function calls."""
    rid = script.response_id
    items: list[dict[str, Any]] = []
    if script.reasoning:
        summary = [{"type": "summary_text", "text": script.reasoning}]
        items.append({"id": f"rs_{rid}", "type": "reasoning", "summary": summary})
    if script.text or not script.tool_calls:
        part = {"type": "output_text", "annotations": [], "text": script.text}
        items.append(
            {
                "id": f"msg_{rid}",
                "type": "message",
                "status": "completed",
                "content": [part],
                "role": "assistant",
            }
        )
    items.extend(_function_item(script, i, call) for i, call in enumerate(script.tool_calls))
    return items


def _function_item(script: Script, index: int, call: ToolCall) -> dict[str, Any]:
    return {
        "id": f"fc_{script.response_id}_{index}",
        "type": "function_call",
        "status": "completed",
        "arguments": call.arguments,
        "call_id": call.id or f"call_{index}",
        "name": call.name,
    }


def _response(script: Script, status: str, output: list[dict[str, Any]]) -> dict[str, Any]:
    reason = _INCOMPLETE_REASONS.get(script.finish_reason) if status != "in_progress" else None
    return {
        "id": f"resp_{script.response_id}",
        "object": "response",
        "created_at": script.created,
        "status": "incomplete" if reason else status,
        "error": None,
        "incomplete_details": {"reason": reason} if reason else None,
        "model": script.model,
        "output": output,
        "usage": _wire_usage(script.usage) if status != "in_progress" else None,
    }


def _arguments_pieces(arguments: str) -> list[str]:
    """Argument fragments as a model streams them: a few characters at a time."""
    pieces = split_tokens(arguments)
    if len(pieces) > 1:
        return pieces
    return [arguments[i : i + 8] for i in range(0, len(arguments), 8)]


def _text_part(
    r: _Events, at: dict[str, Any], part: dict[str, Any], pieces: list[str], names: tuple[str, str]
) -> None:
    """The events of one finished text ``part`` (``at`` includes its index): the part added
    empty, ``pieces`` as text deltas, the text done, the part done. ``names`` are the
    prefixes of the part's events and of its text's."""
    part_events, text_events = names
    r.emit(f"{part_events}.added", **at, part={**part, "text": ""})
    for piece in pieces:
        r.emit(f"{text_events}.delta", **at, delta=piece)
    r.emit(f"{text_events}.done", **at, text=part["text"])
    r.emit(f"{part_events}.done", **at, part=part)


def _reasoning(r: _Events, script: Script, item: dict[str, Any], at: dict[str, Any]) -> None:
    (summary,) = item["summary"]
    names = ("response.reasoning_summary_part", "response.reasoning_summary_text")
    _text_part(r, {**at, "summary_index": 0}, summary, script.reasoning_pieces(), names)


def _message(r: _Events, script: Script, item: dict[str, Any], at: dict[str, Any]) -> None:
    (text,) = item["content"]
    names = ("response.content_part", "response.output_text")
    _text_part(r, {**at, "content_index": 0}, text, script.text_pieces(), names)


def _function_call(r: _Events, script: Script, item: dict[str, Any], at: dict[str, Any]) -> None:
    for piece in _arguments_pieces(item["arguments"]):
        r.emit("response.function_call_arguments.delta", **at, delta=piece)
    r.emit("response.function_call_arguments.done", **at, arguments=item["arguments"])


# Output item type -> the events that stream it (between its ``output_item.added`` and
# ``.done``), and the fields that differ in ``added``, where it has no content yet.
_ITEM_EVENTS: Final = {
    "reasoning": _reasoning,
    "message": _message,
    "function_call": _function_call,
}
_ADDED_FIELDS: Final[Mapping[str, Mapping[str, Any]]] = {
    "reasoning": {"summary": []},
    "message": {"status": "in_progress", "content": []},
    "function_call": {"status": "in_progress", "arguments": ""},
}


class OpenAIResponsesRenderer(Renderer):
    name = "openai-responses"
    paths = ("/responses",)

    def render_stream(self, script: Script) -> list[bytes]:
        """The event sequence the API sends: created, in_progress, then per output item
        added / deltas / done (reasoning summary, message text, function calls), then
        ``response.completed`` (or ``response.incomplete`` for length and content filter)."""
        r = _Events()
        r.emit("response.created", response=_response(script, "in_progress", []))
        r.emit("response.in_progress", response=_response(script, "in_progress", []))
        items = _output_items(script)
        for output_index, item in enumerate(items):
            added = {**item, **_ADDED_FIELDS[item["type"]]}
            r.emit("response.output_item.added", output_index=output_index, item=added)
            at: dict[str, Any] = {"item_id": item["id"], "output_index": output_index}
            _ITEM_EVENTS[item["type"]](r, script, item, at)
            r.emit("response.output_item.done", output_index=output_index, item=item)
        final = _response(script, "completed", items)
        kind = "response.incomplete" if final["status"] == "incomplete" else "response.completed"
        r.emit(kind, response=final)
        return r.events

    def render_body(self, script: Script) -> bytes:
        return dumps(_response(script, "completed", _output_items(script)))

    def render_error(self, status: int, message: str) -> bytes:
        return error_body(status, message, _ERROR_TYPES)

    def render_stream_error(self, message: str) -> bytes:
        value = {
            "type": "error",
            "code": "server_error",
            "message": message,
            "param": None,
            "sequence_number": 0,
        }
        return b"event: error\ndata: " + dumps(value) + b"\n\n"


RENDERER: Final = OpenAIResponsesRenderer()
