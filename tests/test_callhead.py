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


def test_visible_headers_redact_only_when_a_value_holds_a_secret() -> None:
    from libchatty.callhead import visible_headers
    from libchatty.redact import MARKER, Redactor

    key = "sk-proj-Abc123Def456Ghi789Jkl0"
    redact = Redactor([key])
    clean = [(b"Content-Type", b"text/event-stream"), (b"x-request-id", b"req_1")]
    assert visible_headers(clean, redact) == (
        ("content-type", "text/event-stream"),
        ("x-request-id", "req_1"),
    )
    echoed = [*clean, (b"x-echo", f"got {key[3:15]} ok".encode())]
    assert visible_headers(echoed, redact)[-1] == ("x-echo", f"got {MARKER} ok")
    assert visible_headers(echoed, redact)[:2] == visible_headers(clean, redact)
    # A secret that the one scan finds across two values is in neither (each side is
    # shorter than a fragment): each value is then redacted alone, and both stay.
    split = [(b"a", b"abcdef"), (b"b", b"ghijkl")]
    assert visible_headers(split, Redactor(["abcdef\nghijkl"])) == (
        ("a", "abcdef"),
        ("b", "ghijkl"),
    )
