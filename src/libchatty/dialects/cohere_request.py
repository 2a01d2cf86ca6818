"""The body of a Cohere v2 chat request (``POST /v2/chat``), from a neutral ChatRequest.

Shapes are Cohere's API reference (docs.cohere.com/reference/chat):

* **Messages**: system/developer messages stay in place as ``system``; an assistant's tool
  calls go as ``tool_calls`` with its ``reasoning`` as ``tool_plan``; a tool result is one
  ``document`` (citable). A content given as text (a str, or parts that are all text) is
  sent as a string.
* **Content parts** (user messages; Cohere's vision models): with any image the content is
  a list of ``{"type": "text", "text"}`` and ``{"type": "image_url", "image_url": {"url",
  "detail"?}}`` blocks, the URL being the image's own http(s) URL or, for bytes, a
  ``data:`` URL of the part's ``base64`` (never re-encoded). Cohere takes no document or
  audio part (grounding documents go in ``ChatRequest.extra['documents']``), and images
  only in user messages: anything else is a ``ValueError`` naming the part.
* **Structured output**: ``"json"`` -> ``response_format: {"type": "json_object"}``; a
  ``JSONSchema`` -> ``{"type": "json_object", "json_schema": <schema>}`` (Cohere has no
  name, strictness or description). Cohere documents that older models do not take it
  together with ``documents`` or ``tools``; the server says so if it matters.
* **Reasoning**: ``thinking: {"type": "enabled", "token_budget"}``: the budget is
  ``Reasoning.budget_tokens``, else :data:`THINKING_BUDGETS` of the effort; a
  ``Reasoning()`` with neither sends no budget (the model's default). Cohere has no
  effort and no summary setting: ``summary`` is ignored (thinking text comes back whole).
* ``seed`` -> ``seed``; ``n`` above 1 is a ``ValueError`` (one answer per request).
* ``top_p`` is ``p``, ``stop`` ``stop_sequences``; ``tool_choice`` ``required``/``none`` is
  ``REQUIRED``/``NONE``, and a named tool is ``REQUIRED`` with only that tool offered.
  ``ChatRequest.extra`` is merged last (its ``documents`` checked).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from ..content import ImagePart, TextPart, data_url
from ..options import JSONSchema
from ..request import ChatRequest, Message
from .plumbing import (
    THINKING_BUDGETS,
    function_call,
    function_tool,
    part_name,
    refuse_n,
    sampling,
    sendable_calls,
)

__all__ = ["PROVIDER", "THINKING_BUDGETS", "request_body"]

#: Names the provider in error messages.
PROVIDER: Final = "Cohere"
_SAMPLING: Final = {
    "temperature": "temperature",
    "top_p": "p",
    "max_tokens": "max_tokens",
    "stop": "stop_sequences",
}
_TOOL_CHOICE: Final = {"required": "REQUIRED", "none": "NONE"}


def _content(message: Message) -> str | list[dict[str, Any]]:
    """A string unless the message carries an image; then Cohere's content blocks."""
    content = message.content
    if content is None or type(content) is str:
        return content or ""
    if all(isinstance(part, TextPart) for part in content):
        return message.text
    blocks: list[dict[str, Any]] = []
    for number, part in enumerate(content):
        where = f"part {number} of a {message.role} message"
        if isinstance(part, TextPart):
            blocks.append({"type": "text", "text": part.text})
        elif not isinstance(part, ImagePart):
            raise ValueError(
                f"{PROVIDER} cannot send {part_name(part)} ({where}): it takes "
                "text and images (grounding documents go in ChatRequest.extra['documents'])"
            )
        elif message.role != "user":
            raise ValueError(f"{PROVIDER} takes images in user messages only ({where})")
        else:
            url = part.url if part.base64 is None else data_url(part.media_type or "", part.base64)
            image: dict[str, Any] = {"url": url}
            if part.detail is not None:
                image["detail"] = part.detail
            blocks.append({"type": "image_url", "image_url": image})
    return blocks


