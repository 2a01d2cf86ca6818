"""Anthropic Messages requests: target, headers and JSON body, direct or on Vertex AI.

How the neutral request is rendered (shapes from Anthropic's Messages API reference):

* **Content parts** (user messages and tool results; system and assistant messages carry
  text only). An image is ``{"type": "image", "source": {"type": "base64", "media_type",
  "data"}}`` or ``{"type": "image", "source": {"type": "url", "url"}}``; JPEG, PNG, GIF and
  WebP only. A document is ``{"type": "document", "source": ..., "title"?}`` with a
  ``base64`` source for an inline PDF, a ``text`` source (``media_type: text/plain``, the
  decoded text) for inline plain text, a ``url`` source for a PDF at an http(s) URL;
  ``title`` is ``DocumentPart.name``. Audio, other media types and ``gs://``/``s3://``
  URLs are a ``ValueError`` naming Anthropic and the part.
* **Structured output**: a :class:`~libchatty.options.JSONSchema` uses Anthropic's native
  structured outputs, ``output_config: {"format": {"type": "json_schema", "schema"}}``
  (generally available; it replaced the beta ``output_format`` and its
  ``structured-outputs-2025-11-13`` header). The answer is ordinary text. ``strict=True``
  sends :func:`~libchatty.options.strict_schema` (closed objects, every property
  required, as Anthropic demands), ``strict=False`` the schema as given. ``"json"``
  (any JSON object) has no native form: it is a forced tool :data:`JSON_TOOL` whose
  ``input_schema`` is ``{"type": "object"}``; the decoder streams that tool's input as
  the answer's *text* and never reports it as a tool call. The name is reserved, and
  the forced call excludes ``tool_choice`` and extended thinking (``ValueError``).
* **Reasoning**: ``thinking: {"type": "enabled", "budget_tokens"}``. The budget is
  ``Reasoning.budget_tokens``, else :data:`THINKING_BUDGETS` of the effort (``low``
  2,048, ``medium`` 8,192, ``high`` 24,576; ``Reasoning()`` alone means ``medium``).
  Anthropic requires ``max_tokens`` above the budget: without ``max_tokens`` the request
  asks for the budget plus :data:`DEFAULT_MAX_TOKENS`; a ``max_tokens`` at or below the
  budget is a ``ValueError`` (the caller's limit is never raised silently). Temperature,
  and a forced tool choice, are refused with thinking, as the API refuses them.
  ``summary`` needs no field: Claude 4 models return summarised thinking already.
* ``seed`` does not exist and ``n`` is always 1: ``seed`` set, or ``n > 1``, is a
  ``ValueError``. ``ChatRequest.headers`` are sent after the endpoint's and replace a
  header of the same name.
* **Vertex AI**: an endpoint whose base URL ends in ``/projects/{project}/locations/
  {location}`` is Vertex. The target is ``.../publishers/anthropic/models/{model}:
  streamRawPredict`` (``:rawPredict`` unstreamed), the body has ``anthropic_version:
  "vertex-2023-10-16"`` instead of ``model``, and the key is an OAuth bearer token.
"""

from __future__ import annotations

import binascii
from typing import Any, Final
from urllib.parse import quote

from ..content import AudioPart, ContentPart, DocumentPart, ImagePart, TextPart
from ..endpoint import Endpoint
from ..options import strict_schema
from ..request import ChatRequest, Message
from .base import HTTPRequest, dumps
from .plumbing import (
    ANSWER_TOKENS,
    THINKING_BUDGETS,
    arguments_object,
    auth_headers,
    bearer,
    is_vertex,
    message_text,
    refuse_n,
    sampling,
    sendable_calls,
    thinking_budget,
    turns_joining_results,
    with_request_headers,
)

__all__ = [
    "API_VERSION",
    "DEFAULT_MAX_TOKENS",
    "JSON_TOOL",
    "PROVIDER",
    "THINKING_BUDGETS",
    "VERTEX_VERSION",
    "build_request",
    "is_vertex",
]

API_VERSION: Final = "2023-06-01"
#: The ``anthropic_version`` Vertex AI wants in the body.
VERTEX_VERSION: Final = "vertex-2023-10-16"
#: Anthropic requires ``max_tokens``; this is used when the request gives none (and
#: added to the thinking budget with reasoning).
DEFAULT_MAX_TOKENS: Final = ANSWER_TOKENS
#: The forced tool that carries a ``response_format="json"`` answer (reserved name).
JSON_TOOL: Final = "json_answer"

#: Names the provider in error messages.
PROVIDER: Final = "Anthropic"
_SAMPLING: Final = {"temperature": "temperature", "top_p": "top_p", "stop": "stop_sequences"}
# Anything else names the one tool the model must call.
_TOOL_CHOICE: Final = {"auto": "auto", "none": "none", "required": "any"}
_IMAGE_TYPES: Final = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})


