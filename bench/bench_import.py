"""What importing libchatty costs: CPU of ``import libchatty.bindings.blocking`` beyond
``import h11``, each in a fresh interpreter, best of N.

Run: ``python bench/bench_import.py [--runs N] [--json FILE]`` (``bench/run.py`` runs it in
the bench virtualenv). CPU is user+sys of the child process from ``os.wait4``, so
interpreter start-up is counted the same way for every row and cancels out in the
differences. Target (issue 4): libchatty's blocking binding at most 10 ms more than h11.

CPU time on a shared machine moves by milliseconds from run to run. ``--instructions``
counts instead (valgrind's callgrind, hash seed fixed): the same tree gives the same
count, so a change of a fraction of a millisecond shows. Two columns: as run, and with
the garbage collector off (``gc.disable()`` first) -- a collection falls where the
allocation count crosses the threshold, so any change in what a program allocates moves
the first column by up to ~1.5 M instructions either way; the second is the work alone.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from typing import Final

# (label, statement). Rows whose import fails (e.g. openai outside the bench venv) are
# reported as unavailable.
CASES: Final = (
    ("python (nothing)", "pass"),
    ("import h11", "import h11"),
    ("import libchatty", "import libchatty"),
    ("import libchatty.bindings.blocking", "import libchatty.bindings.blocking"),
    ("import libchatty.bindings.cli", "import libchatty.bindings.cli"),
    ("import httpx", "import httpx"),
    ("import openai", "import openai"),
)
TARGET_MS: Final = 10.0
# Bytecode caching on: an installed package has its .pyc files, and without them each
# fresh process would measure the compiler rather than the import.
ENV: Final = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
# The children run in an empty directory: ``-c`` puts the working directory first on
# sys.path, and listing a crowded one (a /tmp of 500 entries) adds ~1 M instructions to
# every row, more or less from one run to the next as files come and go.
EMPTY_DIR: Final = tempfile.TemporaryDirectory(prefix="bench_import_")


def run_once(statement: str) -> tuple[float, int] | None:
    """CPU seconds and peak RSS (KiB) of a fresh interpreter running ``statement``."""
    proc = subprocess.Popen(
        [sys.executable, "-c", statement],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=ENV,
        cwd=EMPTY_DIR.name,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        return None
    return usage.ru_utime + usage.ru_stime, usage.ru_maxrss


def measure(statement: str, runs: int) -> tuple[float, int] | None:
    """Best CPU (and the RSS of that run) over ``runs`` fresh processes."""
    if run_once(statement) is None:  # warm-up: writes .pyc files, fills the OS caches
        return None
    best: tuple[float, int] | None = None
    for _ in range(runs):
        result = run_once(statement)
        if result is None:
            return None
        if best is None or result[0] < best[0]:
            best = result
    return best


def instructions(statement: str) -> int | None:
    """Instructions (callgrind's Ir) of a fresh interpreter running ``statement``."""
    env = {**ENV, "PYTHONHASHSEED": "0"}  # str hashes (and so dict layouts) fixed
    argv = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"]
    run = subprocess.run(
        [*argv, sys.executable, "-c", statement],
        env=env,
        cwd=EMPTY_DIR.name,
        capture_output=True,
        text=True,
    )
    found = re.search(r"Collected : (\d+)", run.stderr)
    return int(found.group(1)) if run.returncode == 0 and found else None


def count_instructions() -> int:
    """The ``--instructions`` table: each row as run and with the collector off."""
    if shutil.which("valgrind") is None:
        print("--instructions needs valgrind on PATH", file=sys.stderr)
        return 2
    print(f"import cost in instructions, fresh processes ({sys.executable})")
    print(f"{'':38} {'M instr':>9} {'minus h11':>10} {'GC off':>9} {'minus h11':>10}")
    h11_row: tuple[int, int] | None = None
    for label, statement in CASES:
        instructions(statement)  # warm-up: writes the .pyc files
        counts = instructions(statement), instructions(f"import gc; gc.disable(); {statement}")
        if counts[0] is None or counts[1] is None:
            print(f"{label:38} {'unavailable':>9}")
            continue
        row = (counts[0], counts[1])
        if label == "import h11":
            h11_row = row
        over = ("", "")
        if h11_row is not None:
            over = (f"{(row[0] - h11_row[0]) / 1e6:+.2f}", f"{(row[1] - h11_row[1]) / 1e6:+.2f}")
        print(f"{label:38} {row[0] / 1e6:9.2f} {over[0]:>10} {row[1] / 1e6:9.2f} {over[1]:>10}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20, help="processes per row (best of)")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="count instructions with callgrind instead of timing (deterministic)",
    )
    args = parser.parse_args()
    if args.instructions:
        return count_instructions()

    results: dict[str, tuple[float, int] | None] = {}
    for label, statement in CASES:
        results[label] = measure(statement, args.runs)

    base = results["python (nothing)"]
    h11_row = results["import h11"]
    print(f"import cost, fresh processes, best of {args.runs} ({sys.executable})")
    print(f"{'':38} {'CPU ms':>8} {'minus h11':>10} {'max RSS MB':>11}")
    for label, _ in CASES:
        row = results[label]
        if row is None:
            print(f"{label:38} {'unavailable':>8}")
            continue
        cpu, rss = row
        over = "" if h11_row is None else f"{(cpu - h11_row[0]) * 1000:+.1f}"
        print(f"{label:38} {cpu * 1000:8.1f} {over:>10} {rss / 1024:11.1f}")
    blocking = results["import libchatty.bindings.blocking"]
    verdict = {}
    if blocking is not None and h11_row is not None and base is not None:
        extra_ms = (blocking[0] - h11_row[0]) * 1000
        h11_ms = (h11_row[0] - base[0]) * 1000
        ok = extra_ms <= TARGET_MS
        print(
            f"\nlibchatty.bindings.blocking costs {extra_ms:.1f} ms CPU more than h11 "
            f"(h11 itself {h11_ms:.1f} ms over a bare interpreter); "
            f"target <= {TARGET_MS:.0f} ms: {'met' if ok else 'MISSED'}"
        )
        verdict = {"extra_ms": extra_ms, "h11_ms": h11_ms, "target_ms": TARGET_MS, "met": ok}
    if args.json:
        with open(args.json, "w") as file:
            rows = {
                k: None if v is None else {"cpu_s": v[0], "maxrss_kib": v[1]}
                for k, v in results.items()
            }
            json.dump({"runs": args.runs, "rows": rows, "verdict": verdict}, file, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
