"""Thousands of concurrent streamed completions in one process (issue 5).

The replay server runs as a separate process (``python -m libchatty.serve``) on loopback,
streaming ``--chunks`` (50) text chunks per completion with ``--token-delay`` (20 ms)
between them, so that every stream stays open while the others run. Each client is a
fresh Python process that starts ``N`` streamed completions at once (N = 1,000 and
10,000 by default), checks that every answer's text is exact (each piece against the
expected text as it arrives, and the answer at the end; the harness keeps no list of
pieces, except for AsyncOpenAI, whose answer text is that list), and reports how many
streams were in flight at the same time. Its user+sys CPU and peak RSS come from the OS
(``os.wait4``).

Clients (a row is "unavailable" when its packages are missing; ``bench/run.py`` runs this
in .bench-venv):

* libchatty trio -- ``libchatty.bindings.trio.AsyncClient.chat(..., on_delta=...)``, one
  task per stream in a nursery;
* libchatty asyncio -- ``libchatty.bindings.asyncio.AsyncClient``, ``asyncio.gather``;
* openai -- ``AsyncOpenAI`` (httpx pool limits raised to N), ``create(stream=True)`` and
  ``async for chunk``.

Columns: CPU per delta (all of the process's CPU, and net of a 1-stream run's CPU --
start-up and imports -- divided by the extra deltas), peak RSS, memory per stream (peak
RSS above the 1-stream run's, per extra stream), wall time of the streaming part, peak
streams in flight. The file-descriptor limit is raised to its hard limit first (children
inherit it). Run: ``python bench/bench_concurrency.py [--streams 1000 10000] [--chunks 50]
[--token-delay 0.02] [--clients trio asyncio openai] [--json FILE] [--breakdown LINES]``
(``--breakdown 30``: where each stream's memory goes, by allocating line, from
``tracemalloc`` once all streams are in flight). AsyncOpenAI at
10,000 streams takes about ten minutes: ``--clients trio asyncio --streams 10000`` for
libchatty alone, and the three side by side at 1,000-2,000.

Targets (issue 5): 10,000 concurrent streams complete with every text exact; at least 3x
less CPU per delta and at most half the memory per stream of ``AsyncOpenAI``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from typing import Final

PROMPT: Final = "Tell me a story."
_WORDS: Final = (
    "the quick brown fox jumps over a lazy dog while seven wizards quietly hex "
    "twelve boxing frogs near café naïve résumé"
)

# --- the clients: `python -c CODE URL N TEXT`; print one JSON line -----------------------
_COMMON: Final = f"""
import json, os, sys, time
URL, N, TEXT = sys.argv[1], int(sys.argv[2]), sys.argv[3]
PROMPT = {PROMPT!r}
MESSAGES = [{{"role": "user", "content": PROMPT}}]
stats = {{"ok": 0, "failed": 0, "deltas": 0, "in_flight": 0, "peak": 0, "error": ""}}
BREAKDOWN = int(os.environ.get("BENCH_BREAKDOWN", "0"))  # --breakdown: lines to show
traced = []

def trace_start():
    # With --breakdown: Python's allocations from here on (imports done) are traced.
    if BREAKDOWN:
        import tracemalloc
        tracemalloc.start()
        traced.append(tracemalloc.take_snapshot())

def trace_report():
    # What N streams in flight hold (each has had its first delta; the others wait in
    # a read), by the line that allocated it, per stream: printed to stderr.
    import gc, linecache, tracemalloc
    gc.collect()
    # Not tracemalloc's own, nor the modules a first call imports (paid once).
    skip = [tracemalloc.Filter(False, tracemalloc.__file__),
            tracemalloc.Filter(False, "<frozen importlib._bootstrap*>")]
    diff = tracemalloc.take_snapshot().filter_traces(skip).compare_to(traced[0], "lineno")
    total = sum(stat.size_diff for stat in diff)
    print(f"breakdown: {{total / N:.0f}} bytes per stream traced", file=sys.stderr)
    for stat in diff[:BREAKDOWN]:
        frame = stat.traceback[0]
        where = frame.filename.split("site-packages/")[-1] + f":{{frame.lineno}}"
        line = linecache.getline(frame.filename, frame.lineno).strip()[:60]
        print(f"breakdown: {{stat.size_diff / N:7.1f}} B {{stat.count_diff / N:5.2f}} blocks "
              f"{{where}}  {{line}}", file=sys.stderr)

def started():
    stats["in_flight"] += 1
    stats["peak"] = max(stats["peak"], stats["in_flight"])
    if traced and stats["in_flight"] == N:
        trace_report()

