"""``libchatty batch`` against the usual hand-written loop (issue 15).

The replay server runs as a separate process (``python -m libchatty.serve``) streaming an
answer of ``--tokens`` (50) tokens paced by ``--token-delay`` (10 ms). Both clients read
the same JSON-lines file of ``--requests`` (10,000) requests lazily, keep ``--concurrency``
(200) in flight and append one result line per request to a file:

* libchatty -- ``python -m libchatty batch IN -o OUT --base-url URL --concurrency C``, on
  its default event loop (uvloop when installed) and with ``--loop asyncio``, both
  reading each stream every 0.1 s (its default ``--read-interval``); and ``libchatty
  eager``: the default loop with ``--read-interval 0`` (a read as each token arrives),
  to show what the rest between reads saves;
* openai -- the loop teams write by hand: ``asyncio`` + ``AsyncOpenAI`` (its default pool,
  1,000 connections) + an ``asyncio.Semaphore(C)``, ``create(stream=True)``,
  ``async for chunk``, one
  ``json.dumps`` line per result (run with ``--openai-python``: an interpreter that has
  ``openai``, e.g. ``.bench-venv/bin/python``; never a project dependency); and the same
  loop on uvloop when that interpreter has uvloop (a fair match for libchatty's default).

Each client is a child process: its user+sys CPU and peak RSS come from ``os.wait4``;
its RSS is also sampled every 0.2 s from ``/proc`` to show whether it grows over the run
(``RSS 10%`` / ``RSS 90%``: the samples at 10% and 90% of the run). Every result's text is
checked. ``--repeat K`` runs every client K times, interleaved (the machine's load
drifts), and reports the run with the median CPU. Run: ``python bench/bench_batch.py
[--requests 10000] [--concurrency 200] [--repeat 3] [--openai-python PATH]``.

Target: at least 10x less CPU per request than the openai loop at the same throughput,
RSS flat over the run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Final

_WORDS: Final = "the quick brown fox jumps over a lazy dog while seven wizards hex frogs"

_OPENAI_LOOP: Final = """
import asyncio, json, sys
from openai import AsyncOpenAI
URL, SOURCE, OUT, C = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])

async def main():
    # The SDK's own HTTP client: its default pool (1,000 connections) is above C.
    client = AsyncOpenAI(base_url=URL, api_key="unused", max_retries=2, timeout=300)
    gate = asyncio.Semaphore(C)
    out = open(OUT, "a", encoding="utf-8")

    async def one(line):
        request = json.loads(line)
        try:
            stream = await client.chat.completions.create(model=request["model"],
                messages=request["messages"], stream=True)
            pieces = []
            async for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    pieces.append(chunk.choices[0].delta.content)
            record = {"id": request["id"], "ok": True, "text": "".join(pieces)}
            out.write(json.dumps(record) + "\\n")
        except Exception as exc:
            out.write(json.dumps({"id": request["id"], "ok": False, "error": repr(exc)}) + "\\n")
        out.flush()

    tasks = set()
    with open(SOURCE, "rb") as source:
        for line in source:
            await gate.acquire()
            task = asyncio.create_task(one(line))
            tasks.add(task)
            task.add_done_callback(lambda t: (tasks.discard(t), gate.release()))
    while tasks:
        await asyncio.gather(*tasks)
    out.close()

