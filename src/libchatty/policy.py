"""When to retry a failed call, when to fall back to a non-streaming request, how long to wait.

Pure decisions over an :class:`~libchatty.events.Error`: no clock, no randomness (the
binding passes its random draw in as ``jitter_fraction``), no I/O. Every binding asks
these same three questions, so the rules live here once:

* :func:`should_retry` -- a retryable error before anything was delivered, within the
  retry budget, with a server-requested wait we are willing to honour.
* :func:`should_fallback_to_non_streaming` -- the server cannot stream (it said so, or it
  answered 501), or the connection broke after the request was sent and before the first
  delta: the same request without ``stream`` may well succeed. Never after a timeout.
* :func:`backoff_delay` -- exponential backoff with jitter, or the server's
  ``retry_after`` when it gave one.

Nothing is ever retried once a delta reached the caller: a second request would repeat
output the caller has already shown.
"""

from __future__ import annotations

import re
from typing import Final

from .events import Error

__all__ = [
    "BASE_BACKOFF",
    "MAX_BACKOFF",
    "MAX_RETRY_AFTER",
    "backoff_delay",
    "says_streaming_unsupported",
    "should_fallback_to_non_streaming",
    "should_retry",
]

#: The first backoff (seconds); each retry doubles it up to :data:`MAX_BACKOFF`.
BASE_BACKOFF: Final = 0.5
#: The longest backoff we choose ourselves: beyond this, waiting helps no interactive user.
MAX_BACKOFF: Final = 8.0
#: A server asking for a longer wait than this (a daily quota, say) is not retried: the
#: caller is better told at once, with ``retry_after`` in the error, than kept waiting.
MAX_RETRY_AFTER: Final = 60.0

# "stream" (also "streaming", "stream_options") together with a word saying it is not
# accepted. Both are required: a 400 about something else may quote the request body.
# (Compiled on first use by re's cache: most programs never see such an error, and
# every import of a binding would pay for compiling it.)
_REFUSES: Final = (
    r"\bnot\b|n't\b|unsupported|unrecogni[sz]ed|unknown|invalid|disabled|unavailable"
    r"|no longer|unexpected|forbidden|extra|only"
)
# Errors that mean "the connection died after sending, before any output".
_BROKEN_BEFORE_OUTPUT: Final = frozenset({"connection", "incomplete"})


def should_retry(error: Error, attempt: int, max_retries: int, delivered: bool) -> bool:
    """Whether to send the same request again after ``error``.

    ``attempt`` is the number of retries already made for this call (0 after the first
    failure); ``delivered`` whether any delta reached the caller. True only for an error
    marked ``retryable`` whose ``retry_after`` (if any) is at most :data:`MAX_RETRY_AFTER`.
    """
    if delivered or attempt >= max_retries or not error.retryable:
        return False
    return error.retry_after is None or error.retry_after <= MAX_RETRY_AFTER


def says_streaming_unsupported(message: str) -> bool:
    """Whether an error message says the server will not stream."""
    lowered = message.lower()
    return "stream" in lowered and re.search(_REFUSES, lowered) is not None


def should_fallback_to_non_streaming(error: Error, delivered: bool) -> bool:
    """Whether a streaming request that ended in ``error`` should be sent once more
    without ``stream``.

    True, when nothing was delivered, for: a 400/422 whose message says streaming is not
    supported; a 501; a connection that broke (``connection``/``incomplete``) after the
    request was sent -- before any response, or inside a 2xx stream that had not yet
    produced a delta (a proxy that cuts long-lived responses, say). The binding asks only
    about errors that happened after sending: a refused connection is a plain retry,
    streaming has nothing to do with it.

    Never for a timeout (idle, stall or total): a slow server is no evidence that it
    cannot stream, and the non-streaming request would only repeat the whole wait.
    """
    if delivered or error.kind == "timeout":
        return False
    status = error.status
    if status == 501:
        return True
    if status in (400, 422):
        return says_streaming_unsupported(error.message)
    return (status is None or 200 <= status < 300) and error.kind in _BROKEN_BEFORE_OUTPUT


def backoff_delay(attempt: int, retry_after: float | None, jitter_fraction: float) -> float:
    """Seconds to wait before retry number ``attempt + 1``.

    With ``retry_after`` (the server's word, seconds): that wait plus up to 10% (at most
    one second) of jitter, so many clients told the same thing do not return in
    lockstep. Without: ``BASE_BACKOFF * 2**attempt`` capped at :data:`MAX_BACKOFF`, of
    which a random half is jitter ("equal jitter"). ``jitter_fraction`` is the binding's
    random draw in ``[0, 1)``; values outside are clamped.
    """
    jitter = min(max(jitter_fraction, 0.0), 1.0)
    if retry_after is not None and retry_after >= 0:
        return retry_after + jitter * min(0.1 * retry_after, 1.0)
    ceiling = min(MAX_BACKOFF, BASE_BACKOFF * 2.0 ** min(max(attempt, 0), 16))
    return ceiling * (0.5 + 0.5 * jitter)
