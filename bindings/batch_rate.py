"""Rate control for a batch: caps that are never exceeded, and back-off that settles.

The policy is pure (every method takes ``now``; tested without a clock); :class:`Limiter`
runs it on asyncio.

* **Caps.** ``rpm`` and ``tpm`` are token buckets refilled continuously, holding at most
  one second's worth (at least one request): a run starts at the cap's pace instead of
  bursting a whole minute's allowance into a provider that enforces it per second. A
  request *reserves* its share before it is sent (the bucket may go below zero; the next
  ones wait for it to refill), so waiters are served in order. Tokens are estimated before
  sending -- the prompt's size (about 4 characters a token) plus the average output seen
  so far -- and corrected with the usage the provider reports.
* **Concurrency** is AIMD, as TCP's window: at most ``limit`` requests in flight, ``limit``
  halved on a rate-limit or overload answer (429, 503, 529) and grown by one per
  ``limit`` successes, up to ``--concurrency``. A burst of 429s from requests that were
  all in flight before the first one came back halves it once, not once per 429 (each
  request remembers the ``epoch`` it started in).
* **Pause.** A 429/503/529 stops every new request until its ``Retry-After`` (or, when the
  server gave none, 1, 2, 4 ... 60 s for consecutive throttles without a success between).
  With the caps unset, a run at the provider's limit therefore costs at most about one
  window of in-flight requests in 429s per window, instead of a retry storm.
* **Headers** (:meth:`RatePolicy.observe_headers`): ``x-ratelimit-remaining-requests`` /
  ``-tokens`` of ``0`` pause new requests until ``x-ratelimit-reset-*``; a small remaining
  request count caps ``limit``. The batch feeds it whatever response headers the client
  exposes; until responses carry headers it is reached only through the ``Retry-After``
  the core already derives from them on a 429.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from typing import Final

from libchatty.httperrors import parse_duration

__all__ = ["AIMD", "THROTTLE_KINDS", "Limiter", "RatePolicy", "TokenBucket"]

#: Error kinds that mean "slow down": they pause the run and halve the concurrency.
THROTTLE_KINDS: Final = frozenset({"rate_limit", "overloaded"})
# The pause after a throttle that came without Retry-After: 1, 2, 4, ... this many s.
_MAX_PAUSE: Final = 60.0
# The weight of the newest response in the average output size (for the TPM estimate).
_OUTPUT_WEIGHT: Final = 0.1


class TokenBucket:
    """``per_minute`` units refilled continuously, at most ``capacity`` held (default one
    second's worth, at least 1); starts full."""

    def __init__(self, per_minute: float, now: float, capacity: float | None = None) -> None:
        if not per_minute > 0:
            raise ValueError("a rate must be a positive number per minute")
        self.rate = per_minute / 60.0
        self.capacity = capacity if capacity is not None else max(1.0, self.rate)
        self.tokens = self.capacity
        self.updated = now

    def _refill(self, now: float) -> None:
        if now > self.updated:
            self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
            self.updated = now

    def reserve(self, amount: float, now: float) -> float:
        """Take ``amount`` (possibly going below zero); the seconds to wait before using it."""
        self._refill(now)
        self.tokens -= amount
        return 0.0 if self.tokens >= 0 else -self.tokens / self.rate

    def adjust(self, amount: float, now: float) -> None:
        """Take ``amount`` more (or give ``-amount`` back) after the fact."""
        self._refill(now)
        self.tokens = min(self.capacity, self.tokens - amount)


class AIMD:
    """The concurrency limit: additive increase, multiplicative decrease (see the module)."""

    def __init__(self, maximum: int) -> None:
        if maximum < 1:
            raise ValueError("concurrency must be at least 1")
        self.maximum = maximum
        self.limit = maximum
        self.credit = 0  # successes since the limit last grew
        self.epoch = 0  # how many decreases so far

    def success(self) -> None:
        self.credit += 1
        if self.credit >= self.limit:
            self.credit = 0
            self.limit = min(self.maximum, self.limit + 1)

    def throttled(self, started_epoch: int) -> bool:
        """Halve the limit, once per epoch; False when a decrease already followed the
        start of the request that was throttled."""
        if started_epoch < self.epoch:
            return False
        self.limit = max(1, self.limit // 2)
        self.credit = 0
        self.epoch += 1
        return True

    def cap(self, limit: int) -> None:
        self.limit = max(1, min(self.limit, limit))


class RatePolicy:
    """Caps, AIMD and pauses together (pure: ``now`` is given). ``rpm``/``tpm`` None
    means no cap."""

    def __init__(self, concurrency: int, rpm: float | None, tpm: float | None, now: float) -> None:
        self.aimd = AIMD(concurrency)
        self.rpm = TokenBucket(rpm, now) if rpm else None
        self.tpm = TokenBucket(tpm, now) if tpm else None
        self.paused_until = now
        self.throttles = 0  # consecutive throttles without a success between
        self.output_tokens = 0.0  # average output tokens per response

    def estimate(self, input_tokens: int) -> int:
        return input_tokens + int(self.output_tokens)

    def reserve(self, tokens: int, now: float) -> float:
        """Reserve one request of ``tokens`` (estimated); seconds to wait for the caps."""
        wait = 0.0
        if self.rpm is not None:
            wait = self.rpm.reserve(1, now)
        if self.tpm is not None:
            wait = max(wait, self.tpm.reserve(tokens, now))
        return wait

    def succeeded(
        self, estimated: int, input_used: int | None, output_used: int | None, now: float
    ) -> None:
        self.aimd.success()
        self.throttles = 0
        if output_used is not None:
            self.output_tokens += _OUTPUT_WEIGHT * (output_used - self.output_tokens)
        if self.tpm is not None and (input_used is not None or output_used is not None):
            self.tpm.adjust((input_used or 0) + (output_used or 0) - estimated, now)

    def throttled(self, started_epoch: int, retry_after: float | None, now: float) -> None:
        """A 429/503/529: halve the concurrency (once per epoch) and pause new requests."""
        self.aimd.throttled(started_epoch)
        self.throttles += 1
        pause = retry_after
        if pause is None:
            pause = min(_MAX_PAUSE, 2.0 ** (self.throttles - 1))
        self.paused_until = max(self.paused_until, now + pause)

    def observe_headers(self, headers: Mapping[str, str], now: float) -> None:
        """Provider rate-limit headers (names lower-case), from any response."""
        for bucket in ("requests", "tokens"):
            remaining = headers.get(f"x-ratelimit-remaining-{bucket}")
            if remaining is None:
                continue
            try:
                left = int(remaining.strip())
            except ValueError:
                continue
            if left <= 0:
                reset = parse_duration(headers.get(f"x-ratelimit-reset-{bucket}", ""))
                self.paused_until = max(self.paused_until, now + (reset or 1.0))
            elif bucket == "requests" and left < self.aimd.limit:
                self.aimd.cap(left)


class Limiter:
    """:class:`RatePolicy` on asyncio: :meth:`acquire` waits for the caps, the pause and a
    free slot under the AIMD limit; :meth:`release` frees the slot. ``clock`` is
    ``time.monotonic`` unless a test gives another."""

    def __init__(
        self,
        concurrency: int,
        rpm: float | None = None,
        tpm: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.clock = clock
        self.policy = RatePolicy(concurrency, rpm, tpm, clock())
        self.in_flight = 0
        self._changed = asyncio.Event()

    async def acquire(self, tokens: int) -> int:
        """Wait until a request of ``tokens`` may go; returns the epoch it starts in."""
        policy = self.policy
        while self.in_flight >= policy.aimd.limit:
            self._changed.clear()
            await self._changed.wait()
        self.in_flight += 1  # the slot is held while waiting for the caps
        try:
            wait = policy.reserve(tokens, self.clock())
            if wait > 0:
                await asyncio.sleep(wait)
            while (pause := policy.paused_until - self.clock()) > 0:
                await asyncio.sleep(pause)
        except BaseException:
            self.release()
            raise
        return policy.aimd.epoch

    def release(self) -> None:
        self.in_flight -= 1
        self._changed.set()
