"""The old home of the request loop, kept only for imports of its old name (tests of
other modules); new code imports from the rooms the loop now lives in:
:mod:`._ops`, :mod:`._pool`, :mod:`._exchange`, :mod:`._runners`, :mod:`._client`,
:mod:`._async_client`."""

from __future__ import annotations

from ._async_client import AsyncClientBase

__all__ = ["AsyncClientBase"]
