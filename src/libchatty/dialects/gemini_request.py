"""Gemini requests: target, headers and JSON body, on the Gemini API or on Vertex AI.

How the neutral request is rendered (shapes from the Gemini API reference,
``GenerateContentRequest``; camelCase, as the rest of this dialect):

* **Content parts** (user messages; system, assistant and tool messages carry text
  only): inline bytes -- image, document or audio -- are ``{"inlineData": {"mimeType",
  "data"}}`` (``data`` is the part's base64, as built); a remote URL is ``{"fileData":
  {"mimeType"?, "fileUri"}}`` (``mimeType`` left out for a remote image of unknown
  type). ``s3://`` URLs are a ``ValueError``: Google cannot read them.
* **Structured output**: ``generationConfig.responseMimeType: "application/json"``, and
  for a :class:`~libchatty.options.JSONSchema` ``responseJsonSchema`` -- the schema as
  given, full JSON Schema (``$defs``, ``$ref``, ``anyOf``...), the newer field that takes
  a pydantic schema unchanged, rather than ``responseSchema``'s OpenAPI subset.
  ``"json"`` sends the MIME type alone.
* **Reasoning**: ``generationConfig.thinkingConfig``. ``budget_tokens`` is
  ``thinkingBudget``. An ``effort`` without a budget is ``thinkingLevel`` (``low``,
  ``medium``, ``high`` as given; Gemini 3 Pro takes only ``low`` and ``high``) on
  Gemini 3 and later, and ``thinkingBudget`` from :data:`THINKING_BUDGETS` (``low``
  1,024, ``medium`` 8,192, ``high`` 24,576) on older models, which have no levels.
  ``summary`` is ``includeThoughts: true`` (thought summaries arrive as reasoning).
  ``Reasoning()`` alone sends nothing: the model's own default.
* ``seed`` is ``generationConfig.seed`` (a 32-bit integer: ``ValueError`` outside
  :data:`SEED_RANGE`); ``n`` is ``candidateCount`` (at most :data:`MAX_CANDIDATES`).
  ``ChatRequest.headers`` are sent after the endpoint's and replace one of the same name.
* **Vertex AI**: an endpoint whose base URL ends in ``/projects/{project}/locations/
  {location}`` is Vertex: the model path is ``publishers/google/models/{model}`` (a model
  with a ``/`` is used as given) and the key is an OAuth bearer token
  (``Authorization: Bearer``) instead of ``x-goog-api-key``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import quote

from ..content import ContentPart, TextPart
from ..endpoint import Endpoint
from ..jsonload import JSONDecodeError, loads
from ..request import ChatRequest, Message
from .base import HTTPRequest, dumps
from .plumbing import (
    arguments_object,
    auth_headers,
    bearer,
    is_vertex,
    message_text,
    sampling,
    with_request_headers,
)

__all__ = [
    "DEFAULT_PREFIX",
    "MAX_CANDIDATES",
    "SEED_RANGE",
    "SKIP_SIGNATURE",
    "THINKING_BUDGETS",
    "build_request",
    "is_vertex",
]

#: The API version used when the endpoint's base URL has no path.
DEFAULT_PREFIX: Final = "/v1beta"
#: ``candidateCount``'s upper bound (the API's).
MAX_CANDIDATES: Final = 8
#: ``generationConfig.seed`` is an int32.
SEED_RANGE: Final = (-(2**31), 2**31 - 1)
#: ``Reasoning.effort`` -> ``thinkingBudget``, for models before Gemini 3.
THINKING_BUDGETS: Final = {"low": 1024, "medium": 8192, "high": 24576}
# Gemini 3 and later refuse a replayed functionCall part without its thoughtSignature. A
# ToolCall that has none (built by hand, or from another provider) gets the sentinel
# Google documents for history whose signatures were lost (ai.google.dev, thought
# signatures); a real signature is always sent back instead.
SKIP_SIGNATURE: Final = "skip_thought_signature_validator"
_GENERATION: Final = re.compile(r"(?:^|/)gemini-(\d+)(?:[.-]|$)")
_PROVIDER: Final = "Gemini"
_SAMPLING: Final = {
    "temperature": "temperature",
    "top_p": "topP",
    "max_tokens": "maxOutputTokens",
    "stop": "stopSequences",
}
# Anything else names the one function the model must call.
_TOOL_MODE: Final = {"auto": "AUTO", "none": "NONE", "required": "ANY"}


# --- content parts --------------------------------------------------------------------------
def _part(part: ContentPart, role: str) -> dict[str, Any] | None:
    if isinstance(part, TextPart):
        return {"text": part.text} if part.text else None
    if part.base64 is not None:
        return {"inlineData": {"mimeType": part.media_type, "data": part.base64}}
    url = getattr(part, "url", None) or ""
    if url[:5].lower() == "s3://":
        raise ValueError(
            f"{_PROVIDER} cannot read a {type(part).__name__} from an s3:// URL (in a {role} "
            "message); pass the bytes (data=...) or an https:// or gs:// URL"
        )
    file_data: dict[str, Any] = {"fileUri": url}
    if part.media_type is not None:
        file_data = {"mimeType": part.media_type, "fileUri": url}
    return {"fileData": file_data}


def _user_parts(message: Message) -> list[dict[str, Any]]:
    """A user message's parts; a str (or nothing) is one text part, as Gemini needs one."""
    if message.content is None or isinstance(message.content, str):
        return [{"text": message.content or ""}]
    parts = [_part(part, message.role) for part in message.content]
    return [part for part in parts if part is not None] or [{"text": ""}]


