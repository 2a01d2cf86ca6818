"""The keep-alive pool: idle connections per (scheme, host, port), shared by every call
of one client."""

from __future__ import annotations

from typing import Final

from ._ops import Conn

__all__ = ["MAX_IDLE_PER_HOST", "Pool", "PoolKey"]

#: Idle connections kept per (scheme, host, port); more are closed when returned.
MAX_IDLE_PER_HOST: Final = 64

PoolKey = tuple[str, str, int]


class Pool:
    """Idle keep-alive connections per (scheme, host, port), last in first out.

    Shared by every call of a client, across tasks or threads: ``take`` and ``put`` are
    each one ``list.pop``/``list.append``, atomic under the GIL, and a connection is in the
    pool only while idle, so no lock is needed. A connection goes in only when its last
    response was read to the end (the loop checks ``Call.reusable``).
    """

    def __init__(self, max_idle_per_host: int = MAX_IDLE_PER_HOST) -> None:
        self._idle: dict[PoolKey, list[Conn]] = {}
        self._max = max_idle_per_host

    def take(self, key: PoolKey) -> Conn | None:
        try:
            return self._idle[key].pop()
        except (KeyError, IndexError):
            return None

    def put(self, key: PoolKey, conn: Conn) -> None:
        idle = self._idle.setdefault(key, [])
        if len(idle) >= self._max:
            conn.abort()
        else:
            idle.append(conn)

    def discard(self, key: PoolKey) -> None:
        """Close every idle connection to ``key`` (one was found dead: so are its
        siblings, most likely -- the server restarted or timed them out together)."""
        for conn in self._idle.pop(key, ()):
            conn.abort()

    def close(self) -> None:
        """Close every idle connection."""
        for key in list(self._idle):
            self.discard(key)

    def idle_count(self, key: PoolKey) -> int:
        return len(self._idle.get(key, ()))
