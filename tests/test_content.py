"""Content parts: every accepted form with its exact normalised value, every refused form
with its exact message (never quoting a URL or data), base64 encoded exactly once, media
types sniffed from magic numbers, data: URLs taken apart without decoding."""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from libchatty import content
from libchatty.content import AudioPart, DocumentPart, ImagePart, TextPart, as_part, data_url
from libchatty.request import ChatRequest, Message

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(20))
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(20))
GIF87 = b"GIF87a" + bytes(range(20))
GIF89 = b"GIF89a" + bytes(range(20))
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 " + bytes(range(20))
SECRET = "X-Amz-Signature=s3cr3tsig"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def message_of(make: Callable[[], object]) -> str:
    with pytest.raises(ValueError) as info:
        make()
    return str(info.value)


# --- TextPart -------------------------------------------------------------------------------


def test_text_part() -> None:
    assert TextPart("hi").text == "hi"
    assert TextPart("") == TextPart("")
    assert message_of(lambda: TextPart(3)) == "TextPart.text must be a str, not int"  # type: ignore[arg-type]


# --- ImagePart from bytes: sniffing ---------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "media_type"),
    [
        (PNG, "image/png"),
        (JPEG, "image/jpeg"),
        (GIF87, "image/gif"),
        (GIF89, "image/gif"),
        (WEBP, "image/webp"),
        (b"\xff\xd8\xff", "image/jpeg"),  # the magic number alone is enough
        (b"RIFF\x00\x00\x00\x00WEBP", "image/webp"),  # exactly the 12 bytes WebP needs
    ],
)
def test_media_type_is_sniffed_from_the_bytes(data: bytes, media_type: str) -> None:
    part = ImagePart(data)
    assert part.media_type == media_type
    assert part.data == data
    assert part.url is None
    assert part.base64 == b64(data)


@pytest.mark.parametrize(
    "data",
    [
        b"not an image",
        PNG[:7],  # one byte short of the PNG signature
        b"\xff\xd8",  # one byte short of JPEG's
        b"GIF88a" + bytes(10),
        b"RIFF\x00\x00\x00\x00WEBX",
        b"RIFF\x00\x00\x00\x00WEB",  # one byte short of WebP's
        b"\x00\x00\x00\x18ftypheic",  # HEIC: real, but not sniffed
    ],
)
def test_unknown_bytes_need_a_media_type(data: bytes) -> None:
    assert message_of(lambda: ImagePart(data)) == (
        "ImagePart.media_type is needed: the bytes are not PNG, JPEG, GIF or WebP"
    )
    part = ImagePart(data, media_type="image/heic")
    assert (part.media_type, part.base64) == ("image/heic", b64(data))


def test_given_media_type_is_normalised_and_checked_against_the_bytes() -> None:
    assert ImagePart(JPEG, media_type="image/jpg").media_type == "image/jpeg"
    assert ImagePart(PNG, media_type=" IMAGE/PNG ").media_type == "image/png"
    assert ImagePart(PNG, media_type="image/png").media_type == "image/png"
    assert message_of(lambda: ImagePart(PNG, media_type="image/jpeg")) == (
        "ImagePart.data holds image/png bytes, not image/jpeg"
    )
    assert message_of(lambda: ImagePart(WEBP, media_type="image/gif")) == (
        "ImagePart.data holds image/webp bytes, not image/gif"
    )


