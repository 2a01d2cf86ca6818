"""Run libchatty's benchmarks: every bench/bench_*.py, in turn, in a separate virtualenv.

    python bench/run.py                 # all benchmarks (make bench)
    python bench/run.py --only sse      # just bench/bench_sse.py
    python bench/run.py --here          # use this interpreter, no .bench-venv

The peers we compare against (openai, httpx, httpx-sse) and the optional orjson are
installed only in ``.bench-venv`` (created on first use, refreshed when pyproject.toml
changes), never as project dependencies. Each benchmark prints its own table; a peer
that is not installed is reported as missing, not faked.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
VENV = ROOT / ".bench-venv"
PEERS = ["openai", "httpx", "httpx-sse", "orjson", "trio", "jiter"]
STAMP = VENV / ".installed"


def venv_python() -> Path:
    return VENV / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")


def ensure_venv() -> Path:
    """Create/refresh .bench-venv with the bench-only peers, then install libchatty into
    it as users get it: a regular (not editable) install, redone every run so the numbers
    are of the current source. (An editable install adds an import hook that loads
    pathlib, about 3 ms that no user pays.)"""
    python = venv_python()
    fresh = STAMP.exists() and STAMP.stat().st_mtime >= (ROOT / "pyproject.toml").stat().st_mtime
    if not python.exists():
        print(f"bench: creating {VENV.relative_to(ROOT)} ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    if not fresh:
        print(f"bench: installing peers: {', '.join(PEERS)}", flush=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", str(ROOT), *PEERS], check=True)
        STAMP.touch()
    print("bench: installing libchatty from this tree", flush=True)
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--no-deps", "--force-reinstall", str(ROOT)],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return python


def run_one(python: Path, path: Path, timeout: float) -> int | None:
    """Run one benchmark; its exit status, or None when it ran out of time. A benchmark
    starts servers and clients of its own: on time-out its whole process group goes."""
    process = subprocess.Popen([str(python), str(path)], cwd=ROOT, start_new_session=True)
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        for sig, grace in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, sig)
            try:
                process.wait(timeout=grace)
                break
            except subprocess.TimeoutExpired:
                continue
        return None


def discover() -> dict[str, Path]:
    return {p.stem.removeprefix("bench_"): p for p in sorted(BENCH.glob("bench_*.py"))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--only", action="append", help="run only bench_NAME.py (repeatable)")
    parser.add_argument("--here", action="store_true", help="run with this interpreter")
    parser.add_argument("--list", action="store_true", help="list the benchmarks")
    parser.add_argument(
        "--timeout", type=float, default=1800, help="seconds allowed per benchmark (1800)"
    )
    args = parser.parse_args(argv)

    benches = discover()
    if args.list:
        print("\n".join(benches))
        return 0
    if args.only:
        unknown = [name for name in args.only if name not in benches]
        if unknown:
            parser.error(f"no benchmark {', '.join(unknown)}; have: {', '.join(benches)}")
        benches = {name: benches[name] for name in args.only}
    python = Path(sys.executable)
    if not args.here:
        try:
            python = ensure_venv()
        except (OSError, subprocess.CalledProcessError) as exc:
            # No network, no pip: still measure libchatty; peers show as missing.
            print(f"bench: cannot prepare {VENV.name} ({exc}); using {sys.executable}")

    failed = []
    for name, path in benches.items():
        print(f"\n=== {name} ({path.relative_to(ROOT)}) ===", flush=True)
        started = time.perf_counter()
        returncode = run_one(python, path, args.timeout)
        took = time.perf_counter() - started
        verdict = "ok" if returncode == 0 else ("TIMED OUT" if returncode is None else "FAILED")
        print(f"=== {name}: {verdict} in {took:.1f}s ===")
        if returncode != 0:
            failed.append(name)
    if failed:
        print(f"bench: FAILED: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
