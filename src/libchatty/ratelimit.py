"""Rate-limit state from a response head: what is left, and when it resets.

Providers report their rate limits in response headers, each in its own dialect of names
and units. :func:`parse_rate_limit` reads every documented form into one
:class:`RateLimit`:

* OpenAI, Azure OpenAI, Groq and other OpenAI-compatible servers:
  ``x-ratelimit-limit-requests``, ``x-ratelimit-remaining-requests``,
  ``x-ratelimit-reset-requests`` and the ``-tokens`` forms. Resets are durations from
  now in Go's notation (``1s``, ``6m0s``, ``2.524s``, ``20ms``, ``1h2m3s``) or plain
  seconds (Azure).
* Together and OpenRouter: unsuffixed ``x-ratelimit-limit``, ``x-ratelimit-remaining``,
  ``x-ratelimit-reset`` (requests). The reset is seconds from now (Together), or a
  Unix timestamp in milliseconds (OpenRouter). A plain number of at least 10**9 is
  taken as a Unix timestamp (in milliseconds from 10**12): no window lasts 31 years.
  The suffixed ``-requests`` headers win over these when a server sends both.
* Anthropic: ``anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-
  {limit,remaining,reset}``; resets are RFC 3339 timestamps.

Not rate-limit state: ``retry-after`` (it is on :class:`~libchatty.events.Error`).
Cohere and Gemini document no rate-limit headers; Ollama has no rate limits.

Resets come two ways. ``*_reset`` is seconds from ``now``; ``*_reset_at`` the absolute
time (an aware ``datetime``). A relative reset is known without a clock; an absolute
one needs ``now`` to become relative, and the core reads no clock: the binding passes
``now``. So: with ``now`` both fields are filled whichever way the server spoke;
without ``now`` only the one the server sent is (``requests_reset`` for OpenAI,
``requests_reset_at`` for Anthropic). A reset time already past is ``0.0`` seconds.

Headers come from a server, so a bad value never raises: each field whose header is
missing or unreadable (not a non-negative integer count, not a duration or timestamp;
Azure's ``-1`` meaning "unknown") is None, and the other fields are still read. When a
header is repeated, the first one counts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Final

from .httperrors import parse_duration

__all__ = ["RateLimit", "parse_rate_limit"]


@dataclass(frozen=True, slots=True)
class RateLimit:
    """The rate-limit state a response reported; None where it reported nothing usable.

    For each bucket -- ``requests``, ``tokens``, and (Anthropic) ``input_tokens`` and
    ``output_tokens`` -- ``*_limit`` is the most the window allows, ``*_remaining`` what
    is left (Anthropic rounds tokens to the nearest thousand), ``*_reset`` the seconds
    from ``now`` until the bucket is full again and ``*_reset_at`` that moment (see the
    module doc for when each is known).
    """

    requests_limit: int | None = None
    requests_remaining: int | None = None
    requests_reset: float | None = None
    requests_reset_at: datetime | None = None
    tokens_limit: int | None = None
    tokens_remaining: int | None = None
    tokens_reset: float | None = None
    tokens_reset_at: datetime | None = None
    input_tokens_limit: int | None = None
    input_tokens_remaining: int | None = None
    input_tokens_reset: float | None = None
    input_tokens_reset_at: datetime | None = None
    output_tokens_limit: int | None = None
    output_tokens_remaining: int | None = None
    output_tokens_reset: float | None = None
    output_tokens_reset_at: datetime | None = None


# How a header's value reads: a count, a reset duration ("6m0s", "1.5"), a duration or
# Unix timestamp (Together/OpenRouter share one name), or an RFC 3339 timestamp.
COUNT = "count"
DURATION = "duration"
DURATION_OR_EPOCH = "duration_or_epoch"
TIMESTAMP = "timestamp"

Spec = tuple[str, str, str]  # (field prefix, "limit"|"remaining"|"reset", how it reads)


def _table() -> dict[str, Spec]:
    """Header name (lower case) -> how to read it."""
    table: dict[str, Spec] = {}
    for bucket in ("requests", "tokens"):
        table[f"x-ratelimit-limit-{bucket}"] = (bucket, "limit", COUNT)
        table[f"x-ratelimit-remaining-{bucket}"] = (bucket, "remaining", COUNT)
        table[f"x-ratelimit-reset-{bucket}"] = (bucket, "reset", DURATION)
    for bucket in ("requests", "tokens", "input-tokens", "output-tokens"):
        prefix = bucket.replace("-", "_")
        table[f"anthropic-ratelimit-{bucket}-limit"] = (prefix, "limit", COUNT)
        table[f"anthropic-ratelimit-{bucket}-remaining"] = (prefix, "remaining", COUNT)
        table[f"anthropic-ratelimit-{bucket}-reset"] = (prefix, "reset", TIMESTAMP)
    return table


_HEADERS: Final = _table()
# Together and OpenRouter: requests, unsuffixed. Read only when the suffixed name is absent.
_FALLBACKS: Final[dict[str, Spec]] = {
    "x-ratelimit-limit": ("requests", "limit", COUNT),
    "x-ratelimit-remaining": ("requests", "remaining", COUNT),
    "x-ratelimit-reset": ("requests", "reset", DURATION_OR_EPOCH),
}

# 18 digits: more than any limit, and int() of it is cheap whatever a server sends.
_COUNT: Final = re.compile(r"[0-9]{1,18}")
# RFC 3339 date-time (section 5.6), checked before datetime.fromisoformat, which also
# takes forms RFC 3339 does not (week dates, no offset, "+0000").
_RFC3339: Final = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,9})?"
    r"(?:[Zz]|[+-][0-9]{2}:[0-9]{2})"
)
_EPOCH_SECONDS: Final = 1e9  # 2001-09-09: a plain reset this large is a timestamp
_EPOCH_MILLISECONDS: Final = 1e12
_UNIX_EPOCH: Final = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _text(value: str | bytes) -> str:
    # HTTP header values are latin-1 by the protocol's rules (h11 hands bytes).
    return value.decode("latin-1") if isinstance(value, bytes) else value


def _count(text: str) -> int | None:
    text = text.strip()
    return int(text) if _COUNT.fullmatch(text) else None


def _timestamp(text: str) -> datetime | None:
    text = text.strip()
    if not _RFC3339.fullmatch(text):
        return None
    # fromisoformat takes at most 6 fraction digits and "Z" only upper-case.
    head, dot, rest = text.partition(".")
    if dot:
        digits = len(rest) - len(rest.lstrip("0123456789"))
        rest = rest[:digits][:6].ljust(6, "0") + rest[digits:]
        text = f"{head}.{rest}"
    text = text.upper().replace("Z", "+00:00")
    try:
        return datetime.fromisoformat(text)
    except ValueError:  # a month 13, a day 32, an hour 24: not a time
        return None


def _after(start: datetime, seconds: float) -> datetime | None:
    try:
        return start + timedelta(seconds=seconds)
    except OverflowError:  # beyond year 9999
        return None


def _epoch(number: float) -> datetime | None:
    return _after(_UNIX_EPOCH, number / 1000 if number >= _EPOCH_MILLISECONDS else number)


def _reset(how: str, text: str, now: datetime | None) -> tuple[float | None, datetime | None]:
    """(seconds from now, absolute time) for a reset header's value."""
    at: datetime | None
    if how == TIMESTAMP:
        at = _timestamp(text)
    else:
        seconds = parse_duration(text)
        if seconds is None:
            return None, None
        # Go durations count whole nanoseconds: rounding there undoes the float error
        # of unit scaling (9ms is 0.009, not 9 * 1e-3 = 0.009000000000000001).
        seconds = round(seconds, 9)
        if how == DURATION or seconds < _EPOCH_SECONDS:
            return seconds, (None if now is None else _after(now, seconds))
        at = _epoch(seconds)
    if at is None:
        return None, None
    if now is None:
        return None, at
    return max(0.0, (at - now).total_seconds()), at