@pytest.mark.parametrize(
    ("media_type", "message"),
    [
        ("png", "ImagePart.media_type must be a MIME type such as 'image/png', without parameters"),
        (
            "image/png; q=1",
            "ImagePart.media_type must be a MIME type such as 'image/png', without parameters",
        ),
        (
            "image/",
            "ImagePart.media_type must be a MIME type such as 'image/png', without parameters",
        ),
        ("application/pdf", "ImagePart.media_type must be an image/... type"),
        (3, "ImagePart.media_type must be a str, not int"),
    ],
)
def test_bad_image_media_types(media_type: object, message: str) -> None:
    assert message_of(lambda: ImagePart(PNG, media_type=media_type)) == message  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "ImagePart needs exactly one of data= or url="),
        (
            {"data": PNG, "url": "https://x.test/a.png"},
            "ImagePart needs exactly one of data= or url=",
        ),
        ({"data": "iVBOR"}, "ImagePart.data must be bytes, not str"),
        ({"data": b""}, "ImagePart.data is empty"),
        (
            {"data": PNG, "detail": "ultra"},
            "ImagePart.detail must be one of ['auto', 'high', 'low'] or None",
        ),
        (
            {"data": PNG, "detail": ["low"]},
            "ImagePart.detail must be one of ['auto', 'high', 'low'] or None",
        ),
    ],
)
def test_bad_image_parts(kwargs: dict[str, Any], message: str) -> None:
    assert message_of(lambda: ImagePart(**kwargs)) == message


def test_bytes_like_data_becomes_bytes() -> None:
    for data in (bytearray(PNG), memoryview(PNG)):
        part = ImagePart(data)  # type: ignore[arg-type]
        assert type(part.data) is bytes
        assert part.data == PNG
    assert ImagePart(PNG, detail="low").detail == "low"


# --- ImagePart from a URL -------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://example.test/cat.png",
        "http://example.test/cat",
        "HTTPS://example.test/x",
        "gs://bucket/cat.png",
        "s3://bucket/cat.png",
    ],
)
def test_remote_urls_are_kept(url: str) -> None:
    part = ImagePart(url=url)
    assert (part.url, part.data, part.base64, part.media_type) == (url, None, None, None)
    assert ImagePart(url=url, media_type="image/png").media_type == "image/png"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (
            "ftp://example.test/a?" + SECRET,
            "ImagePart.url must be an http(s):// or data: URL (or gs://, s3://)",
        ),
        ("https://", "ImagePart.url must be an http(s):// or data: URL (or gs://, s3://)"),
        (
            "example.test/a.png?" + SECRET,
            "ImagePart.url must be an http(s):// or data: URL (or gs://, s3://)",
        ),
        ("", "ImagePart.url must be an http(s):// or data: URL (or gs://, s3://)"),
        (5, "ImagePart.url must be a str, not int"),
    ],
)
def test_bad_urls_are_refused_without_quoting_them(url: object, message: str) -> None:
    assert message_of(lambda: ImagePart(url=url)) == message  # type: ignore[arg-type]


# --- data: URLs -----------------------------------------------------------------------------


def test_a_data_url_keeps_its_media_type_and_base64() -> None:
    payload = b64(PNG)
    url = f"data:image/png;base64,{payload}"
    part = ImagePart(url=url)
    assert (part.url, part.data, part.media_type, part.base64) == (url, None, "image/png", payload)
    assert ImagePart(url=f"DATA:IMAGE/PNG;BASE64,{payload}").media_type == "image/png"
    assert ImagePart(url=f"data:image/png;name=cat.png;base64,{payload}").base64 == payload
    assert ImagePart(url=url, media_type="image/png").media_type == "image/png"
    heic = b"\x00\x00\x00\x18ftypheic"
    assert ImagePart(url=f"data:image/heic;base64,{b64(heic)}").media_type == "image/heic"


