"""Turn a non-2xx HTTP response into one :class:`~libchatty.events.Error`.

Providers disagree on error bodies, so this module reads every envelope libchatty has
met instead of trusting one:

* OpenAI and compatibles: ``{"error": {"message", "type", "param", "code"}}`` (vLLM and
  OpenRouter put an integer in ``code``);
* Anthropic: ``{"type": "error", "error": {"type", "message"}}``;
* Google: ``{"error": {"code", "message", "status", "details"}}`` with an optional
  ``google.rpc.RetryInfo`` ``retryDelay``;
* Ollama: ``{"error": "text"}``; Mistral: ``{"message", ...}`` or ``{"object": "error", ...}``;
* anything else (an HTML page from a proxy, an empty body): the status line speaks.

The wait before a retry comes from ``Retry-After`` (seconds, or an HTTP date passed
through in ``retry_after_date`` for the binding to resolve with its clock), else from
the body (Google ``retryDelay``), else -- on a 429 -- from the ``x-ratelimit-reset-*``
headers OpenAI and Groq send (Go durations such as ``2.524s`` or ``12m57.6s``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

from .events import RETRYABLE_STATUSES, Error

#: Response headers as h11 gives them: (name, value) byte pairs.
Headers = Sequence[tuple[bytes, bytes]]

__all__ = ["Headers", "error_from_response", "kind_for_status", "parse_duration"]

_KIND_BY_STATUS: Final = {
    400: "bad_request",
    401: "auth",
    402: "billing",
    403: "permission",
    404: "not_found",
    408: "timeout",
    413: "bad_request",
    422: "bad_request",
    429: "rate_limit",
    503: "overloaded",
    529: "overloaded",
}

# Google says "bad key" with a 400; the user needs to hear "auth".
_AUTH_REASONS: Final = frozenset({"API_KEY_INVALID", "API_KEY_EXPIRED", "UNAUTHENTICATED"})

# Patterns as sources: re compiles and caches each on first use, which only an error
# response (or a rate-limit reset) reaches; compiled here they cost every import.
_DURATION_PART: Final = r"(\d+(?:\.\d+)?)(ns|us|µs|ms|h|m|s)"
_DURATION_UNITS: Final = {
    "h": 3600.0,
    "m": 60.0,
    "s": 1.0,
    "ms": 1e-3,
    "us": 1e-6,
    "µs": 1e-6,
    "ns": 1e-9,
}
_HTML_TITLE: Final = rb"(?is)<title>\s*(.*?)\s*</title>"  # any case; "." spans lines
_MAX_MESSAGE = 2000


def kind_for_status(status: int) -> str:
    """The ``Error.kind`` for an HTTP status."""
    if 300 <= status < 400:
        return "redirect"
    kind = _KIND_BY_STATUS.get(status)
    if kind is not None:
        return kind
    return "server" if status >= 500 else "bad_request"


def parse_duration(text: str) -> float | None:
    """Seconds in a plain number (``"7"``, ``"1.5"``) or a Go duration (``"2.524s"``,
    ``"12m57.6s"``, ``"120ms"``); None when it is neither."""
    text = text.strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        pass
    else:
        return value if value >= 0 and value == value and value != float("inf") else None
    total = 0.0
    position = 0
    for match in re.finditer(_DURATION_PART, text):
        if match.start() != position:
            return None
        total += float(match.group(1)) * _DURATION_UNITS[match.group(2)]
        position = match.end()
    return total if position == len(text) else None


def _header_map(headers: Headers) -> dict[str, str]:
    # h11 lower-cases names; values are latin-1 by HTTP's rules.
    return {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in headers}


def _retry_after(status: int, headers: Mapping[str, str]) -> tuple[float | None, str | None]:
    raw = headers.get("retry-after")
    if raw is not None:
        seconds = parse_duration(raw)
        if seconds is not None:
            return seconds, None
        if raw.strip():
            return None, raw.strip()  # an HTTP date: the binding owns the clock
    if status == 429:
        # OpenAI/Groq: wait for the bucket that ran dry; failing that, the longest.
        resets: list[tuple[bool, float]] = []
        for bucket in ("requests", "tokens"):
            reset = headers.get(f"x-ratelimit-reset-{bucket}")
            seconds = parse_duration(reset) if reset is not None else None
            if seconds is not None:
                empty = headers.get(f"x-ratelimit-remaining-{bucket}", "").strip() == "0"
                resets.append((empty, seconds))
        if resets:
            dry = [s for empty, s in resets if empty]
            return max(dry or [s for _, s in resets]), None
    return None, None


def _text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return None


def _from_json(body: Any) -> tuple[str | None, str | None, float | None, set[str]]:
    """(message, provider type, retry delay from the body, reasons) from any envelope."""
    if not isinstance(body, Mapping):
        return None, None, None, set()
    error = body.get("error")
    if isinstance(error, str):  # Ollama
        return error, None, None, set()
    if isinstance(error, Mapping):
        message = _text(error.get("message"))
        provider_type = (
            _text(error.get("status")) or _text(error.get("type")) or _text(error.get("code"))
        )
        retry_delay = None
        reasons: set[str] = set()
        details = error.get("details")
        if isinstance(details, list):
            for detail in details:
                if not isinstance(detail, Mapping):
                    continue
                delay = detail.get("retryDelay")
                if isinstance(delay, str):
                    retry_delay = parse_duration(delay)
                reason = detail.get("reason")
                if isinstance(reason, str):
                    reasons.add(reason)
        return message, provider_type, retry_delay, reasons
    # Mistral and other flat shapes.
    message = _text(body.get("message")) or _text(body.get("detail"))
    return message, _text(body.get("type")), None, set()


def _describe(status: int, reason: str, body: bytes) -> str:
    title = re.search(_HTML_TITLE, body)
    if title:
        return title.group(1).decode("utf-8", "replace")
    text = body.decode("utf-8", "replace").strip()
    if text and not text.startswith("<"):
        return text
    return f"HTTP {status} {reason}".strip()


def error_from_response(
    status: int, reason: str, headers: Headers, body: bytes, partial: str = ""
) -> Error:
    """The ``Error`` for a response with a non-2xx ``status``.

    ``body`` is what was read of the body (already bounded by the caller). Never raises
    for any body: unreadable JSON falls back to the body's text or the status line.
    """
    header_map = _header_map(headers)
    kind = kind_for_status(status)
    retry_after, retry_after_date = _retry_after(status, header_map)
    message: str | None = None
    provider_type: str | None = None
    reasons: set[str] = set()
    try:
        parsed = json.loads(body) if body.strip() else None
    except ValueError:  # includes JSONDecodeError and UnicodeDecodeError
        parsed = None
    if parsed is not None:
        message, provider_type, body_delay, reasons = _from_json(parsed)
        if retry_after is None and retry_after_date is None:
            retry_after = body_delay
    if kind == "bad_request" and reasons & _AUTH_REASONS:
        kind = "auth"
    if kind == "redirect":
        location = header_map.get("location", "")
        message = (
            f"HTTP {status} redirect to {location or 'an unnamed location'} not followed "
            "(an API redirect could carry the key to another host); check the base URL"
        )
    if not message:
        message = _describe(status, reason, body)
    if len(message) > _MAX_MESSAGE:
        message = message[:_MAX_MESSAGE] + "..."
    return Error(
        kind=kind,
        message=message,
        status=status,
        retry_after=retry_after,
        retryable=status in RETRYABLE_STATUSES,
        partial=partial,
        provider_type=provider_type,
        retry_after_date=retry_after_date,
    )
