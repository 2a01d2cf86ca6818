"""The request loop, written once for every binding: one call to a chat endpoint,
through retries and the streaming fallback, as a **sans-I/O generator**.

:meth:`Exchange.run` yields the I/O it wants done (the operations of
:mod:`~libchatty.bindings._ops`) and is sent the results; a runner
(:mod:`~libchatty.bindings._runners`) performs them. The loop is plain code with no
``await``, so the same loop serves blocking and async bindings, and tests drive it by
sending results by hand (tests/test_driver.py) -- every timeout, failure and retry,
without a socket or a clock.

This module is the policy over attempts; one attempt (connect or reuse, send, read,
deliver, keep the connection or not, timeouts, I/O errors) is
:class:`~libchatty.bindings._attempt.Attempts`, and the result a finished call returns
is built by :mod:`~libchatty.bindings._results`. For one ``chat()``/``stream()`` call:

* a pooled connection the server had already closed (nothing came back) is replaced at
  once by a fresh connection, without counting as a retry;
* on an error before anything was delivered, the loop falls back once to a
  non-streaming request when :func:`~libchatty.policy.should_fallback_to_non_streaming`
  says so, else retries per :func:`~libchatty.policy.should_retry` after
  :func:`~libchatty.policy.backoff_delay` (honouring ``retry_after``, bounded by the
  total timeout);
* the last event delivered is always the one ``Done`` or ``Error``;
* whatever ends it early -- a raising callback, cancellation, the caller leaving a stream
  -- closes the connection (the generator's ``finally``), and the exception goes on
  unchanged.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Generator
from typing import Any

from libchatty.events import Done, Error, Event
from libchatty.request import ChatRequest

from . import (
    _log,  # DEBUG records; logging itself is imported only by the application
    _results,
)
from ._api import Completion, Timeout
from ._attempt import DRAIN_TIMEOUT, Attempts, Stale
from ._config import ClientConfig
from ._ops import Deliver, Op, Runtime, Sleep
from ._pool import Pool

__all__ = ["DRAIN_TIMEOUT", "Exchange"]


class Exchange(Attempts):
    """One call to a chat endpoint, through retries and the streaming fallback.

    Run it with :func:`drive` or :func:`adrive`. Afterwards (or after stopping early):
    ``terminal`` is the ``Done``/``Error`` that ended it (None if stopped), ``call`` the
    last :class:`~libchatty.call.Call` (its ``text`` is the answer so far),
    ``delivered`` whether a ``Delta`` was delivered, ``requests`` how many requests were
    sent, ``fell_back`` whether the non-streaming fallback was used.

    ``timeout`` and ``max_retries`` are this call's, instead of the client's (None: the
    client's); ``config`` is then the client's configuration with them.
    """

    __slots__ = ("fell_back", "request")

    def __init__(
        self,
        config: ClientConfig,
        request: ChatRequest,
        pool: Pool,
        runtime: Runtime,
        *,
        timeout: Timeout | None = None,
        max_retries: int | None = None,
    ) -> None:
        super().__init__(config.overridden(timeout, max_retries), pool, runtime)
        self.request = request
        self.fell_back = False

    @property
    def text(self) -> str:
        """The answer text received so far (by the last request)."""
        return self.call.text if self.call is not None else ""

    @property
    def streamed(self) -> bool:
        """Whether the answer arrived as a stream (SSE or JSON lines)."""
        return _results.streamed(self.call)

    def completion(self) -> Completion:
        """The :class:`Completion` of a call that ended with ``Done``; raises
        :class:`~libchatty.exceptions.ChatError` for one that ended with ``Error``, and
        :class:`~libchatty.structured.StructuredOutputError` (keeping the text) when
        ``response_format`` was asked and the answer is not what it describes."""
        return _results.completion(
            self.terminal, self.call, self.request.neutral_response_format, self._now
        )

    def stopped(self, last: Event, seen: int) -> Completion:
        """The result when a callback returned STOP for event ``last``, having been given
        ``seen`` characters of answer text: the complete answer if ``last`` was ``Done``,
        else that much text with ``finish_reason="stopped"`` (and the response head's
        metadata). The text given is the start of the call's: every answer-text ``Delta``
        of choice 0 is the next piece of it, and all come from the last request (nothing
        is retried once a ``Delta`` was delivered). When a delivery is handed out the
        call's text is exactly the pieces delivered so far, its own included: ``chat()``
        counts ``seen`` back from the end, by what the delivery holds after ``last``."""
        return _results.stopped(
            last, self.text[:seen], self.call, self.request.neutral_response_format, self._now
        )

    def run(self) -> Generator[Op, Any, Done | Error]:
        """The loop. Returns (and has delivered, last) the terminal event."""
        # One generator for the retries (not run() over _run()): every read passes
        # through each generator frame of the chain, twice (the read, the delivery).
        try:
            total = self.config.timeout.total
            self._deadline = None if total is None else self.runtime.clock() + total
            request = self.request
            retries = 0
            reuse = True
            while True:
                try:
                    outcome, sent = yield from self._attempt(request, reuse)
                except Stale:
                    # The pooled connection was dead; its siblings likely are too. Try once
                    # more at once on a fresh one: this is not a failure of the request.
                    self._drop()
                    self.pool.discard(self.key)
                    _log.debug("pooled connection to %s:%s was closed by the server; "
                               "reconnecting", self.key[1], self.key[2])
                    reuse = False
                    continue
                reuse = True
                if isinstance(outcome, Done):
                    return outcome
                error = outcome
                # Imported with the first failure: an answer that arrives needs none of it.
                from libchatty.policy import (
                    backoff_delay,
                    should_fallback_to_non_streaming,
                    should_retry,
                )

                if (
                    sent
                    and request.stream
                    and not self.fell_back
                    and should_fallback_to_non_streaming(error, self.delivered)
                ):
                    _log.debug("falling back to a non-streaming request after %s (status %s)",
                               error.kind, error.status)
                    request = dataclasses.replace(request, stream=False)
                    self.fell_back = True
                    continue
                if should_retry(error, retries, self.config.max_retries, self.delivered):
                    delay = backoff_delay(retries, self._retry_after(error), self.runtime.random())
                    deadline = self._deadline
                    if deadline is None or self.runtime.clock() + delay < deadline:
                        _log.debug("retry %d of %d in %.2f s after %s (status %s)", retries + 1,
                                   self.config.max_retries, delay, error.kind, error.status)
                        yield Sleep(delay)
                        retries += 1
                        continue
                self.terminal = error
                if error.kind == "timeout":
                    _log.debug("gave up: %s", error.message)  # our own words, never the server's
                yield Deliver([error])
                return error
        finally:
            self._drop()

    def _retry_after(self, error: Error) -> float | None:
        if error.retry_after is not None or error.retry_after_date is None:
            return error.retry_after
        from email.utils import parsedate_to_datetime  # rare: only for HTTP-date values

        try:
            when = parsedate_to_datetime(error.retry_after_date).timestamp()
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        return max(0.0, when - self.runtime.wall_clock())
