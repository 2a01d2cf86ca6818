"""The request of a Bedrock Converse call (``POST /model/{modelId}/converse[-stream]``).

Shapes are the Bedrock runtime API reference (``Converse``, ``Message``,
``ContentBlock``, ``ImageBlock``, ``DocumentBlock``, ``ToolConfiguration``,
``OutputConfig``):

* **Messages**: system/developer text becomes ``system`` blocks; tool results are
  ``toolResult`` blocks of one user message (which also takes a user message directly
  after them: Bedrock wants the roles to alternate); an assistant's signed reasoning goes
  back first as ``reasoningContent`` (unsigned reasoning is never sent).
* **Content parts**: text is ``{"text"}``; an image ``{"image": {"format": "png"|"jpeg"|
  "gif"|"webp", "source": {"bytes": <the part's base64>}}}``; a document (PDF, CSV, HTML,
  plain text, Markdown) ``{"document": {"format", "name", "source": {"bytes"}}}``. An
  ``s3://`` URL is ``"source": {"s3Location": {"uri"}}``. Converse takes no http(s) URL
  and no audio: those are a ``ValueError`` naming the part.
* **Structured output**: native, ``outputConfig.textFormat`` (``{"type": "json_schema",
  "structure": {"jsonSchema": {"schema": <JSON text>, "name", "description"?}}}``): the
  answer streams as ordinary text. A ``JSONSchema`` with ``strict=True`` is sent in
  :func:`~libchatty.options.strict_schema` form (Bedrock's constrained decoding, like
  Claude's, wants ``additionalProperties: false`` and every property required);
  ``"json"`` (any JSON object) is the schema ``{"type": "object"}`` named ``json``.
* **Reasoning**, by model id: an Anthropic model (the id or ARN contains ``anthropic.``)
  gets ``additionalModelRequestFields.thinking = {"type": "enabled", "budget_tokens"}``:
  ``Reasoning.budget_tokens``, else :data:`THINKING_BUDGETS` of the effort (``medium``
  when neither is set). As in Anthropic's API, ``maxTokens`` must exceed the budget:
  without ``max_tokens`` it is the budget plus :data:`DEFAULT_MAX_TOKENS`; a
  ``max_tokens`` at or below it is a ``ValueError``. Other models have no common
  reasoning field: ``ValueError`` (pass the model's own fields in
  ``extra['additionalModelRequestFields']``). ``summary`` has no Converse form.
* ``seed`` and ``n`` are a ``ValueError``: Converse has neither.
* ``tool_choice="none"`` has no Converse form: ``toolConfig`` is left out, unless the
  conversation holds tool calls or results (Bedrock then requires one): the tools are
  sent without ``toolChoice`` and the model may still call one.
* ``ChatRequest.extra`` is merged into the body's top level last, except that its
  ``additionalModelRequestFields`` are merged into the ones rendered here.
* Headers: a Bedrock API key as ``Authorization: Bearer`` (unless the endpoint sets
  ``Authorization``), the endpoint's headers, then ``ChatRequest.headers``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final
from urllib.parse import quote

from ..content import DocumentPart, ImagePart, TextPart
from ..endpoint import Endpoint
from ..options import JSONSchema, strict_schema
from ..request import ChatRequest, Message
from .base import HTTPRequest, dumps
from .plumbing import (
    ANSWER_TOKENS,
    THINKING_BUDGETS,
    arguments_object,
    bearer_headers,
    refuse_n,
    sampling,
    sendable_calls,
    thinking_budget,
    turns_joining_results,
)

__all__ = [
    "DEFAULT_MAX_TOKENS",
    "PROVIDER",
    "THINKING_BUDGETS",
    "build_request",
    "converse_target",
]

#: Names the provider in error messages.
PROVIDER: Final = "Bedrock"
_TOOL_CHOICE: Final[Mapping[str, dict[str, Any]]] = {"auto": {"auto": {}}, "required": {"any": {}}}
#: Answer tokens on top of the thinking budget when the caller set no ``max_tokens``.
DEFAULT_MAX_TOKENS: Final = ANSWER_TOKENS
_SAMPLING: Final = {
    "max_tokens": "maxTokens",
    "temperature": "temperature",
    "top_p": "topP",
    "stop": "stopSequences",
}
# Document media types -> Converse ``document.format``.
_DOCUMENTS: Final = {
    "application/pdf": "pdf",
    "text/csv": "csv",
    "text/html": "html",
    "text/plain": "txt",
    "text/markdown": "md",
}
_IMAGES: Final = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})


def _source(part: ImagePart | DocumentPart, what: str) -> dict[str, Any]:
    """``{"bytes": base64}`` for inline content, ``{"s3Location": {"uri"}}`` for S3."""
    if part.base64 is not None:
        return {"bytes": part.base64}
    if part.url is not None and part.url[:5].lower() == "s3://":
        return {"s3Location": {"uri": part.url}}
    raise ValueError(
        f"{PROVIDER} cannot send {what} from an http(s) URL; pass the bytes (data=...) "
        "or an s3:// URL"
    )


def _part(part: Any) -> dict[str, Any]:
    """One content part as a Converse block (see the module)."""
    if isinstance(part, TextPart):
        return {"text": part.text}
    if isinstance(part, ImagePart):
        source = _source(part, "an image")
        if part.media_type not in _IMAGES:
            raise ValueError(
                f"{PROVIDER} takes PNG, JPEG, GIF and WebP images, not {part.media_type}"
            )
        return {"image": {"format": part.media_type.removeprefix("image/"), "source": source}}
    if isinstance(part, DocumentPart):
        source = _source(part, "a document")
        if part.media_type not in _DOCUMENTS:
            raise ValueError(
                f"{PROVIDER} takes PDF, CSV, HTML, plain-text and Markdown documents, "
                f"not {part.media_type}"
            )
        fields = {"format": _DOCUMENTS[part.media_type], "name": part.name or "document"}
        return {"document": {**fields, "source": source}}
    raise ValueError(f"{PROVIDER} cannot send {type(part).__name__}: Converse takes no audio")


def _content(message: Message) -> list[dict[str, Any]]:
    return [_part(part) for part in message.parts] or [{"text": ""}]


def _assistant(message: Message) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if message.reasoning_signature:
        # Signed reasoning goes back unchanged and first, as tool use with reasoning
        # requires; unsigned reasoning is never sent (the model would reject it).
        text = {"text": message.reasoning or "", "signature": message.reasoning_signature}
        blocks.append({"reasoningContent": {"reasoningText": text}})
    if message.parts or not (blocks or message.tool_calls):
        blocks.extend(_content(message))
    for call in sendable_calls(message, PROVIDER):
        arguments = arguments_object(call.arguments, call.name, PROVIDER)
        blocks.append({"toolUse": {"toolUseId": call.id, "name": call.name, "input": arguments}})
    return blocks


def _tool_result(message: Message) -> dict[str, Any]:
    content = [{"text": message.text}]
    return {"toolResult": {"toolUseId": message.tool_call_id, "content": content}}


def _joined(message: Message) -> list[dict[str, Any]]:
    """A user message's blocks, in the user turn of the tool results before it."""
    return [_part(part) for part in message.parts]