def _assistant(message: Message) -> dict[str, Any]:
    out: dict[str, Any] = {"role": "assistant"}
    if not message.tool_calls:
        out["content"] = _content(message)
        return out
    if message.reasoning:
        out["tool_plan"] = message.reasoning
    if message.content:
        out["content"] = _content(message)
    calls = sendable_calls(message, PROVIDER)
    out["tool_calls"] = [function_call(call, call.arguments or "{}") for call in calls]
    return out


def _message_json(message: Message) -> dict[str, Any]:
    if message.role in ("system", "developer"):
        return {"role": "system", "content": _content(message)}
    if message.role == "assistant":
        return _assistant(message)
    if message.role == "tool":
        # One document per result: the model can cite it, as it cites grounding documents.
        _content(message)  # refuses what a result cannot carry
        document = {"type": "document", "document": {"data": message.text}}
        return {"role": "tool", "tool_call_id": message.tool_call_id, "content": [document]}
    return {"role": "user", "content": _content(message)}


def _check_documents(documents: Any) -> None:
    """Cohere's ``documents``: a list of strings, or of ``{"data": {...}, "id"?}``."""
    for n, doc in enumerate(documents if isinstance(documents, (list, tuple)) else [None]):
        if not isinstance(doc, str) and not (
            isinstance(doc, Mapping)
            and isinstance(doc.get("data"), Mapping)
            and isinstance(doc.get("id", ""), str)
            and set(doc) <= {"data", "id"}
        ):
            raise ValueError(
                f"ChatRequest.extra['documents'] must be a list of strings or of objects "
                f"with a 'data' object and an optional string 'id' (item {n} is not)"
            )


def _tools(request: ChatRequest) -> tuple[list[dict[str, Any]], str | None]:
    """(tools, tool_choice): a named tool is forced by offering it alone, REQUIRED."""
    tools = request.tool_list
    choice = request.neutral_tool_choice
    wire_choice = _TOOL_CHOICE.get(choice) if choice is not None else None
    if choice is not None and choice != "auto" and wire_choice is None:
        if not tools:
            raise ValueError(
                f"Cohere cannot force tool {choice!r} without ChatRequest.tools "
                "(it is forced by offering it alone)"
            )
        tools = tuple(tool for tool in tools if tool.name == choice)
        wire_choice = "REQUIRED"
    return [function_tool(tool) for tool in tools], wire_choice


def _settings(request: ChatRequest) -> dict[str, Any]:
    """``response_format``, ``thinking`` and ``seed``; ``ValueError`` for ``n`` above 1."""
    refuse_n(request, PROVIDER)
    out: dict[str, Any] = {}
    response_format = request.neutral_response_format
    if isinstance(response_format, JSONSchema):
        out["response_format"] = {
            "type": "json_object",
            "json_schema": dict(response_format.schema),
        }
    elif response_format == "json":
        out["response_format"] = {"type": "json_object"}
    if request.reasoning is not None:
        thinking: dict[str, Any] = {"type": "enabled"}
        budget = request.reasoning.budget(THINKING_BUDGETS)
        if budget is not None:
            thinking["token_budget"] = budget
        out["thinking"] = thinking
    if request.seed is not None:
        out["seed"] = request.seed
    return out


def request_body(request: ChatRequest) -> dict[str, Any]:
    """The JSON body of ``request`` for Cohere v2 chat (see the module)."""
    body: dict[str, Any] = {
        "model": request.model,
        "messages": [_message_json(m) for m in request.messages],
    }
    tools, choice = _tools(request)
    if tools:
        body["tools"] = tools
    if choice is not None:
        body["tool_choice"] = choice
    body.update(sampling(request, _SAMPLING))
    body.update(_settings(request))
    if request.stream:
        body["stream"] = True
    if request.extra:
        if "documents" in request.extra:
            _check_documents(request.extra["documents"])
        body.update(request.extra)
    return body
