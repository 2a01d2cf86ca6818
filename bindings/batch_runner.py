"""The batch loop: jobs in, one result record per job out, under a :class:`Limiter`.

Input is consumed lazily and at most ``concurrency`` jobs are alive at once (each is one
task; a job waiting for a retry keeps its task but not its request slot), so memory does
not grow with the input. Every request is streamed: time to first token is measured and a
long answer never waits on a body timeout.

Each request runs the client's request loop (:meth:`~libchatty.bindings._client.ClientShell.
exchange`) with :func:`~libchatty.bindings._runners.arun`, whose hook notes the time of
the first delivery holding a ``Delta``; the events are otherwise ignored: the answer,
usage and headers come from the exchange's :class:`Completion` at the end.
``chat(on_event=...)`` would pass each event through an async generator and a callback
for a clock read that is needed once: 5-8% more CPU per request of 50 deltas.

A job's **record** (one output line)::

    {"id", "line", "ok", "text", "tool_calls": [{"id", "name", "arguments"}], "usage",
     "finish_reason", "error": null | {"kind", "message", "status", "partial",
     "retry_after"}, "ttft", "duration", "attempts"}   (+ "parsed" with a response_format)

``parsed`` is the structured answer when the job asked for one (``response_format``);
an answer that is not that JSON is a failed job with ``error.kind ==
"structured_output"`` and the answer as ``error.partial``. After every response, its
rate-limit headers (``Completion.headers``/``Error.headers``) go to
:meth:`~libchatty.bindings.batch_rate.RatePolicy.observe_headers`.

``ttft`` and ``duration`` are seconds, of the last attempt (``ttft`` None when no content
arrived); ``attempts`` counts the requests sent for the job. A line that is not a request
has ``error.kind == "input"`` and ``attempts == 0``.

Retries: a failure whose ``Error.retryable`` is true (429, 5xx, timeouts, connection
failures) is retried up to ``max_retries`` times -- after the run-wide pause for a
throttle, else after 0.5, 1, 2, ... (at most 30) s. The client itself is built with
``max_retries=0`` by the batch front ends so that every 429 reaches the rate control.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from libchatty.events import Delta, Error, Event
from libchatty.exceptions import ChatError
from libchatty.structured import StructuredOutputError

from ._pool import MAX_IDLE_PER_HOST, Pool
from ._runners import arun
from .batch_input import BadLine, Job, id_key
from .batch_output import OutputState
from .batch_progress import Progress, Summary
from .batch_rate import THROTTLE_KINDS, Limiter

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from ._api import Completion
    from ._config import ClientOptions
    from .asyncio import AsyncClient

__all__ = ["READ_INTERVAL", "Settings", "batch_client", "run_jobs"]

_MAX_BACKOFF: Final = 30.0
#: Seconds a batch's streams rest between reads (the asyncio binding's
#: ``read_interval``): a batch wants answers, not each token as soon as it comes, and a
#: read per fifth of a second instead of one per token saves a third of its CPU
#: (bench/bench_batch.py: 0.2 s gains about 8% over 0.1 s, 0.3 s nothing more). Time to
#: first token is measured as before: the first read of a response never rests.
READ_INTERVAL: Final = 0.2


@dataclass(frozen=True, slots=True)
class Settings:
    """How to run a batch. ``model`` and ``options`` are the defaults a line overrides
    (``options['extra']`` is merged key by key); ``rpm``/``tpm`` None: no cap."""

    model: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    concurrency: int = 16
    rpm: float | None = None
    tpm: float | None = None
    max_retries: int = 5
    retry_errors: bool = False

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if self.max_retries < 0:
            raise ValueError("max_retries must not be negative")
        for name in ("rpm", "tpm"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ValueError(f"{name} must be a positive number")


def batch_client(
    provider: str | None,
    concurrency: int,
    *,
    read_interval: float | None = READ_INTERVAL,
    **options: Unpack[ClientOptions],
) -> AsyncClient:
    """An ``AsyncClient(provider, read_interval=read_interval, **options)`` for a batch:
    ``max_retries`` 0 unless given (the batch retries, and its rate control must see
    every 429), and a keep-alive pool that keeps ``concurrency`` idle connections (at
    least the default :data:`~libchatty.bindings._pool.MAX_IDLE_PER_HOST`). With the
    default pool, a batch of 200 in flight closed two answers' connections in three and
    opened new ones (1,329 connections for 2,000 requests in bench/bench_batch.py; 200
    with this pool). ``read_interval``: see :data:`READ_INTERVAL`."""
    from .asyncio import AsyncClient

    options.setdefault("max_retries", 0)
    client = AsyncClient(provider, read_interval=read_interval, **options)
    if concurrency > MAX_IDLE_PER_HOST:
        client.pool = Pool(concurrency)
    return client


def _options(defaults: Mapping[str, Any], line: Mapping[str, Any]) -> dict[str, Any]:
    merged = {**defaults, **line}
    if isinstance(defaults.get("extra"), Mapping) and isinstance(line.get("extra"), Mapping):
        merged["extra"] = {**defaults["extra"], **line["extra"]}
    return merged


def _error(error: Error) -> dict[str, Any]:
    return {
        "kind": error.kind,
        "message": error.message,
        "status": error.status,
        "partial": error.partial,
        "retry_after": error.retry_after,
    }


def _input_error(message: str) -> dict[str, Any]:
    return {"kind": "input", "message": message, "status": None, "partial": "", "retry_after": None}


def bad_line_record(item: BadLine) -> dict[str, Any]:
    return {"id": item.id, "line": item.line, "ok": False, "error": _input_error(item.message),
            "attempts": 0}  # fmt: skip


def _success(job: Job, completion: Completion) -> dict[str, Any]:
    usage = completion.usage
    record: dict[str, Any] = {
        "id": job.id,
        "line": job.line,
        "ok": True,
        "text": completion.text,
        "tool_calls": [
            {"id": call.id, "name": call.name, "arguments": call.arguments}
            for call in completion.tool_calls
        ],
        "usage": None if usage is None else {
            "input_tokens": usage.input_tokens, "output_tokens": usage.output_tokens,
            "total_tokens": usage.total_tokens, "reasoning_tokens": usage.reasoning_tokens,
            "cached_tokens": usage.cached_tokens,
        },
        "finish_reason": completion.finish_reason,
        "error": None,
    }  # fmt: skip
    parsed = completion.parsed  # structured output, when the job asked for it
    if parsed is not None:
        dump = getattr(parsed, "model_dump", None)  # a pydantic instance: its JSON form
        record["parsed"] = dump(mode="json") if callable(dump) else parsed
    return record


class _FirstDelta:
    """An ``on_deliver`` hook (:func:`~libchatty.bindings._runners.arun`) that notes
    when the first delivery holding a ``Delta`` was made: ``time``, None until then."""

    __slots__ = ("clock", "time")

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.time: float | None = None

    def __call__(self, events: list[Event]) -> None:
        if self.time is None and any(type(event) is Delta for event in events):
            self.time = self.clock()


class _Run:
    def __init__(
        self,
        client: AsyncClient,
        settings: Settings,
        write: Callable[[dict[str, Any]], None],
        progress: Progress,
        limiter: Limiter,
    ) -> None:
        self.client, self.settings, self.write = client, settings, write
        self.progress, self.limiter = progress, limiter
        self.clock = limiter.clock
        self.summary = Summary()

    def record(self, record: dict[str, Any]) -> None:
        self.write(record)
        usage = record.get("usage") or {}
        output = usage.get("output_tokens") or 0
        if record["ok"]:
            self.summary.succeeded += 1
            self.summary.input_tokens += usage.get("input_tokens") or 0
            self.summary.output_tokens += output
        else:
            self.summary.failed[record["error"]["kind"]] += 1
        self.progress.update(record["ok"], output)

    async def job(self, job: Job) -> None:
        settings, policy = self.settings, self.limiter.policy
        model = job.model or settings.model
        if model is None:
            self.record(bad_line_record(BadLine(job.line, f"line {job.line}: no model", job.id)))
            return
        options = _options(settings.options, job.options)
        attempts = 0
        while True:
            estimate = policy.estimate(job.input_tokens)
            epoch = await self.limiter.acquire(estimate)
            attempts += 1
            self.summary.attempts += 1
            started = self.clock()
            first: float | None = None
            error: Error | None = None
            try:
                exchange = self.client.exchange(job.messages, model, True, options)
                first_delta = _FirstDelta(self.clock)
                await arun(exchange.run(), self.client.backend, first_delta)
                first = first_delta.time
                completion = exchange.completion()
            except ChatError as exc:
                error = exc.error
            except StructuredOutputError as exc:  # the answer is not the schema's JSON
                self.record({"id": job.id, "line": job.line, "ok": False, "attempts": attempts,
                             "error": {"kind": "structured_output", "message": exc.cause,
                                       "status": None, "partial": exc.text,
                                       "retry_after": None}})  # fmt: skip
                return
            except (TypeError, ValueError) as exc:  # an option the request cannot carry
                record = bad_line_record(BadLine(job.line, str(exc), job.id))
                record["attempts"] = attempts
                self.record(record)
                return
            finally:
                self.limiter.release()
            ended = self.clock()
            # The provider's rate-limit headers, from any response: the rate control
            # slows down before the 429 rather than after it.
            headers = completion.headers if error is None else error.headers
            if headers:
                policy.observe_headers(dict(headers), ended)
            timing = {
                "ttft": None if first is None else first - started,
                "duration": ended - started,
                "attempts": attempts,
            }
            if error is None:
                usage = completion.usage
                policy.succeeded(
                    estimate,
                    usage.input_tokens if usage else None,
                    usage.output_tokens if usage else None,
                    ended,
                )
                self.record({**_success(job, completion), **timing})
                return
            throttled = error.kind in THROTTLE_KINDS
            if throttled:
                self.summary.throttled += 1
                policy.throttled(epoch, error.retry_after, ended)
            if error.retryable and attempts <= settings.max_retries:
                if not throttled:
                    await asyncio.sleep(min(_MAX_BACKOFF, 0.5 * 2 ** (attempts - 1)))
                continue
            self.record({"id": job.id, "line": job.line, "ok": False, "error": _error(error),
                         **timing})  # fmt: skip
            return


async def run_jobs(
    client: AsyncClient,
    jobs: Iterable[Job | BadLine],
    write: Callable[[dict[str, Any]], None],
    settings: Settings,
    *,
    state: OutputState | None = None,
    progress: Progress | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> Summary:
    """Run every job not settled in ``state`` (see :class:`OutputState`), handing each
    result record to ``write`` as soon as it is complete; returns the :class:`Summary`.
    A failing job never stops the run; cancelling the run cancels the requests in flight
    (their results are not written)."""
    limiter = Limiter(settings.concurrency, settings.rpm, settings.tpm, clock)
    run = _Run(client, settings, write, progress or Progress(None), limiter)
    state = state or OutputState()
    started = clock()
    alive: set[asyncio.Task[None]] = set()
    slots = asyncio.Semaphore(settings.concurrency)

    def finished(task: asyncio.Task[None]) -> None:
        alive.discard(task)
        slots.release()

    try:
        for item in jobs:
            run.summary.lines += 1
            if isinstance(item, BadLine):
                settled = item.line in state.bad_lines if item.id is None else state.skips(
                    id_key(item.id), settings.retry_errors)  # fmt: skip
                if settled and not (settings.retry_errors and item.id is None):
                    run.summary.skipped += 1
                else:
                    run.record(bad_line_record(item))
                continue
            if state.skips(item.key, settings.retry_errors):
                run.summary.skipped += 1
                continue
            await slots.acquire()
            task = asyncio.create_task(run.job(item))
            alive.add(task)
            task.add_done_callback(finished)
        while alive:
            await asyncio.gather(*alive)
    finally:
        for task in alive:
            task.cancel()
        run.progress.close()
    run.summary.elapsed = clock() - started
    return run.summary
