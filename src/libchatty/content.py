"""Content parts: what a message carries besides plain text.

A :class:`~libchatty.request.Message`'s ``content`` is a ``str``, ``None``, or a sequence
of parts -- :class:`TextPart`, :class:`ImagePart`, :class:`DocumentPart`,
:class:`AudioPart` -- in one neutral form that each dialect renders the way its provider
documents. OpenAI-style dict parts (``{"type": "text", ...}``, ``{"type": "image_url",
...}``, ``{"type": "input_audio", ...}``, ``{"type": "file", ...}``) are accepted too and
turned into these by :func:`as_part`.

Binary data is base64-encoded once, when the part is built (``part.base64``): a retry or
a fallback request renders the same string again, it never re-encodes. A ``data:`` URL
given as ``url`` is taken apart into ``media_type`` and its base64 text (not decoded and
re-encoded). Invalid parts raise ``ValueError`` naming the field; neither a URL nor data
is ever quoted in a message (a signed URL carries a credential).
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

__all__ = [
    "AudioPart",
    "ContentPart",
    "DocumentPart",
    "ImagePart",
    "TextPart",
    "as_part",
    "data_url",
]

#: ``ImagePart.detail`` values (OpenAI's; other providers ignore it).
IMAGE_DETAILS: Final = frozenset({"low", "high", "auto"})

# Magic numbers of the image formats every provider takes, so ``ImagePart(data=...)``
# needs no media type for them.
_IMAGE_MAGIC: Final = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


# Standard base64 with padding (what every provider decodes); checked, never decoded.
_BASE64: Final = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")


def _is_base64(text: str) -> bool:
    return _BASE64.fullmatch(text) is not None


def _b64(data: bytes) -> str:
    return binascii.b2a_base64(data, newline=False).decode("ascii")


def _sniff_image(data: bytes) -> str | None:
    for magic, media_type in _IMAGE_MAGIC:
        if data.startswith(magic):
            return media_type
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def _split_data_url(url: str, what: str) -> tuple[str, str]:
    """``data:<media type>;base64,<payload>`` -> (media type, base64 payload)."""
    head, comma, payload = url[5:].partition(",")
    params = head.split(";")
    if not comma or "base64" not in params[1:]:
        raise ValueError(f"{what} is a data: URL without ';base64,': only base64 is supported")
    media_type = params[0].strip().lower()
    if not media_type or "/" not in media_type:
        raise ValueError(f"{what} is a data: URL without a media type")
    if not payload or not _is_base64(payload):
        raise ValueError(f"{what} is a data: URL whose payload is not valid base64")
    return media_type, payload


def _check_url(url: object, what: str) -> str:
    if not isinstance(url, str):
        raise ValueError(f"{what} must be a str, not {type(url).__name__}")
    scheme = url.partition(":")[0].lower()
    if scheme not in ("http", "https", "data", "gs", "s3"):
        raise ValueError(f"{what} must be an http(s):// or data: URL (or gs://, s3://)")
    return url


def data_url(media_type: str, base64: str) -> str:
    """A ``data:`` URL from a media type and base64 text (OpenAI's form for bytes)."""
    return f"data:{media_type};base64,{base64}"


@dataclass(frozen=True, slots=True)
class TextPart:
    """Plain text."""

    text: str

    def __post_init__(self) -> None:
        if not isinstance(self.text, str):
            raise ValueError(f"TextPart.text must be a str, not {type(self.text).__name__}")


class _Binary:
    """Shared checks of the parts that carry ``data`` bytes or a ``url``."""

    __slots__ = ()

    def _settle(self, what: str, data: object, url: object, media_type: str | None) -> None:
        """Check data/url, fill ``media_type`` and ``base64`` (encoded here, once)."""
        if (data is None) == (url is None):
            raise ValueError(f"{what} needs exactly one of data= or url=")
        set_ = object.__setattr__
        if data is not None:
            if not isinstance(data, (bytes, bytearray, memoryview)):
                raise ValueError(f"{what}.data must be bytes, not {type(data).__name__}")
            raw = bytes(data)
            if not raw:
                raise ValueError(f"{what}.data is empty")
            set_(self, "data", raw)
            set_(self, "base64", _b64(raw))
        elif isinstance(url, str) and url[:5].lower() == "data:":
            url_type, payload = _split_data_url(url, f"{what}.url")
            set_(self, "url", None)
            set_(self, "base64", payload)
            media_type = media_type or url_type
        else:
            _check_url(url, f"{what}.url")
        if media_type is not None:
            if not isinstance(media_type, str) or "/" not in media_type:
                raise ValueError(f"{what}.media_type must be a MIME type such as 'image/png'")
            set_(self, "media_type", media_type.lower())


@dataclass(frozen=True, slots=True)
class ImagePart(_Binary):
    """An image, as bytes (``data``) or a URL (``url``: http(s), or a ``data:`` URL).

    ``media_type`` is found from the bytes for PNG, JPEG, GIF and WebP when not given.
    ``detail`` (``low``/``high``/``auto``) is OpenAI's resolution hint. After
    construction, ``base64`` holds the encoded bytes (None for a remote URL).
    """

    data: bytes | None = None
    url: str | None = None
    media_type: str | None = None
    detail: str | None = None
    base64: str | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        media_type = self.media_type
        if media_type is None and isinstance(self.data, (bytes, bytearray, memoryview)):
            media_type = _sniff_image(bytes(self.data[:16]))
            if media_type is None:
                raise ValueError(
                    "ImagePart.media_type is needed: the bytes are not PNG, JPEG, GIF or WebP"
                )
        self._settle("ImagePart", self.data, self.url, media_type)
        if self.detail is not None and self.detail not in IMAGE_DETAILS:
            raise ValueError(f"ImagePart.detail must be one of {sorted(IMAGE_DETAILS)}")


@dataclass(frozen=True, slots=True)
class DocumentPart(_Binary):
    """A document (a PDF by default), as bytes or a URL; ``name`` is its file name
    where the provider takes one."""

    data: bytes | None = None
    url: str | None = None
    media_type: str = "application/pdf"
    name: str | None = None
    base64: str | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._settle("DocumentPart", self.data, self.url, self.media_type)
        if self.name is not None and not isinstance(self.name, str):
            raise ValueError("DocumentPart.name must be a str")


@dataclass(frozen=True, slots=True)
class AudioPart(_Binary):
    """Audio bytes, e.g. ``AudioPart(wav_bytes, "audio/wav")``. ``format`` is the
    media subtype (``wav``, ``mp3``...), what OpenAI's ``input_audio`` wants."""

    data: bytes
    media_type: str
    base64: str | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.media_type, str) or not self.media_type.startswith("audio/"):
            raise ValueError("AudioPart.media_type must be an audio/... type, e.g. 'audio/wav'")
        self._settle("AudioPart", self.data, None, self.media_type)

    @property
    def format(self) -> str:
        subtype = self.media_type.partition("/")[2]
        return {"mpeg": "mp3", "x-wav": "wav", "wave": "wav"}.get(subtype, subtype)


