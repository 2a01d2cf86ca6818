"""Content-Encoding: gzip and deflate (zlib-wrapped and raw) inflated incrementally, at any
split, bounded; anything else refused by name."""

from __future__ import annotations

import gzip
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st
from wire import cut_at

from libchatty.contentcoding import (
    ContentDecoder,
    UnsupportedEncoding,
    content_decoder,
)
from libchatty.exceptions import LimitExceeded, RemoteProtocolError

TEXT = b"data: {\"choices\":[{\"delta\":{\"content\":\"caf\xc3\xa9\"}}]}\n\n" * 200


def compress(data: bytes, how: str) -> bytes:
    """``data`` compressed by the standard library, independently of the code under test."""
    if how == "gzip":
        return gzip.compress(data)
    wbits = {"zlib": zlib.MAX_WBITS, "raw": -zlib.MAX_WBITS}[how]
    packer = zlib.compressobj(6, zlib.DEFLATED, wbits)
    return packer.compress(data) + packer.flush()


def coding_of(how: str) -> str:
    return "gzip" if how == "gzip" else "deflate"


def decode(coding: str, pieces: list[bytes], max_size: int = 1 << 30, step: int = 1024) -> bytes:
    decoder = ContentDecoder(coding, max_size, step)
    out = b"".join(piece for data in pieces for piece in decoder.feed(data))
    decoder.close()
    return out


WAYS = ("gzip", "zlib", "raw")


# --- choosing a decoder --------------------------------------------------------------------------


@pytest.mark.parametrize("header", [None, b"identity", b"Identity", b" identity , identity", b""])
def test_identity_is_no_decoder(header: bytes | None) -> None:
    assert content_decoder(header, 100) is None


@pytest.mark.parametrize(
    ("header", "coding"),
    [(b"gzip", "gzip"), (b"GZIP", "gzip"), (b"x-gzip", "gzip"), (b"deflate", "deflate"),
     (b"identity, gzip", "gzip")],
)
def test_supported_codings(header: bytes, coding: str) -> None:
    decoder = content_decoder(header, 100)
    assert decoder is not None and decoder.coding == coding


@pytest.mark.parametrize(
    ("header", "named"),
    [
        (b"br", "br"),
        (b"zstd", "zstd"),
        (b"compress", "compress"),
        (b"x-foo", "x-foo"),
        (b"gzip, br", "gzip, br"),
        (b"gzip, gzip", "gzip, gzip"),
        (b"\xff\x00gzip", "<unreadable>"),
    ],
)
def test_unsupported_codings_are_named(header: bytes, named: str) -> None:
    with pytest.raises(UnsupportedEncoding) as info:
        content_decoder(header, 100)
    assert info.value.coding == named
    assert str(info.value) == (
        f"the response body uses Content-Encoding {named!r}, which libchatty does not decode "
        "(only gzip and deflate)"
    )
    assert isinstance(info.value, RemoteProtocolError)


# --- decoding ----------------------------------------------------------------------------------


@pytest.mark.parametrize("how", WAYS)
def test_whole_and_byte_by_byte(how: str) -> None:
    packed = compress(TEXT, how)
    assert decode(coding_of(how), [packed]) == TEXT
    assert decode(coding_of(how), [packed[i : i + 1] for i in range(len(packed))]) == TEXT


@given(st.sampled_from(WAYS), st.binary(max_size=3000), st.lists(st.integers(0, 10**6)),
       st.integers(1, 700))
def test_any_split_gives_the_original(how: str, data: bytes, cuts: list[int], step: int) -> None:
    packed = compress(data, how)
    assert decode(coding_of(how), cut_at(packed, cuts), step=step) == data


@given(st.lists(st.binary(max_size=300), min_size=2, max_size=4), st.lists(st.integers(0, 10**6)))
def test_gzip_members_are_decoded_in_turn(members: list[bytes], cuts: list[int]) -> None:
    packed = b"".join(gzip.compress(m) for m in members)
    assert decode("gzip", cut_at(packed, cuts)) == b"".join(members)


def test_pieces_are_at_most_one_step() -> None:
    decoder = ContentDecoder("gzip", 1 << 20, step=100)
    pieces = list(decoder.feed(gzip.compress(bytes(5000))))
    assert [len(p) for p in pieces] == [100] * 50
    decoder.close()
    assert decoder.size == 5000


def test_empty_body_is_fine_and_empty_reads_are_nothing() -> None:
    decoder = ContentDecoder("deflate", 10)
    assert list(decoder.feed(b"")) == []
    decoder.close()


# --- bounds -------------------------------------------------------------------------------------


@pytest.mark.parametrize("how", WAYS)
def test_exactly_the_limit_decodes(how: str) -> None:
    data = bytes(range(256)) * 40  # 10240 bytes
    assert decode(coding_of(how), [compress(data, how)], max_size=len(data)) == data