def parse_rate_limit(
    headers: Iterable[tuple[str | bytes, str | bytes]], now: datetime | None = None
) -> RateLimit | None:
    """The :class:`RateLimit` in ``headers`` (name/value pairs, ``str`` or ``bytes``,
    names in any case); None when none of them is a rate-limit header.

    ``now`` (an aware ``datetime``: the time the response arrived) turns absolute
    resets into seconds from now and relative ones into times; without it each reset is
    kept the way the server sent it. Never raises for any header value (see the module
    doc); a naive ``now`` is the caller's mistake and a ``ValueError``.
    """
    if now is not None and now.utcoffset() is None:
        raise ValueError("parse_rate_limit: now must be an aware datetime (with a tzinfo)")
    found: dict[str, tuple[Spec, str]] = {}
    fallbacks: dict[str, tuple[Spec, str]] = {}
    for raw_name, raw_value in headers:
        name = _text(raw_name).strip().lower()
        spec = _HEADERS.get(name)
        if spec is not None:
            found.setdefault(f"{spec[0]}_{spec[1]}", (spec, _text(raw_value)))
            continue
        spec = _FALLBACKS.get(name)
        if spec is not None:
            fallbacks.setdefault(f"{spec[0]}_{spec[1]}", (spec, _text(raw_value)))
    if not found and not fallbacks:
        return None
    for key, entry in fallbacks.items():
        found.setdefault(key, entry)
    fields: dict[str, int | float | datetime | None] = {}
    for key, ((_, what, how), text) in found.items():
        if what == "reset":
            fields[key], fields[f"{key}_at"] = _reset(how, text, now)
        else:
            fields[key] = _count(text)
    return RateLimit(**fields)  # type: ignore[arg-type]