ContentPart = TextPart | ImagePart | DocumentPart | AudioPart
_PARTS: Final = (TextPart, ImagePart, DocumentPart, AudioPart)


def _inner(part: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = part.get(key)
    if isinstance(value, str):
        return {"url": value}
    if not isinstance(value, Mapping):
        raise ValueError(f"a {part.get('type')!r} content part needs a {key!r} object")
    return value


def as_part(value: ContentPart | Mapping[str, Any]) -> ContentPart:
    """A part from a part object or an OpenAI-style dict (chat completions' ``text``,
    ``image_url``, ``input_audio`` and ``file`` parts; the Responses API's
    ``input_text``, ``input_image`` and ``input_file``)."""
    if isinstance(value, _PARTS):
        return value
    if not isinstance(value, Mapping):
        raise ValueError(
            f"a content part must be a TextPart, ImagePart, DocumentPart, AudioPart or a "
            f"dict, not {type(value).__name__}"
        )
    kind = value.get("type")
    if kind in ("text", "input_text"):
        return TextPart(value.get("text", ""))
    if kind == "image_url":
        image = _inner(value, "image_url")
        return ImagePart(url=image.get("url"), detail=image.get("detail"))
    if kind == "input_image":
        return ImagePart(url=value.get("image_url"), detail=value.get("detail"))
    if kind == "input_audio":
        audio = _inner(value, "input_audio")
        payload = audio.get("data")
        if not isinstance(payload, str) or not payload or not _is_base64(payload):
            raise ValueError("an 'input_audio' part needs base64 'data'")
        raw = binascii.a2b_base64(payload)
        return AudioPart(raw, f"audio/{audio.get('format', 'wav')}")
    if kind in ("file", "input_file"):
        file = _inner(value, "file") if kind == "file" else value
        name = file.get("filename")
        if file.get("file_data") is not None:
            return DocumentPart(url=file["file_data"], name=name, media_type=_media(file))
        if file.get("file_url") is not None:
            return DocumentPart(url=file["file_url"], name=name, media_type=_media(file))
        raise ValueError(
            f"a {kind!r} part needs 'file_data' or 'file_url' (file ids are not portable)"
        )
    raise ValueError(f"unknown content part type {str(kind)[:40]!r}")


def _media(file: Mapping[str, Any]) -> str:
    data = file.get("file_data")
    if isinstance(data, str) and data[:5].lower() == "data:":
        return _split_data_url(data, "the file part's file_data")[0]
    return "application/pdf"
