"""Request bodies for OpenAI's two APIs: chat completions and Responses.

Both APIs take the same neutral :class:`~libchatty.request.ChatRequest`; this module is
the one place it becomes their JSON. The decoders are in :mod:`.openai_chat` and
:mod:`.openai_responses`.

**Chat completions** (``POST {base}/chat/completions``), from the API reference's
``messages[].content`` array and request fields:

* parts: ``{"type": "text", "text"}``; ``{"type": "image_url", "image_url": {"url",
  "detail"?}}`` with a ``data:`` URL for inline bytes or the http(s) URL; ``{"type":
  "input_audio", "input_audio": {"data": base64, "format": "wav" | "mp3"}}``; ``{"type":
  "file", "file": {"filename", "file_data": data: URL}}`` (PDF only; the API has no file
  URL). Parts other than text only in a ``user`` message. Content that is text only is
  sent as one string, as before;
* ``response_format``: ``{"type": "json_object"}`` for ``"json"``, ``{"type":
  "json_schema", "json_schema": {"name", "schema", "strict", "description"?}}`` for a
  :class:`~libchatty.options.JSONSchema` (the schema in OpenAI's strict form, via
  :func:`~libchatty.options.strict_schema`, when ``strict``);
* reasoning: ``reasoning_effort`` (``Reasoning.effort``, or derived from
  ``budget_tokens``: up to 2,048 ``low``, up to 8,192 ``medium``, above ``high``).
  ``summary`` has no chat-completions field and is not sent: OpenAI returns no
  reasoning text there, and compatible servers that reason (DeepSeek, vLLM) stream it
  unasked;
* ``max_tokens`` under :attr:`Endpoint.max_tokens_field
  <libchatty.endpoint.Endpoint.max_tokens_field>` (``max_completion_tokens`` for OpenAI
  and Azure, whose reasoning models refuse ``max_tokens``); ``seed``; ``n``.

**Responses** (``POST {base}/responses``):

* parts: ``{"type": "input_text", "text"}``; ``{"type": "input_image", "image_url",
  "detail"}`` (``detail`` ``auto`` unless given); ``{"type": "input_file", "filename",
  "file_data": data: URL}`` or ``{"type": "input_file", "file_url"}``. The API takes no
  audio input: an :class:`~libchatty.content.AudioPart` is refused;
* ``text.format``: ``{"type": "json_object"}`` or ``{"type": "json_schema", "name",
  "schema", "strict", "description"?}``;
* ``reasoning``: ``{"effort"}`` (derived from a budget as above) and ``"summary":
  "auto"`` when ``Reasoning.summary``;
* ``max_output_tokens``. The API has no ``stop``, ``seed`` or ``n``: a request that sets
  one (``n`` above 1) is a ``ValueError``, not silently answered without it.

A part or setting the API cannot carry is a ``ValueError`` naming the API and the part,
raised before anything is sent. Inline bytes are never re-encoded: ``part.base64`` is.
Per-request ``headers`` come after the endpoint's and replace one of the same name.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from ..endpoint import Endpoint
from ..request import ChatRequest, Message
from .base import HTTPRequest, dumps
from .plumbing import (
    bearer,
    function_call,
    function_tool,
    refuse_n,
    sampling,
    sendable_calls,
    with_request_headers,
)

if TYPE_CHECKING:
    # At run time, imported where a message's parts are rendered (loaded by then: the
    # parts are its classes); a chat with string content never loads libchatty.content.
    from ..content import ContentPart, DocumentPart, ImagePart

__all__ = ["EFFORT_FOR_BUDGET", "chat_request", "responses_request"]

_CHAT: Final = "OpenAI chat completions"
_RESPONSES: Final = "the OpenAI Responses API"
#: ``Reasoning.budget_tokens`` -> effort, for APIs that take only an effort.
EFFORT_FOR_BUDGET: Final = ((2048, "low"), (8192, "medium"), (32768, "high"))
# input_audio formats chat completions documents.
_CHAT_AUDIO: Final = frozenset({"wav", "mp3"})
_DEFAULT_FILENAME: Final = "document.pdf"


def _refuse(api: str, part: ContentPart, why: str) -> ValueError:
    return ValueError(f"{api} cannot send {why} ({type(part).__name__})")


def _remote(api: str, part: ImagePart | DocumentPart, what: str) -> str:
    url = part.url or ""
    if not url.lower().startswith(("http://", "https://")):
        why = f"{what} by a gs:// or s3:// URL; pass an https:// URL or the bytes"
        raise _refuse(api, part, why)
    return url


class _Target:
    """The request target at ``path`` and the :func:`bearer` headers of the last endpoint
    asked for: every request of a client asks for the same (the URL and headers cost a
    fifth of building a request). Kept for that endpoint object while its ``headers``
    -- a mapping the caller might change -- are what they were; one entry, swapped
    whole (threads share it)."""

    __slots__ = ("_last", "_path")

    def __init__(self, path: str) -> None:
        self._path = path
        self._last: tuple[Endpoint, dict[str, str], str, tuple[tuple[str, str], ...]] | None
        self._last = None

    def of(self, endpoint: Endpoint) -> tuple[str, tuple[tuple[str, str], ...]]:
        last = self._last
        if last is not None and last[0] is endpoint and last[1] == endpoint.headers:
            return last[2], last[3]
        target, headers = endpoint.url(self._path), bearer(endpoint)
        self._last = (endpoint, dict(endpoint.headers), target, headers)
        return target, headers


_chat_target: Final = _Target("/chat/completions")
_responses_target: Final = _Target("/responses")


# --- chat completions -------------------------------------------------------------------------
def _chat_part(part: ContentPart) -> dict[str, Any]:
    from ..content import AudioPart, ImagePart, TextPart, data_url

    if isinstance(part, TextPart):
        return {"type": "text", "text": part.text}
    if isinstance(part, ImagePart):
        url = (
            data_url(part.media_type or "", part.base64)
            if part.base64 is not None
            else _remote(_CHAT, part, "an image")
        )
        image: dict[str, Any] = {"url": url}
        if part.detail is not None:
            image["detail"] = part.detail
        return {"type": "image_url", "image_url": image}
    if isinstance(part, AudioPart):
        if part.format not in _CHAT_AUDIO:
            raise _refuse(_CHAT, part, f"{part.media_type} audio; only wav and mp3")
        return {"type": "input_audio", "input_audio": {"data": part.base64, "format": part.format}}
    if part.base64 is None:
        raise _refuse(_CHAT, part, "a document by URL; pass the bytes (DocumentPart(data=...))")
    if part.media_type != "application/pdf":
        raise _refuse(_CHAT, part, f"a {part.media_type} document; only PDF")
    file = {"filename": part.name or _DEFAULT_FILENAME, "file_data": _data(part)}
    return {"type": "file", "file": file}


def _data(part: ImagePart | DocumentPart) -> str:
    from ..content import data_url

    return data_url(part.media_type or "", part.base64 or "")


def _content(
    message: Message, api: str, render: Callable[[ContentPart], dict[str, Any]]
) -> str | list[dict[str, Any]] | None:
    """A string when the content is text only (None stays None: an assistant turn with
    only tool calls), else the parts as ``render`` writes them for ``api``; non-text
    parts only from the user."""
    content = message.content
    if content is None or isinstance(content, str):
        return content
    from ..content import TextPart

    if all(isinstance(part, TextPart) for part in content):
        return message.text
    if message.role != "user":
        part = next(p for p in content if not isinstance(p, TextPart))
        raise _refuse(api, part, f"a non-text part in a {message.role} message")
    return [render(part) for part in content]


def _chat_message(message: Message) -> dict[str, Any]:
    out: dict[str, Any] = {"role": message.role, "content": _content(message, _CHAT, _chat_part)}
    if message.tool_calls:
        out["tool_calls"] = [function_call(call, call.arguments) for call in message.tool_calls]
    if message.tool_call_id is not None:
        out["tool_call_id"] = message.tool_call_id
    if message.name is not None:
        out["name"] = message.name
    return out


def _chat_format(request: ChatRequest) -> dict[str, Any] | None:
    """Chat completions nest the schema's fields under ``json_schema``."""
    spec = _response_format(request)
    if spec is None or spec["type"] != "json_schema":
        return spec
    return {"type": "json_schema", "json_schema": {k: v for k, v in spec.items() if k != "type"}}


