"""The CLI's fast command-line reading (bindings/_argv.py) against argparse, its oracle:
whatever ``quick_parse`` reads, argparse reads the same; what it declines, argparse gets."""

from __future__ import annotations

import contextlib
import io
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st
from libchatty.bindings._argv import DEFAULTS, OPTIONS, SWITCHES, quick_parse
from libchatty.bindings.cli import _parser

URL = "http://127.0.0.1:8000/v1"


def argparse_reads(argv: list[str]) -> SimpleNamespace | None:
    """The CLI's argparse parser on ``argv``; None when it exits (an error or the help)."""
    sink = io.StringIO()
    with contextlib.redirect_stderr(sink), contextlib.redirect_stdout(sink):
        try:
            return _parser().parse_args(argv, namespace=SimpleNamespace())
        except SystemExit:
            return None


def expected(**changes: object) -> SimpleNamespace:
    return SimpleNamespace(**{**DEFAULTS, **changes})


def test_the_tables_are_the_parsers_options_and_defaults() -> None:
    parser = _parser()
    strings = {s for action in parser._actions for s in action.option_strings}
    assert strings - {"-h", "--help"} == set(SWITCHES) | set(OPTIONS)
    assert vars(argparse_reads([])) == DEFAULTS
    assert vars(quick_parse([])) == DEFAULTS


def test_the_benchmark_and_common_shapes() -> None:
    argv = ["-s", "--base-url", URL, "replay-1", "Tell me a story."]
    assert quick_parse(argv) == expected(base_url=URL, model="replay-1", message="Tell me a story.")
    argv = ["--provider", "groq", "--no-stream", "--stats", "llama-3", "Hi"]
    assert quick_parse(argv) == expected(
        provider="groq", stream=False, stats=True, model="llama-3", message="Hi"
    )
    argv = ["gpt-4o", "Hi", "--temperature", "0.5", "--max-tokens", "9", "--retries", "0"]
    assert quick_parse(argv) == expected(
        model="gpt-4o", message="Hi", temperature=0.5, max_tokens=9, retries=0
    )
    assert quick_parse(["--timeout", "2.5", "--system", "", "--json", "--debug"]) == expected(
        timeout=2.5, system="", json=True, debug=True
    )
    assert quick_parse(["--replay", "--dialect", "ollama", "m"]) == expected(
        replay=True, dialect="ollama", model="m"
    )
    # the last of a repeated option wins, as in argparse
    assert quick_parse(["--provider", "a", "--provider", "b"]) == expected(provider="b")


@pytest.mark.parametrize(
    "argv",
    [
        ["-h"],
        ["--help"],
        ["--base", URL],  # an abbreviation
        [f"--base-url={URL}"],
        ["--", "m"],
        ["--system", "-x"],  # a value starting with "-"
        ["--temperature", "-1"],
        ["m", "-"],
        ["--retries"],  # no value
        ["--timeout", "0"],  # the conversions' own errors
        ["--timeout", "inf"],
        ["--retries", "-1"],
        ["--retries", "two"],
        ["--max-tokens", "1.5"],
        ["--temperature", "warm"],
        ["-s", "--no-stream"],  # the exclusive group's rules are argparse's
        ["--no-stream", "--stream"],
        ["m", "--stats", "message"],  # positionals split by an option
        ["a", "b", "c"],  # one more than MODEL and MESSAGE
        ["-sv"],
    ],
)
def test_declined_shapes_go_to_argparse(argv: list[str]) -> None:
    assert quick_parse(argv) is None


def test_two_positionals_is_the_limit() -> None:
    assert quick_parse(["a", "b"]) == expected(model="a", message="b")
    assert argparse_reads(["a", "b", "c"]) is None  # argparse: unrecognized arguments
    assert argparse_reads(["m", "--stats", "message"]) is None  # the same, split by an option


TOKENS = st.sampled_from(
    [
        *SWITCHES,
        *OPTIONS,
        "-h",
        "--base",
        "--no",
        "--",
        "-",
        "-1",
        "-x",
        "--timeout=3",
        "",
        "m",
        "Hello world",
        "0",
        "2",
        "0.5",
        "nan",
        "inf",
        "two",
        URL,
    ]
)


@given(st.lists(TOKENS, max_size=8))
def test_agrees_with_argparse(argv: list[str]) -> None:
    fast = quick_parse(argv)
    if fast is not None:
        slow = argparse_reads(argv)
        assert slow is not None, argv
        assert _comparable(vars(fast)) == _comparable(vars(slow)), argv


def _comparable(values: dict[str, object]) -> dict[str, object]:
    """``values`` with float NaN (``--temperature nan``) as a string: NaN != NaN."""
    return {k: "NaN" if isinstance(v, float) and v != v else v for k, v in values.items()}
