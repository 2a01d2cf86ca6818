"""AWS Bedrock Converse (``POST /model/{modelId}/converse-stream`` and ``/converse``).

A stream is ``application/vnd.amazon.eventstream``: binary messages (decoded by
:class:`~libchatty.eventstream.EventStreamDecoder`, handed to
:meth:`BedrockStreamDecoder.stream_message`) whose ``:event-type`` names a Converse event
and whose payload is its JSON: ``messageStart``; content blocks (only tool use opens with
``contentBlockStart``; text and reasoning begin with their first ``contentBlockDelta``),
each ending with ``contentBlockStop``; ``messageStop`` (the stop reason); last,
``metadata`` (usage). ``:message-type: exception`` messages (``throttlingException``...)
become ``Error`` events (kind and ``retryable`` from :data:`EXCEPTIONS`, ``status`` 200,
``provider_type`` the exception type) with the partial text.

What callers may rely on:

* ``Done`` comes with ``metadata``, carrying its usage. A body that ends after
  ``messageStop`` but before ``metadata`` is still ``Done``, without usage (the answer is
  whole; only its accounting was lost); one that ends before is ``Error("incomplete")``;
* ``guardrail_intervened``/``content_filtered`` stop reasons are ``content_filter``;
* ``toolUse`` blocks give tool-call deltas indexed 0, 1... by call, whose arguments are
  the ``input`` fragments joined (``"{}"`` when none came); ``reasoningContent`` text is
  reasoning, its ``signature`` ``Done.reasoning_signature``; ``redactedContent`` is
  dropped; unknown events and fields are ignored, wrong shapes raise RemoteProtocolError;
* ``Done.response_id`` and ``Done.model`` stay None: Converse reports neither (its request
  id is the ``x-amzn-RequestId`` header, which the binding reads; the model is the one in
  the request's path);
* requests (content parts, structured output as ``outputConfig``, reasoning by model id,
  no seed or n, per-request headers) are built by :mod:`.bedrock_request`;
* auth: ``Endpoint.api_key`` is a Bedrock API key (``AWS_BEARER_TOKEN_BEDROCK``), sent
  as a bearer token, unsigned; otherwise ``Endpoint.aws_credentials`` sign with SigV4
  (:func:`sign_request`, given the time: the core reads no clock).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from ..endpoint import Endpoint
from ..events import Done, Error, Event, Usage
from ..eventstream import EventStreamMessage
from ..exceptions import LocalProtocolError, RemoteProtocolError
from ..jsonload import JSONDecodeError, loads
from ..request import ChatRequest
from ..sigv4 import sign
from .base import Dialect, HTTPRequest, compact_json, get_int, json_object
from .bedrock_request import PROVIDER, build_request
from .error_bodies import refined_errors
from .plumbing import (
    MAX_MESSAGE,
    MAX_TOOL_CALLS,
    ErrorTable,
    MessageStreamDecoder,
    object_or_empty,
)

if TYPE_CHECKING:
    from ..httperrors import Headers

__all__ = ["DIALECT", "EXCEPTIONS", "HTTP_ERRORS", "BedrockDialect", "BedrockStreamDecoder"]

#: The SigV4 service name of the Bedrock runtime.
SERVICE: Final = "bedrock"

# Errors a response and a stream both carry, by AWS shape name -> (Error kind, whether
# the same request may succeed later).
_SHARED_ERRORS: Final[ErrorTable] = {
    "ThrottlingException": ("rate_limit", True),
    "ServiceUnavailableException": ("overloaded", True),
    "InternalServerException": ("server", True),
    "ModelTimeoutException": ("timeout", True),
    "ValidationException": ("bad_request", False),
}
#: In-stream exception type -> (Error kind, retryable). A stream names an exception by
#: its shape name in lower camel case (``throttlingException``).
EXCEPTIONS: Final[ErrorTable] = {
    **{name[0].lower() + name[1:]: entry for name, entry in _SHARED_ERRORS.items()},
    # "An error occurred while streaming the response. Retry your request." (API reference)
    "modelStreamErrorException": ("provider", True),
}
_AUTH_ERRORS: Final = (
    "UnrecognizedClientException",
    "InvalidSignatureException",
    "IncompleteSignatureException",
    "MissingAuthenticationTokenException",
    "ExpiredTokenException",
)
#: HTTP error type (``x-amzn-ErrorType``) -> (Error kind, retryable); other types keep
#: the status's kind.
HTTP_ERRORS: Final[ErrorTable] = {
    **_SHARED_ERRORS,
    "ModelNotReadyException": ("overloaded", True),
    "ModelErrorException": ("server", False),  # 424: the model failed on this input
    "ResourceNotFoundException": ("not_found", False),
    "AccessDeniedException": ("permission", False),
    # A bad, expired or badly signed credential: 403 on the wire, but the fix is the key.
    **dict.fromkeys(_AUTH_ERRORS, ("auth", False)),
}
# Stop reasons the shared table does not know.
_FILTERED: Final = frozenset({"guardrail_intervened", "content_filtered"})


# --- decoding ------------------------------------------------------------------------------
def _payload(message: EventStreamMessage, what: str) -> dict[str, Any]:
    try:
        value = loads(message.payload)
    except JSONDecodeError:
        raise RemoteProtocolError(f"Bedrock {what} payload is not JSON") from None
    return json_object(value, PROVIDER, f"{what} payload")


def _string(mapping: Mapping[str, Any], key: str, what: str) -> str:
    value = mapping.get(key)
    if type(value) is not str:
        raise RemoteProtocolError(f"Bedrock {what} has no string {key!r}")
    return value


def _index(payload: Mapping[str, Any], what: str) -> int:
    index = get_int(payload, "contentBlockIndex")
    if index is None or index < 0:
        raise RemoteProtocolError(f"Bedrock {what} has no contentBlockIndex")
    return index


def _usage(usage: Any) -> Usage | None:
    if type(usage) is not dict:
        return None
    inputs, outputs = get_int(usage, "inputTokens"), get_int(usage, "outputTokens")
    total = get_int(usage, "totalTokens")
    cached = get_int(usage, "cacheReadInputTokens")
    if inputs is None and outputs is None and total is None:
        return None
    return Usage(inputs, outputs, total, None, cached)


def _exception(decoder: BedrockStreamDecoder, message: EventStreamMessage) -> Error:
    kind_name = message.headers.get(":exception-type")
    name = kind_name if isinstance(kind_name, str) else "exception"
    kind, retryable = EXCEPTIONS.get(name, ("provider", False))
    payload = object_or_empty(message.payload)
    said, original = payload.get("message"), payload.get("originalMessage")
    text = said if type(said) is str and said else f"Bedrock raised {name} in the stream"
    if type(original) is str and original:
        text = f"{text} (model: {original})"
    return decoder.acc.error(
        kind, text[:MAX_MESSAGE], status=200, retryable=retryable, provider_type=name
    )


class BedrockStreamDecoder(MessageStreamDecoder):
    """The state of one ConverseStream response: fed one event stream message at a time
    (:meth:`stream_message`)."""

    provider = PROVIDER
    opening = "messageStart"
    closing = "messageStop"

    def __init__(self) -> None:
        super().__init__()
        self._stop_reason: str | None = None
        self._stopped = False
        # content block index -> tool-call index; tool calls that received input
        self._tools: dict[int, int] = {}
        self._tool_input: set[int] = set()

    def stream_message(self, message: EventStreamMessage) -> list[Event]:
        headers = message.headers
        # The hot path: a text delta. Exact type checks and no dispatch.
        if headers.get(":event-type") == "contentBlockDelta":
            payload = _payload(message, "contentBlockDelta")
            delta = payload.get("delta")
            if type(delta) is dict and type(payload.get("contentBlockIndex")) is int:
                text = delta.get("text")
                if type(text) is str:
                    return [self.acc.text(text)]
            return self._block_delta(payload)
        kind = headers.get(":message-type")
        if kind == "exception":
            return [_exception(self, message)]
        if kind == "error":  # a failure of the stream itself, in headers
            code, said = headers.get(":error-code"), headers.get(":error-message")
            code = code if isinstance(code, str) else None
            text = said if isinstance(said, str) and said else f"Bedrock stream error {code}"
            return [self.acc.error("provider", text[:MAX_MESSAGE], status=200, provider_type=code)]
        if kind != "event":
            raise RemoteProtocolError("Bedrock event stream message has no :message-type event")
        name = headers.get(":event-type")
        handler = _HANDLERS.get(name) if isinstance(name, str) else None
        if handler is None:
            return []  # event types added after this was written
        return handler(self, _payload(message, str(name)))

    # --- one method per event type --------------------------------------------------------
    def _message_start(self, payload: Mapping[str, Any]) -> list[Event]:
        self._started = True
        return []

    def _block_start(self, payload: Mapping[str, Any]) -> list[Event]:
        index = _index(payload, "contentBlockStart")
        start = json_object(payload.get("start"), PROVIDER, "contentBlockStart.start")
        tool_use = start.get("toolUse")
        if tool_use is None:
            return []  # toolResult, image...: nothing for the caller
        tool_use = json_object(tool_use, PROVIDER, "contentBlockStart.start.toolUse")
        if index in self._tools:
            raise RemoteProtocolError(f"Bedrock content block {index} started twice")
        if len(self._tools) >= MAX_TOOL_CALLS:
            raise RemoteProtocolError(f"more than {MAX_TOOL_CALLS} tool calls")
        tool = self._tools[index] = len(self._tools)
        call_id = _string(tool_use, "toolUseId", "toolUse start")
        name = _string(tool_use, "name", "toolUse start")
        return [self.acc.tool_call(tool, "", call_id, name)]

    def _block_delta(self, payload: Mapping[str, Any]) -> list[Event]:
        index = _index(payload, "contentBlockDelta")
        delta = json_object(payload.get("delta"), PROVIDER, "contentBlockDelta.delta")
        if "toolUse" in delta:
            tool_use = json_object(delta["toolUse"], PROVIDER, "contentBlockDelta.toolUse")
            tool = self._tools.get(index)
            if tool is None:
                raise RemoteProtocolError(f"Bedrock toolUse delta for block {index}, not a tool")
            fragment = _string(tool_use, "input", "toolUse delta")
            if not fragment:
                return []
            self._tool_input.add(tool)
            return [self.acc.tool_call(tool, fragment)]
        if "reasoningContent" in delta:
            reasoning = json_object(
                delta["reasoningContent"], PROVIDER, "contentBlockDelta.reasoningContent"
            )
            events: list[Event] = []
            text = reasoning.get("text")
            if type(text) is str and text:
                events.append(self.acc.reasoning(text))
            signature = reasoning.get("signature")
            if type(signature) is str and signature:
                self.acc.add_reasoning_signature(signature)  # opaque: never text
            return events  # redactedContent: encrypted, nothing to show or keep
        if "text" in delta:
            raise RemoteProtocolError("Bedrock text delta is not a string")
        return []  # citations, tool results, images

    def _block_stop(self, payload: Mapping[str, Any]) -> list[Event]:
        tool = self._tools.get(_index(payload, "contentBlockStop"))
        if tool is not None and tool not in self._tool_input:
            self.acc.set_tool_arguments(tool, "{}")  # a call without arguments
            self._tool_input.add(tool)
        return []

    def _message_stop(self, payload: Mapping[str, Any]) -> list[Event]:
        self._stop_reason = _string(payload, "stopReason", "messageStop")
        self._stopped = True
        return []

    def _metadata(self, payload: Mapping[str, Any]) -> list[Event]:
        if not self._stopped:
            raise RemoteProtocolError("Bedrock metadata came before messageStop")
        return [self._done(_usage(payload.get("usage")))]

    def _done(self, usage: Usage | None) -> Done:
        for tool in self._tools.values():
            if tool not in self._tool_input:  # cut before contentBlockStop: no input
                self.acc.set_tool_arguments(tool, "{}")
        return _done(self.acc.done(self._stop_reason, usage))

    def end(self) -> Event:
        if self._stopped:  # only metadata, the accounting, was lost
            return self._done(None)
        return super().end()


_HANDLERS: Final = {
    "messageStart": BedrockStreamDecoder._message_start,
    "contentBlockStart": BedrockStreamDecoder._block_start,
    "contentBlockDelta": BedrockStreamDecoder._block_delta,
    "contentBlockStop": BedrockStreamDecoder._block_stop,
    "messageStop": BedrockStreamDecoder._message_stop,
    "metadata": BedrockStreamDecoder._metadata,
}


def _done(done: Done) -> Done:
    if done.raw_finish_reason in _FILTERED:
        return replace(done, finish_reason="content_filter")
    return done


def _refine_error(error: Error, parsed: dict[str, Any], headers: Headers) -> Error:
    """A Bedrock error response, past the shared reading of status, body and
    ``Retry-After``: the kind, ``retryable`` and ``provider_type`` from the error type AWS
    names in the ``x-amzn-ErrorType`` header (``ThrottlingException:http://...``) or else
    in the body's ``__type``; the message from ``message`` or ``Message``."""
    said = parsed.get("message") or parsed.get("Message")
    if type(said) is str and said:
        error = replace(error, message=said[:MAX_MESSAGE])
    name = ""
    for key, value in headers:
        if key.lower() == b"x-amzn-errortype":
            name = value.decode("latin-1").partition(":")[0].strip()
    if not name and type(parsed.get("__type")) is str:
        name = parsed["__type"].rpartition("#")[2]
    if not name:
        return error
    kind, retryable = HTTP_ERRORS.get(name, (error.kind, error.retryable))
    return replace(error, kind=kind, retryable=retryable, provider_type=name[:200])


#: The ``Error`` for a non-2xx Bedrock response (see :func:`_refine_error`).
decode_error: Final = refined_errors(_refine_error)


# --- signing -----------------------------------------------------------------------------
def sign_request(
    http_request: HTTPRequest,
    endpoint: Endpoint,
    now: datetime | None,
    sent_headers: Iterable[tuple[str, str]] = (),
) -> list[tuple[str, str]]:
    """The headers that sign ``http_request`` for ``endpoint`` at ``now``: SigV4 when the
    endpoint has ``aws_credentials`` (and no ``api_key``, which is a bearer token), else
    none. ``sent_headers`` are the other headers the call sends (``Content-Type``,
    ``Accept``...; ``Host`` is added here): they are signed too, so pass them exactly as
    sent. A signed endpoint without ``now`` raises LocalProtocolError: the core has no
    clock, and a guessed time would sign a request AWS refuses."""
    credentials = endpoint.aws_credentials
    if credentials is None or endpoint.api_key is not None:
        return []
    if now is None:
        raise LocalProtocolError("a SigV4-signed Bedrock call needs now= (the current UTC time)")
    host = endpoint.host_header
    # Host is set here; User-Agent is never signed (proxies rewrite it).
    sent = [(n, v) for n, v in sent_headers if n.lower() not in ("host", "user-agent")]
    headers = [("Host", host), *sent, *http_request.headers]
    url = f"{endpoint.scheme}://{host}{http_request.target}"
    region = endpoint.region or ""  # Endpoint refuses credentials without a region
    return sign("POST", url, headers, http_request.body, credentials, region, SERVICE, now)


class BedrockDialect(Dialect):
    """Bedrock Converse. ``Endpoint.base_url`` is
    ``https://bedrock-runtime.{region}.amazonaws.com``."""

    name = "bedrock"
    decoder = BedrockStreamDecoder
    framing = "eventstream"

    def build_request(self, endpoint: Endpoint, request: ChatRequest) -> HTTPRequest:
        """The unsigned request (:mod:`.bedrock_request`); :func:`sign_request` adds the
        signature."""
        return build_request(endpoint, request)

    # The hooks Call needs from a dialect that signs and names its errors in a header.
    sign_request = staticmethod(sign_request)
    decode_error = staticmethod(decode_error)

    def decode_body(self, body: Any) -> list[Event]:
        """A ``/converse`` response: one Delta per block, then Done."""
        acc = BedrockStreamDecoder().acc
        response = json_object(body, PROVIDER, "response body")
        output = json_object(response.get("output"), PROVIDER, "response output")
        message = json_object(output.get("message"), PROVIDER, "response output.message")
        content = message.get("content")
        if type(content) is not list:
            raise RemoteProtocolError("Bedrock response message has no content list")
        events: list[Event] = []
        tools = 0
        for block in content:
            block = json_object(block, PROVIDER, "content block")
            if "text" in block:
                events.append(acc.text(_string(block, "text", "text block")))
            elif "toolUse" in block:
                tool_use = json_object(block["toolUse"], PROVIDER, "toolUse block")
                call_id = _string(tool_use, "toolUseId", "toolUse block")
                arguments = compact_json(tool_use.get("input", {}), PROVIDER, "toolUse.input")
                name = _string(tool_use, "name", "toolUse block")
                events.append(acc.tool_call(tools, arguments, call_id, name))
                tools += 1
            elif "reasoningContent" in block:
                reasoning = json_object(block["reasoningContent"], PROVIDER, "reasoningContent")
                text = reasoning.get("reasoningText")
                if text is not None:  # else redactedContent: nothing to show or keep
                    text = json_object(text, PROVIDER, "reasoningContent.reasoningText")
                    events.append(acc.reasoning(_string(text, "text", "reasoningText")))
                    signature = text.get("signature")
                    if type(signature) is str and signature:
                        acc.add_reasoning_signature(signature)
        reason = response.get("stopReason")
        done = acc.done(reason if type(reason) is str else None, _usage(response.get("usage")))
        events.append(_done(done))
        return events


DIALECT: Final = BedrockDialect()
