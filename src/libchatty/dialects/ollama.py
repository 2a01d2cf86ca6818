"""Ollama's native API (``"ollama"``): ``POST /api/chat``, streamed as NDJSON.

Request: ``{"model", "messages", "stream", "tools", "format", "think", "options"}``
(docs/api.md, "Generate a chat completion"). Streaming is Ollama's default, so
``"stream"`` is always sent explicitly (``false`` for one JSON body). Sampling settings
live under ``"options"`` (``temperature``, ``top_p``, ``num_predict`` for ``max_tokens``,
``stop``, ``seed``); an ``"options"`` mapping in ``ChatRequest.extra`` is merged into them
rather than replacing them. ``Authorization: Bearer`` is sent only when the endpoint has a
key (Ollama's cloud); a local server needs none; ``ChatRequest.headers`` follow the
endpoint's. Ollama has no ``tool_choice``: ``"none"`` is honoured by not sending the
tools, other values are not expressible.

* **Content parts**: a message's images go in its ``images`` list as bare base64 (the
  part's ``base64``, never re-encoded), its text parts joined in ``content``. Ollama takes
  no image URL, no document and no audio: those are a ``ValueError`` naming the part.
* **Structured output**: ``"json"`` -> ``"format": "json"``; a ``JSONSchema`` ->
  ``"format": <the schema object>`` (Ollama has no name, strictness or description).
* **Reasoning** -> ``"think"``: the ``effort`` as a level (``"low"``/``"medium"``/
  ``"high"``: GPT-OSS uses it; other thinking models take any level as ``true``, Ollama's
  ``ThinkValue.Bool``); without an effort (a budget alone, or neither) ``true``. Ollama
  has no token budget, so ``budget_tokens`` only switches thinking on; ``summary`` has no
  Ollama form and is ignored (thinking text always comes back whole).
* ``seed`` -> ``options.seed``; ``n`` above 1 is a ``ValueError``: Ollama returns one
  answer per request.

Response: one JSON object per line. ``message.content`` is answer text,
``message.thinking`` reasoning, ``message.tool_calls`` complete calls (``function.name``,
``function.arguments`` as an object, reported as compact JSON text). Ollama sends no call
id (newer servers may, and it is kept then): a call without one gets a synthetic id
(:func:`~libchatty.dialects.base.synthetic_call_id` of the line's ``created_at``, the
index, the name and the arguments), the same in its ``Delta`` and in ``Done``. Results go
back matched by ``tool_name``; the id is never sent. ``/api/generate`` lines carry ``response``
(and ``thinking``) at the top level instead; both shapes are decoded. The line with
``"done": true`` ends the answer: ``done_reason`` is the raw finish reason,
``prompt_eval_count`` / ``eval_count`` the usage, ``model`` ``Done.model`` (Ollama sends
no response id: ``Done.response_id`` stays None). An ``{"error": "..."}`` line is the
provider reporting a failure inside the 200 stream. A body that ends without the done line
is ``Error("incomplete")``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any, Final

from ..content import ImagePart, TextPart
from ..endpoint import Endpoint
from ..events import Delta, Error, Event
from ..exceptions import RemoteProtocolError
from ..options import JSONSchema
from ..request import ChatRequest, Message
from .base import (
    Dialect,
    HTTPRequest,
    StreamDecoder,
    compact_json,
    dumps,
    get_int,
    make_usage,
    synthetic_call_id,
)
from .plumbing import (
    MAX_MESSAGE,
    MAX_TOOL_CALLS,
    Staged,
    arguments_object,
    bearer_headers,
    function_tool,
    incomplete,
    part_name,
    refuse_n,
    sampling,
)

__all__ = ["DIALECT", "OllamaDialect", "OllamaStreamDecoder"]

# Ollama's messages know system/user/assistant/tool; "developer" is an OpenAI notion
# with the same meaning as a system prompt.
_ROLES: Final = {"system": "system", "developer": "system", "user": "user"}

_SAMPLING: Final = {
    "temperature": "temperature",
    "top_p": "top_p",
    "max_tokens": "num_predict",
    "stop": "stop",
}

# Words in an Ollama error line that say the server, not the request, is the problem
# ("server busy, please try again.  maximum pending requests exceeded").
_OVERLOADED_HINTS: Final = ("server busy", "overloaded", "try again")


def _string(value: Any, what: str) -> str:
    """``value`` when it is a string, ``""`` for null/missing; anything else is the
    peer's fault."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise RemoteProtocolError(f"Ollama sent {what} as {type(value).__name__}, not a string")
    return value