RUN(main())
"""


def _openai_loop(uvloop: bool) -> str:
    return _OPENAI_LOOP.replace("RUN(", "__import__('uvloop').run(" if uvloop else "asyncio.run(")


def _has_uvloop(python: str) -> bool:
    probe = subprocess.run([python, "-c", "import uvloop"], capture_output=True, check=False)
    return probe.returncode == 0


def _rss_kib(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _measure(argv: list[str], out: Path, requests: int, text: str) -> dict[str, Any]:
    started = time.perf_counter()
    child = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    samples: list[int] = []

    def sample() -> None:
        while child.returncode is None:
            rss = _rss_kib(child.pid)
            if rss is not None:
                samples.append(rss)
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started
    sampler.join(5)
    stderr = child.stderr.read().decode(errors="replace") if child.stderr else ""
    lines = out.read_text(encoding="utf-8").splitlines() if out.exists() else []
    results = [json.loads(line) for line in lines]
    exact = sum(1 for r in results if r.get("ok") and r.get("text") == text)
    cpu = usage.ru_utime + usage.ru_stime
    pick = (lambda f: samples[min(len(samples) - 1, int(f * len(samples)))]) if samples else None
    return {
        "exit": child.returncode,
        "exact": exact,
        "results": len(results),
        "wall": wall,
        "rps": requests / wall,
        "cpu": cpu,
        "cpu_ms_per_request": 1000 * cpu / requests,
        "peak_rss_mib": usage.ru_maxrss / 1024,
        "rss10_mib": pick(0.1) / 1024 if pick else None,
        "rss90_mib": pick(0.9) / 1024 if pick else None,
        "stderr": stderr[-500:] if child.returncode else "",
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--tokens", type=int, default=50)
    parser.add_argument("--token-delay", type=float, default=0.01)
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--openai-python", help="an interpreter with openai installed")
    parser.add_argument("--repeat", type=int, default=1, help="runs per client (median)")
    parser.add_argument("--json", metavar="FILE", help="also write the rows as JSON")
    args = parser.parse_args()
    words = _WORDS.split()
    text = " ".join(words[i % len(words)] for i in range(args.tokens))
    server = subprocess.Popen(
        [sys.executable, "-m", "libchatty.serve", "--print-url", "--text", text,
         "--token-delay", str(args.token_delay)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    rows: dict[str, Any] = {}
    try:
        assert server.stdout is not None
        url = server.stdout.readline().strip()
        with tempfile.TemporaryDirectory() as tmp:
            source = Path(tmp) / "in.jsonl"
            with open(source, "w", encoding="utf-8") as file:
                for i in range(args.requests):
                    line = {"id": i, "model": "replay-1",
                            "messages": [{"role": "user", "content": f"Request {i}"}]}  # fmt: skip
                    file.write(json.dumps(line) + "\n")
            batch = [
                sys.executable, "-m", "libchatty", "batch", str(source), "-o", "{out}",
                "--base-url", url, "--concurrency", str(args.concurrency), "--quiet",
            ]  # fmt: skip
            clients = {
                "libchatty batch": batch,
                "libchatty asyncio": [*batch, "--loop", "asyncio"],
                "libchatty eager": [*batch, "--read-interval", "0"],
            }
            if args.openai_python:
                loop = [url, str(source), "{out}", str(args.concurrency)]
                clients["openai loop"] = [args.openai_python, "-c", _openai_loop(False), *loop]
                if _has_uvloop(args.openai_python):
                    clients["openai uvloop"] = [args.openai_python, "-c", _openai_loop(True), *loop]
            runs: dict[str, list[dict[str, Any]]] = {name: [] for name in clients}
            for round_ in range(args.repeat):
                for name, argv in clients.items():
                    out = Path(tmp) / f"{name.replace(' ', '-')}-{round_}.jsonl"
                    argv = [out.as_posix() if a == "{out}" else a for a in argv]
                    runs[name].append(_measure(argv, out, args.requests, text))
            for name, measured in runs.items():
                rows[name] = sorted(measured, key=lambda row: row["cpu"])[len(measured) // 2]
    finally:
        server.terminate()
        server.wait(10)
    print(
        f"{args.requests} requests x {args.tokens} tokens, {args.token_delay * 1000:g} ms "
        f"apart, concurrency {args.concurrency}, median of {args.repeat} run(s)"
    )
    header = f"{'client':<16} {'exact':>7} {'wall s':>7} {'req/s':>7} {'CPU s':>7} " \
        f"{'CPU ms/req':>10} {'peak MiB':>9} {'RSS 10%':>8} {'RSS 90%':>8}"  # fmt: skip
    print(header)
    for name, row in rows.items():
        rss10 = f"{row['rss10_mib']:.0f}" if row["rss10_mib"] else "-"
        rss90 = f"{row['rss90_mib']:.0f}" if row["rss90_mib"] else "-"
        print(
            f"{name:<16} {row['exact']:>7} {row['wall']:>7.1f} {row['rps']:>7.0f} "
            f"{row['cpu']:>7.2f} {row['cpu_ms_per_request']:>10.3f} "
            f"{row['peak_rss_mib']:>9.0f} {rss10:>8} {rss90:>8}"
        )
        if row["stderr"]:
            print(f"  {name} failed: {row['stderr']}")
    eager = rows["libchatty eager"]["cpu"] / max(rows["libchatty batch"]["cpu"], 1e-9)
    print(f"CPU per request: libchatty eager / libchatty batch = {eager:.2f}x")
    if "openai loop" in rows:
        pairs = [
            ("libchatty batch", "openai loop"),  # each as it comes
            ("libchatty asyncio", "openai loop"),  # both on asyncio's loop
            ("libchatty batch", "openai uvloop"),  # both on uvloop (when installed)
        ]
        for ours, theirs in pairs:
            if theirs in rows:
                ratio = rows[theirs]["cpu"] / max(rows[ours]["cpu"], 1e-9)
                print(f"CPU per request: {theirs} / {ours} = {ratio:.1f}x")
    else:
        print("openai loop: unavailable (pass --openai-python)")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
