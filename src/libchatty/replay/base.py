"""What every renderer implements: a provider's side of the wire, for the replay server.

A renderer is the mirror of a client dialect: it recognises that provider's requests
(``matches``, ``is_stream_request``, ``model_of``) and writes a :class:`Script` the way the
provider would answer (``render_stream``, ``render_body``) or fail (``render_error``,
``render_stream_error``). Pure: bytes out, no I/O. Instances are stateless and shared.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar

from ..jsonload import JSONDecodeError, loads
from .script import Script

__all__ = ["Renderer", "arguments_object", "dumps", "request_path"]


def dumps(value: Any) -> bytes:
    """Compact JSON as UTF-8 bytes (non-ASCII kept as is, as providers send it)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


class Renderer(ABC):
    """One provider's answers. ``name`` is the dialect name it mirrors."""

    name: ClassVar[str]
    #: How its streams are framed: ``"sse"``, ``"ndjson"`` or ``"eventstream"`` (AWS
    #: event stream messages, served as ``application/vnd.amazon.eventstream``).
    framing: ClassVar[str] = "sse"
    #: The endings of the paths it answers ``POST`` to (e.g. ``"/v1/messages"``).
    paths: ClassVar[tuple[str, ...]] = ()

    def matches(self, method: str, target: str) -> bool:
        """Whether a request line belongs to this provider: by default, a ``POST`` to a
        path that ends with one of ``paths``."""
        return method == "POST" and request_path(target).endswith(self.paths)

    def is_stream_request(self, target: str, body: Mapping[str, Any]) -> bool:
        """Whether a request (target and parsed JSON body) asks for a stream: by default,
        whether the body says ``"stream": true``."""
        return body.get("stream") is True

    def model_of(self, target: str, body: Mapping[str, Any]) -> str | None:
        """The model a request names (the body's ``model``), or None."""
        model = body.get("model")
        return model if isinstance(model, str) and model else None

    @abstractmethod
    def render_stream(self, script: Script) -> list[bytes]:
        """The answer as this provider streams it: one item per wire event (a complete
        SSE event with its blank line, or one NDJSON line), terminal marker included."""

    @abstractmethod
    def render_body(self, script: Script) -> bytes:
        """The answer as one non-streamed JSON body."""

    @abstractmethod
    def render_error(self, status: int, message: str) -> bytes:
        """A provider-shaped JSON error body for an HTTP error status."""

    @abstractmethod
    def render_stream_error(self, message: str) -> bytes:
        """A provider-shaped error event inside a 200 stream (one wire event)."""

    def error_headers(self, status: int) -> list[tuple[bytes, bytes]]:
        """Headers sent with an HTTP error besides the body (most providers: none)."""
        return []


def request_path(target: str) -> str:
    """The path of a request target (the query string cut off)."""
    return target.partition("?")[0]


def arguments_object(arguments: str, name: str) -> Any:
    """A scripted tool call's arguments as the JSON object some providers send (Anthropic's
    ``input``, Gemini's ``args``); ``ValueError`` when the script's text is not one."""
    if not arguments.strip():
        return {}
    try:
        value = loads(arguments)
    except JSONDecodeError:
        raise ValueError(f"the arguments of tool call {name!r} are not valid JSON") from None
    if not isinstance(value, Mapping):
        raise ValueError(f"the arguments of tool call {name!r} are not a JSON object")
    return value