@pytest.mark.parametrize("how", WAYS)
def test_one_past_the_limit_is_a_limit_error(how: str) -> None:
    data = bytes(range(256)) * 40
    with pytest.raises(LimitExceeded) as info:
        decode(coding_of(how), [compress(data, how)], max_size=len(data) - 1)
    assert str(info.value) == f"the decoded response body exceeds {len(data) - 1} bytes"


def test_a_bomb_never_inflates_past_the_bound() -> None:
    bomb = gzip.compress(bytes(50 * 1024 * 1024))  # 50 MiB of zeros in ~50 KiB
    decoder = ContentDecoder("gzip", 1024 * 1024, step=64 * 1024)
    got = 0
    with pytest.raises(LimitExceeded):
        for piece in decoder.feed(bomb):
            assert len(piece) <= 64 * 1024
            got += len(piece)
    # What was handed out (plus the one-byte probe that proved the excess) is the bound.
    assert got == 1024 * 1024
    assert decoder.size == 1024 * 1024 + 1


# --- broken data --------------------------------------------------------------------------------


@pytest.mark.parametrize("how", WAYS)
def test_truncated_data_is_an_error_at_close(how: str) -> None:
    packed = compress(TEXT, how)
    decoder = ContentDecoder(coding_of(how), 1 << 20)
    b"".join(decoder.feed(packed[:-5]))
    with pytest.raises(RemoteProtocolError) as info:
        decoder.close()
    assert str(info.value) == f"the {coding_of(how)} body ends before its compressed data"


def test_a_single_deflate_byte_is_truncated() -> None:
    decoder = ContentDecoder("deflate", 100)
    assert list(decoder.feed(b"x")) == []
    with pytest.raises(RemoteProtocolError):
        decoder.close()


def test_corrupt_gzip_is_a_protocol_error_without_the_bytes() -> None:
    decoder = ContentDecoder("gzip", 1 << 20)
    with pytest.raises(RemoteProtocolError) as info:
        list(decoder.feed(b"data: not gzip at all\n\n"))
    assert str(info.value) == (
        "the gzip body is corrupt (Error -3 while decompressing data: incorrect header check)"
    )


def test_data_after_a_deflate_stream_is_an_error() -> None:
    decoder = ContentDecoder("deflate", 1 << 20)
    with pytest.raises(RemoteProtocolError) as info:
        list(decoder.feed(compress(b"abc", "zlib") + b"junk"))
    assert str(info.value) == "the deflate body has data after its end"


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        ContentDecoder("br", 10)
    with pytest.raises(ValueError):
        ContentDecoder("gzip", 10, step=0)


# --- pinned by mutation testing (mutate/run.py contentcoding) --------------------------------


def test_content_decoder_passes_its_bound_and_step_on() -> None:
    packed = gzip.compress(b"x" * 35)
    decoder = content_decoder(b"gzip", 35, step=10)
    assert decoder is not None
    assert [len(piece) for piece in decoder.feed(packed)] == [10, 10, 10, 5]
    decoder = content_decoder(b"gzip", 34, step=10)
    assert decoder is not None
    with pytest.raises(LimitExceeded) as past:
        list(decoder.feed(packed))
    assert str(past.value) == "the decoded response body exceeds 34 bytes"


@pytest.mark.parametrize(
    ("first", "zlib_header"),
    [
        (b"\x78\x9c", True),  # zlib's defaults
        (b"\x78\x01", True),
        (b"\x78\xda", True),
        (b"\x08\x1d", True),  # the smallest window
        (b"\x78\x00", False),  # check bits wrong
        (b"\x09\x15", False),  # method 9, check bits right
        (b"\x88\x1c", False),  # window 2**16 (too large), check bits right
        (b"\x88\x00", False),
    ],
)
def test_zlib_header_recognition(first: bytes, zlib_header: bool) -> None:
    from libchatty.contentcoding import _is_zlib_header

    assert _is_zlib_header(first) is zlib_header


def test_output_zlib_holds_after_the_last_input_byte_is_still_decoded() -> None:
    # Raw deflate of 22 "a": its last byte carries a long match. Decoded one byte at a
    # time, the input is used up while most of the match is still inside zlib: a full
    # piece with no input left means "ask again", not "done".
    packer = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    packed = packer.compress(b"a" * 22) + packer.flush()
    decoder = ContentDecoder("deflate", 100, step=1)
    assert b"".join(decoder.feed(packed)) == b"a" * 22
    decoder.close()


def test_bad_arguments_are_named_and_zero_is_a_bound() -> None:
    with pytest.raises(ValueError) as unknown:
        ContentDecoder("br", 10)
    assert str(unknown.value) == "unknown coding 'br'"
    for max_size, step in ((-1, 1), (10, 0)):
        with pytest.raises(ValueError) as bad:
            ContentDecoder("gzip", max_size, step=step)
        assert str(bad.value) == "max_size must be >= 0 and step >= 1"
    # max_size 0 (only an empty body) and step 1 are the smallest allowed.
    empty = ContentDecoder("gzip", 0, step=1)
    assert list(empty.feed(gzip.compress(b""))) == []
    empty.close()