# The pieces of one answer, checked as they come against TEXT at the running offset and
# not kept: the figures are the client's memory, not the harness's (a list of every
# piece was ~3 KB of each stream at 50 pieces).
class Check:
    __slots__ = ("deltas", "exact", "offset")

    def __init__(self):
        self.deltas = self.offset = 0
        self.exact = True

    def piece(self, text):
        if not self.deltas:
            started()
        self.deltas += 1
        self.exact = self.exact and TEXT.startswith(text, self.offset)
        self.offset += len(text)

def finished(check, text):
    stats["in_flight"] -= 1
    stats["deltas"] += check.deltas
    if text == TEXT and check.exact and check.offset == len(TEXT):
        stats["ok"] += 1
    else:
        stats["failed"] += 1

def failed(exc):
    stats["failed"] += 1
    stats["error"] = stats["error"] or repr(exc)[:300]

def report(wall):
    stats["wall"] = wall
    print(json.dumps(stats), flush=True)
"""

# One streamed completion: the same user code on trio and on asyncio.
_ONE_CALL: Final = """
from libchatty.bindings._api import Timeout

async def one(client):
    check = Check()
    def on_delta(text, done):
        if text:
            check.piece(text)
    try:
        answer = await client.chat(MESSAGES, "replay-1", on_delta=on_delta)
    except Exception as exc:
        failed(exc)
        return
    finished(check, answer.text)
"""

LIBCHATTY_TRIO: Final = (
    _COMMON
    + _ONE_CALL
    + """
import trio
from libchatty.bindings.trio import AsyncClient


async def main():
    trace_start()
    timeout = Timeout(connect=300, idle=300)
    async with AsyncClient(base_url=URL, api_key="bench", env={}, timeout=timeout,
                           max_retries=0) as client:
        async with trio.open_nursery() as nursery:
            for _ in range(N):
                nursery.start_soon(one, client)

start = time.perf_counter()
trio.run(main)
report(time.perf_counter() - start)
"""
)

LIBCHATTY_ASYNCIO: Final = (
    _COMMON
    + _ONE_CALL
    + """
import asyncio
from libchatty.bindings.asyncio import AsyncClient


async def main():
    trace_start()
    timeout = Timeout(connect=300, idle=300)
    async with AsyncClient(base_url=URL, api_key="bench", env={}, timeout=timeout,
                           max_retries=0) as client:
        await asyncio.gather(*(one(client) for _ in range(N)))

start = time.perf_counter()
asyncio.run(main())
report(time.perf_counter() - start)
"""
)

OPENAI: Final = (
    _COMMON
    + """
import asyncio
import httpx
from openai import AsyncOpenAI

async def one(client):
    check = Check()
    text = []  # AsyncOpenAI gives no answer text: the harness keeps it for this client
    try:
        stream = await client.chat.completions.create(
            model="replay-1", messages=MESSAGES, stream=True)
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                check.piece(chunk.choices[0].delta.content)
                text.append(chunk.choices[0].delta.content)
    except Exception as exc:
        failed(exc)
        return
    finished(check, "".join(text))

async def main():
    trace_start()
    http = httpx.AsyncClient(
        limits=httpx.Limits(max_connections=N, max_keepalive_connections=N),
        timeout=httpx.Timeout(300.0, connect=300.0, pool=300.0))
    client = AsyncOpenAI(base_url=URL, api_key="bench", max_retries=0, http_client=http)
    async with client:
        await asyncio.gather(*(one(client) for _ in range(N)))

start = time.perf_counter()
asyncio.run(main())
report(time.perf_counter() - start)
"""
)

CLIENTS: Final = {
    "libchatty trio": (LIBCHATTY_TRIO, ("trio", "libchatty")),
    "libchatty asyncio": (LIBCHATTY_ASYNCIO, ("libchatty",)),
    "openai AsyncOpenAI": (OPENAI, ("openai", "httpx")),
}

# --clients names them so.
_KEYS: Final = {
    "libchatty trio": "trio",
    "libchatty asyncio": "asyncio",
    "openai AsyncOpenAI": "openai",
}


@dataclass
class Run:
    cpu: float  # user + sys seconds of the whole client process
    rss: int  # peak RSS, bytes
    wall: float  # seconds, the streaming part only
    ok: int
    failed: int
    deltas: int
    peak: int  # streams in flight at once
    error: str


@dataclass
class Row:
    name: str
    streams: int
    run: Run | None
    base: Run | None
    note: str = ""

    @property
    def cpu_per_delta(self) -> float:
        assert self.run is not None
        return self.run.cpu / max(self.run.deltas, 1)

    @property
    def net_cpu_per_delta(self) -> float:
        assert self.run is not None and self.base is not None
        extra = max(self.run.deltas - self.base.deltas, 1)
        return max(self.run.cpu - self.base.cpu, 0.0) / extra

    @property
    def rss_per_stream(self) -> float:
        assert self.run is not None and self.base is not None
        return max(self.run.rss - self.base.rss, 0) / max(self.streams - 1, 1)


def answer_text(chunks: int) -> str:
    """``chunks`` words: the replay server streams one word per event."""
    words = _WORDS.split()
    return " ".join(words[i % len(words)] for i in range(chunks))


def raise_fd_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else 1 << 20
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def child_env() -> dict[str, str]:
    """Bytecode caching on, and no provider settings that could send a request
    elsewhere."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k != "PYTHONDONTWRITEBYTECODE" and not k.endswith(("_API_KEY", "_BASE_URL"))
    }
    env.pop("OPENAI_API_BASE", None)
    return env


