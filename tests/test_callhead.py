"""callhead's packed head: what a call keeps of the response headers while its body
streams, and gives back exactly."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from libchatty.callhead import header_pairs, pack_head, unpack_head, visible_headers

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


def test_header_value_reads_one_header_of_a_packed_head() -> None:
    from libchatty.callhead import header_value

    raw = [
        (b"Content-Type", b"text/event-stream; charset=utf-8"),
        (b"x-content-type", b"not this one"),
        (b"content-type", b"application/json"),
        (b"X-Request-Id", b""),
    ]
    for head in (pack_head(raw), raw):  # packed, and the pairs a stack's odd head stays
        assert header_value(head, b"content-type") == b"text/event-stream; charset=utf-8"
        assert header_value(head, b"x-request-id") == b""  # the last line: no line end
        assert header_value(head, b"retry-after") is None
        assert header_value(head, b"type") is None  # only a whole name matches
    assert header_value(pack_head([(b"a:b", b"c")]), b"a") is None  # kept as pairs
    assert header_value(b"", b"content-type") is None


@given(pairs, st.binary(max_size=12).filter(lambda name: b":" not in name and b"\n" not in name))
def test_header_value_is_the_first_pair_of_that_name(
    raw: list[tuple[bytes, bytes]], name: bytes
) -> None:
    from libchatty.callhead import header_value

    name = name.lower()
    raw = [*raw, (name.upper(), b"given")] if raw else raw
    expected = next((value for key, value in raw if key.lower() == name), None)
    assert header_value(pack_head(raw), name) == expected


def test_header_pairs_reads_bytes_pairs_as_they_are() -> None:
    from libchatty.callhead import header_pairs

    raw = ((b"Content-Type", b"text/event-stream"), (b"Transfer-Encoding", b"chunked"))
    assert header_pairs(raw) == [(b"content-type", b"text/event-stream")]
    assert header_pairs([(b"X-A", "caf\u00e9")]) == [(b"x-a", b"caf\xe9")]


def test_visible_headers_answer_the_same_once_a_name_is_known() -> None:
    from libchatty import callhead
    from libchatty.redact import Redactor

    redact = Redactor(["sk-proj-Abc123Def456Ghi789Jkl0"])
    raw = [
        (b"Content-Length", b"9"),
        (b"Set-Cookie", b"session=1"),
        (b"X-Api-Key", b"k"),
        (b"x-ratelimit-remaining-tokens", b"99"),
        (b"X-Request-Id", b"req_1"),
    ]
    shown = (("x-ratelimit-remaining-tokens", "99"), ("x-request-id", "req_1"))
    assert callhead.visible_headers(raw, redact) == shown
    assert callhead.visible_headers(raw, redact) == shown  # from the names it knows now
    # A server that invents names fills the bounded table; then names are read afresh.
    invented = [(f"x-made-up-{i}".encode(), b"v") for i in range(callhead._MAX_SHOWN_NAMES + 5)]
    assert len(callhead.visible_headers(invented + raw, redact)) == len(invented) + 2
    assert len(callhead._SHOWN_NAMES) <= callhead._MAX_SHOWN_NAMES
    assert callhead.visible_headers([(b"X-Late-Secret-Token", b"t"), *raw], redact) == shown


# --- pinned by mutation testing (mutate/run.py callhead) -------------------------------------
def test_header_pairs_from_any_iterable_of_pairs() -> None:
    pairs = iter([("Content-Type", "text/event-stream"), (b"X-Id", bytearray(b"r1"))])
    assert header_pairs(pairs) == [(b"content-type", b"text/event-stream"), (b"x-id", b"r1")]
    assert header_pairs(p for p in [(b"A", b"1")]) == [(b"a", b"1")]


def test_shown_names_are_remembered_and_rate_limits_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    from libchatty import callhead
    from libchatty.redact import Redactor

    monkeypatch.setattr(callhead, "_SHOWN_NAMES", {})
    head = [
        (b"X-RateLimit-Remaining-Tokens", b"99"),
        (b"X-Auth-Token", b"t"),
        (b"X-Request-Id", b"r1"),
    ]
    want = (("x-ratelimit-remaining-tokens", "99"), ("x-request-id", "r1"))
    assert visible_headers(head, Redactor(())) == want
    assert callhead._SHOWN_NAMES == {
        b"X-RateLimit-Remaining-Tokens": "x-ratelimit-remaining-tokens",
        b"X-Auth-Token": None,
        b"X-Request-Id": "x-request-id",
    }
    assert visible_headers(head, Redactor(())) == want  # from the table the second time


_ID_NAMES = st.sampled_from(
    [b"x-request-id", b"X-Request-Id", b"request-id", b"Request-ID", b"x-amzn-requestid",
     b"apim-request-id", b"xx-request-id", b"request-idx", b"content-type"]
)  # fmt: skip
_ID_VALUES = st.sampled_from([b"", b"  ", b"req-1", b" req-2 ", b"REQ-3", b"\xe9"])


@given(st.lists(st.tuples(_ID_NAMES, _ID_VALUES), max_size=8))
def test_the_request_id_of_a_packed_head_is_the_one_of_its_pairs(
    raw: list[tuple[bytes, bytes]],
) -> None:
    from libchatty.callhead import head_request_id, request_id

    assert head_request_id(pack_head(raw)) == request_id(raw)


def test_the_request_id_of_a_packed_head_skips_blank_values_and_keeps_priority() -> None:
    from libchatty.callhead import head_request_id

    head = [(b"request-id", b"second"), (b"X-Request-Id", b" "), (b"x-request-id", b"first ")]
    assert head_request_id(pack_head(head)) == "first"  # the blank one did not count
    assert head_request_id(pack_head(head[:2])) == "second"  # x-request-id is only blank
    assert head_request_id(pack_head([(b"a:b", b"c"), (b"request-id", b"r")])) == "r"  # pairs
    assert head_request_id(pack_head([(b"x-request-ids", b"no")])) is None
    assert head_request_id(b"") is None