def chat_request(endpoint: Endpoint, request: ChatRequest) -> HTTPRequest:
    """``POST {prefix}/chat/completions`` with a Bearer key (unless the endpoint's own
    headers carry ``Authorization``). The body holds only the fields that are set;
    ``stream``/``stream_options`` only when streaming; ``request.extra`` last."""
    body: dict[str, Any] = {
        "model": request.model,
        "messages": list(map(_chat_message, request.messages)),
    }
    # The options sampling() reads: most requests set none of them.
    if not (request.temperature is None and request.top_p is None and request.max_tokens is None):
        max_tokens = endpoint.max_tokens_field or "max_tokens"
        names = {"temperature": "temperature", "top_p": "top_p", "max_tokens": max_tokens}
        body.update(sampling(request, names))
    if request.stop is not None:
        body["stop"] = list(request.stop_list)
    if request.seed is not None:
        body["seed"] = request.seed
    if request.n is not None:
        body["n"] = request.n
    if request.tools is not None:
        body["tools"] = [function_tool(tool) for tool in request.tool_list]
    choice = request.neutral_tool_choice
    if choice is not None:
        named = {"type": "function", "function": {"name": choice}}
        body["tool_choice"] = choice if choice in ("auto", "none", "required") else named
    response_format = None if request.response_format is None else _chat_format(request)
    if response_format is not None:
        body["response_format"] = response_format
    if request.reasoning is not None:
        effort = request.reasoning.effort_or(EFFORT_FOR_BUDGET)
        if effort is not None:
            body["reasoning_effort"] = effort
    if request.stream:
        body["stream"] = True
        if endpoint.include_usage:
            body["stream_options"] = {"include_usage": True}
    if request.extra:
        body.update(request.extra)
    target, headers = _chat_target.of(endpoint)
    return HTTPRequest("POST", target, with_request_headers(headers, request), dumps(body))