def start_server(text: str, token_delay: float) -> tuple[subprocess.Popen[bytes], str]:
    args = [sys.executable, "-m", "libchatty.serve", "--print-url", "--text", text]
    args += ["--token-delay", str(token_delay)]
    proc = subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=child_env()
    )
    assert proc.stdout is not None
    url = proc.stdout.readline().decode().strip()
    if not url.startswith("http"):
        proc.kill()
        proc.communicate(timeout=10)
        raise SystemExit("the replay server did not start")
    return proc, url


def available(modules: tuple[str, ...]) -> bool:
    code = "import " + ", ".join(modules)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, check=False)
    return result.returncode == 0


def run_client(
    code: str, url: str, streams: int, text: str, limit: float, breakdown: int = 0
) -> Run:
    env = child_env()
    if breakdown:
        env["BENCH_BREAKDOWN"] = str(breakdown)
    proc = subprocess.Popen(
        [sys.executable, "-c", code, url, str(streams), text],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert proc.stdout is not None and proc.stderr is not None
    # A client that takes longer than the budget is killed and reported as such.
    killer = threading.Timer(limit, proc.kill)
    killer.start()
    try:
        # The child prints one line at the end; wait4 gives its CPU and peak RSS.
        out = proc.stdout.read()
        err = proc.stderr.read()
        _, status, usage = os.wait4(proc.pid, 0)
    finally:
        killer.cancel()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode == -signal.SIGKILL:
        cpu = usage.ru_utime + usage.ru_stime
        raise RuntimeError(f"did not finish within {limit:.0f} s ({cpu:.0f} s CPU used)")
    if proc.returncode != 0 or not out.strip():
        detail = err.decode(errors="replace").strip().splitlines()[-1:] or ["?"]
        raise RuntimeError(f"client exited with {proc.returncode}: {detail[0][:300]}")
    for line in err.decode(errors="replace").splitlines():
        if line.startswith("breakdown: ") and streams > 1:
            print(f"    {line[11:]}")
    stats = json.loads(out.decode().strip().splitlines()[-1])
    rss = usage.ru_maxrss * (1 if sys.platform == "darwin" else 1024)
    return Run(
        cpu=usage.ru_utime + usage.ru_stime,
        rss=rss,
        wall=stats["wall"],
        ok=stats["ok"],
        failed=stats["failed"],
        deltas=stats["deltas"],
        peak=stats["peak"],
        error=stats["error"],
    )


def measure(
    url: str, text: str, counts: list[int], limit: float, clients: list[str], breakdown: int = 0
) -> list[Row]:
    rows: list[Row] = []
    for name, (code, modules) in CLIENTS.items():
        if _KEYS[name] not in clients:
            continue
        if not available(modules):
            rows += [Row(name, n, None, None, f"unavailable: pip install {' '.join(modules)}")
                     for n in counts]
            continue
        try:
            base = run_client(code, url, 1, text, limit)
        except RuntimeError as exc:
            rows += [Row(name, n, None, None, str(exc)) for n in counts]
            continue
        for n in counts:
            print(f"  {name}: {n} streams ...", flush=True)
            try:
                run = run_client(code, url, n, text, limit, breakdown)
                rows.append(Row(name, n, run, base))
            except RuntimeError as exc:
                rows.append(Row(name, n, None, base, str(exc)))
    return rows


def table(rows: list[Row], counts: list[int]) -> list[str]:
    lines: list[str] = []
    for n in counts:
        group = [r for r in rows if r.streams == n]
        peer = next((r for r in group if r.name.startswith("openai") and r.run), None)
        lines.append(f"\n{n} concurrent streamed completions")
        lines.append(
            f"{'client':<20} {'exact':>11} {'in flight':>9} {'µs/delta':>9} {'net':>8} "
            f"{'peak RSS':>9} {'KiB/strm':>9} {'wall s':>7} {'CPU vs openai':>13} "
            f"{'mem vs openai':>13}"
        )
        for row in group:
            if row.run is None:
                lines.append(f"{row.name:<20} {row.note}")
                continue
            run = row.run
            cpu_ratio = mem_ratio = "-"
            if peer is not None and peer is not row:
                cpu = peer.net_cpu_per_delta / max(row.net_cpu_per_delta, 1e-12)
                cpu_ratio = f"{cpu:.1f}x less"
                mem_ratio = f"{row.rss_per_stream / max(peer.rss_per_stream, 1e-12):.2f}x"
            lines.append(
                f"{row.name:<20} {f'{run.ok}/{n}':>11} {run.peak:>9} "
                f"{row.cpu_per_delta * 1e6:>9.1f} {row.net_cpu_per_delta * 1e6:>8.1f} "
                f"{run.rss / 2**20:>7.0f}MB {row.rss_per_stream / 1024:>9.1f} "
                f"{run.wall:>7.1f} {cpu_ratio:>13} {mem_ratio:>13}"
            )
            if run.failed:
                lines.append(f"{'':<20} {run.failed} failed, e.g. {run.error}")
    return lines


def verdict(rows: list[Row], counts: list[int]) -> list[str]:
    lines = []
    top = max(counts)
    for name in ("libchatty trio", "libchatty asyncio"):
        mine = next((r for r in rows if r.name == name and r.streams == top), None)
        peer = next((r for r in rows if r.name.startswith("openai") and r.streams == top), None)
        if mine is None or mine.run is None:
            lines.append(f"{name}: no result at {top} streams")
            continue
        exact = mine.run.ok == top
        parts = [f"{name} at {top}: every text exact: {'yes' if exact else 'NO'}"]
        if peer is not None and peer.run is not None:
            cpu = peer.net_cpu_per_delta / max(mine.net_cpu_per_delta, 1e-12)
            mem = mine.rss_per_stream / max(peer.rss_per_stream, 1e-12)
            parts.append(f"CPU/delta {cpu:.1f}x less than openai (target >= 3x): "
                         f"{'met' if cpu >= 3 else 'NOT met'}")
            parts.append(f"memory/stream {mem:.2f}x openai's (target <= 0.5x): "
                         f"{'met' if mem <= 0.5 else 'NOT met'}")
        lines.append("; ".join(parts))
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--streams", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--chunks", type=int, default=50, help="text chunks per completion")
    parser.add_argument("--token-delay", type=float, default=0.02, help="server delay per event")
    parser.add_argument(
        "--budget", type=float, default=1800, help="seconds per client run before it is killed"
    )
    parser.add_argument(
        "--clients",
        nargs="+",
        choices=("trio", "asyncio", "openai"),
        default=["trio", "asyncio", "openai"],
        help="which clients to run (default: all three)",
    )
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    parser.add_argument(
        "--breakdown",
        type=int,
        default=0,
        metavar="LINES",
        help="trace the clients' allocations (tracemalloc) and show the LINES that hold "
        "most per stream once every stream is in flight (their CPU and RSS figures are "
        "then not comparable; a longer --token-delay keeps every stream in flight)",
    )
    args = parser.parse_args()

    limit = raise_fd_limit()
    needed = 2 * max(args.streams) + 100
    if limit < needed:
        print(f"warning: RLIMIT_NOFILE is {limit}; {needed} would be safe")
    text = answer_text(args.chunks)
    server, url = start_server(text, args.token_delay)
    print(f"replay server {url}; {args.chunks} chunks per completion, "
          f"{args.token_delay * 1000:.0f} ms apart; fd limit {limit}")
    try:
        rows = measure(
            url, text, sorted(args.streams), args.budget, args.clients, args.breakdown
        )
    finally:
        server.terminate()
        server.communicate(timeout=30)
    print("\n".join(table(rows, sorted(args.streams))))
    print("\nµs/delta: all CPU of the client process / deltas; net: minus a 1-stream run's "
          "CPU (start-up, imports).\nKiB/strm: peak RSS above the 1-stream run's, per "
          "extra stream. in flight: streams open at the same time.")
    print("\n" + "\n".join(verdict(rows, sorted(args.streams))))
    if args.json:
        with open(args.json, "w") as file:
            json.dump(
                [
                    {
                        "client": r.name,
                        "streams": r.streams,
                        "note": r.note,
                        **(
                            {
                                "cpu_s": r.run.cpu,
                                "peak_rss": r.run.rss,
                                "wall_s": r.run.wall,
                                "exact": r.run.ok,
                                "in_flight": r.run.peak,
                                "us_per_delta": r.cpu_per_delta * 1e6,
                                "net_us_per_delta": r.net_cpu_per_delta * 1e6,
                                "kib_per_stream": r.rss_per_stream / 1024,
                            }
                            if r.run is not None and r.base is not None
                            else {}
                        ),
                    }
                    for r in rows
                ],
                file,
                indent=1,
            )
    failed = [r for r in rows if r.run is not None and r.run.ok != r.streams]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
