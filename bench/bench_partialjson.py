"""Partial JSON of streamed tool-call arguments: libchatty's PartialJSON against re-parsing.

Input: tool-call arguments of 10 KB, 100 KB and 1 MB (an object holding a list of search
results with string, number, boolean and list fields, some non-ASCII text), as
``json.dumps`` writes them, arriving in 8-character deltas. After every delta the caller
wants the value so far (to show the object filling in). Rows:

* libchatty: ``PartialJSON.feed(delta)`` then ``.value``, every delta (then ``close()``);
* jiter re-parse: what the official SDKs do -- the buffer so far (as UTF-8 bytes) parsed
  again on every delta with ``jiter.from_json(buf, partial_mode="trailing-strings")``.
  This is quadratic: at 1 MB it would take minutes, so there it is MEASURED ON 1 DELTA IN
  ``SAMPLE`` (spread evenly over the whole document) and the total EXTRAPOLATED (x SAMPLE);
  the output says so. At 10 KB and 100 KB every delta is parsed;
* one json.loads: the whole document parsed once at the end (no partial values): the floor.

Reported: ns per byte of document, and the ratios. Targets (issue 12): libchatty's cost
per byte at 1 MB within 1.5x of that at 10 KB (linear); >= 100x faster than the jiter
re-parse at 1 MB. Timing: process CPU time (``time.process_time``: everything here is
single-threaded and CPU-bound, and CPU time is not inflated when other processes share
the machine), best of N rounds, every size in each round (jiter: one run).
"""

from __future__ import annotations

import json
import platform
import sys
import time
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from libchatty.partialjson import PartialJSON

SIZES = (10_000, 100_000, 1_000_000)
DELTA = 8
RUNS = 5
SAMPLE = 64  # at 1 MB, jiter re-parses 1 delta in SAMPLE
FULL_JITER_UP_TO = 100_000


def make_arguments(size: int) -> str:
    """Realistic tool-call arguments of at least ``size`` characters."""
    words = ["café", "naïve", "Zürich", "résumé", "data", "stream", "model", "token", "東京"]
    results: list[dict[str, Any]] = []
    doc: dict[str, Any] = {"query": "streaming JSON parsers compared", "results": results}
    i = 0
    while True:
        results.append(
            {
                "id": i,
                "title": f"Result {i}: {words[i % len(words)]} and {words[(i * 7) % len(words)]}",
                "url": f"https://example.com/articles/{i:06d}?ref=search",
                "score": round(1 / (i + 1), 6),
                "published": f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}",
                "verified": i % 3 == 0,
                "tags": [words[i % len(words)], words[(i + 1) % len(words)]],
                "summary": " ".join(words[(i + j) % len(words)] for j in range(12)),
            }
        )
        i += 1
        if i % 16 == 0 and len(json.dumps(doc)) >= size:
            return json.dumps(doc)


def deltas(text: str) -> list[str]:
    return [text[i : i + DELTA] for i in range(0, len(text), DELTA)]


def libchatty_partial(pieces: list[str]) -> Any:
    parser = PartialJSON()
    feed = parser.feed
    for piece in pieces:
        feed(piece)
        parser.value  # noqa: B018 -- read after every delta, as a live view does
    return parser.close()


def jiter_reparse(pieces: list[str], sample: int) -> tuple[float, Any]:
    """Seconds to re-parse the buffer after every ``sample``-th delta (x ``sample``), and
    the last value parsed."""
    import jiter

    ends = []
    total = 0
    for piece in pieces:
        total += len(piece.encode())
        ends.append(total)
    data = "".join(pieces).encode()
    chosen = ends[sample - 1 :: sample] if sample > 1 else ends
    value: Any = None
    started = time.process_time()
    for end in chosen:
        value = jiter.from_json(data[:end], partial_mode="trailing-strings")
    took = time.process_time() - started
    return took * (len(ends) / len(chosen)), value


def best(function: Any, runs: int) -> float:
    fastest = float("inf")
    for _ in range(runs):
        started = time.process_time()
        function()
        fastest = min(fastest, time.process_time() - started)
    return fastest


def package_version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def main() -> int:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else RUNS
    try:
        import jiter  # noqa: F401

        have_jiter = True
    except ImportError:
        have_jiter = False
    print(
        f"Python {platform.python_version()} on {platform.machine()}; "
        f"jiter {package_version('jiter')}"
    )
    print(
        f"tool-call arguments in {DELTA}-character deltas, .value read after each; best of {runs}\n"
    )
    header = (
        f"{'bytes':>9} {'deltas':>7} {'libchatty ns/B':>14} {'json.loads ns/B':>15} "
        f"{'jiter re-parse ns/B':>20} {'jiter/libchatty':>15} {'libchatty/json.loads':>20}"
    )
    print(header)
    inputs = {size: make_arguments(size) for size in SIZES}
    pieces_of = {size: deltas(text) for size, text in inputs.items()}
    for size, text in inputs.items():
        assert libchatty_partial(pieces_of[size]) == json.loads(text)
    # Interleaved (every size in each round, best round kept), so that a busy moment on
    # the machine does not land on one size only and fake a non-linearity.
    ours_s = dict.fromkeys(SIZES, float("inf"))
    floor_s = dict.fromkeys(SIZES, float("inf"))
    for _ in range(runs):
        for size in SIZES:
            ours_s[size] = min(
                ours_s[size], best(lambda p=pieces_of[size]: libchatty_partial(p), 1)
            )
            floor_s[size] = min(floor_s[size], best(lambda t=inputs[size]: json.loads(t), 1))
    per_byte: dict[int, float] = {}
    speedup: dict[int, float] = {}
    for size in SIZES:
        text, pieces = inputs[size], pieces_of[size]
        n = len(text.encode())
        ours = ours_s[size] * 1e9 / n
        floor = floor_s[size] * 1e9 / n
        per_byte[size] = ours
        jiter_cell, ratio_cell = "missing", "-"
        if have_jiter:
            sample = 1 if size <= FULL_JITER_UP_TO else SAMPLE
            seconds, last = jiter_reparse(pieces, sample)
            if sample == 1:
                assert last == json.loads(text), "jiter parsed differently"
            theirs = seconds * 1e9 / n
            speedup[size] = theirs / ours
            mark = "" if sample == 1 else " (est.*)"
            jiter_cell = f"{theirs:,.0f}{mark}"
            ratio_cell = f"{theirs / ours:,.0f}x"
        print(
            f"{n:>9,} {len(pieces):>7,} {ours:>14.0f} {floor:>15.1f} {jiter_cell:>20} "
            f"{ratio_cell:>15} {ours / floor:>19.1f}x"
        )
    if have_jiter:
        print(
            f"\n* estimated: at 1 MB jiter re-parsed the buffer after 1 delta in {SAMPLE} "
            f"(evenly spread), total time x{SAMPLE}; smaller sizes re-parse after every delta."
        )
    linear = per_byte[SIZES[-1]] / per_byte[SIZES[0]]
    print(
        f"\ntarget: libchatty ns/byte at 1 MB <= 1.5x that at 10 KB (linear): {linear:.2f}x "
        f"({'met' if linear <= 1.5 else 'MISSED'})"
    )
    if SIZES[-1] in speedup:
        fast = speedup[SIZES[-1]]
        print(
            f"target: >= 100x faster than jiter re-parse per delta at 1 MB: {fast:,.0f}x "
            f"({'met' if fast >= 100 else 'MISSED'}; jiter time estimated from a sample)"
        )
    else:
        print("target: jiter not installed, re-parse not measured")
    return 0


if __name__ == "__main__":
    sys.exit(main())