class OllamaStreamDecoder(StreamDecoder):
    """Decodes ``/api/chat`` and ``/api/generate`` lines (streamed or as one body).

    Every tool call Ollama sends is complete, so each one gets the next tool index
    (the wire's ``function.index`` restarts per line and is omitted for 0).
    """

    def __init__(self) -> None:
        super().__init__()
        self._tool_count = 0

    def json_line(self, value: Any) -> list[Event]:
        if not isinstance(value, dict):
            raise RemoteProtocolError(
                f"expected one JSON object per line, got {type(value).__name__}"
            )
        if value.get("error") is not None:
            return [self._provider_error(value["error"])]
        # Every field is checked before any piece reaches the accumulator.
        staged = Staged()
        message = value.get("message")
        if message is not None:
            if not isinstance(message, dict):
                raise RemoteProtocolError("Ollama sent 'message' that is not an object")
            self._pieces(message.get("thinking"), message.get("content"), staged)
            calls = message.get("tool_calls")
            if calls:
                created = value.get("created_at")
                self._tool_calls(calls, created if isinstance(created, str) else "", staged)
        # /api/generate puts the pieces at the top level.
        self._pieces(value.get("thinking"), value.get("response"), staged)
        events = staged.commit(self.acc)
        if value.get("done") is True:
            events.append(self._done(value))
        return events

    def end(self) -> Event:
        return incomplete(self.acc, "the Ollama stream", "its final 'done' line", status=200)

    # --- pieces -------------------------------------------------------------------------
    def _pieces(self, thinking: Any, content: Any, staged: Staged) -> None:
        reasoning = _string(thinking, "'thinking'")
        if reasoning:
            staged.reasoning(reasoning)
        text = _string(content, "'content'")
        if text:
            staged.text(text)

    def _tool_calls(self, calls: Any, created: str, staged: Staged) -> None:
        if not isinstance(calls, list):
            raise RemoteProtocolError("Ollama sent 'tool_calls' that is not a list")
        if self._tool_count + len(calls) > MAX_TOOL_CALLS:
            raise RemoteProtocolError(f"more than {MAX_TOOL_CALLS} tool calls")
        for call in calls:
            function = call.get("function") if isinstance(call, dict) else None
            if not isinstance(function, dict):
                raise RemoteProtocolError("Ollama sent a tool call without a 'function' object")
            name = _string(function.get("name"), "a tool call's name")
            arguments = function.get("arguments")
            if isinstance(arguments, str):
                text = arguments
            elif arguments is None:
                text = "{}"
            else:
                text = compact_json(arguments, "Ollama", "tool call arguments")
            call_id = call.get("id")
            if not isinstance(call_id, str) or not call_id:
                call_id = synthetic_call_id(created, self._tool_count, name, text)
            staged.tool_call(self._tool_count, text, id=call_id, name=name)
            self._tool_count += 1

    # --- endings ------------------------------------------------------------------------
    def _done(self, value: Mapping[str, Any]) -> Event:
        reason = value.get("done_reason")
        # Servers before done_reason existed (2024) ended every answer with a plain stop.
        raw = reason if isinstance(reason, str) and reason else "stop"
        usage = make_usage(get_int(value, "prompt_eval_count"), get_int(value, "eval_count"))
        done = self.acc.done(raw, usage)
        model = value.get("model")
        if model is None:
            return done
        return replace(done, model=_string(model, "'model'") or None)

    def _provider_error(self, error: Any) -> Error:
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            error = error["message"]  # not Ollama's shape, but proxies wrap errors so
        text = error if isinstance(error, str) else compact_json(error, "Ollama", "error")
        message = text[:MAX_MESSAGE] or "Ollama reported an error"
        lowered = message.lower()
        overloaded = any(hint in lowered for hint in _OVERLOADED_HINTS)
        return self.acc.error(
            "overloaded" if overloaded else "provider",
            message,
            status=200,
            retryable=overloaded,
        )