def test_a_data_url_is_never_decoded_whole_nor_encoded(monkeypatch: pytest.MonkeyPatch) -> None:
    decoded: list[int] = []
    monkeypatch.setattr(
        content, "_unb64", lambda text: decoded.append(len(text)) or base64.b64decode(text)
    )
    monkeypatch.setattr(
        content, "_b64", lambda data: pytest.fail("a data: URL must not be re-encoded")
    )
    big = PNG + bytes(300_000)
    part = ImagePart(url=data_url("image/png", b64(big)))
    assert part.base64 == b64(big)
    assert decoded == [16]  # only the head, to sniff the type


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (
            "data:image/png," + b64(PNG),
            "ImagePart.url is a data: URL without ';base64,': only base64 is supported",
        ),
        (
            "data:image/png;base64" + b64(PNG),
            "ImagePart.url is a data: URL without ';base64,': only base64 is supported",
        ),
        (
            "data:image/png;base64;x=1," + b64(PNG),
            "ImagePart.url is a data: URL without ';base64,': only base64 is supported",
        ),
        ("data:;base64," + b64(PNG), "ImagePart.url is a data: URL without a media type"),
        (
            "data:base64," + b64(PNG),
            "ImagePart.url is a data: URL without ';base64,': only base64 is supported",
        ),
        (
            "data:png;base64," + b64(PNG),
            "the media type of ImagePart.url must be a MIME type such as 'image/png', "
            "without parameters",
        ),
        (
            "data:image/png;base64,",
            "ImagePart.url is a data: URL whose payload is not valid base64",
        ),
        (
            "data:image/png;base64,abc",
            "ImagePart.url is a data: URL whose payload is not valid base64",
        ),
        (
            "data:image/png;base64,ab!d",
            "ImagePart.url is a data: URL whose payload is not valid base64",
        ),
        (
            "data:image/png;base64,a===",
            "ImagePart.url is a data: URL whose payload is not valid base64",
        ),
        (
            "data:image/png;base64,ab=d",
            "ImagePart.url is a data: URL whose payload is not valid base64",
        ),
        (
            "data:image/png;base64,ab-_",
            "ImagePart.url is a data: URL whose payload is not valid base64",
        ),
        (
            "data:image/png;base64,iVBO Rw==",
            "ImagePart.url is a data: URL whose payload is not valid base64",
        ),
        (
            "data:application/pdf;base64,JVBERi0=",
            "ImagePart.url is a data: URL whose media type is not image/...",
        ),
        (
            "data:image/jpeg;base64," + b64(PNG),
            "ImagePart.url holds image/png bytes, not image/jpeg",
        ),
    ],
)
def test_bad_data_urls(url: str, message: str) -> None:
    text = message_of(lambda: ImagePart(url=url))
    assert text == message
    assert b64(PNG)[:8] not in text


def test_a_data_url_contradicting_the_given_media_type() -> None:
    url = data_url("image/png", b64(PNG))
    assert message_of(lambda: ImagePart(url=url, media_type="image/gif")) == (
        "ImagePart.media_type 'image/gif' contradicts the data: URL's 'image/png'"
    )


# --- base64 exactly once --------------------------------------------------------------------