# --- content parts ------------------------------------------------------------------------
def _remote(url: str | None, what: str) -> str:
    if url is None or not url[:8].lower().startswith(("http://", "https://")):
        raise ValueError(
            f"{PROVIDER} cannot fetch {what} from a {str(url).partition(':')[0]}:// URL; "
            "pass the bytes (data=...) or an http(s):// URL"
        )
    return url


def _image(part: ImagePart) -> dict[str, Any]:
    if part.media_type is not None and part.media_type not in _IMAGE_TYPES:
        raise ValueError(
            f"{PROVIDER} takes JPEG, PNG, GIF or WebP images, not {part.media_type} (ImagePart)"
        )
    if part.base64 is not None:
        source = {"type": "base64", "media_type": part.media_type, "data": part.base64}
    else:
        source = {"type": "url", "url": _remote(part.url, "an image (ImagePart)")}
    return {"type": "image", "source": source}


def _document(part: DocumentPart) -> dict[str, Any]:
    media_type = part.media_type
    source: dict[str, Any]
    if part.base64 is not None and media_type == "application/pdf":
        source = {"type": "base64", "media_type": media_type, "data": part.base64}
    elif part.base64 is not None and media_type == "text/plain":
        # Anthropic takes plain text as text, not base64: decoded once, here.
        try:
            text = binascii.a2b_base64(part.base64).decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError(
                f"{PROVIDER}: a text/plain DocumentPart must hold UTF-8 text"
            ) from None
        source = {"type": "text", "media_type": "text/plain", "data": text}
    elif part.base64 is None and media_type == "application/pdf":
        source = {"type": "url", "url": _remote(part.url, "a document (DocumentPart)")}
    else:
        where = "inline" if part.base64 is not None else "by URL"
        allowed = "PDF or text/plain" if part.base64 is not None else "PDF"
        raise ValueError(
            f"{PROVIDER} takes {allowed} documents {where}, not {media_type} (DocumentPart)"
        )
    block: dict[str, Any] = {"type": "document", "source": source}
    if part.name:
        block["title"] = part.name
    return block


def _block(part: ContentPart, role: str) -> dict[str, Any] | None:
    if isinstance(part, TextPart):
        return {"type": "text", "text": part.text} if part.text else None  # no empty blocks
    if isinstance(part, ImagePart):
        return _image(part)
    if isinstance(part, DocumentPart):
        return _document(part)
    if isinstance(part, AudioPart):
        raise ValueError(
            f"{PROVIDER} cannot send audio (an AudioPart in a {role} message); transcribe it first"
        )
    raise ValueError(f"{PROVIDER} cannot send a {type(part).__name__}")  # pragma: no cover


def _blocks(message: Message) -> list[dict[str, Any]]:
    blocks = (_block(part, message.role) for part in message.parts)
    return [block for block in blocks if block is not None]


def _content(message: Message) -> str | list[dict[str, Any]]:
    """A user message's or tool result's content: a str stays a str, parts are blocks."""
    if message.content is None or isinstance(message.content, str):
        return message.content or ""
    return _blocks(message)


def _text(message: Message) -> str:
    """System and assistant messages: text only (the API takes no media there)."""
    return message_text(message, PROVIDER)


# --- messages -----------------------------------------------------------------------------
def _assistant_content(message: Message) -> str | list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if message.reasoning_signature:
        # Extended thinking with tool use: the signed thinking block goes back unchanged
        # and first. Unsigned reasoning is never sent: the API rejects it.
        blocks.append(
            {
                "type": "thinking",
                "thinking": message.reasoning or "",
                "signature": message.reasoning_signature,
            }
        )
    elif not message.tool_calls:
        return _text(message)
    if message.content:
        blocks.append({"type": "text", "text": _text(message)})
    for call in sendable_calls(message, PROVIDER):
        blocks.append(
            {
                "type": "tool_use",
                "id": call.id,
                "name": call.name,
                "input": arguments_object(call.arguments, call.name, PROVIDER),
            }
        )
    return blocks


def _tool_result(message: Message) -> dict[str, Any]:
    content = _content(message)
    return {"type": "tool_result", "tool_use_id": message.tool_call_id, "content": content}


def _joined(message: Message) -> list[dict[str, Any]]:
    """A user message's blocks, in the user turn of the tool results before it."""
    content = _content(message)
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []  # no empty blocks
    return content


def _turn(message: Message) -> dict[str, Any]:
    if message.role == "assistant":
        return {"role": "assistant", "content": _assistant_content(message)}
    return {"role": "user", "content": _content(message)}