# --- messages -----------------------------------------------------------------------------
def _function_response(content: str) -> Any:
    """``functionResponse.response`` must be an object: a JSON object result is sent as
    is, anything else wrapped as ``{"result": ...}`` (as Google's SDKs do)."""
    try:
        value = loads(content)
    except JSONDecodeError:
        return {"result": content}
    return value if isinstance(value, Mapping) else {"result": value}


def _generation(model: str) -> int:
    """The Gemini generation a model name says (``gemini-3-pro`` -> 3), 0 if none."""
    match = _GENERATION.search(model)
    return int(match.group(1)) if match else 0


def _contents(
    messages: tuple[Message, ...], sign: bool = False
) -> tuple[list[str], list[dict[str, Any]]]:
    """(system texts, ``contents``). Consecutive messages of the same Gemini role share one
    turn: the results of parallel calls must all be in the turn after the model's calls.

    A tool result needs the function's name: ``Message.name``, else the name of the
    assistant tool call with that ``tool_call_id``, else the ``tool_call_id`` itself
    (Gemini sends no call ids, so callers often use the function name as one).
    Each replayed ``functionCall`` part carries its call's ``signature`` as
    ``thoughtSignature``; ``sign`` adds :data:`SKIP_SIGNATURE` to those without one."""
    system: list[str] = []
    contents: list[dict[str, Any]] = []
    names: dict[str, str] = {}
    for message in messages:
        parts: list[dict[str, Any]] = []
        if message.role in ("system", "developer"):
            system.append(_content(message))
            continue
        if message.role == "tool":
            call_id = message.tool_call_id or ""
            name = message.name or names.get(call_id) or call_id
            parts.append(
                {
                    "functionResponse": {
                        "name": name,
                        "response": _function_response(_content(message)),
                    }
                }
            )
            role = "user"
        elif message.role == "assistant":
            role = "model"
            if message.content or not message.tool_calls:
                parts.append({"text": _content(message)})
            for call in message.tool_calls:
                if call.id:
                    names[call.id] = call.name
                part: dict[str, Any] = {
                    "functionCall": {
                        "name": call.name,
                        "args": arguments_object(call.arguments, call.name, _PROVIDER),
                    }
                }
                if call.signature:
                    part["thoughtSignature"] = call.signature
                elif sign:
                    part["thoughtSignature"] = SKIP_SIGNATURE
                parts.append(part)
        else:
            role = "user"
            parts.extend(_user_parts(message))
        if contents and contents[-1]["role"] == role:
            contents[-1]["parts"].extend(parts)
        else:
            contents.append({"role": role, "parts": parts})
    return system, contents


def _content(message: Message) -> str:
    """System, assistant and tool messages: text only."""
    return message_text(message, _PROVIDER)


