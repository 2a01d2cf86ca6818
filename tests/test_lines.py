"""LineSplitter: CR/LF/CRLF anywhere across chunks, fragments joined once, bounded."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from wire import all_splittings, byte_by_byte, splits_at

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


# -- exact boundaries: a line of exactly the limit passes, one byte more fails ---------------

LIMIT = 8


def outcome(chunks: list[bytes], limit: int = LIMIT) -> tuple[list[bytes], str | None]:
    """Lines (completed, then the final one) and the LimitExceeded message, if any."""
    splitter = LineSplitter(limit)
    lines: list[bytes] = []
    try:
        for chunk in chunks:
            lines.extend(splitter.feed(chunk))
            assert splitter.buffered <= limit
        lines.extend(splitter.close())
    except LimitExceeded as exc:
        lines.extend(exc.items)
        return lines, str(exc)
    return lines, None


@pytest.mark.parametrize("end", [b"\n", b"\r", b"\r\n"])
def test_terminated_line_of_exactly_the_limit_passes_whole_and_byte_by_byte(end: bytes) -> None:
    stream = b"a" + end + b"x" * LIMIT + end + b"b" + end
    for name, chunks in all_splittings(stream):
        assert outcome(chunks) == ([b"a", b"x" * LIMIT, b"b"], None), name


@pytest.mark.parametrize("end", [b"\n", b"\r", b"\r\n"])
def test_terminated_line_of_limit_plus_one_fails_whole_and_byte_by_byte(end: bytes) -> None:
    stream = b"a" + end + b"x" * (LIMIT + 1) + end + b"b" + end
    lines, message = outcome([stream])
    assert (lines, message) == ([b"a"], "line of 9 bytes is longer than the limit of 8 bytes")
    # Fed in pieces the long line is seen before its end: the same lines, another wording.
    lines, message = outcome(byte_by_byte(stream))
    assert (lines, message) == ([b"a"], "line longer than 8 bytes (no line end after 9 bytes)")


def test_single_line_of_limit_plus_one_in_one_feed_fails() -> None:
    # Exactly limit + 2 bytes completed: the smallest span that can hold a long line.
    splitter = LineSplitter(LIMIT)
    with pytest.raises(LimitExceeded) as info:
        splitter.feed(b"x" * (LIMIT + 1) + b"\n")
    assert str(info.value) == "line of 9 bytes is longer than the limit of 8 bytes"
    assert info.value.items == []


def test_unterminated_final_line_of_exactly_the_limit_is_returned_by_close() -> None:
    for name, chunks in all_splittings(b"ab\n" + b"y" * LIMIT):
        assert outcome(chunks) == ([b"ab", b"y" * LIMIT], None), name


def test_unterminated_tail_of_limit_plus_one_fails_when_it_arrives() -> None:
    splitter = LineSplitter(LIMIT)
    with pytest.raises(LimitExceeded) as info:
        splitter.feed(b"ab\n" + b"y" * (LIMIT + 1))
    assert info.value.items == [b"ab"]
    assert str(info.value) == "line longer than 8 bytes (no line end after 9 bytes)"
    assert splitter.buffered == 0


def test_tail_of_exactly_the_limit_after_complete_lines_is_kept() -> None:
    splitter = LineSplitter(LIMIT)
    assert splitter.feed(b"ab\n" + b"y" * LIMIT) == [b"ab"]
    assert splitter.buffered == LIMIT
    assert splitter.feed(b"\n") == [b"y" * LIMIT]


def test_pending_plus_data_at_the_limit_and_one_past() -> None:
    splitter = LineSplitter(LIMIT)
    assert splitter.feed(b"12345") == []
    assert splitter.feed(b"678") == []  # 5 + 3 = the limit exactly
    assert splitter.buffered == LIMIT
    splitter = LineSplitter(LIMIT)
    assert splitter.feed(b"12345") == []
    with pytest.raises(LimitExceeded) as info:
        splitter.feed(b"6789")  # 5 + 4 = one past
    assert str(info.value) == "line longer than 8 bytes (no line end after 9 bytes)"


def test_line_of_exactly_the_limit_before_a_long_one_is_kept() -> None:
    # The scan for the long line must not stop at one that is merely at the limit.
    stream = b"x" * LIMIT + b"\n" + b"y" * (LIMIT + 1) + b"\n"
    splitter = LineSplitter(LIMIT)
    with pytest.raises(LimitExceeded) as info:
        splitter.feed(stream)
    assert info.value.items == [b"x" * LIMIT]


def test_feed_joined_limit_errors_carry_the_exact_prefix() -> None:
    splitter = LineSplitter(4)
    with pytest.raises(LimitExceeded) as info:
        splitter.feed_joined(b"ab\ncd\r\n123456\nlater\n")
    assert info.value.items == [b"ab\ncd\n"]
    assert str(info.value) == "line of 6 bytes is longer than the limit of 4 bytes"
    splitter = LineSplitter(4)
    with pytest.raises(LimitExceeded) as info:
        splitter.feed_joined(b"12345")
    assert info.value.items == [b""]
    assert str(info.value) == "line longer than 4 bytes (no line end after 5 bytes)"
    splitter = LineSplitter(4)
    with pytest.raises(LimitExceeded) as info:
        splitter.feed_joined(b"ab\n12345")
    assert info.value.items == [b"ab\n"]


def test_feed_joined_of_nothing_is_nothing() -> None:
    splitter = LineSplitter(4)
    assert splitter.feed_joined(b"") == b""
    assert splitter.feed_joined(b"a\r") == b"a\n"
    assert splitter.feed_joined(b"\n") == b""
    assert splitter.feed_joined(b"") == b""


def test_failed_splitter_says_why() -> None:
    splitter = LineSplitter(2)
    with pytest.raises(LimitExceeded):
        splitter.feed(b"abc")
    message = "the line splitter failed earlier; start a new one"
    with pytest.raises(LocalProtocolError) as info:
        splitter.feed(b"a")
    assert str(info.value) == message
    with pytest.raises(LocalProtocolError) as info:
        splitter.close()
    assert str(info.value) == message


def test_rejects_nonsense_limit_saying_why() -> None:
    with pytest.raises(ValueError) as info:
        LineSplitter(-3)
    assert str(info.value) == "max_line_size must be at least 1"


def test_fragments_merge_in_groups_of_512_exactly() -> None:
    fragments = Fragments()
    for round_ in range(2):  # and the same after a join has emptied the buffer
        for _ in range(100_000):
            fragments.append(b"x")
        # Every 512 fresh pieces become one merged group; the rest stay single.
        assert len(fragments._parts) == 100_000 // 512 + 100_000 % 512, round_
        assert fragments.join() == b"x" * 100_000
    # 1,024 pieces are exactly two groups; 1,535 are two groups and 511 single pieces.
    for n, parts in ((1024, 2), (1535, 2 + 511)):
        fragments = Fragments()  # fresh: the count must not depend on a past clear()
        for _ in range(n):
            fragments.append(b"w")
        assert len(fragments._parts) == parts, n
        assert fragments.join() == b"w" * n
    for _ in range(511):
        fragments.append(b"y")
    assert len(fragments._parts) == 511
    fragments.append(b"y")
    assert len(fragments._parts) == 1
    fragments.clear()
    for _ in range(512):
        fragments.append(b"z")
    assert len(fragments._parts) == 1


# -- a strategy that reaches the boundaries: line lengths limit - 1, limit, limit + 1 --------


@st.composite
def near_limit_streams(draw: st.DrawFn) -> tuple[int, bytes]:
    limit = draw(st.integers(1, 12))
    body = st.binary(min_size=0, max_size=limit + 1).map(
        lambda b: b.replace(b"\r", b"a").replace(b"\n", b"b")
    )
    sizes = st.sampled_from([limit - 1, limit, limit, limit + 1, limit + 1, 0, 1])
    parts = []
    for _ in range(draw(st.integers(0, 6))):
        size = max(draw(sizes), 0)
        text = (draw(body) + b"z" * size)[:size]
        parts.append(text + draw(st.sampled_from([b"\n", b"\r", b"\r\n"])))
    if draw(st.booleans()):
        size = max(draw(sizes), 0)
        parts.append(b"t" * size)  # an unterminated final line near the limit
    return limit, b"".join(parts)


@given(near_limit_streams(), st.lists(st.integers(0, 120), max_size=8))
def test_near_limit_lines_match_the_definition_any_split(
    case: tuple[int, bytes], cuts: list[int]
) -> None:
    limit, stream = case
    lines, rest = reference_lines(stream)
    too_long = [i for i, line in enumerate(lines) if len(line) > limit]
    if too_long:
        expected: tuple[list[bytes], bool] = (lines[: too_long[0]], True)
    elif len(rest) > limit:
        expected = (lines, True)
    else:
        expected = (lines + ([rest] if rest else []), False)
    for chunks in ([stream], byte_by_byte(stream), splits_at(stream, cuts)):
        got, message = outcome(chunks, limit)
        assert (got, message is not None) == expected