# --- Responses --------------------------------------------------------------------------------
def _responses_part(part: ContentPart) -> dict[str, Any]:
    from ..content import AudioPart, ImagePart, TextPart

    if isinstance(part, TextPart):
        return {"type": "input_text", "text": part.text}
    if isinstance(part, ImagePart):
        url = _data(part) if part.base64 is not None else _remote(_RESPONSES, part, "an image")
        return {"type": "input_image", "image_url": url, "detail": part.detail or "auto"}
    if isinstance(part, AudioPart):
        raise _refuse(_RESPONSES, part, "audio; use the openai-chat dialect with an audio model")
    if part.base64 is None:
        return {"type": "input_file", "file_url": _remote(_RESPONSES, part, "a document")}
    name = part.name or _DEFAULT_FILENAME
    return {"type": "input_file", "filename": name, "file_data": _data(part)}


def _responses_content(message: Message) -> str | list[dict[str, Any]]:
    return _content(message, _RESPONSES, _responses_part) or ""  # no None in Responses


def _text_only(message: Message) -> str:
    content = _responses_content(message)
    if type(content) is not str:
        raise ValueError(f"{_RESPONSES} takes text only in a {message.role} message here")
    return content


def _input_items(messages: tuple[Message, ...]) -> tuple[str | None, list[dict[str, Any]]]:
    """``(instructions, input items)``: the leading system and developer messages become
    the instructions; a tool call and a tool result are items of their own."""
    start = 0
    while start < len(messages) and messages[start].role in ("system", "developer"):
        start += 1
    instructions = "\n\n".join(_text_only(m) for m in messages[:start]) if start else None
    items: list[dict[str, Any]] = []
    for message in messages[start:]:
        if message.role == "tool":
            items.append(
                {
                    "type": "function_call_output",
                    "call_id": message.tool_call_id,
                    "output": _text_only(message),
                }
            )
            continue
        if message.content or not message.tool_calls:
            items.append({"role": message.role, "content": _responses_content(message)})
        for call in sendable_calls(message, _RESPONSES):
            items.append(
                {
                    "type": "function_call",
                    "call_id": call.id,
                    "name": call.name,
                    "arguments": call.arguments or "{}",
                }
            )
    return instructions, items


