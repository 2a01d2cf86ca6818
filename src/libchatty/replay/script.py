"""A scripted answer: what the replay server says, in any dialect.

The renderers in :mod:`libchatty.replay` write a :class:`Script` the way each provider
would (``render_stream``, ``render_body``); the replay server serves it and the tests
decode it back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields

from ..events import ToolCall, Usage

__all__ = ["FinishReasons", "Script", "split_tokens"]

# A "token" here: optional leading whitespace and a run of non-space characters, or
# trailing whitespace. Close enough to what models stream, and it rejoins exactly.
_TOKEN = re.compile(r"\s*\S+|\s+")


def split_tokens(text: str) -> list[str]:
    """Split ``text`` into token-like pieces whose concatenation is ``text``."""
    return _TOKEN.findall(text)


@dataclass(frozen=True, slots=True)
class Script:
    """What to answer. ``finish_reason`` is normalised (``stop``, ``length``,
    ``tool_calls``, ``content_filter``); each dialect maps it to its wire value.
    ``pieces`` (when given) is how the text is split into stream deltas."""

    text: str = ""
    reasoning: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    finish_reason: str = "stop"
    usage: Usage | None = None
    model: str = "replay-1"
    pieces: tuple[str, ...] | None = None
    response_id: str = "replay-0001"
    created: int = 1700000000
    extra: dict[str, str] = field(default_factory=dict)

    def text_pieces(self) -> list[str]:
        """The stream deltas of the answer text (never empty strings)."""
        if self.pieces is not None:
            return [p for p in self.pieces if p]
        return split_tokens(self.text)

    def reasoning_pieces(self) -> list[str]:
        return split_tokens(self.reasoning)


@dataclass(frozen=True, slots=True)
class FinishReasons:
    """What a provider sends for each normalised finish reason of a :class:`Script`."""

    stop: str
    length: str
    tool_calls: str
    content_filter: str

    def of(self, script: Script) -> str:
        """``script.finish_reason`` as the provider sends it; a reason other than the four
        normalised ones is sent as it is."""
        reason = script.finish_reason
        if reason not in _NORMALISED:
            return reason
        wire: str = getattr(self, reason)
        return wire


# The four normalised finish reasons: the fields of FinishReasons.
_NORMALISED = frozenset(f.name for f in fields(FinishReasons))
