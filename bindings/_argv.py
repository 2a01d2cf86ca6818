"""The CLI's command line read without argparse, for the invocations people type.

Importing argparse (with gettext and locale) and building the CLI's parser cost about
3-4 ms of CPU per run, more than a whole streamed answer from a local server. So
:func:`quick_parse` reads the common shapes -- exact option names, ``--option VALUE``
pairs, up to two positional arguments in one run -- into the namespace argparse would
have produced, and returns None for anything else: ``-h``, an abbreviation
(``--base``), ``--option=VALUE``, ``--``, a value or positional starting with ``-``, a
value that does not convert, both ``--stream`` and ``--no-stream``, positionals split by
options (argparse has its own rules there). The caller then runs argparse, which gives
the answer, the help or the error message. tests/test_argv.py checks the two against
each other on generated command lines.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from types import SimpleNamespace
from typing import Any, Final

__all__ = ["DEFAULTS", "OPTIONS", "SWITCHES", "positive_seconds", "quick_parse", "retries"]


def _argument_error(message: str) -> Exception:
    import argparse  # only on the way to argparse's own error message

    return argparse.ArgumentTypeError(message)


def positive_seconds(value: str) -> float:
    """``--timeout``: a finite number of seconds above zero."""
    try:
        seconds = float(value)
    except ValueError:
        seconds = float("nan")
    if not 0 < seconds < float("inf"):
        raise _argument_error(f"must be a positive number of seconds, not {value!r}")
    return seconds


def retries(value: str) -> int:
    """``--retries``: a whole number, zero or more."""
    try:
        count = int(value)
    except ValueError:
        count = -1
    if count < 0:
        raise _argument_error(f"must be a whole number >= 0, not {value!r}")
    return count


#: Every destination and its default, as the parser in cli.py declares them.
DEFAULTS: Final[dict[str, Any]] = {
    "model": None,
    "message": None,
    "stream": True,
    "provider": None,
    "base_url": None,
    "dialect": None,
    "replay": False,
    "system": None,
    "temperature": None,
    "max_tokens": None,
    "timeout": None,
    "retries": 2,
    "stats": False,
    "json": False,
    "debug": False,
}
#: Options without a value: option -> (destination, value stored). The stream pair sets
#: one destination both ways; every other switch is named after what it turns on.
SWITCHES: Final[dict[str, tuple[str, bool]]] = {
    "-s": ("stream", True),
    "--stream": ("stream", True),
    "--no-stream": ("stream", False),
    **{f"--{name}": (name, True) for name in ("replay", "stats", "json", "debug")},
}
#: Options with a value: option -> (destination, conversion).
OPTIONS: Final[dict[str, tuple[str, Callable[[str], Any]]]] = {
    "--provider": ("provider", str),
    "--base-url": ("base_url", str),
    "--dialect": ("dialect", str),
    "--system": ("system", str),
    "--temperature": ("temperature", float),
    "--max-tokens": ("max_tokens", int),
    "--timeout": ("timeout", positive_seconds),
    "--retries": ("retries", retries),
}
_POSITIONALS: Final = ("model", "message")
# argparse's mutually exclusive group: its rules for both at once are its own.
_STREAM_FLAGS: Final = frozenset({"-s", "--stream"})


def quick_parse(argv: Sequence[str]) -> SimpleNamespace | None:
    """What ``argparse`` would make of ``argv``, or None when it is not a plain case."""
    values = dict(DEFAULTS)
    positionals: list[str] = []
    run_ended = False  # positionals seen, then an option: a later positional is not plain
    streaming = not_streaming = False
    i = 0
    while i < len(argv):
        token = argv[i]
        i += 1
        if not token.startswith("-"):
            if run_ended or len(positionals) == len(_POSITIONALS):
                return None
            positionals.append(token)
            continue
        run_ended = bool(positionals)
        switch = SWITCHES.get(token)
        if switch is not None:
            streaming |= token in _STREAM_FLAGS
            not_streaming |= token == "--no-stream"
            values[switch[0]] = switch[1]
            continue
        option = OPTIONS.get(token)
        if option is None or i == len(argv) or argv[i].startswith("-"):
            return None
        try:
            values[option[0]] = option[1](argv[i])
        except Exception:  # argparse will say what is wrong with it
            return None
        i += 1
    if streaming and not_streaming:
        return None
    values.update(zip(_POSITIONALS, positionals, strict=False))
    return SimpleNamespace(**values)