def test_bytes_are_encoded_once_across_messages_requests_and_retries(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[int] = []
    real = content._b64

    def counting(data: bytes) -> str:
        calls.append(len(data))
        return real(data)

    monkeypatch.setattr(content, "_b64", counting)
    part = ImagePart(PNG)
    message = Message("user", ["what is this?", part])
    request = ChatRequest("m", [message])
    again = dataclasses.replace(request, stream=False)
    renamed = dataclasses.replace(message, name="me")
    assert calls == [len(PNG)]
    assert again.messages[0].content[1] is part  # type: ignore[index]
    assert again.messages[0].parts[1].base64 is part.base64  # type: ignore[union-attr]
    assert renamed.parts[1] is part
    assert as_part(part) is part


def test_replacing_a_field_of_a_data_url_part_keeps_it_inline() -> None:
    part = ImagePart(url=data_url("image/png", b64(PNG)))
    low = dataclasses.replace(part, detail="low")
    assert (low.detail, low.base64, low.media_type) == ("low", part.base64, "image/png")


def test_equality_sees_the_content() -> None:
    one = ImagePart(url=data_url("image/png", b64(PNG)))
    other = ImagePart(url=data_url("image/png", b64(PNG + b"x")))
    assert one != other
    assert one == ImagePart(url=data_url("image/png", b64(PNG)))
    assert ImagePart(PNG) != ImagePart(PNG + b"x")
    assert hash(ImagePart(PNG)) == hash(ImagePart(PNG))


# --- round trips (hypothesis) ---------------------------------------------------------------

MAGIC = st.sampled_from(
    [
        (b"\x89PNG\r\n\x1a\n", "image/png"),
        (b"\xff\xd8\xff", "image/jpeg"),
        (b"GIF87a", "image/gif"),
        (b"GIF89a", "image/gif"),
        (b"RIFF\x00\x00\x00\x00WEBP", "image/webp"),
    ]
)


@given(MAGIC, st.binary(max_size=300))
def test_any_sniffable_bytes_round_trip(magic: tuple[bytes, str], tail: bytes) -> None:
    data = magic[0] + tail
    part = ImagePart(data)
    assert part.media_type == magic[1]
    assert base64.b64decode(part.base64 or "", validate=True) == data
    inline = ImagePart(url=data_url(magic[1], part.base64 or ""))
    assert (inline.base64, inline.media_type) == (part.base64, magic[1])


@given(st.binary(max_size=300))
def test_any_bytes_round_trip_with_a_media_type(tail: bytes) -> None:
    data = b"\x00" + tail  # no sniffed format starts with NUL
    part = ImagePart(data, media_type="image/avif")
    assert base64.b64decode(part.base64 or "", validate=True) == data
    assert ImagePart(url=data_url("image/avif", part.base64 or "")).base64 == part.base64
    document = DocumentPart(data)
    assert base64.b64decode(document.base64 or "", validate=True) == data
    audio = AudioPart(data, "audio/wav")
    assert base64.b64decode(audio.base64 or "", validate=True) == data


@given(st.binary(min_size=1, max_size=200))
def test_every_encoded_payload_passes_the_base64_check(data: bytes) -> None:
    assert content._is_base64(b64(data))
    assert not content._is_base64(b64(data).rstrip("=") + "===")


# --- repr: no data, no secret --------------------------------------------------------------


def test_reprs_show_neither_data_nor_url_secrets() -> None:
    assert (
        repr(ImagePart(PNG))
        == f"ImagePart(data=<{len(PNG)} bytes>, media_type='image/png', detail=None)"
    )
    assert repr(ImagePart(url="https://x.test/a.png?" + SECRET, detail="low")) == (
        "ImagePart(url='https://x.test/a.png?X-Amz-Signature=***', media_type=None, detail='low')"
    )
    url = data_url("image/png", b64(PNG))
    assert repr(ImagePart(url=url)) == (
        f"ImagePart(url=<data: URL, {len(url)} characters>, media_type='image/png', detail=None)"
    )
    assert repr(DocumentPart(b"%PDF-1.7", name="a.pdf")) == (
        "DocumentPart(data=<8 bytes>, media_type='application/pdf', name='a.pdf')"
    )
    assert repr(AudioPart(b"RIFF1234", "audio/wav")) == (
        "AudioPart(data=<8 bytes>, media_type='audio/wav')"
    )
    request = ChatRequest("m", [Message("user", [ImagePart(url="https://x.test/i?" + SECRET)])])
    assert "s3cr3tsig" not in repr(request)


# --- DocumentPart ---------------------------------------------------------------------------


def test_document_parts() -> None:
    pdf = DocumentPart(b"%PDF-1.7 ...", name="report.pdf")
    assert (pdf.media_type, pdf.name, pdf.base64) == (
        "application/pdf",
        "report.pdf",
        b64(b"%PDF-1.7 ..."),
    )
    text = DocumentPart(b"hello", media_type="Text/Plain")
    assert text.media_type == "text/plain"
    remote = DocumentPart(url="https://x.test/a.pdf")
    assert (remote.url, remote.base64, remote.media_type) == (
        "https://x.test/a.pdf",
        None,
        "application/pdf",
    )
    inline = DocumentPart(url="data:text/plain;base64,aGk=")
    assert (inline.media_type, inline.base64, inline.data) == ("text/plain", "aGk=", None)
    same = DocumentPart(url="data:text/plain;base64,aGk=", media_type="text/plain")
    assert same == inline


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "DocumentPart needs exactly one of data= or url="),
        ({"data": b""}, "DocumentPart.data is empty"),
        ({"data": "text"}, "DocumentPart.data must be bytes, not str"),
        (
            {"data": b"x", "media_type": "pdf"},
            "DocumentPart.media_type must be a MIME type such as 'image/png', without parameters",
        ),
        ({"data": b"x", "name": ""}, "DocumentPart.name must be a non-empty str or None"),
        ({"data": b"x", "name": 3}, "DocumentPart.name must be a non-empty str or None"),
        (
            {"url": "file:///etc/passwd"},
            "DocumentPart.url must be an http(s):// or data: URL (or gs://, s3://)",
        ),
        (
            {"url": "data:text/plain;base64,aGk=", "media_type": "text/csv"},
            "DocumentPart.media_type 'text/csv' contradicts the data: URL's 'text/plain'",
        ),
        (
            {"url": "data:text/plain;base64,aGk"},
            "DocumentPart.url is a data: URL whose payload is not valid base64",
        ),
    ],
)
def test_bad_document_parts(kwargs: dict[str, Any], message: str) -> None:
    assert message_of(lambda: DocumentPart(**kwargs)) == message


