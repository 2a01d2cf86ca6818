"""Server-sent events (placeholder: the decoder lands with the foundation issue)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ServerSentEvent"]


@dataclass(frozen=True, slots=True)
class ServerSentEvent:
    """One dispatched event."""

    event: str = "message"
    data: str = ""
    id: str = ""
    retry: int | None = None
