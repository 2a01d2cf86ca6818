"""Run libchatty's fuzz targets: every fuzz/fuzz_*.py that defines TestOneInput(data: bytes).

    python fuzz/run.py --smoke --seconds 15        # every target, ~15 s each (make test)
    python fuzz/run.py --target sse --seconds 3600 # one long campaign (make fuzz)
    python fuzz/run.py --list

Each target runs in its own subprocess. With atheris (libFuzzer) the target's libchatty
imports are coverage-instrumented, the seed corpus is fuzz/corpus/<name>/ (read only: new
inputs go to a work directory, by default a fresh temporary one), and a crash makes the
run exit non-zero with the crashing input saved in the work directory. When atheris
cannot be imported, a hypothesis-driven loop calls TestOneInput with the seeds and then
random bytes for the same time (and says so); a failure is shrunk and printed.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

FUZZ = Path(__file__).resolve().parent
CORPUS = FUZZ / "corpus"
# Extra wall time allowed beyond --seconds (start-up, instrumentation, seed replay)
# before a target is declared hung.
GRACE_SECONDS = 120


def discover() -> dict[str, Path]:
    """Target name (``fuzz_sse.py`` -> ``sse``) to path, for every fuzz_*.py here."""
    return {p.stem.removeprefix("fuzz_"): p for p in sorted(FUZZ.glob("fuzz_*.py"))}


def have_atheris() -> bool:
    try:
        import atheris  # noqa: F401
    except ImportError:
        return False
    return True


def load_target(path: Path) -> Callable[[bytes], None]:
    spec = importlib.util.spec_from_file_location(f"fuzz_target_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load {path}")
    module: ModuleType = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    test_one_input = getattr(module, "TestOneInput", None)
    if not callable(test_one_input):
        raise SystemExit(f"{path.name} defines no TestOneInput(data: bytes)")
    return test_one_input  # type: ignore[no-any-return]


def seeds(name: str) -> list[Path]:
    folder = CORPUS / name
    return sorted(p for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []


# -- child processes -------------------------------------------------------------------


def child_atheris(path: Path, libfuzzer_args: list[str]) -> None:
    import atheris

    # Instrument libchatty (what we fuzz), not the standard library or atheris itself.
    with atheris.instrument_imports(include=["libchatty"]):
        test_one_input = load_target(path)
    atheris.Setup([sys.argv[0], *libfuzzer_args], test_one_input)
    atheris.Fuzz()


def child_hypothesis(path: Path, name: str, seconds: float) -> None:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    test_one_input = load_target(path)
    for seed in seeds(name):
        test_one_input(seed.read_bytes())
    print(f"[{name}] atheris unavailable: hypothesis loop for {seconds:.0f}s", flush=True)

    @settings(
        max_examples=300,
        deadline=None,
        database=None,
        derandomize=False,
        suppress_health_check=list(HealthCheck),
    )
    @given(st.binary(max_size=2048))
    def one_batch(data: bytes) -> None:
        test_one_input(data)

    stop = time.monotonic() + seconds
    batches = 0
    while time.monotonic() < stop and batches < 100_000:
        one_batch()
        batches += 1
    print(f"[{name}] {batches} batches of up to 300 inputs: no failure", flush=True)


# -- the parent --------------------------------------------------------------------------


def run_child(command: list[str], timeout: float, echo: bool) -> tuple[int, list[str]]:
    """Run ``command``, keeping its output (and echoing it when ``echo``)."""
    output: list[str] = []
    deadline = time.monotonic() + timeout
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace"
    ) as child:
        assert child.stdout is not None
        for line in child.stdout:
            output.append(line)
            if echo:
                print(line, end="", flush=True)
            if time.monotonic() > deadline:
                child.kill()
                raise subprocess.TimeoutExpired(command, timeout)
        try:
            returncode = child.wait(timeout=max(deadline - time.monotonic(), 1))
        except subprocess.TimeoutExpired:
            child.kill()
            raise
    return returncode, output


def final_stats(output: list[str]) -> dict[str, int]:
    """libFuzzer's ``-print_final_stats=1`` lines (``stat::name: value``)."""
    stats = {}
    for line in output:
        if line.startswith("stat::"):
            key, _, value = line[6:].partition(":")
            if value.strip().isdigit():
                stats[key.strip()] = int(value)
    return stats


