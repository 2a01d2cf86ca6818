"""libchatty: streaming chat completions from LLM providers, token by token.

The core is sans-I/O: :class:`Call` takes the raw bytes of an HTTP/1.1 response and
returns typed events (:class:`Delta`, :class:`Done`, :class:`Error`). Bindings in
``libchatty.bindings`` (blocking, threads, trio, asyncio) drive it over real sockets.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .call import Call, HTTPRequest
from .content import AudioPart, ContentPart, DocumentPart, ImagePart, TextPart
from .endpoint import Endpoint
from .events import Delta, Done, Error, Event, ToolCall, Usage
from .exceptions import (
    ChatError,
    LibchattyError,
    LimitExceeded,
    LocalProtocolError,
    RemoteProtocolError,
)
from .options import JSONSchema, Reasoning
from .request import ChatRequest, Message, Tool
from .sse import ServerSentEvent, SSEDecoder

if TYPE_CHECKING:
    from .eventstream import EventStreamDecoder, EventStreamMessage
    from .partialjson import PartialJSON
    from .sigv4 import AWSCredentials

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

# Exported but loaded on first use (PEP 562): each costs about a millisecond to import
# and most programs never touch them (AWS framing and signing are Bedrock's; PartialJSON
# is loaded by the structured-output path that needs it).
_LAZY = {
    "AWSCredentials": "sigv4",
    "EventStreamDecoder": "eventstream",
    "EventStreamMessage": "eventstream",
    "PartialJSON": "partialjson",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'libchatty' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
