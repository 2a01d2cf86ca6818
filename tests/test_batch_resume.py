"""Kill-and-resume: ``libchatty batch`` killed with SIGKILL at random moments, then resumed,
until done. At the end every id has exactly one success line and nothing after it; after
every kill, every whole line is a valid record and only the last line may be torn."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from libchatty.bindings.batch_output import scan_output
from libchatty.bindings.server import ReplayServer

ROOT = Path(__file__).resolve().parents[1]
TOTAL = 200
KILLS = 10
SEED = 20240615
USER = [{"role": "user", "content": "go"}]

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")


def _answer(i: int) -> str:
    return f"Result {i} is here, streamed in ten small pieces for the test."


def _check_file(path: Path) -> tuple[list[dict[str, Any]], int]:
    """The whole records of the output, and the length of a torn tail (0: none)."""
    data = path.read_bytes() if path.exists() else b""
    whole, _, tail = data.rpartition(b"\n")
    if not whole and not data.endswith(b"\n"):
        whole, tail = b"", data
    records = [json.loads(line) for line in whole.split(b"\n") if line] if whole else []
    ok_per_id = Counter(r["id"] for r in records if r["ok"])
    assert max(ok_per_id.values(), default=0) <= 1, "a result was duplicated"
    return records, len(tail)


def test_sigkill_at_random_moments_then_resume(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    source, output = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_text("".join(
        json.dumps({"id": f"r{i}", "messages": USER, "model": f"m{i}"}) + "\n"
        for i in range(TOTAL)
    ))  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
    routes = {f"m{i}": _answer(i) for i in range(TOTAL)}
    torn_seen = 0
    done_at_kill: list[int] = []
    with ReplayServer(routes=routes, token_delay=0.01) as server:
        command = [
            sys.executable, "-m", "libchatty", "batch", str(source), "-o", str(output),
            "--base-url", server.base_url, "--concurrency", "8", "--quiet",
        ]  # fmt: skip
        for _ in range(KILLS):
            process = subprocess.Popen(command, env=env, cwd=ROOT, stderr=subprocess.PIPE)
            time.sleep(rng.uniform(0.35, 1.2))
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)
            assert process.stderr is not None
            process.stderr.close()
            records, torn = _check_file(output)
            torn_seen += torn > 0
            done_at_kill.append(len(scan_output(str(output)).done))
        final = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, timeout=120)
        assert final.returncode == 0, final.stderr
        sent = len(server.requests)
    records, torn = _check_file(output)
    assert torn == 0
    assert sorted((r["id"], r["text"]) for r in records) == sorted(
        (f"r{i}", _answer(i)) for i in range(TOTAL)
    )
    assert all(r["ok"] for r in records)  # nothing failed, so one line per id
    state = scan_output(str(output))
    assert (len(state.done), state.failed, state.corrupt) == (TOTAL, set(), 0)
    # The figures for the record (pytest -s shows them): kills, torn tails found and
    # truncated, requests lost in flight and sent again.
    print(
        f"\nkill-and-resume: {KILLS} kills, done after each {done_at_kill}, "
        f"{torn_seen} torn tails, {sent} requests sent for {TOTAL} results "
        f"({sent - TOTAL} redone)"
    )
    assert sent >= TOTAL
    assert done_at_kill == sorted(done_at_kill)  # never loses a written result