def _function_declaration(name: str, description: str, parameters: Mapping[str, Any]) -> Any:
    declaration: dict[str, Any] = {"name": name, "description": description}
    # A function without parameters leaves them unset: Gemini refuses an empty object.
    if parameters.get("properties") or parameters.get("type") not in ("object", None):
        # JSON Schema as given (additionalProperties, $defs... are accepted here, unlike
        # the OpenAPI subset of ``parameters``).
        declaration["parametersJsonSchema"] = dict(parameters)
    return declaration


def _model_path(model: str, collection: str) -> str:
    # "gemini-2.5-flash" -> models/gemini-2.5-flash (publishers/google/models/... on
    # Vertex); "models/x" and "tunedModels/x" as given.
    path = model if "/" in model else f"{collection}/{model}"
    return quote(path, safe="/@")


# --- options --------------------------------------------------------------------------------
def _thinking(request: ChatRequest) -> dict[str, Any] | None:
    reasoning = request.reasoning
    if reasoning is None:
        return None
    config: dict[str, Any] = {}
    if reasoning.budget_tokens is not None:
        config["thinkingBudget"] = reasoning.budget_tokens
    elif reasoning.effort is not None and _generation(request.model) >= 3:
        config["thinkingLevel"] = reasoning.effort
    elif reasoning.effort is not None:
        config["thinkingBudget"] = THINKING_BUDGETS[reasoning.effort]
    if reasoning.summary:
        config["includeThoughts"] = True
    return config or None


def _generation_config(request: ChatRequest) -> dict[str, Any]:
    config = sampling(request, _SAMPLING)
    if request.n is not None:
        if request.n > MAX_CANDIDATES:
            raise ValueError(
                f"{_PROVIDER} returns at most {MAX_CANDIDATES} candidates (ChatRequest.n)"
            )
        config["candidateCount"] = request.n
    if request.seed is not None:
        low, high = SEED_RANGE
        if not low <= request.seed <= high:
            raise ValueError(
                f"{_PROVIDER} takes a 32-bit seed: ChatRequest.seed must be from {low} to {high}"
            )
        config["seed"] = request.seed
    answer = request.neutral_response_format
    if answer is not None:
        config["responseMimeType"] = "application/json"
        if answer != "json":
            config["responseJsonSchema"] = dict(answer.schema)
    thinking = _thinking(request)
    if thinking is not None:
        config["thinkingConfig"] = thinking
    return config


def build_request(endpoint: Endpoint, request: ChatRequest) -> HTTPRequest:
    """The ``generateContent`` request for ``request`` at ``endpoint`` (see the module)."""
    vertex = is_vertex(endpoint)
    system, contents = _contents(tuple(request.messages), _generation(request.model) >= 3)
    body: dict[str, Any] = {}
    if system:
        body["systemInstruction"] = {"parts": [{"text": text} for text in system]}
    body["contents"] = contents
    config = _generation_config(request)
    if config:
        body["generationConfig"] = config
    if request.tool_list:
        body["tools"] = [
            {
                "functionDeclarations": [
                    _function_declaration(t.name, t.description, t.parameters)
                    for t in request.tool_list
                ]
            }
        ]
    if request.neutral_tool_choice is not None:
        mode = _TOOL_MODE.get(request.neutral_tool_choice)
        calling: dict[str, Any] = {"mode": mode or "ANY"}
        if mode is None:
            calling["allowedFunctionNames"] = [request.neutral_tool_choice]
        body["toolConfig"] = {"functionCallingConfig": calling}
    if request.extra:
        body.update(request.extra)
    prefix = endpoint.path_prefix or DEFAULT_PREFIX
    model = _model_path(request.model, "publishers/google/models" if vertex else "models")
    method = ":streamGenerateContent?alt=sse" if request.stream else ":generateContent"
    # The base URL's query (``?api-version=...``, even ``?key=...``) goes first.
    target = endpoint.with_query(f"{prefix}/{model}{method}")
    if vertex:
        own = bearer(endpoint)
    else:
        own = auth_headers(endpoint, ("x-goog-api-key", endpoint.api_key))
    return HTTPRequest("POST", target, with_request_headers(own, request), dumps(body))
