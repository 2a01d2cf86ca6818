"""``libchatty batch``: many chat requests from a JSON-lines file, resumable and
rate-aware, over the asyncio binding.

::

    libchatty batch prompts.jsonl -o results.jsonl --provider openai --model gpt-4o-mini \\
        --concurrency 64 --rpm 5000 --tpm 2000000

Python::

    from libchatty.bindings.batch import Settings, run_file
    summary = run_file("prompts.jsonl", "results.jsonl", "openai",
                       Settings(model="gpt-4o-mini", concurrency=64, rpm=5000))

or, with your own client on a running loop, :func:`arun_file` / :func:`arun_records`.

The rooms: :mod:`.batch_input` (the two line formats, lazily), :mod:`.batch_output`
(crash-safe appends, resume rules: *last line per id wins*, a torn last line is
dropped), :mod:`.batch_rate` (RPM/TPM buckets, AIMD concurrency, pauses on 429),
:mod:`.batch_runner` (the loop and the record of a result), :mod:`.batch_progress`
(progress bar or status lines, summary). ``tqdm`` is imported only to draw a bar.

The event loop: ``uvloop`` when it is installed (``--loop auto``, the default), else
asyncio's own; ``--loop asyncio`` or ``--loop uvloop`` chooses. A batch spends most of
its CPU in the event loop -- one wake-up, timer and ``recv`` per streamed read -- and
on uvloop it needs about a fifth less CPU per request (bench/bench_batch.py); the
results are the same.

Reads: each stream is read at most every ``--read-interval`` seconds (default 0.2, the
asyncio binding's ``read_interval``; 0: as data arrives). After a delivery, the call lets
the tokens gather in the socket and takes them in one wake-up; the first read of a
response is never delayed, so ``ttft`` is measured as before, and an answer ends at most
one interval later. About a third less CPU per request on bench/bench_batch.py.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Coroutine, Iterable, Mapping, Sequence
from typing import IO, TYPE_CHECKING, Any, Final, TextIO, TypeVar

from ._api import Timeout
from .batch_input import MAX_LINE_BYTES, BadLine, Job, read_jobs
from .batch_output import OutputBusy, OutputState, ResultWriter, scan_output
from .batch_progress import Progress, Summary
from .batch_runner import READ_INTERVAL, Settings, batch_client, run_jobs

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from ._config import ClientOptions
    from .asyncio import AsyncClient

__all__ = [
    "BadLine",
    "Job",
    "OutputState",
    "Settings",
    "Summary",
    "arun_file",
    "arun_records",
    "main",
    "run_file",
    "scan_output",
]

T = TypeVar("T")

#: ``--loop`` choices; ``auto``: uvloop when installed, else asyncio.
LOOPS: Final = ("auto", "asyncio", "uvloop")

EXIT_OK: Final = 0
EXIT_FAILURES: Final = 1
EXIT_USAGE: Final = 2
EXIT_INTERRUPTED: Final = 130
_COUNT_CHUNK: Final = 1024 * 1024


def run_loop(main: Coroutine[Any, Any, T], loop: str = "auto") -> T:
    """Run ``main`` to its end in a new event loop: ``loop`` is one of :data:`LOOPS`.
    Raises ``ValueError`` for ``"uvloop"`` when uvloop is not installed."""
    if loop not in LOOPS:
        main.close()
        raise ValueError(f"the event loop is one of {', '.join(LOOPS)}, not {loop!r}")
    uvloop: Any = None
    if loop != "asyncio":
        import importlib

        try:
            uvloop = importlib.import_module("uvloop")  # optional: libchatty[batch]
        except ImportError:
            if loop == "uvloop":
                main.close()
                raise ValueError("--loop uvloop: uvloop is not installed") from None
    if uvloop is None:
        return asyncio.run(main)
    result: T = uvloop.run(main)
    return result


def _count_lines(path: str) -> int | None:
    """Lines in ``path`` (for the progress total), read in chunks; None if unreadable."""
    count = 0
    try:
        with open(path, "rb") as file:
            while chunk := file.read(_COUNT_CHUNK):
                count += chunk.count(b"\n")
    except OSError:
        return None
    return count


def _expected(lines: int | None, state: OutputState, retry_errors: bool) -> int | None:
    if lines is None:
        return None
    settled = len(state.done) + (0 if retry_errors else len(state.failed) + len(state.bad_lines))
    return max(0, lines - settled)


async def arun_file(
    client: AsyncClient,
    input_path: str,
    output_path: str,
    settings: Settings,
    *,
    progress: TextIO | None = None,
    bar: bool | None = None,
    fsync: bool = False,
    max_line_bytes: int = MAX_LINE_BYTES,
) -> Summary:
    """Run the batch in ``input_path`` (``-``: stdin) into ``output_path``, resuming what
    it holds. ``client`` should have ``max_retries=0`` (the batch retries, and must see
    each 429). Progress goes to ``progress`` (None: nowhere)."""
    with ResultWriter(output_path, fsync=fsync) as writer:
        expected = None
        if progress is not None and input_path != "-":
            expected = _expected(_count_lines(input_path), writer.state, settings.retry_errors)
        meter = Progress(progress, expected, bar=bar)
        source: IO[bytes] = sys.stdin.buffer if input_path == "-" else open(input_path, "rb")  # noqa: SIM115
        try:
            return await run_jobs(
                client, read_jobs(source, max_line_bytes), writer.write, settings,
                state=writer.state, progress=meter,
            )  # fmt: skip
        finally:
            if source is not sys.stdin.buffer:
                source.close()


async def arun_records(
    client: AsyncClient,
    records: Iterable[bytes | str | Mapping[str, Any]],
    settings: Settings,
) -> tuple[list[dict[str, Any]], Summary]:
    """Run a batch held in memory (lines or decoded objects); the result records in the
    order they completed, and the summary."""
    results: list[dict[str, Any]] = []
    summary = await run_jobs(client, read_jobs(records), results.append, settings)
    return results, summary


def run_file(
    input_path: str,
    output_path: str,
    provider: str | None = None,
    settings: Settings | None = None,
    *,
    progress: TextIO | None = None,
    fsync: bool = False,
    loop: str = "auto",
    read_interval: float | None = READ_INTERVAL,
    **client_options: Unpack[ClientOptions],
) -> Summary:
    """:func:`arun_file` in a fresh event loop, with an ``AsyncClient(provider,
    read_interval=read_interval, **client_options)`` built for it by
    :func:`~.batch_runner.batch_client` (``max_retries`` 0 unless given; as many idle
    connections kept as requests in flight; streams read every tenth of a second, see
    :data:`~.batch_runner.READ_INTERVAL`). ``loop``: the event loop (see
    :func:`run_loop`)."""
    settings = settings or Settings()

    async def go() -> Summary:
        client = batch_client(
            provider, settings.concurrency, read_interval=read_interval, **client_options
        )
        async with client:
            return await arun_file(
                client, input_path, output_path, settings, progress=progress, fsync=fsync
            )

    return run_loop(go(), loop)


# --- the command line --------------------------------------------------------------------
def _positive(kind: type[int] | type[float], *, or_zero: bool = False) -> Any:
    """An argparse type: a finite number above zero (or zero too, with ``or_zero``)."""
    floor = "a number >= 0" if or_zero else "a positive number"

    def parse(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            value = -1
        least_ok = value >= 0 if or_zero else value > 0  # False for NaN
        if not least_ok or value == float("inf"):
            raise argparse.ArgumentTypeError(f"must be {floor}, not {text!r}")
        return value

    return parse


def _count(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"must be a whole number >= 0, not {text!r}")
    return int(text)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="libchatty batch",
        description="Run every chat request of a JSON-lines file (libchatty's "
        '{"id", "messages", ...} or OpenAI\'s Batch API format) and append one result '
        "line per request to OUTPUT. Re-running with the same OUTPUT resumes: requests "
        "already done are skipped.",
    )
    add = parser.add_argument
    add("input", metavar="INPUT.jsonl", help="the requests ('-': stdin)")
    add("-o", "--output", required=True, metavar="OUTPUT.jsonl", help="results, appended")
    add("--provider", metavar="NAME", help="openai, anthropic, groq, gemini, ...")
    add("--base-url", metavar="URL", help="an OpenAI-compatible base URL, etc.")
    add("--dialect", metavar="NAME", help="wire format for --base-url")
    add("--api-key-env", metavar="VAR", help="read the API key from this variable")
    add("--replay", action="store_true", help="answer from the local replay server (a demo)")
    add("--model", metavar="MODEL", help="for lines that name none")
    add("--temperature", type=float, metavar="T", help="for lines that set none")
    add("--max-tokens", type=_positive(int), metavar="N", help="for lines that set none")
    add(
        "--concurrency",
        type=_positive(int),
        default=16,
        metavar="N",
        help="requests in flight at most (default 16; lowered on 429s, regained after)",
    )
    add("--rpm", type=_positive(float), metavar="N", help="requests per minute at most")
    add("--tpm", type=_positive(float), metavar="N", help="tokens per minute at most")
    add("--retry-errors", action="store_true", help="run again the requests that failed")
    add(
        "--max-retries",
        type=_count,
        default=5,
        metavar="N",
        help="retries of a retryable failure (429, 5xx, timeout; default 5)",
    )
    add(
        "--timeout",
        type=_positive(float),
        metavar="SECONDS",
        help="give up on a request when no byte arrives for SECONDS (default 300)",
    )
    add(
        "--read-interval",
        type=_positive(float, or_zero=True),
        default=READ_INTERVAL,
        metavar="SECONDS",
        help=f"read each stream at most every SECONDS (default {READ_INTERVAL:g}: fewer "
        "wake-ups, less CPU; 0: as data arrives); time to first token is not delayed",
    )
    add("--fsync", action="store_true", help="fsync each result (survives power loss)")
    add(
        "--loop",
        choices=LOOPS,
        default="auto",
        help="the event loop (default auto: uvloop when installed, else asyncio)",
    )
    add("--quiet", action="store_true", help="no progress, no summary")
    return parser  # fmt: skip


def _settings(args: argparse.Namespace) -> Settings:
    options = {"temperature": args.temperature, "max_tokens": args.max_tokens}
    return Settings(
        model=args.model,
        options={k: v for k, v in options.items() if v is not None},
        concurrency=args.concurrency,
        rpm=args.rpm,
        tpm=args.tpm,
        max_retries=args.max_retries,
        retry_errors=args.retry_errors,
    )


async def _run(args: argparse.Namespace, err: TextIO) -> Summary:
    settings = _settings(args)
    timeout = Timeout(connect=args.timeout, idle=args.timeout) if args.timeout else None
    if args.replay:
        from .server import ReplayServer

        async with ReplayServer() as server:
            settings = Settings(**{**_fields(settings), "model": settings.model or "replay-1"})
            client = batch_client(
                None, settings.concurrency, read_interval=args.read_interval,
                base_url=server.base_url,
            )  # fmt: skip
            async with client:
                return await _file(client, args, settings, err)
    api_key = None
    if args.api_key_env:
        api_key = os.environ.get(args.api_key_env)
        if not api_key:
            raise ValueError(f"the variable {args.api_key_env} named by --api-key-env is not set")
    if args.provider is None and args.base_url is None:
        raise ValueError("give --provider or --base-url (or --replay for the local replay server)")
    client = batch_client(
        args.provider, settings.concurrency, read_interval=args.read_interval,
        base_url=args.base_url, dialect=args.dialect, api_key=api_key, timeout=timeout,
    )  # fmt: skip
    async with client:
        return await _file(client, args, settings, err)


def _fields(settings: Settings) -> dict[str, Any]:
    return {name: getattr(settings, name) for name in Settings.__dataclass_fields__}


async def _file(
    client: AsyncClient, args: argparse.Namespace, settings: Settings, err: TextIO
) -> Summary:
    return await arun_file(
        client, args.input, args.output, settings,
        progress=None if args.quiet else err, fsync=args.fsync,
    )  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    """``libchatty batch ...``; the exit status: 0 when every request of this run
    succeeded, 1 when some failed (their lines say why), 2 for a usage problem, 130 when
    interrupted (results written so far are kept; a re-run resumes)."""
    args = _parser().parse_args(argv)
    err = sys.stderr
    try:
        summary = run_loop(_run(args, err), args.loop)
    except (ValueError, OSError, OutputBusy) as exc:  # a bad option, key, URL or file
        err.write(f"libchatty batch: {exc}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:
        err.write("\nlibchatty batch: interrupted; run the same command again to resume\n")
        return EXIT_INTERRUPTED
    if not args.quiet:
        err.write(summary.format() + "\n")
    return EXIT_FAILURES if summary.failures else EXIT_OK
