"""callhead's packed head: what a call keeps of the response headers while its body
streams, and gives back exactly."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from libchatty.callhead import pack_head, unpack_head

pairs = st.lists(st.tuples(st.binary(max_size=12), st.binary(max_size=20)), max_size=8)


@given(pairs)
def test_a_packed_head_unpacks_to_the_pairs_it_was(raw: list[tuple[bytes, bytes]]) -> None:
    assert unpack_head(pack_head(raw)) == raw


def test_an_ordinary_head_is_one_bytes_object() -> None:
    raw = [(b"content-type", b"text/event-stream"), (b"x-request-id", b"req_1"), (b"a", b"")]
    assert pack_head(raw) == b"content-type:text/event-stream\nx-request-id:req_1\na:"
    assert pack_head([(b"", b"")]) == b":"
    assert unpack_head(b":") == [(b"", b"")]
    assert unpack_head(b"") == []


def test_value_colons_pack_and_names_with_colons_or_line_ends_stay_pairs() -> None:
    assert pack_head([(b"date", b"Mon, 30 Nov 2026 10:00:00 GMT")]) == (
        b"date:Mon, 30 Nov 2026 10:00:00 GMT"
    )
    for raw in ([(b"a:b", b"c")], [(b"a", b"b\nc")], [(b"a\n", b"b")], []):
        assert pack_head(raw) is raw
