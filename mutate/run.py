"""Mutation testing for libchatty: how many plausible bugs would the tests catch?

    python mutate/run.py lines            # one module (names: see --list)
    python mutate/run.py lines sse ndjson # several
    python mutate/run.py --all            # every configured module and every dialect
    python mutate/run.py --list

Uses mutmut (installed into this interpreter's environment on first use, from PyPI, at
the version pinned below). Modules and the tests that guard them are listed in
``mutate/modules.toml``; dialects are found under ``src/libchatty/dialects/``.

Each module runs in its own scratch copy of the project, ``mutate/.work/<module>/``
(``src/libchatty`` and ``tests/`` copied, plus a ``setup.cfg`` with the mutmut settings),
so the working tree is never modified and pyproject.toml needs no mutmut section; mutmut
writes its ``mutants/`` directory inside that copy. Hypothesis runs derandomized and
without its example database there, so a run's result does not depend on what an earlier
run happened to find.

Results: ``mutate/results/<module>.json`` per module, and ``mutate/REPORT.md`` rebuilt
from all of them: per module the mutants total / killed / survived / timeout / other, the
score, and one line per surviving mutant. The score is
(killed + timeout + caught by type check) / (total - equivalent): a mutant that makes the
tests hang was detected; one that no test exercises counts as survived. Mutants that
cannot change behaviour are listed in ``mutate/equivalent.toml`` with the reason, matched
by module, function, original line and mutated line (never by mutmut's number, which
shifts whenever the source changes); an entry that no longer matches a surviving mutant is
reported as stale. The exit status is 1 when a module run misses its target.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the same parser, from PyPI
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]

MUTMUT = "mutmut==3.8.1"
HERE = Path(__file__).resolve().parent
REPO = HERE.parent
WORK = HERE / ".work"
RESULTS = HERE / "results"
REPORT = HERE / "REPORT.md"
CONFIG = HERE / "modules.toml"
EQUIVALENT = HERE / "equivalent.toml"

# Appended to the scratch copy's conftest.py: the same examples for every mutant, and no
# example database carried from one mutant (or run) to the next.
HYPOTHESIS_PROFILE = """

# -- added by mutate/run.py for the mutation run (this is a scratch copy) --
# mutmut runs every test in one process through its own hooks, so a class-based @given
# test can be reached through two executors: hypothesis would fail it on a clean run.
from hypothesis import HealthCheck as _MutateHealthCheck

try:
    _mutate_parent = settings.get_profile("ci")
except Exception:  # no "ci" profile: hypothesis defaults, derandomized
    _mutate_parent = settings(deadline=None)
