"""The replay side of the wire: what providers send, rendered from a :class:`Script`.

``get_renderer("anthropic")`` returns the shared renderer of that dialect (modules are
imported on first use). :mod:`libchatty.replay.server` is a sans-I/O replay server built on
them: request bytes in, scripted response bytes out, no socket -- the I/O shell is
``libchatty.bindings.server.ReplayServer``.

Client code never needs this package, and no client dialect imports it.
"""

from __future__ import annotations

from .base import Renderer
from .faults import FAULT_KINDS, Fault
from .record import CREDENTIAL_HEADERS, CREDENTIAL_PARAMS, RecordedRequest, redact_target
from .registry import RENDERER_NAMES, get_renderer, renderers
from .script import Script, split_tokens
from .server import DEFAULT_TEXT, Output, Pause, Replay, ReplayConnection

__all__ = [
    "CREDENTIAL_HEADERS",
    "CREDENTIAL_PARAMS",
    "DEFAULT_TEXT",
    "FAULT_KINDS",
    "RENDERER_NAMES",
    "Fault",
    "Output",
    "Pause",
    "RecordedRequest",
    "Renderer",
    "Replay",
    "ReplayConnection",
    "Script",
    "get_renderer",
    "redact_target",
    "renderers",
    "split_tokens",
]
