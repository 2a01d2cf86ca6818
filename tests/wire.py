"""Helpers for feeding recorded wire bytes: load a fixture, split it every way."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parent / "fixtures"


def fixture(name: str) -> bytes:
    """The bytes of ``tests/fixtures/<name>`` (e.g. ``"openai-chat/stream-text.http"``)."""
    return (FIXTURES / name).read_bytes()


def expected(name: str) -> dict[str, Any]:
    """The decoded result ``expected.json`` records for fixture ``name``."""
    for entry in json.loads((FIXTURES / "expected.json").read_text()):
        if entry["file"] == name:
            return dict(entry)
    raise KeyError(name)


def fixture_names(folder: str) -> list[str]:
    return sorted(f"{folder}/{p.name}" for p in (FIXTURES / folder).iterdir())


def whole(data: bytes) -> list[bytes]:
    return [data]


def byte_by_byte(data: bytes) -> list[bytes]:
    return [data[i : i + 1] for i in range(len(data))]


def random_splits(data: bytes, seed: int, max_piece: int = 64) -> list[bytes]:
    rng = random.Random(seed)
    pieces = []
    i = 0
    while i < len(data):
        n = rng.randint(1, max_piece)
        pieces.append(data[i : i + n])
        i += n
    return pieces


def splits_at(data: bytes, cuts: list[int]) -> list[bytes]:
    """``data`` cut at the given offsets (sorted, deduplicated, clipped)."""
    points = sorted({min(max(c, 0), len(data)) for c in cuts})
    pieces, last = [], 0
    for p in points:
        pieces.append(data[last:p])
        last = p
    pieces.append(data[last:])
    return [p for p in pieces if p]


def all_splittings(data: bytes, seeds: int = 5) -> Iterator[tuple[str, list[bytes]]]:
    """Whole, byte by byte, and a few random splittings, each named for test output."""
    yield "whole", whole(data)
    yield "bytes", byte_by_byte(data)
    for seed in range(seeds):
        yield f"random{seed}", random_splits(data, seed)
