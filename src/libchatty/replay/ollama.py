"""Ollama's native ``/api/chat``, as the server writes it (JSON lines)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from ..jsonload import JSONDecodeError, loads
from .base import Renderer, dumps
from .script import Script

__all__ = ["RENDERER", "OllamaRenderer"]

# Script finish reasons (normalised) -> what Ollama writes. Ollama reports a plain "stop"
# after tool calls and has no content filter.
_DONE_REASONS: Final = {"stop": "stop", "length": "length", "tool_calls": "stop"}


def _iso_time(epoch: int) -> str:
    """``epoch`` seconds as RFC 3339 UTC, as Ollama's ``created_at`` (no clock read)."""
    days, seconds = divmod(epoch, 86400)
    # Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    z = days + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = mp + 3 if mp < 10 else mp - 9
    year = yoe + era * 400 + (month <= 2)
    hour, rest = divmod(seconds, 3600)
    return f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{rest // 60:02d}:{rest % 60:02d}Z"


def _tool_calls(script: Script) -> list[dict[str, Any]]:
    calls = []
    for index, call in enumerate(script.tool_calls):
        try:
            arguments: Any = loads(call.arguments) if call.arguments.strip() else {}
        except JSONDecodeError:
            arguments = call.arguments  # not JSON: send the text as it is
        function: dict[str, Any] = {"name": call.name, "arguments": arguments}
        if index:  # Go's omitempty drops index 0
            function = {"index": index, **function}
        calls.append({"function": function})
    return calls


def _line(script: Script, **fields: Any) -> dict[str, Any]:
    return {"model": script.model, "created_at": _iso_time(script.created), **fields}


def _final(script: Script, message: dict[str, Any]) -> dict[str, Any]:
    line = _line(script, message=message)
    line["done_reason"] = _DONE_REASONS.get(script.finish_reason, "stop")
    line["done"] = True
    usage = script.usage
    if usage is not None:
        if usage.input_tokens is not None:
            line["prompt_eval_count"] = usage.input_tokens
        if usage.output_tokens is not None:
            line["eval_count"] = usage.output_tokens
    return line


class OllamaRenderer(Renderer):
    name = "ollama"
    framing = "ndjson"
    paths = ("/api/chat", "/api/generate")

    def is_stream_request(self, target: str, body: Mapping[str, Any]) -> bool:
        return body.get("stream", True) is not False  # Ollama streams unless told not to

    def render_stream(self, script: Script) -> list[bytes]:
        lines: list[dict[str, Any]] = []
        for piece in script.reasoning_pieces():
            message = {"role": "assistant", "content": "", "thinking": piece}
            lines.append(_line(script, message=message, done=False))
        for piece in script.text_pieces():
            message = {"role": "assistant", "content": piece}
            lines.append(_line(script, message=message, done=False))
        if script.tool_calls:
            with_calls = {"role": "assistant", "content": "", "tool_calls": _tool_calls(script)}
            lines.append(_line(script, message=with_calls, done=False))
        lines.append(_final(script, {"role": "assistant", "content": ""}))
        return [dumps(line) + b"\n" for line in lines]

    def render_body(self, script: Script) -> bytes:
        message: dict[str, Any] = {"role": "assistant", "content": script.text}
        if script.reasoning:
            message["thinking"] = script.reasoning
        if script.tool_calls:
            message["tool_calls"] = _tool_calls(script)
        return dumps(_final(script, message))

    def render_error(self, status: int, message: str) -> bytes:
        return dumps({"error": message})

    def render_stream_error(self, message: str) -> bytes:
        return dumps({"error": message}) + b"\n"


RENDERER: Final = OllamaRenderer()
