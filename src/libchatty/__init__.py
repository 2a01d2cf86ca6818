"""libchatty: streaming chat completions from LLM providers, token by token.

The core is sans-I/O: :class:`Call` takes the raw bytes of an HTTP/1.1 response and
returns typed events (:class:`Delta`, :class:`Done`, :class:`Error`). Bindings in
``libchatty.bindings`` (blocking, threads, trio, asyncio) drive it over real sockets.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .call import Call, HTTPRequest
    from .content import AudioPart, ContentPart, DocumentPart, ImagePart, TextPart
    from .endpoint import Endpoint
    from .events import Delta, Done, Error, Event, ToolCall, Usage
    from .eventstream import EventStreamDecoder, EventStreamMessage
    from .exceptions import (
        ChatError,
        LibchattyError,
        LimitExceeded,
        LocalProtocolError,
        RemoteProtocolError,
    )
    from .options import JSONSchema, Reasoning
    from .partialjson import PartialJSON
    from .request import ChatRequest, Message, Tool
    from .sigv4 import AWSCredentials
    from .sse import ServerSentEvent, SSEDecoder

__version__ = "0.1.0"

__all__ = [
    "AWSCredentials",
    "AudioPart",
    "Call",
    "ChatError",
    "ChatRequest",
    "ContentPart",
    "Delta",
    "DocumentPart",
    "Done",
    "Endpoint",
    "Error",
    "Event",
    "EventStreamDecoder",
    "EventStreamMessage",
    "HTTPRequest",
    "ImagePart",
    "JSONSchema",
    "LibchattyError",
    "LimitExceeded",
    "LocalProtocolError",
    "Message",
    "PartialJSON",
    "Reasoning",
    "RemoteProtocolError",
    "SSEDecoder",
    "ServerSentEvent",
    "TextPart",
    "Tool",
    "ToolCall",
    "Usage",
    "__version__",
]

# Every export is loaded on first use (PEP 562), from the module that defines it: a
# program imports what it uses (a binding imports the core modules it drives itself),
# and ``import libchatty`` alone costs next to nothing. The type checker reads the
# imports above instead.
_HOMES = {
    "Call": "call",
    "HTTPRequest": "call",
    "AudioPart": "content",
    "ContentPart": "content",
    "DocumentPart": "content",
    "ImagePart": "content",
    "TextPart": "content",
    "Endpoint": "endpoint",
    "Delta": "events",
    "Done": "events",
    "Error": "events",
    "Event": "events",
    "ToolCall": "events",
    "Usage": "events",
    "EventStreamDecoder": "eventstream",  # AWS framing: Bedrock's
    "EventStreamMessage": "eventstream",
    "ChatError": "exceptions",
    "LibchattyError": "exceptions",
    "LimitExceeded": "exceptions",
    "LocalProtocolError": "exceptions",
    "RemoteProtocolError": "exceptions",
    "JSONSchema": "options",
    "Reasoning": "options",
    "PartialJSON": "partialjson",  # loaded by the structured-output path that needs it
    "ChatRequest": "request",
    "Message": "request",
    "Tool": "request",
    "AWSCredentials": "sigv4",  # AWS signing: Bedrock's
    "ServerSentEvent": "sse",
    "SSEDecoder": "sse",
}


def __getattr__(name: str) -> Any:
    from importlib import import_module

    home = _HOMES.get(name)
    if home is not None:
        value = getattr(import_module(f".{home}", __name__), name)
        globals()[name] = value  # later lookups skip this function
        return value
    if not name.startswith("_"):
        # A submodule by attribute (``libchatty.events.Delta`` after ``import libchatty``),
        # as when this package imported its modules eagerly.
        try:
            return import_module(f".{name}", __name__)
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise  # the submodule exists and failed to import something
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
