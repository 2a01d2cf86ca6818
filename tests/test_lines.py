"""LineSplitter: CR/LF/CRLF anywhere across chunks, fragments joined once, bounded."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from wire import all_splittings, splits_at

from libchatty.exceptions import LimitExceeded, LocalProtocolError
from libchatty.lines import Fragments, LineSplitter


def reference_lines(data: bytes) -> tuple[list[bytes], bytes]:
    """Complete lines and the unterminated rest, by the definition (a regex)."""
    pieces = re.split(rb"\r\n|\r|\n", data)
    return pieces[:-1], pieces[-1]


def run(chunks: list[bytes], limit: int = 1 << 20) -> tuple[list[bytes], list[bytes]]:
    splitter = LineSplitter(limit)
    lines: list[bytes] = []
    for chunk in chunks:
        lines.extend(splitter.feed(chunk))
        assert splitter.buffered <= limit
    return lines, splitter.close()


EXAMPLES = [
    (b"", [], []),
    (b"a", [], [b"a"]),
    (b"a\n", [b"a"], []),
    (b"a\r", [b"a"], []),
    (b"a\r\n", [b"a"], []),
    (b"a\n\r", [b"a", b""], []),
    (b"a\r\r\n", [b"a", b""], []),
    (b"\r\n\r\n", [b"", b""], []),
    (b"\n\n\n", [b"", b"", b""], []),
    (b"a\rb\nc\r\nd", [b"a", b"b", b"c"], [b"d"]),
    (b"\xff\xfe\r\x00\n", [b"\xff\xfe", b"\x00"], []),
]


@pytest.mark.parametrize(("data", "lines", "rest"), EXAMPLES)
def test_examples_every_splitting(data: bytes, lines: list[bytes], rest: list[bytes]) -> None:
    for name, chunks in all_splittings(data):
        assert run(chunks) == (lines, rest), name


def test_cr_at_end_of_chunk_then_lf_is_one_terminator() -> None:
    splitter = LineSplitter(100)
    assert splitter.feed(b"one\r") == [b"one"]
    assert splitter.feed(b"\ntwo\r") == [b"two"]
    assert splitter.feed(b"\n") == []
    assert splitter.feed(b"\n") == [b""]
    assert splitter.close() == []


def test_lf_only_chunk_after_cr_is_swallowed_once() -> None:
    splitter = LineSplitter(100)
    assert splitter.feed(b"a\r") == [b"a"]
    assert splitter.feed(b"\n") == []
    assert splitter.feed(b"\n") == [b""]


@given(st.binary(max_size=300), st.lists(st.integers(0, 300), max_size=12))
def test_any_split_matches_the_definition(data: bytes, cuts: list[int]) -> None:
    lines, rest = reference_lines(data)
    expected = (lines, [rest] if rest else [])
    assert run(splits_at(data, cuts)) == expected
    assert run([data]) == expected


@given(
    st.lists(
        st.tuples(
            st.binary(max_size=20).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b"")),
            st.sampled_from([b"\n", b"\r", b"\r\n"]),
        ),
        max_size=20,
    ),
    st.data(),
)
def test_line_endings_mixed_and_split(
    pairs: list[tuple[bytes, bytes]], data: st.DataObject
) -> None:
    stream = b"".join(line + end for line, end in pairs)
    expected, rest = reference_lines(stream)
    cuts = data.draw(st.lists(st.integers(0, len(stream)), max_size=10))
    assert run(splits_at(stream, cuts)) == (expected, [rest] if rest else [])
    assert run([stream[i : i + 1] for i in range(len(stream))])[0] == expected


def test_limit_exact_line_passes_longer_fails() -> None:
    splitter = LineSplitter(5)
    assert splitter.feed(b"12345\n") == [b"12345"]
    with pytest.raises(LimitExceeded) as info:
        splitter.feed(b"ok\n123456\nlater\n")
    assert info.value.items == [b"ok"]
    with pytest.raises(LocalProtocolError):
        splitter.feed(b"more\n")
    with pytest.raises(LocalProtocolError):
        splitter.close()


def test_limit_on_unterminated_line_before_it_grows() -> None:
    splitter = LineSplitter(8)
    assert splitter.feed(b"a\n1234") == [b"a"]
    assert splitter.feed(b"5678") == []
    assert splitter.buffered == 8
    with pytest.raises(LimitExceeded) as info:
        splitter.feed(b"9")
    assert info.value.items == []
    assert splitter.buffered == 0


def test_limit_tail_after_complete_lines_keeps_them() -> None:
    splitter = LineSplitter(4)
    with pytest.raises(LimitExceeded) as info:
        splitter.feed(b"ab\ncd\r\n123456789")
    assert info.value.items == [b"ab", b"cd"]


@given(st.binary(max_size=200), st.integers(1, 16), st.lists(st.integers(0, 200), max_size=8))
def test_limit_is_independent_of_chunking(data: bytes, limit: int, cuts: list[int]) -> None:
    lines, rest = reference_lines(data)
    too_long = [i for i, line in enumerate(lines) if len(line) > limit]
    fails = bool(too_long) or len(rest) > limit
    before = lines[: too_long[0]] if too_long else lines
    for chunks in ([data], splits_at(data, cuts)):
        splitter = LineSplitter(limit)
        got: list[bytes] = []
        try:
            for chunk in chunks:
                got.extend(splitter.feed(chunk))
                assert splitter.buffered <= limit
            got.extend(splitter.close())
        except LimitExceeded as exc:
            got.extend(exc.items)
            assert fails
            assert got == before
        else:
            assert not fails
            assert got == lines + ([rest] if rest else [])


def test_feed_joined_normalises_terminators() -> None:
    splitter = LineSplitter(100)
    assert splitter.feed_joined(b"a\r\nb\rc") == b"a\nb\n"
    assert splitter.feed_joined(b"d") == b""
    assert splitter.feed_joined(b"\r") == b"cd\n"
    assert splitter.feed_joined(b"\n\n") == b"\n"


def test_huge_line_in_growing_chunks_is_linear() -> None:
    # 20 MB in pieces of 1, 2, 4, ... 64 KiB bytes, repeated: about 2,600 feeds. Joining
    # per feed (quadratic) would copy ~26 GB and take minutes; fragments take well under
    # a second. No timing assertion: a regression shows up as a test that hangs.
    size = 20 * 1000 * 1000
    splitter = LineSplitter(32 * 1024 * 1024)
    block = b"x" * 65536
    fed = 0
    piece = 1
    while fed < size:
        n = min(piece, size - fed)
        assert splitter.feed(block[:n]) == []
        fed += n
        piece = 1 if piece == 65536 else piece * 2
    assert splitter.buffered == size
    (line,) = splitter.feed(b"\r\n")
    assert len(line) == size


def test_fragments_stay_few_when_fed_one_byte_at_a_time() -> None:
    fragments = Fragments()
    for _ in range(100_000):
        fragments.append(b"x")
    assert fragments.size == 100_000
    # Private, on purpose: the point is the bounded number of objects held.
    assert len(fragments._parts) <= 100_000 // 512 + 512
    assert fragments.join(b"!") == b"x" * 100_000 + b"!"
    assert fragments.size == 0
    assert fragments.join() == b""


def test_rejects_nonsense_limit() -> None:
    with pytest.raises(ValueError):
        LineSplitter(0)


def test_bytes_like_input_is_copied_not_referenced() -> None:
    splitter = LineSplitter(100)
    buffer = bytearray(b"abc\r\nde")
    assert splitter.feed(buffer) == [b"abc"]  # type: ignore[arg-type]
    buffer[:] = b"XXXXXXXX"
    assert splitter.feed(memoryview(b"f\n")) == [b"def"]  # type: ignore[arg-type]
    assert all(type(line) is bytes for line in splitter.feed(bytearray(b"g\nh\n")))  # type: ignore[arg-type]