def _response_format(request: ChatRequest) -> dict[str, Any] | None:
    """The structured output both APIs take, flat as the Responses API's ``text.format``:
    ``{"type": "json_object"}`` or ``{"type": "json_schema", "name", "schema", "strict",
    "description"?}`` (a strict schema in :func:`~libchatty.options.strict_schema` form)."""
    spec = request.neutral_response_format
    if spec is None:
        return None
    if isinstance(spec, str):  # "json"
        return {"type": "json_object"}
    # Only a request with a schema reaches here, and it loaded libchatty.options already
    # (ChatRequest checks it): a plain request does not pay for the import.
    from ..options import strict_schema

    schema = strict_schema(spec.schema) if spec.strict else dict(spec.schema)
    out: dict[str, Any] = {
        "type": "json_schema",
        "name": spec.name,
        "schema": schema,
        "strict": spec.strict,
    }
    if spec.description is not None:
        out["description"] = spec.description
    return out


def responses_request(endpoint: Endpoint, request: ChatRequest) -> HTTPRequest:
    """``POST {prefix}/responses`` with a Bearer key (unless the endpoint's own headers
    carry ``Authorization``); only the fields that are set; ``"stream": true`` only
    when streaming; ``request.extra`` last."""
    if request.stop_list:
        raise ValueError("ChatRequest.stop: the Responses API has no stop sequences")
    if request.seed is not None:
        raise ValueError("ChatRequest.seed: the Responses API has no seed")
    refuse_n(request, "the Responses API")
    instructions, items = _input_items(tuple(request.messages))
    body: dict[str, Any] = {"model": request.model}
    if instructions is not None:
        body["instructions"] = instructions
    body["input"] = items
    names = {"temperature": "temperature", "top_p": "top_p", "max_tokens": "max_output_tokens"}
    body.update(sampling(request, names))
    if request.tools is not None:
        body["tools"] = [
            {
                "type": "function",
                "name": tool.name,
                "description": tool.description,
                "parameters": dict(tool.parameters),
            }
            for tool in request.tool_list
        ]
    choice = request.neutral_tool_choice
    if choice is not None:
        named = {"type": "function", "name": choice}
        body["tool_choice"] = choice if choice in ("auto", "none", "required") else named
    text_format = _response_format(request)
    if text_format is not None:
        body["text"] = {"format": text_format}
    reasoning = request.reasoning
    if reasoning is not None:
        wire: dict[str, Any] = {}
        effort = reasoning.effort_or(EFFORT_FOR_BUDGET)
        if effort is not None:
            wire["effort"] = effort
        if reasoning.summary:
            wire["summary"] = "auto"
        if wire:
            body["reasoning"] = wire
    if request.stream:
        body["stream"] = True
    if request.extra:
        body.update(request.extra)
    target, headers = _responses_target.of(endpoint)
    return HTTPRequest("POST", target, with_request_headers(headers, request), dumps(body))