def messages(request_messages: tuple[Message, ...]) -> tuple[list[str], list[dict[str, Any]]]:
    """(system texts, Messages API messages). Tool results become ``tool_result`` blocks
    of one user message, which also takes a user message that directly follows them: the
    API wants every result of a parallel call in the user turn after the assistant's."""
    system, turns = turns_joining_results(request_messages, _tool_result, _joined, _turn)
    return [_text(message) for message in system], turns


# --- options ------------------------------------------------------------------------------
def _refuse_unsupported(request: ChatRequest) -> None:
    if request.seed is not None:
        raise ValueError(f"{PROVIDER} has no seed option; leave ChatRequest.seed unset")
    refuse_n(request, PROVIDER)


def _thinking(request: ChatRequest, body: dict[str, Any]) -> None:
    if request.reasoning is None:
        return
    if request.temperature is not None:
        raise ValueError(
            f"{PROVIDER} does not allow temperature with extended thinking (reasoning=...); "
            "leave ChatRequest.temperature unset"
        )
    if request.neutral_tool_choice not in (None, "auto", "none"):
        raise ValueError(
            f"{PROVIDER} allows only tool_choice 'auto' or 'none' with extended thinking"
        )
    budget, body["max_tokens"] = thinking_budget(request, PROVIDER)
    body["thinking"] = {"type": "enabled", "budget_tokens": budget}


def _response_format(request: ChatRequest, body: dict[str, Any]) -> None:
    answer = request.neutral_response_format
    if answer is None:
        return
    if answer != "json":
        schema = strict_schema(answer.schema) if answer.strict else dict(answer.schema)
        body["output_config"] = {"format": {"type": "json_schema", "schema": schema}}
        return
    if request.reasoning is not None or request.neutral_tool_choice is not None:
        raise ValueError(
            f"{PROVIDER}'s JSON mode (response_format='json') is a forced tool call, which "
            "excludes tool_choice and reasoning; pass a JSONSchema instead"
        )
    tool = {
        "name": JSON_TOOL,
        "description": "Give the answer as one JSON object.",
        "input_schema": {"type": "object"},
    }
    body.setdefault("tools", []).append(tool)
    body["tool_choice"] = {"type": "tool", "name": JSON_TOOL}


def _tools(request: ChatRequest, body: dict[str, Any]) -> None:
    if request.tool_list:
        body["tools"] = [
            {
                "name": tool.name,
                "description": tool.description,
                "input_schema": dict(tool.parameters),
            }
            for tool in request.tool_list
        ]
        if any(tool.name == JSON_TOOL for tool in request.tool_list):
            raise ValueError(f"the tool name {JSON_TOOL!r} is reserved for Anthropic JSON mode")
    if request.neutral_tool_choice is not None:
        name = request.neutral_tool_choice
        choice = _TOOL_CHOICE.get(name)
        body["tool_choice"] = {"type": choice} if choice else {"type": "tool", "name": name}


def _target(endpoint: Endpoint, request: ChatRequest, vertex: bool) -> str:
    if vertex:
        method = ":streamRawPredict" if request.stream else ":rawPredict"
        model = quote(request.model, safe="@")
        return endpoint.url(f"/publishers/anthropic/models/{model}{method}")
    # The provider's base URL has no /v1; a user's ".../v1" must not become /v1/v1.
    if endpoint.path_prefix.endswith("/v1"):
        return endpoint.url("/messages")
    return endpoint.url("/v1/messages")


def build_request(endpoint: Endpoint, request: ChatRequest) -> HTTPRequest:
    """The Messages request for ``request`` at ``endpoint`` (see the module)."""
    _refuse_unsupported(request)
    vertex = is_vertex(endpoint)
    system, turns = messages(tuple(request.messages))
    body: dict[str, Any] = (
        {"anthropic_version": VERTEX_VERSION} if vertex else {"model": request.model}
    )
    body["max_tokens"] = request.max_tokens or DEFAULT_MAX_TOKENS
    if len(system) == 1:
        body["system"] = system[0]
    elif system:
        body["system"] = [{"type": "text", "text": text} for text in system]
    body["messages"] = turns
    body.update(sampling(request, _SAMPLING))
    _tools(request, body)
    _thinking(request, body)
    _response_format(request, body)
    if request.stream:
        body["stream"] = True
    if request.extra:
        body.update(request.extra)
    if vertex:
        own = bearer(endpoint)
    else:
        own = auth_headers(
            endpoint, ("x-api-key", endpoint.api_key), ("anthropic-version", API_VERSION)
        )
    headers = with_request_headers(own, request)
    return HTTPRequest("POST", _target(endpoint, request, vertex), headers, dumps(body))