def _turn(message: Message) -> dict[str, Any]:
    content = _assistant(message) if message.role == "assistant" else _content(message)
    return {"role": message.role, "content": content}


def _messages(messages: Iterable[Message]) -> tuple[list[dict[str, str]], list[dict[str, Any]]]:
    """(system blocks, Converse messages): tool results are ``toolResult`` blocks of one
    user message, which also takes a user message directly after them."""
    system, turns = turns_joining_results(messages, _tool_result, _joined, _turn)
    return [{"text": m.text} for m in system if m.text], turns  # no empty system block


def _has_tool_blocks(messages: Iterable[Message]) -> bool:
    return any(m.role == "tool" or m.tool_calls for m in messages)


def _tool_config(request: ChatRequest, messages: tuple[Message, ...]) -> dict[str, Any] | None:
    choice = request.neutral_tool_choice
    if not request.tool_list or (choice == "none" and not _has_tool_blocks(messages)):
        return None
    tools = []
    for tool in request.tool_list:
        spec: dict[str, Any] = {"name": tool.name}
        if tool.description:  # Bedrock refuses an empty description
            spec["description"] = tool.description
        spec["inputSchema"] = {"json": dict(tool.parameters)}
        tools.append({"toolSpec": spec})
    config: dict[str, Any] = {"tools": tools}
    if choice is not None and choice != "none":
        config["toolChoice"] = _TOOL_CHOICE.get(choice) or {"tool": {"name": choice}}
    return config


