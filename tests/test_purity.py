"""The core is pure: no I/O, clock, randomness or environment, and it never imports a binding.

Reads the source of every module under src/libchatty (the AST, so imports inside
functions or ``if`` blocks count too) and checks each import against an allow-list.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parent.parent / "src" / "libchatty"

# Pure standard-library modules: computation only, no I/O, clock, threads or randomness.
PURE_STDLIB = {
    "__future__",
    "abc",
    "base64",
    "binascii",
    "codecs",
    "collections",
    "dataclasses",
    "datetime",  # values only (a signing time is passed in): the core never reads the clock
    "enum",
    "functools",
    "hashlib",
    "hmac",
    "importlib",
    "itertools",
    "json",
    "math",
    "operator",  # attrgetter (values): C accessors, nothing else
    "re",
    "struct",
    "types",  # MappingProxyType (a read-only empty mapping): nothing else
    "typing",
    "urllib.parse",
    "zlib",
}
# h11 is the one runtime dependency; orjson is the optional `fast` extra (jsonload only).
THIRD_PARTY = {"h11", "orjson"}

# Command entry shims, not core: `python -m libchatty` and the replay server must open
# sockets, so they only import libchatty.bindings and hand over. Nothing imports them.
EXEMPT = {"__main__.py", "serve.py"}

BINDINGS = "libchatty.bindings"


def core_modules() -> list[Path]:
    return sorted(p for p in CORE.rglob("*.py") if p.relative_to(CORE).as_posix() not in EXEMPT)


def imports(path: Path) -> list[tuple[int, str]]:
    """(line, absolute-or-relative module name) of every import in ``path``."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = "." * node.level + (node.module or "")
            found.append((node.lineno, base))
            if node.level or base == "libchatty":
                # `from . import bindings` / `from libchatty import bindings`
                sep = "" if base.endswith(".") else "."
                found.extend((node.lineno, f"{base}{sep}{alias.name}") for alias in node.names)
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "import_module":
            # importlib.import_module("..."): only literal libchatty names are allowed.
            arg = node.args[0] if node.args else None
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                found.append((node.lineno, arg.value))
    return found


def allowed(name: str) -> bool:
    if name.startswith(".") or name == "libchatty" or name.startswith("libchatty."):
        return True
    return any(name == ok or name.startswith(ok + ".") for ok in PURE_STDLIB | THIRD_PARTY)


def reaches_bindings(path: Path, name: str) -> bool:
    """Whether ``name`` (as imported from ``path``) is libchatty.bindings or inside it."""
    if name.startswith("."):
        level = len(name) - len(name.lstrip("."))
        package = list(path.relative_to(CORE).parent.parts)
        package = package[: len(package) - (level - 1)] if level > 1 else package
        rest = name.lstrip(".")
        name = ".".join(["libchatty", *package, *([rest] if rest else [])])
    return name == BINDINGS or name.startswith(BINDINGS + ".")


def test_the_walk_finds_the_core() -> None:
    names = {p.name for p in core_modules()}
    assert {"sse.py", "lines.py", "ndjson.py", "jsonload.py", "events.py"} <= names
    assert not names & EXEMPT


@pytest.mark.parametrize("path", core_modules(), ids=lambda p: p.relative_to(CORE).as_posix())
def test_core_module_imports_only_pure_modules(path: Path) -> None:
    bad = [f"line {line}: {name}" for line, name in imports(path) if not allowed(name)]
    assert not bad, f"{path.name} imports impure modules: {bad}"


@pytest.mark.parametrize("path", core_modules(), ids=lambda p: p.relative_to(CORE).as_posix())
def test_core_module_never_imports_bindings(path: Path) -> None:
    bad = [f"line {line}: {name}" for line, name in imports(path) if reaches_bindings(path, name)]
    assert not bad, f"{path.name} imports a binding: {bad}"


def test_the_checker_catches_what_it_should(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text(
        "import socket\n"
        "def f():\n    import time\n"
        "from os import path\n"
        "import json, urllib.request\n"
        "from . import bindings\n"
    )
    names = [name for _, name in imports(probe)]
    assert sorted(n for n in names if not allowed(n)) == ["os", "socket", "time", "urllib.request"]
    assert allowed("urllib.parse") and allowed("collections.abc") and allowed(".sse")
    assert reaches_bindings(CORE / "x.py", "libchatty.bindings.blocking")
    assert reaches_bindings(CORE / "x.py", ".bindings")
    assert reaches_bindings(CORE / "dialects" / "x.py", "..bindings")
    assert not reaches_bindings(CORE / "dialects" / "x.py", ".bindings")