# --- AudioPart ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("media_type", "fmt"),
    [
        ("audio/wav", "wav"),
        ("audio/x-wav", "wav"),
        ("audio/wave", "wav"),
        ("audio/mpeg", "mp3"),
        ("audio/mp3", "mp3"),
        ("audio/flac", "flac"),
        ("AUDIO/OGG", "ogg"),
    ],
)
def test_audio_format(media_type: str, fmt: str) -> None:
    part = AudioPart(b"RIFF", media_type)
    assert (part.format, part.media_type, part.base64) == (fmt, media_type.lower(), "UklGRg==")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((b"x", "video/mp4"), "AudioPart.media_type must be an audio/... type, e.g. 'audio/wav'"),
        (
            (b"x", "wav"),
            "AudioPart.media_type must be a MIME type such as 'image/png', without parameters",
        ),
        ((b"", "audio/wav"), "AudioPart.data is empty"),
        (("UklGRg==", "audio/wav"), "AudioPart.data must be bytes, not str"),
        ((None, "audio/wav"), "AudioPart.data must be bytes, not NoneType"),
    ],
)
def test_bad_audio_parts(args: tuple[Any, Any], message: str) -> None:
    assert message_of(lambda: AudioPart(*args)) == message


# --- as_part: OpenAI-style dicts ------------------------------------------------------------

NO_FILE_IDS = (
    " with a 'file_id' is not supported (file ids are not portable across providers): "
    "send file_data"
)
PNG_URL = data_url("image/png", b64(PNG))
PDF_URL = data_url("application/pdf", b64(b"%PDF-1.7"))


@pytest.mark.parametrize(
    ("given_part", "expected"),
    [
        ("plain", TextPart("plain")),
        ({"type": "text", "text": "hi"}, TextPart("hi")),
        ({"type": "input_text", "text": "hi"}, TextPart("hi")),
        (
            {"type": "image_url", "image_url": {"url": "https://x.test/a.png", "detail": "high"}},
            ImagePart(url="https://x.test/a.png", detail="high"),
        ),
        ({"type": "image_url", "image_url": {"url": PNG_URL}}, ImagePart(url=PNG_URL)),
        (
            {"type": "input_image", "image_url": "https://x.test/a.png", "detail": "auto"},
            ImagePart(url="https://x.test/a.png", detail="auto"),
        ),
        (
            {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}},
            AudioPart(b"RIFF", "audio/wav"),
        ),
        (
            {"type": "input_audio", "input_audio": {"data": "SUQz", "format": "mp3"}},
            AudioPart(b"ID3", "audio/mpeg"),
        ),
        (
            {"type": "file", "file": {"file_data": PDF_URL, "filename": "a.pdf"}},
            DocumentPart(url=PDF_URL, name="a.pdf"),
        ),
        (
            {"type": "file", "file": {"file_data": b64(b"%PDF-1.7")}},
            DocumentPart(url=PDF_URL),
        ),
        (
            {"type": "input_file", "file_data": "data:text/plain;base64,aGk=", "filename": "a.txt"},
            DocumentPart(url="data:text/plain;base64,aGk=", media_type="text/plain", name="a.txt"),
        ),
        (
            {"type": "input_file", "file_url": "https://x.test/a.pdf"},
            DocumentPart(url="https://x.test/a.pdf"),
        ),
    ],
)
def test_as_part_accepts(given_part: object, expected: object) -> None:
    assert as_part(given_part) == expected  # type: ignore[arg-type]


