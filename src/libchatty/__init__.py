"""libchatty: streaming chat completions from LLM providers, token by token.

The core is sans-I/O: :class:`Call` takes the raw bytes of an HTTP/1.1 response and
returns typed events (:class:`Delta`, :class:`Done`, :class:`Error`). Bindings in
``libchatty.bindings`` (blocking, threads, trio, asyncio) drive it over real sockets.
"""

from .call import Call
from .endpoint import Endpoint
from .events import Delta, Done, Error, Event, ToolCall, Usage
from .exceptions import (
    ChatError,
    LibchattyError,
    LimitExceeded,
    LocalProtocolError,
    RemoteProtocolError,
)
from .request import ChatRequest, Message, Tool
from .sse import ServerSentEvent, SSEDecoder

__version__ = "0.1.0"

__all__ = [
    "Call",
    "ChatError",
    "ChatRequest",
    "Delta",
    "Done",
    "Endpoint",
    "Error",
    "Event",
    "LibchattyError",
    "LimitExceeded",
    "LocalProtocolError",
    "Message",
    "RemoteProtocolError",
    "SSEDecoder",
    "ServerSentEvent",
    "Tool",
    "ToolCall",
    "Usage",
    "__version__",
]