def run_target(
    name: str,
    path: Path,
    seconds: int,
    workdir: Path | None,
    use_atheris: bool = True,
    quiet: bool = False,
    smoke: bool = False,
    runs: int | None = None,
    max_len: int | None = None,
) -> bool:
    work: Path | None = None
    if use_atheris:
        work = workdir or Path(tempfile.mkdtemp(prefix=f"libchatty-fuzz-{name}-"))
        work.mkdir(parents=True, exist_ok=True)
        corpus_dirs = [str(work)] + ([str(CORPUS / name)] if (CORPUS / name).is_dir() else [])
        libfuzzer = [
            f"-max_total_time={seconds}",
            "-timeout=20",  # one input taking 20 s is a hang
            "-rss_limit_mb=2048",
            # Smoke runs keep inputs short so their seconds go to many new inputs.
            f"-max_len={max_len or (1024 if smoke else 4096)}",
            # A campaign of N executions stops there even if its seconds are not up.
            *([f"-runs={runs}"] if runs else []),
            f"-artifact_prefix={work}{os.sep}",
            "-print_final_stats=1",
            *corpus_dirs,
        ]
        command = [sys.executable, __file__, "--child-atheris", str(path), "--", *libfuzzer]
        print(f"[{name}] atheris {seconds}s; corpus {' '.join(corpus_dirs)}", flush=True)
    else:
        command = [
            sys.executable,
            __file__,
            "--child-hypothesis",
            str(path),
            "--seconds",
            str(seconds),
        ]
    started = time.monotonic()
    try:
        returncode, output = run_child(command, seconds + GRACE_SECONDS, echo=not quiet)
    except subprocess.TimeoutExpired:
        print(f"[{name}] FAILED: still running {GRACE_SECONDS}s after its time", flush=True)
        return False
    elapsed = time.monotonic() - started
    ok = returncode == 0
    if not ok and quiet:
        print("".join(output[-80:]), end="", flush=True)  # what led to the crash
    stats = final_stats(output)
    if "number_of_executed_units" in stats:
        runs = stats["number_of_executed_units"]
        per_second = stats.get("average_exec_per_sec", 0)
        print(
            f"[{name}] {runs} executions in {elapsed:.0f} s ({per_second}/s), "
            f"peak RSS {stats.get('peak_rss_mb', '?')} MB, "
            f"{stats.get('new_units_added', '?')} new inputs",
            flush=True,
        )
    print(f"[{name}] {'ok' if ok else f'FAILED (exit {returncode})'}", flush=True)
    if work is not None and workdir is None:
        if ok:
            shutil.rmtree(work, ignore_errors=True)  # a throwaway corpus: nothing to keep
        else:
            print(f"[{name}] crashing input and corpus kept in {work}", flush=True)
    return ok


def main(argv: list[str] | None = None) -> int:
    args_in = sys.argv[1:] if argv is None else argv
    if args_in[:1] == ["--child-atheris"]:
        rest = args_in[2:]
        child_atheris(Path(args_in[1]), rest[1:] if rest[:1] == ["--"] else rest)
        return 0
    if args_in[:1] == ["--child-hypothesis"]:
        path = Path(args_in[1])
        child_hypothesis(path, path.stem.removeprefix("fuzz_"), float(args_in[3]))
        return 0

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--smoke", action="store_true", help="run every target briefly")
    mode.add_argument("--target", help="run one target (name without fuzz_ and .py)")
    mode.add_argument("--list", action="store_true", help="list the targets")
    parser.add_argument("--seconds", type=int, default=15, help="time per target")
    parser.add_argument("--workdir", type=Path, help="where new inputs and crashes go")
    parser.add_argument("--runs", type=int, help="stop after this many executions")
    parser.add_argument("--max-len", type=int, help="longest input (default 4096; smoke 1024)")
    parser.add_argument(
        "--hypothesis", action="store_true", help="use the hypothesis loop even if atheris works"
    )
    args = parser.parse_args(args_in)

    targets = discover()
    if args.list:
        for name, path in targets.items():
            print(f"{name}\t{path.relative_to(FUZZ.parent)}\t{len(seeds(name))} seeds")
        return 0
    if args.target is not None:
        if args.target not in targets:
            parser.error(f"no target {args.target!r}; have: {', '.join(targets)}")
        chosen = {args.target: targets[args.target]}
    else:
        chosen = targets
    use_atheris = not args.hypothesis and have_atheris()
    if not use_atheris and not args.hypothesis:
        print("atheris cannot be imported here: falling back to a hypothesis-driven loop")
    failed = [
        name
        for name, path in chosen.items()
        if not run_target(
            name,
            path,
            args.seconds,
            args.workdir / name if args.workdir else None,
            use_atheris,
            quiet=args.smoke,
            smoke=args.smoke,
            runs=args.runs,
            max_len=args.max_len,
        )
    ]
    if failed:
        print(f"fuzz: FAILED: {', '.join(failed)}")
        return 1
    print(f"fuzz: {len(chosen)} target(s) ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