def message_images(message: Message, provider: str = "Ollama") -> list[str]:
    """A message's images as Ollama takes them: bare base64 strings (``images`` in
    docs/api.md), in order. Its text parts are ``message.text``; any other part, and an
    image given by URL, is a ``ValueError`` naming ``provider`` and the part."""
    images: list[str] = []
    if message.content is None or type(message.content) is str:
        return images
    for number, part in enumerate(message.content):
        if isinstance(part, TextPart):
            continue
        where = f"part {number} of a {message.role} message"
        if not isinstance(part, ImagePart):
            raise ValueError(
                f"{provider} cannot send {part_name(part)} ({where}): it takes text and images only"
            )
        if part.base64 is None:
            raise ValueError(
                f"{provider} cannot send an image by URL ({where}); pass the bytes "
                "(ImagePart(data=...))"
            )
        images.append(part.base64)
    return images


def _message(message: Message, tool_names: dict[str, str]) -> dict[str, Any]:
    out = _message_text(message, tool_names)
    images = message_images(message)
    if images:
        out["images"] = images
    return out


def _message_text(message: Message, tool_names: dict[str, str]) -> dict[str, Any]:
    role = message.role
    if role == "assistant":
        out: dict[str, Any] = {"role": "assistant", "content": message.text}
        if message.tool_calls:
            calls = []
            for call in message.tool_calls:
                if call.id:
                    tool_names[call.id] = call.name
                arguments = arguments_object(call.arguments, call.name, "Ollama")
                calls.append({"function": {"name": call.name, "arguments": arguments}})
            out["tool_calls"] = calls
        return out
    if role == "tool":
        out = {"role": "tool", "content": message.text}
        # Ollama matches a result to its call by tool name; the id is not part of its API.
        name = message.name or tool_names.get(message.tool_call_id or "")
        if name:
            out["tool_name"] = name
        return out
    return {"role": _ROLES[role], "content": message.text}


def request_settings(request: ChatRequest, provider: str) -> dict[str, Any]:
    """``format``, ``think`` and ``options`` (with the ``extra['options']`` merged), the
    fields ``/api/chat`` and ``/api/generate`` share; ``ValueError`` for ``n`` above 1."""
    refuse_n(request, provider)
    out: dict[str, Any] = {}
    response_format = request.neutral_response_format
    if isinstance(response_format, JSONSchema):
        out["format"] = dict(response_format.schema)
    elif response_format == "json":
        out["format"] = "json"
    reasoning = request.reasoning
    if reasoning is not None:
        out["think"] = reasoning.effort or True
    options = sampling(request, _SAMPLING)
    if request.seed is not None:
        options["seed"] = request.seed
    extra_options = (request.extra or {}).get("options")
    if isinstance(extra_options, Mapping):
        options.update(extra_options)
    elif extra_options is not None:
        raise ValueError(f"ChatRequest.extra['options'] must be a mapping for {provider}")
    if options:
        out["options"] = options
    return out


def ollama_request(
    endpoint: Endpoint, request: ChatRequest, path: str, body: dict[str, Any], provider: str
) -> HTTPRequest:
    """``POST path``: ``body`` (the fields only ``path`` has), then the settings
    ``/api/chat`` and ``/api/generate`` share (:func:`request_settings`) and
    ``ChatRequest.extra``; the bearer key (when there is one), the endpoint's headers,
    then the request's (which replace one of the same name)."""
    body.update(request_settings(request, provider))
    body.update((k, v) for k, v in (request.extra or {}).items() if k != "options")
    headers = bearer_headers(endpoint, request)
    return HTTPRequest("POST", endpoint.url(path), headers, dumps(body))


class OllamaDialect(Dialect):
    """Ollama's native ``/api/chat`` (and the decoding of ``/api/generate``)."""

    name = "ollama"
    decoder = OllamaStreamDecoder
    framing = "ndjson"

    # --- the client side ----------------------------------------------------------------
    def build_request(self, endpoint: Endpoint, request: ChatRequest) -> HTTPRequest:
        tool_names: dict[str, str] = {}
        body: dict[str, Any] = {
            "model": request.model,
            "messages": [_message(m, tool_names) for m in request.messages],
            "stream": request.stream,
        }
        if request.tool_list and request.neutral_tool_choice != "none":
            body["tools"] = [function_tool(tool) for tool in request.tool_list]
        return ollama_request(endpoint, request, "/api/chat", body, "Ollama")

    def decode_body(self, body: Any) -> list[Event]:
        """One ``/api/chat`` (or ``/api/generate``) object. Its ``done`` flag is not
        required: the HTTP framing already says the body is whole."""
        decoder = OllamaStreamDecoder()
        events = decoder.json_line(body)
        if not events or isinstance(events[-1], Delta):
            events.append(decoder._done(body))
        return events


DIALECT: Final = OllamaDialect()
