"""Gemini (``generateContent`` / ``streamGenerateContent?alt=sse``), as Google sends it."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from ..events import Usage
from .base import Renderer, arguments_object, dumps, request_path
from .script import FinishReasons, Script

__all__ = ["RENDERER", "GeminiRenderer"]

# What Gemini sends for each Script finish reason: STOP after tool calls too.
_FINISH_REASONS: Final = FinishReasons(
    stop="STOP", length="MAX_TOKENS", tool_calls="STOP", content_filter="SAFETY"
)
_STATUS_NAME: Final = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
# ".../models/gemini-2.5-flash:streamGenerateContent": the model is in the path.
_MODEL_IN_PATH: Final = re.compile(r"/models/([^/:]+):")


def _sse(payload: Mapping[str, Any]) -> bytes:
    # Google ends every event with CRLF CRLF.
    return b"data: " + dumps(payload) + b"\r\n\r\n"


def _usage(usage: Usage | None) -> dict[str, int] | None:
    if usage is None:
        return None
    fields: dict[str, int] = {}
    if usage.input_tokens is not None:
        fields["promptTokenCount"] = usage.input_tokens
    if usage.output_tokens is not None:
        fields["candidatesTokenCount"] = max(0, usage.output_tokens - (usage.reasoning_tokens or 0))
    if usage.total_tokens is not None:
        fields["totalTokenCount"] = usage.total_tokens
    if usage.reasoning_tokens is not None:
        fields["thoughtsTokenCount"] = usage.reasoning_tokens
    if usage.cached_tokens is not None:
        fields["cachedContentTokenCount"] = usage.cached_tokens
    return fields


def _function_calls(script: Script) -> list[dict[str, Any]]:
    return [
        {"functionCall": {"name": call.name, "args": arguments_object(call.arguments, call.name)}}
        for call in script.tool_calls
    ]


def _responses(script: Script) -> list[dict[str, Any]]:
    """The script as the chunks Gemini streams, finishReason and usage on the last."""
    chunks: list[list[dict[str, Any]]] = []
    chunks.extend([[{"text": piece, "thought": True}] for piece in script.reasoning_pieces()])
    chunks.extend([[{"text": piece}] for piece in script.text_pieces()])
    calls = _function_calls(script)
    if calls or not chunks:
        chunks.append(calls or [{"text": ""}])
    out: list[dict[str, Any]] = []
    for n, parts in enumerate(chunks):
        last = n == len(chunks) - 1
        candidate: dict[str, Any] = {"content": {"parts": parts, "role": "model"}}
        if last:
            candidate["finishReason"] = _FINISH_REASONS.of(script)
        candidate["index"] = 0
        response: dict[str, Any] = {"candidates": [candidate]}
        usage = _usage(script.usage) if last else None
        if usage is not None:
            response["usageMetadata"] = usage
        response["modelVersion"] = script.model
        response["responseId"] = script.response_id
        out.append(response)
    return out


class GeminiRenderer(Renderer):
    name = "gemini"
    paths = (":streamGenerateContent", ":generateContent")

    def is_stream_request(self, target: str, body: Mapping[str, Any]) -> bool:
        return request_path(target).endswith(":streamGenerateContent")

    def model_of(self, target: str, body: Mapping[str, Any]) -> str | None:
        match = _MODEL_IN_PATH.search(request_path(target))
        return match.group(1) if match else None

    def render_stream(self, script: Script) -> list[bytes]:
        return [_sse(response) for response in _responses(script)]

    def render_body(self, script: Script) -> bytes:
        parts: list[dict[str, Any]] = []
        if script.reasoning:
            parts.append({"text": script.reasoning, "thought": True})
        if script.text or not script.tool_calls:
            parts.append({"text": script.text})
        parts.extend(_function_calls(script))
        final = _responses(script)[-1]
        final["candidates"][0]["content"]["parts"] = parts
        return dumps(final)

    def render_error(self, status: int, message: str) -> bytes:
        name = _STATUS_NAME.get(status, "INTERNAL" if status >= 500 else "FAILED_PRECONDITION")
        return dumps({"error": {"code": status, "message": message, "status": name}})

    def render_stream_error(self, message: str) -> bytes:
        return _sse({"error": {"code": 500, "message": message, "status": "INTERNAL"}})


RENDERER: Final = GeminiRenderer()