def _output_config(request: ChatRequest) -> dict[str, Any] | None:
    response_format = request.neutral_response_format
    if response_format is None:
        return None
    if isinstance(response_format, JSONSchema):
        schema = dict(response_format.schema)
        if response_format.strict:
            schema = strict_schema(schema)
        definition: dict[str, Any] = {
            "schema": dumps(schema).decode(),
            "name": response_format.name,
        }
        if response_format.description:
            definition["description"] = response_format.description
    else:
        definition = {"schema": '{"type":"object"}', "name": "json"}
    return {"textFormat": {"type": "json_schema", "structure": {"jsonSchema": definition}}}


def _thinking(request: ChatRequest, config: dict[str, Any]) -> dict[str, Any]:
    """``additionalModelRequestFields`` for ``request.reasoning``; fixes ``maxTokens``."""
    reasoning = request.reasoning
    if reasoning is None:
        return {}
    if "anthropic." not in request.model:
        raise ValueError(
            f"{PROVIDER}: no reasoning setting is known for model {request.model[:80]!r} "
            "(only Anthropic models'); pass the model's own fields in "
            "ChatRequest.extra['additionalModelRequestFields']"
        )
    budget, config["maxTokens"] = thinking_budget(request, PROVIDER, " for an Anthropic model")
    return {"thinking": {"type": "enabled", "budget_tokens": budget}}


def request_body(request: ChatRequest) -> dict[str, Any]:
    """The Converse JSON body of ``request`` (see the module)."""
    if request.seed is not None:
        raise ValueError(f"{PROVIDER} Converse has no seed: ChatRequest.seed must be None")
    refuse_n(request, f"{PROVIDER} Converse")
    messages = tuple(request.messages)
    system, converse = _messages(messages)
    body: dict[str, Any] = {"messages": converse}
    if system:
        body["system"] = system
    config = sampling(request, _SAMPLING)
    fields = _thinking(request, config)
    if config:
        body["inferenceConfig"] = config
    tool_config = _tool_config(request, messages)
    if tool_config is not None:
        body["toolConfig"] = tool_config
    output_config = _output_config(request)
    if output_config is not None:
        body["outputConfig"] = output_config
    extra = dict(request.extra or {})
    extra_fields = extra.pop("additionalModelRequestFields", None)
    if isinstance(extra_fields, Mapping):
        fields = {**fields, **extra_fields}
    elif extra_fields is not None:
        raise ValueError("ChatRequest.extra['additionalModelRequestFields'] must be a mapping")
    if fields:
        body["additionalModelRequestFields"] = fields
    body.update(extra)
    return body


def converse_target(endpoint: Endpoint, model: str, stream: bool) -> str:
    """The request target: the model id percent-encoded as one path segment, as botocore
    sends it (``:`` -> ``%3A``, and ``/`` of an ARN -> ``%2F``)."""
    action = "converse-stream" if stream else "converse"
    return endpoint.url(f"/model/{quote(model, safe='~')}/{action}")


def build_request(endpoint: Endpoint, request: ChatRequest) -> HTTPRequest:
    """The unsigned request (``sign_request`` in :mod:`.bedrock` adds the signature)."""
    body = request_body(request)
    headers = bearer_headers(endpoint, request)
    target = converse_target(endpoint, request.model, request.stream)
    return HTTPRequest("POST", target, headers, dumps(body))