settings.register_profile(
    "mutate",
    _mutate_parent,
    derandomize=True,
    database=None,
    suppress_health_check=[
        *_mutate_parent.suppress_health_check,
        _MutateHealthCheck.differing_executors,
    ],
)
settings.load_profile("mutate")
"""

DETECTED = {"killed", "timeout", "caught by type check"}


@dataclass(frozen=True)
class Module:
    name: str
    source: str  # path relative to the repository
    tests: tuple[str, ...]
    target: float


@dataclass(frozen=True)
class Mutant:
    key: str  # mutmut's name, e.g. libchatty.lines.xǁLineSplitterǁfeed__mutmut_5
    status: str
    function: str  # Class.method or function
    line: int  # line in the source file of the first changed line (0: unknown)
    original: str  # the changed source line(s), stripped, joined by " / "
    mutated: str


# -- configuration ------------------------------------------------------------------------


def load_modules() -> dict[str, Module]:
    config = tomllib.loads(CONFIG.read_text("utf-8"))
    modules = {
        name: Module(name, entry["source"], tuple(entry["tests"]), float(entry["target"]))
        for name, entry in config.get("modules", {}).items()
    }
    defaults = config.get("dialect_defaults", {})
    always = list(defaults.get("always", []))
    dialect_dir = REPO / "src" / "libchatty" / "dialects"
    dialects = sorted(p.stem for p in dialect_dir.glob("*.py") if p.stem != "__init__")
    per_dialect = {d: f"tests/test_{d}.py" for d in dialects}
    every_dialect_test = sorted({*always, *per_dialect.values()})
    for dialect in dialects:
        name = f"dialects.{dialect}"
        if name in modules:
            continue
        shared = dialect == "base"  # the plumbing every dialect stands on
        tests = every_dialect_test if shared else [per_dialect[dialect], *always]
        modules[name] = Module(
            name,
            f"src/libchatty/dialects/{dialect}.py",
            tuple(tests),
            float(defaults.get("target", 85)),
        )
    return modules


def load_equivalents() -> list[dict[str, str]]:
    if not EQUIVALENT.exists():
        return []
    entries = tomllib.loads(EQUIVALENT.read_text("utf-8")).get("equivalent", [])
    for entry in entries:
        missing = {"module", "function", "original", "mutated", "reason"} - set(entry)
        if missing:
            raise SystemExit(f"{EQUIVALENT.name}: entry {entry} lacks {sorted(missing)}")
    return list(entries)


# -- running mutmut ----------------------------------------------------------------------


def ensure_mutmut() -> None:
    wanted = MUTMUT.split("==")[1]
    try:
        have = importlib.metadata.version("mutmut")
    except importlib.metadata.PackageNotFoundError:
        have = None
    if have == wanted:
        return
    print(f"installing {MUTMUT} into {sys.prefix}", flush=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", MUTMUT], check=True)


def prepare(module: Module) -> Path:
    """A fresh scratch copy of the project set up to mutate ``module`` alone."""
    scratch = WORK / module.name
    if scratch.exists():
        shutil.rmtree(scratch)
    scratch.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".hypothesis")
    shutil.copytree(REPO / "src" / "libchatty", scratch / "src" / "libchatty", ignore=ignore)
    # The bindings are installed as libchatty.bindings (a package mapping in pyproject);
    # with the mutated copy first on sys.path they must sit inside it to be importable.
    shutil.copytree(REPO / "bindings", scratch / "src" / "libchatty" / "bindings", ignore=ignore)
    shutil.copytree(REPO / "tests", scratch / "tests", symlinks=True, ignore=ignore)
    # Some tests run the fuzz targets on their seeds (tests/test_http1body.py): they find
    # them beside tests/, so fuzz/ comes too (and into mutants/: "also_copy" below).
    has_fuzz = (REPO / "fuzz").is_dir()
    if has_fuzz:
        shutil.copytree(REPO / "fuzz", scratch / "fuzz", ignore=ignore)
    conftest = scratch / "tests" / "conftest.py"
    conftest.write_text(conftest.read_text("utf-8") + HYPOTHESIS_PROFILE, "utf-8")
    tests = [t for t in module.tests if (REPO / t).exists()]
    for absent in sorted(set(module.tests) - set(tests)):
        print(f"[{module.name}] warning: {absent} does not exist; not run", flush=True)
    if not tests:
        raise SystemExit(f"[{module.name}] no test file exists: {', '.join(module.tests)}")
    setup_cfg = [
        "[mutmut]",
        "source_paths = src/libchatty",
        f"only_mutate = {module.source}",
        "pytest_add_cli_args_test_selection =",
        *(f"    {t}" for t in tests),
        "pytest_add_cli_args =",
        "    -p",
        "    no:cacheprovider",
        "use_git_change_detection = false",
        *(["also_copy =", "    fuzz"] if has_fuzz else []),
        "",
    ]
    (scratch / "setup.cfg").write_text("\n".join(setup_cfg), "utf-8")
    # pytest's own settings live in pyproject.toml, which is not copied (mutmut would
    # read its [tool] table first): the one that matters is where the tests are.
    (scratch / "pytest.ini").write_text("[pytest]\ntestpaths = tests\n", "utf-8")
    return scratch


def run_mutmut(module: Module, scratch: Path, jobs: int) -> float:
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    env.pop("HYPOTHESIS_PROFILE", None)  # the scratch conftest loads its own
    log = scratch / "mutmut.log"
    started = time.monotonic()
    with log.open("w", encoding="utf-8") as out:
        result = subprocess.run(
            [sys.executable, "-m", "mutmut", "run", "--max-children", str(jobs)],
            cwd=scratch,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            check=False,
        )
    elapsed = time.monotonic() - started
    if result.returncode != 0:
        tail = log.read_text("utf-8", "replace")[-3000:]
        raise SystemExit(f"[{module.name}] mutmut failed (exit {result.returncode}):\n{tail}")
    return elapsed


# -- reading mutmut's results --------------------------------------------------------------

_KEY = re.compile(r"\.x[ǁ_](?P<name>.+)__mutmut_\d+$")


def function_of(key: str) -> str:
    """``libchatty.lines.xǁLineSplitterǁfeed__mutmut_5`` -> ``LineSplitter.feed``."""
    match = _KEY.search(key)
    if not match:
        return key
    return match.group("name").strip("ǁ").replace("ǁ", ".")


def first_def_line(source: str, function: str) -> int:
    """The line where ``function`` (``Class.method`` or ``name``) starts, decorators
    included; 0 if not found."""
    import ast

    tree = ast.parse(source)
    parts = function.split(".")
    scope: list[ast.stmt] = tree.body
    node: ast.AST | None = None
    for part in parts:
        node = next(
            (
                n
                for n in scope
                if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                and n.name == part
            ),
            None,
        )
        if node is None:
            return 0
        scope = node.body
    assert isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
    return min([node.lineno, *(d.lineno for d in node.decorator_list)])


def describe(diff: str, start: int) -> tuple[int, str, str]:
    """(source line, original, mutated) of a mutmut diff of one function that starts at
    source line ``start``."""
    removed: list[str] = []
    added: list[str] = []
    line = 0
    at = 0  # line number, within the function, of the next original line
    for text in diff.splitlines():
        if text.startswith(("---", "+++")):
            continue
        hunk = re.match(r"@@ -(\d+)", text)
        if hunk:
            at = int(hunk.group(1))
        elif text.startswith("+"):
            added.append(text[1:].strip())
        elif text.startswith("-"):
            if not removed and start:
                line = start + at - 1
            removed.append(text[1:].strip())
            at += 1
        else:
            at += 1
    return line, " / ".join(removed), " / ".join(added)


def collect(module: Module, scratch: Path) -> list[Mutant]:
    from mutmut.mutation.diff_apply import get_diff_for_mutant
    from mutmut.stats import status_by_exit_code

    meta = scratch / "mutants" / (module.source + ".meta")
    codes: dict[str, int | None] = json.loads(meta.read_text("utf-8"))["exit_code_by_key"]
    source = (REPO / module.source).read_text("utf-8")
    mutants: list[Mutant] = []
    here = Path.cwd()
    os.chdir(scratch)  # mutmut reads mutants/ relative to the working directory
    try:
        for key, code in codes.items():
            status = status_by_exit_code[code]
            function = function_of(key)
            line, original, mutated = 0, "", ""
            if status not in DETECTED:
                diff = get_diff_for_mutant(key, path=Path(module.source))
                line, original, mutated = describe(diff, first_def_line(source, function))
            mutants.append(Mutant(key, status, function, line, original, mutated))
    finally:
        os.chdir(here)
    return mutants


# -- scoring and the report -------------------------------------------------------------


def score(
    module: Module, mutants: list[Mutant], equivalents: list[dict[str, str]]
) -> dict[str, Any]:
    mine = [e for e in equivalents if e["module"] == module.name]
    equivalent: list[dict[str, Any]] = []
    survivors: list[dict[str, Any]] = []
    used: set[int] = set()
    counts: dict[str, int] = {}
    for m in mutants:
        counts[m.status] = counts.get(m.status, 0) + 1
        if m.status in DETECTED:
            continue
        row = {
            "key": m.key,
            "status": m.status,
            "function": m.function,
            "line": m.line,
            "original": m.original,
            "mutated": m.mutated,
        }
        for i, e in enumerate(mine):
            if (e["function"], e["original"], e["mutated"]) == (m.function, m.original, m.mutated):
                used.add(i)
                equivalent.append({**row, "reason": e["reason"]})
                break
        else:
            survivors.append(row)
    total = len(mutants)
    detected = sum(counts.get(s, 0) for s in DETECTED)
    counted = total - len(equivalent)
    return {
        "module": module.name,
        "source": module.source,
        "tests": list(module.tests),
        "target": module.target,
        "total": total,
        "killed": counts.get("killed", 0) + counts.get("caught by type check", 0),
        "timeout": counts.get("timeout", 0),
        "survived": counts.get("survived", 0),
        "other": total - detected - counts.get("survived", 0),
        "equivalent": len(equivalent),
        "score": round(100.0 * detected / counted, 1) if counted else 100.0,
        "survivors": survivors,
        "equivalents": equivalent,
        "stale_equivalents": [e for i, e in enumerate(mine) if i not in used],
    }


def write_report() -> Path:
    results = [json.loads(p.read_text("utf-8")) for p in sorted(RESULTS.glob("*.json"))]
    out = [
        "# Mutation testing report",
        "",
        "Written by `mutate/run.py` (mutmut); do not edit by hand. Score = (killed + timeout)",
        "/ (total - equivalent); equivalent mutants are listed in `mutate/equivalent.toml`",
        "with the reason each cannot change behaviour. `other` counts mutants mutmut could",
        "not classify (no tests, suspicious, segfault); they count against the score.",
        "",
        "| module | total | killed | survived | timeout | other | equivalent | score | target"
        " | run |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        ok = "ok" if r["score"] >= r["target"] else "**below**"
        out.append(
            f"| {r['module']} | {r['total']} | {r['killed']} | {r['survived']} | {r['timeout']}"
            f" | {r['other']} | {r['equivalent']} | {r['score']}% | {r['target']:.0f}% {ok}"
            f" | {r['date']}, {r['seconds']:.0f} s |"
        )
    for r in results:
        out += ["", f"## {r['module']} (`{r['source']}`)", ""]
        out.append("Tests: " + ", ".join(f"`{t}`" for t in r["tests"]))
        out.append("")
        if r["survivors"]:
            out.append("Surviving mutants:")
            out.append("")
            for s in r["survivors"]:
                out.append(
                    f"- line {s['line']} `{s['function']}` ({s['status']}): "
                    f"`{s['original']}` -> `{s['mutated']}`"
                )
        else:
            out.append("No surviving mutant outside the equivalent list.")
        if r["equivalents"]:
            out += ["", "Equivalent (excluded from the score):", ""]
            for s in r["equivalents"]:
                out.append(
                    f"- line {s['line']} `{s['function']}`: `{s['original']}` -> "
                    f"`{s['mutated']}` -- {s['reason']}"
                )
        if r["stale_equivalents"]:
            out += ["", "Stale entries in equivalent.toml (no such surviving mutant):", ""]
            for e in r["stale_equivalents"]:
                out.append(f"- `{e['function']}`: `{e['original']}` -> `{e['mutated']}`")
    REPORT.write_text("\n".join(out) + "\n", "utf-8")
    return REPORT


def run_module(module: Module, jobs: int) -> dict[str, Any]:
    if not (REPO / module.source).exists():
        raise SystemExit(f"[{module.name}] {module.source} does not exist")
    print(f"[{module.name}] mutating {module.source} against {' '.join(module.tests)}", flush=True)
    scratch = prepare(module)
    seconds = run_mutmut(module, scratch, jobs)
    result = score(module, collect(module, scratch), load_equivalents())
    result["seconds"] = round(seconds, 1)
    result["date"] = time.strftime("%Y-%m-%d")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{module.name}.json").write_text(
        json.dumps(result, indent=1, ensure_ascii=False) + "\n", "utf-8"
    )
    print(
        f"[{module.name}] {result['total']} mutants: {result['killed']} killed, "
        f"{result['survived']} survived, {result['timeout']} timeout, {result['other']} other, "
        f"{result['equivalent']} equivalent: score {result['score']}% "
        f"(target {module.target:.0f}%) in {seconds:.0f} s",
        flush=True,
    )
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("modules", nargs="*", help="module names (see --list)")
    parser.add_argument("--all", action="store_true", help="every configured module")
    parser.add_argument("--list", action="store_true", help="list modules and their tests")
    parser.add_argument("--jobs", type=int, default=2, help="mutants tested in parallel")
    parser.add_argument("--keep", action="store_true", help="keep mutate/.work afterwards")
    args = parser.parse_args(argv)
    modules = load_modules()
    if args.list:
        for m in modules.values():
            present = "" if (REPO / m.source).exists() else "  (not present)"
            print(f"{m.name}\t{m.source}\t{' '.join(m.tests)}{present}")
        return 0
    if args.all:
        chosen = [m for m in modules.values() if (REPO / m.source).exists()]
    elif args.modules:
        unknown = [n for n in args.modules if n not in modules]
        if unknown:
            parser.error(f"unknown module(s) {unknown}; have: {', '.join(modules)}")
        chosen = [modules[n] for n in args.modules]
    else:
        parser.error("name a module (or several), or --all, or --list")
    ensure_mutmut()
    missed = []
    for module in chosen:
        result = run_module(module, args.jobs)
        if result["score"] < module.target:
            missed.append(module.name)
        if not args.keep:
            shutil.rmtree(WORK / module.name, ignore_errors=True)
    print(f"report: {write_report()}")
    if missed:
        print(f"below target: {', '.join(missed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