def test_as_part_keeps_part_objects() -> None:
    for part in (TextPart("x"), ImagePart(PNG), DocumentPart(b"x"), AudioPart(b"x", "audio/wav")):
        assert as_part(part) is part


@pytest.mark.parametrize(
    ("given_part", "message"),
    [
        (
            3,
            "a content part must be a str, TextPart, ImagePart, DocumentPart, AudioPart or a "
            "dict, not int",
        ),
        ({"type": "image", "source": {}}, "unknown content part type 'image'"),
        ({"text": "no type"}, "unknown content part type 'None'"),
        ({"type": "text"}, "a 'text' part needs a 'text' string"),
        ({"type": "input_text", "text": 3}, "an 'input_text' part needs a 'text' string"),
        (
            {"type": "text", "text": "x", "cache_control": {"type": "ephemeral"}},
            "a 'text' part has key 'cache_control', which is not supported",
        ),
        (
            {"type": "image_url", "image_url": "https://x.test/a.png"},
            "an 'image_url' part needs a 'image_url' object",
        ),
        (
            {"type": "image_url", "image_url": {"detail": "low"}},
            "an 'image_url' part needs a 'url' string",
        ),
        (
            {"type": "image_url", "image_url": {"url": "https://x.test/a", "size": 1}},
            "an 'image_url' part has key 'size', which is not supported",
        ),
        (
            {"type": "input_image", "file_id": "file-1"},
            "an 'input_image' part" + NO_FILE_IDS,
        ),
        ({"type": "input_image"}, "an 'input_image' part needs a 'image_url' string"),
        (
            {"type": "input_audio", "input_audio": {"data": "UklGRg=="}},
            "an 'input_audio' part needs a 'format' ('wav', 'mp3'...)",
        ),
        (
            {"type": "input_audio", "input_audio": {"data": "UklGR", "format": "wav"}},
            "an 'input_audio' part needs base64 'data'",
        ),
        (
            {"type": "input_audio", "input_audio": {"format": "wav"}},
            "an 'input_audio' part needs base64 'data'",
        ),
        (
            {"type": "file", "file": {"file_id": "file-1"}},
            "a 'file' part" + NO_FILE_IDS,
        ),
        ({"type": "file", "file": {"filename": "a.pdf"}}, "a 'file' part needs 'file_data'"),
        (
            {"type": "file", "file": {"file_data": "not base64!"}},
            "a 'file' part's 'file_data' must be a data: URL or base64",
        ),
        ({"type": "file", "file": {"file_data": 7}}, "a 'file' part's 'file_data' must be a str"),
        (
            {"type": "input_file", "filename": "a.pdf"},
            "an 'input_file' part needs 'file_data' or 'file_url'",
        ),
        (
            {"type": "input_file", "file_data": PDF_URL, "file_url": "https://x.test/a.pdf"},
            "an 'input_file' part needs one of 'file_data' and 'file_url'",
        ),
        (
            {"type": "input_file", "file_url": "ftp://x.test/a?" + SECRET},
            "DocumentPart.url must be an http(s):// or data: URL (or gs://, s3://)",
        ),
    ],
)
def test_as_part_refuses(given_part: object, message: str) -> None:
    assert message_of(lambda: as_part(given_part)) == message  # type: ignore[arg-type]
