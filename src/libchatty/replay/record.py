"""The replay server's request log: what a client sent, credentials redacted."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

__all__ = ["CREDENTIAL_HEADERS", "CREDENTIAL_PARAMS", "RecordedRequest", "record", "redact_target"]

#: Headers that carry credentials: recorded as ``***`` unless the server keeps them.
CREDENTIAL_HEADERS: Final = frozenset(
    {"authorization", "proxy-authorization", "x-api-key", "api-key", "x-goog-api-key"}
)
#: Query parameters that carry credentials (Gemini's ``?key=``).
CREDENTIAL_PARAMS: Final = frozenset({"key", "api_key", "api-key", "access_token"})
_REDACTED: Final = "***"


def redact_target(target: str) -> str:
    """``target`` with the value of every credential query parameter as ``***``."""
    path, sep, query = target.partition("?")
    if not sep:
        return target
    items = []
    for item in query.split("&"):
        name, eq, _ = item.partition("=")
        items.append(f"{name}={_REDACTED}" if eq and name.lower() in CREDENTIAL_PARAMS else item)
    return f"{path}?{'&'.join(items)}"


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """A request as the server received it. ``headers`` has lower-case names (a repeated
    header keeps its last value); ``json`` is the parsed body, or None when it was empty
    or not JSON.

    Unless the server was built with ``keep_credentials=True`` (for tests that check what
    a client sent), the values of :data:`CREDENTIAL_HEADERS` and of the
    :data:`CREDENTIAL_PARAMS` in ``target`` are recorded as ``***``. ``repr`` never shows
    header values or the body, and always redacts the target."""

    method: str
    target: str
    headers: Mapping[str, str]
    body: bytes
    json: Any = field(default=None)

    @property
    def path(self) -> str:
        """``target`` without its query."""
        return self.target.partition("?")[0]

    def __repr__(self) -> str:
        return (
            f"RecordedRequest(method={self.method!r}, target={redact_target(self.target)!r}, "
            f"headers=[{', '.join(self.headers)}], body=<{len(self.body)} bytes>)"
        )


def record(
    method: bytes,
    target: bytes,
    headers: list[tuple[bytes, bytes]],
    body: bytes,
    keep_credentials: bool,
) -> RecordedRequest:
    """A :class:`RecordedRequest` from h11's parts (names already lower-case)."""
    try:
        parsed = json.loads(body) if body else None
    except (ValueError, RecursionError):
        parsed = None
    named = {k.decode("latin-1"): v.decode("latin-1") for k, v in headers}
    text = target.decode("ascii", "replace")
    if not keep_credentials:
        text = redact_target(text)
        for name in CREDENTIAL_HEADERS & named.keys():
            named[name] = _REDACTED
    return RecordedRequest(method.decode("ascii", "replace"), text, named, body, parsed)
