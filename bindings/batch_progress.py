"""A batch's progress on stderr, and its summary.

On a terminal with ``tqdm`` installed (``pip install libchatty[batch]``): a progress bar
(done/total, requests/s, ETA) whose postfix shows output tokens/s and errors. Otherwise --
no tqdm, or stderr is a file or a pipe -- one plain status line every ``interval``
seconds and one at the end. ``tqdm`` is imported only here, and only when it is used.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final, TextIO

__all__ = ["Progress", "Summary"]

#: Seconds between two plain status lines.
STATUS_INTERVAL: Final = 10.0


@dataclass(slots=True)
class Summary:
    """What a run did. ``lines``: input lines read (blank ones aside); ``skipped``:
    already settled in the output; ``succeeded``; ``failed`` by error kind (``input`` for
    a line that was not a request); ``attempts``: requests sent, retries included;
    ``throttled``: 429/503/529 answers; tokens as the provider reported them."""

    lines: int = 0
    skipped: int = 0
    succeeded: int = 0
    failed: Counter[str] = field(default_factory=Counter)
    attempts: int = 0
    throttled: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    elapsed: float = 0.0

    @property
    def failures(self) -> int:
        return sum(self.failed.values())

    def format(self) -> str:
        """The summary printed at the end of a run (several lines, no trailing newline)."""
        seconds = max(self.elapsed, 1e-9)
        done = self.succeeded + self.failures
        kinds = ", ".join(f"{kind} {count}" for kind, count in sorted(self.failed.items()))
        return "\n".join(
            [
                f"batch: {self.succeeded} succeeded, {self.failures} failed"
                + (f" ({kinds})" if kinds else "")
                + f", {self.skipped} skipped (already in the output), {self.lines} lines read",
                f"batch: {self.attempts} requests sent, {self.throttled} throttled (429/503/529)",
                f"batch: tokens {self.input_tokens} in, {self.output_tokens} out",
                f"batch: {self.elapsed:.1f} s, {done / seconds:.1f} results/s, "
                f"{self.output_tokens / seconds:.0f} output tokens/s",
            ]
        )


class Progress:
    """Progress of a run on ``stream``: call :meth:`update` with each result's summary
    numbers, :meth:`close` at the end. ``total``: results expected (None: unknown);
    ``bar``: None chooses (tqdm on a terminal, when installed), True/False forces."""

    def __init__(
        self,
        stream: TextIO | None,
        total: int | None = None,
        *,
        bar: bool | None = None,
        interval: float = STATUS_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream
        self.total = total
        self.interval = interval
        self.clock = clock
        self.started = self.last = clock()
        self.done = self.errors = self.tokens = 0
        self._bar: Any = None
        if stream is not None and (bar or (bar is None and _isatty(stream))):
            self._bar = _tqdm(stream, total)

    def update(self, ok: bool, output_tokens: int) -> None:
        self.done += 1
        self.errors += not ok
        self.tokens += output_tokens
        if self.stream is None:
            return
        now = self.clock()
        if self._bar is not None:
            self._bar.update(1)
            if now - self.last >= 0.5:  # tqdm redraws at most this often anyway
                self.last = now
                rate = self.tokens / max(now - self.started, 1e-9)
                self._bar.set_postfix_str(f"{rate:.0f} tok/s, {self.errors} errors", refresh=False)
        elif now - self.last >= self.interval:
            self.last = now
            self._status(now)

    def _status(self, now: float) -> None:
        assert self.stream is not None
        seconds = max(now - self.started, 1e-9)
        of = f"/{self.total}" if self.total is not None else ""
        eta = ""
        if self.total is not None and self.done:
            eta = f", ETA {(self.total - self.done) * seconds / self.done:.0f} s"
        self.stream.write(
            f"batch: {self.done}{of} done, {self.errors} errors, {self.done / seconds:.1f} req/s, "
            f"{self.tokens / seconds:.0f} tok/s{eta}\n"
        )
        self.stream.flush()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        elif self.stream is not None and self.done:
            self._status(self.clock())


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _tqdm(stream: TextIO, total: int | None) -> Any:
    import importlib

    try:
        tqdm: Any = importlib.import_module("tqdm").tqdm  # untyped: reached through Any
    except ImportError:
        return None
    return tqdm(total=total, file=stream, unit="req", dynamic_ncols=True, smoothing=0.05)
