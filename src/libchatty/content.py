"""Content parts: what a message carries besides plain text.

A :class:`~libchatty.request.Message`'s ``content`` is a ``str``, ``None``, or a sequence
of parts -- :class:`TextPart`, :class:`ImagePart`, :class:`DocumentPart`,
:class:`AudioPart` -- in one neutral form that each dialect renders the way its provider
documents. OpenAI-style dict parts (chat completions' ``text``, ``image_url``,
``input_audio`` and ``file``; the Responses API's ``input_text``, ``input_image`` and
``input_file``) and plain strings are accepted too and turned into these by
:func:`as_part`.

What a dialect may rely on, for every binary part (image, document, audio):

* ``base64`` is not None exactly when the content is inline -- bytes given as ``data``,
  or a ``data:`` URL given as ``url``. Render ``base64`` with ``media_type`` then (a
  ``data:`` URL is taken apart, its payload checked but never decoded). Otherwise
  ``url`` is a remote ``http(s)://`` (or ``gs://``, ``s3://``) URL and ``base64`` is
  None.
* ``base64`` is computed once, when the part is built: a retry, a fallback request or a
  ``dataclasses.replace`` of the message or request renders the same string again.
  (Replacing a field of the part itself builds a new part, which encodes again.)
* ``media_type`` is a lower-case ``type/subtype``: for an image always one of
  ``image/*`` once inline (found from the bytes for PNG, JPEG, GIF and WebP; ``image/jpg``
  becomes ``image/jpeg``), None only for a remote image whose type was not given.

Invalid parts raise ``ValueError`` naming the field. Neither a URL nor data is ever
quoted in a message or a ``repr`` (a signed URL carries a credential; data can be
megabytes): a ``repr`` shows a URL with its query values as ``***`` and data as a size.

The parts are :class:`~libchatty.values.Value` classes, not ``@dataclass`` ones: the
same frozen, slotted behaviour (``dataclasses.replace`` included, and the checks in
``__post_init__`` run on every construction) without the dataclass machinery at import
(issue 14).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import field
from typing import Any, Final

from .endpoint import redact_url
from .values import Value, frozen

__all__ = [
    "IMAGE_DETAILS",
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
# needs no media type for them (WebP is RIFF....WEBP, checked apart).
_IMAGE_MAGIC: Final = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)
# Enough leading bytes for every magic number above (WebP needs 12).
_SNIFF_BYTES: Final = 12
# The two patterns are strings: re compiles each (~0.1-0.2 ms) and caches it the first
# time a media part is checked, not when every text-only program imports libchatty.
# A media type as providers take it: RFC 9110 tokens, lower-cased, no parameters (a ';'
# or ',' would break the data: URL OpenAI gets).
_MEDIA_TYPE: Final = r"[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*"
# Common misspellings providers reject (Anthropic refuses image/jpg).
_MEDIA_ALIASES: Final = {"image/jpg": "image/jpeg"}
# Standard base64 alphabet with at most two '=' of padding; with a length that is a
# multiple of 4 this is exactly well-formed padded base64. One C-level scan, no decoding.
_BASE64: Final = r"[A-Za-z0-9+/]*={0,2}"
_URL_SCHEMES: Final = frozenset({"http", "https", "gs", "s3"})


def _is_base64(text: str) -> bool:
    return len(text) % 4 == 0 and re.fullmatch(_BASE64, text) is not None


# binascii is imported where base64 is made or read: ~0.2 ms of start-up that only a
# program sending media needs to pay.
def _b64(data: bytes) -> str:
    """The one place bytes are encoded (tests count the calls)."""
    import binascii

    return binascii.b2a_base64(data, newline=False).decode("ascii")


def _unb64(text: str) -> bytes:
    """The one place base64 is decoded (tests watch how much)."""
    import binascii

    return binascii.a2b_base64(text)


def _sniff_image(head: bytes) -> str | None:
    for magic, media_type in _IMAGE_MAGIC:
        if head.startswith(magic):
            return media_type
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


def _media_type(what: str, value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{what} must be a str, not {type(value).__name__}")
    lowered = value.strip().lower()
    if not re.fullmatch(_MEDIA_TYPE, lowered):
        raise ValueError(f"{what} must be a MIME type such as 'image/png', without parameters")
    return _MEDIA_ALIASES.get(lowered, lowered)


def _split_data_url(url: str, what: str) -> tuple[str, str]:
    """``data:<media type>[;param...];base64,<payload>`` -> (media type, base64 payload)."""
    head, comma, payload = url[5:].partition(",")
    params = head.split(";")
    if not comma or params[-1].strip().lower() != "base64" or len(params) < 2:
        raise ValueError(f"{what} is a data: URL without ';base64,': only base64 is supported")
    if not params[0].strip():
        raise ValueError(f"{what} is a data: URL without a media type")
    media_type = _media_type(f"the media type of {what}", params[0])
    if not payload or not _is_base64(payload):
        raise ValueError(f"{what} is a data: URL whose payload is not valid base64")
    return media_type, payload


def _check_url(url: object, what: str) -> str:
    if not isinstance(url, str):
        raise ValueError(f"{what} must be a str, not {type(url).__name__}")
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() not in _URL_SCHEMES or not rest.strip():
        raise ValueError(f"{what} must be an http(s):// or data: URL (or gs://, s3://)")
    return url


def _is_data_url(url: object) -> bool:
    return isinstance(url, str) and url[:5].lower() == "data:"


def _raw(what: str, data: object) -> bytes:
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ValueError(f"{what}.data must be bytes, not {type(data).__name__}")
    raw = bytes(data)
    if not raw:
        raise ValueError(f"{what}.data is empty")
    return raw


def _one_source(what: str, data: object, url: object) -> None:
    if (data is None) == (url is None):
        raise ValueError(f"{what} needs exactly one of data= or url=")


def _shown_url(url: str) -> str:
    if _is_data_url(url):
        return f"<data: URL, {len(url)} characters>"
    return repr(redact_url(url))


def data_url(media_type: str, base64: str) -> str:
    """A ``data:`` URL from a media type and base64 text (OpenAI's form for bytes)."""
    return f"data:{media_type};base64,{base64}"


@frozen
class TextPart(Value):
    """Plain text."""

    text: str

    def __post_init__(self) -> None:
        if not isinstance(self.text, str):
            raise ValueError(f"TextPart.text must be a str, not {type(self.text).__name__}")


@frozen
class ImagePart(Value):
    """An image, as bytes (``data``) or a URL (``url``: http(s), or a ``data:`` URL).

    ``media_type`` is found from the bytes for PNG, JPEG, GIF and WebP when not given;
    other bytes need it. A given type that contradicts what the bytes are (``image/png``
    on JPEG bytes) is refused: providers reject the request. ``detail``
    (``low``/``high``/``auto``) is OpenAI's resolution hint. See the module for
    ``base64``.
    """

    data: bytes | None = None
    url: str | None = None
    media_type: str | None = None
    detail: str | None = None
    base64: str | None = field(default=None, init=False, compare=False)

    def __post_init__(self) -> None:
        _one_source("ImagePart", self.data, self.url)
        given = None
        if self.media_type is not None:
            given = _media_type("ImagePart.media_type", self.media_type)
            if not given.startswith("image/"):
                raise ValueError("ImagePart.media_type must be an image/... type")
        set_ = object.__setattr__
        media_type: str | None
        if self.data is not None:
            raw = _raw("ImagePart", self.data)
            set_(self, "data", raw)
            media_type = _image_type("ImagePart.data", given, _sniff_image(raw[:_SNIFF_BYTES]))
            set_(self, "base64", _b64(raw))
        elif _is_data_url(self.url):
            url_type, payload = _split_data_url(self.url, "ImagePart.url")  # type: ignore[arg-type]
            if not url_type.startswith("image/"):
                raise ValueError("ImagePart.url is a data: URL whose media type is not image/...")
            if given is not None and given != url_type:
                raise ValueError(
                    f"ImagePart.media_type {given!r} contradicts the data: URL's {url_type!r}"
                )
            head = _unb64(payload[:16])  # 12 bytes: enough to sniff, no more
            media_type = _image_type("ImagePart.url", url_type, _sniff_image(head))
            set_(self, "base64", payload)
        else:
            _check_url(self.url, "ImagePart.url")
            media_type = given
        set_(self, "media_type", media_type)
        if self.detail is not None and (
            not isinstance(self.detail, str) or self.detail not in IMAGE_DETAILS
        ):
            raise ValueError(f"ImagePart.detail must be one of {sorted(IMAGE_DETAILS)} or None")

    def __repr__(self) -> str:
        return (
            f"ImagePart({_source(self.data, self.url)}, media_type={self.media_type!r}, "
            f"detail={self.detail!r})"
        )


def _image_type(what: str, given: str | None, sniffed: str | None) -> str:
    if given is None:
        if sniffed is None:
            raise ValueError(
                "ImagePart.media_type is needed: the bytes are not PNG, JPEG, GIF or WebP"
            )
        return sniffed
    if sniffed is not None and sniffed != given:
        raise ValueError(f"{what} holds {sniffed} bytes, not {given}")
    return given


def _source(data: bytes | None, url: str | None) -> str:
    if data is not None:
        return f"data=<{len(data)} bytes>"
    return f"url={_shown_url(url or '')}"


@frozen
class DocumentPart(Value):
    """A document (a PDF by default), as bytes (``data``) or a URL (``url``).

    For a ``data:`` URL, the URL's own media type is used (so the ``application/pdf``
    default never overrides it); a different explicit ``media_type`` is refused.
    ``name`` is its file name, for providers that take one. See the module for
    ``base64``.
    """

    data: bytes | None = None
    url: str | None = None
    media_type: str = "application/pdf"
    name: str | None = None
    base64: str | None = field(default=None, init=False, compare=False)

    def __post_init__(self) -> None:
        _one_source("DocumentPart", self.data, self.url)
        media_type = _media_type("DocumentPart.media_type", self.media_type)
        set_ = object.__setattr__
        if self.data is not None:
            raw = _raw("DocumentPart", self.data)
            set_(self, "data", raw)
            set_(self, "base64", _b64(raw))
        elif _is_data_url(self.url):
            url_type, payload = _split_data_url(self.url, "DocumentPart.url")  # type: ignore[arg-type]
            if media_type not in (url_type, "application/pdf"):
                raise ValueError(
                    f"DocumentPart.media_type {media_type!r} contradicts the data: URL's "
                    f"{url_type!r}"
                )
            media_type = url_type
            set_(self, "base64", payload)
        else:
            _check_url(self.url, "DocumentPart.url")
        set_(self, "media_type", media_type)
        if self.name is not None and (not isinstance(self.name, str) or not self.name):
            raise ValueError("DocumentPart.name must be a non-empty str or None")

    def __repr__(self) -> str:
        return (
            f"DocumentPart({_source(self.data, self.url)}, media_type={self.media_type!r}, "
            f"name={self.name!r})"
        )


@frozen
class AudioPart(Value):
    """Audio bytes, e.g. ``AudioPart(wav_bytes, "audio/wav")``. ``format`` is the
    media subtype as OpenAI's ``input_audio`` names it (``wav``, ``mp3``...)."""

    data: bytes
    media_type: str
    base64: str | None = field(default=None, init=False, compare=False)

    def __post_init__(self) -> None:
        media_type = _media_type("AudioPart.media_type", self.media_type)
        if not media_type.startswith("audio/"):
            raise ValueError("AudioPart.media_type must be an audio/... type, e.g. 'audio/wav'")
        raw = _raw("AudioPart", self.data)
        object.__setattr__(self, "media_type", media_type)
        object.__setattr__(self, "data", raw)
        object.__setattr__(self, "base64", _b64(raw))

    @property
    def format(self) -> str:
        subtype = self.media_type.partition("/")[2]
        return _AUDIO_FORMATS.get(subtype, subtype)

    def __repr__(self) -> str:
        return f"AudioPart(data=<{len(self.data)} bytes>, media_type={self.media_type!r})"


# Media subtype -> OpenAI input_audio format, and back.
_AUDIO_FORMATS: Final = {"mpeg": "mp3", "mp3": "mp3", "x-wav": "wav", "wave": "wav"}
_AUDIO_TYPES: Final = {"mp3": "audio/mpeg", "wav": "audio/wav"}

ContentPart = TextPart | ImagePart | DocumentPart | AudioPart
_PARTS: Final = (TextPart, ImagePart, DocumentPart, AudioPart)

# Keys each OpenAI-style dict part may have, outer and (where there is one) inner object.
# Anything else would be silently lost, so it is refused instead.
_KEYS: Final[dict[str, frozenset[str]]] = {
    "text": frozenset({"type", "text"}),
    "input_text": frozenset({"type", "text"}),
    "image_url": frozenset({"type", "image_url"}),
    "input_image": frozenset({"type", "image_url", "detail"}),
    "input_audio": frozenset({"type", "input_audio"}),
    "file": frozenset({"type", "file"}),
    "input_file": frozenset({"type", "file_data", "file_url", "filename"}),
}
_INNER_KEYS: Final[dict[str, frozenset[str]]] = {
    "image_url": frozenset({"url", "detail"}),
    "input_audio": frozenset({"data", "format"}),
    "file": frozenset({"file_data", "filename"}),
}


def _a(kind: str) -> str:
    """``a 'text' part``, ``an 'image_url' part``."""
    return f"{'an' if kind[:1] in 'aeiou' else 'a'} {kind!r} part"


def _only(kind: str, value: Mapping[str, Any], allowed: frozenset[str]) -> None:
    for key in value:
        if key not in allowed:
            if key == "file_id":
                raise ValueError(
                    f"{_a(kind)} with a 'file_id' is not supported (file ids "
                    "are not portable across providers): send file_data"
                )
            raise ValueError(f"{_a(kind)} has key {str(key)[:40]!r}, which is not supported")


def _inner(kind: str, value: Mapping[str, Any]) -> Mapping[str, Any]:
    inner = value.get(kind)
    if not isinstance(inner, Mapping):
        raise ValueError(f"{_a(kind)} needs a {kind!r} object")
    _only(kind, inner, _INNER_KEYS[kind])
    return inner


def as_part(value: ContentPart | str | Mapping[str, Any]) -> ContentPart:
    """A part from a part object, a ``str`` (a :class:`TextPart`), or an OpenAI-style
    dict part:

    * ``{"type": "text" | "input_text", "text": str}``;
    * ``{"type": "image_url", "image_url": {"url", "detail"?}}`` (chat completions) and
      ``{"type": "input_image", "image_url": str, "detail"?}`` (Responses);
    * ``{"type": "input_audio", "input_audio": {"data": base64, "format": "wav" | "mp3"
      | ...}}`` (``mp3`` is ``audio/mpeg``);
    * ``{"type": "file", "file": {"file_data", "filename"?}}`` (chat completions) and
      ``{"type": "input_file", "file_data" | "file_url", "filename"?}`` (Responses);
      ``file_data`` is a ``data:`` URL or bare base64 (then a PDF).

    A key that is not listed (``file_id``, ``cache_control``...) is a ``ValueError``: it
    would otherwise be silently dropped.
    """
    if isinstance(value, _PARTS):
        return value
    if isinstance(value, str):
        return TextPart(value)
    if not isinstance(value, Mapping):
        raise ValueError(
            "a content part must be a str, TextPart, ImagePart, DocumentPart, AudioPart or a "
            f"dict, not {type(value).__name__}"
        )
    kind = value.get("type")
    if not isinstance(kind, str) or kind not in _KEYS:
        raise ValueError(f"unknown content part type {str(kind)[:40]!r}")
    _only(kind, value, _KEYS[kind])
    if kind in ("text", "input_text"):
        text = value.get("text")
        if not isinstance(text, str):
            raise ValueError(f"{_a(kind)} needs a 'text' string")
        return TextPart(text)
    if kind == "image_url":
        image = _inner(kind, value)
        return ImagePart(url=_required(kind, image, "url"), detail=image.get("detail"))
    if kind == "input_image":
        return ImagePart(url=_required(kind, value, "image_url"), detail=value.get("detail"))
    if kind == "input_audio":
        return _audio(_inner(kind, value))
    file = _inner(kind, value) if kind == "file" else value
    name = file.get("filename")
    if file.get("file_data") is not None:
        if kind == "input_file" and file.get("file_url") is not None:
            raise ValueError("an 'input_file' part needs one of 'file_data' and 'file_url'")
        return DocumentPart(url=_file_data(kind, file["file_data"]), name=name)
    if file.get("file_url") is not None:
        return DocumentPart(url=file["file_url"], name=name)
    raise ValueError(
        f"{_a(kind)} needs 'file_data'" + (" or 'file_url'" if kind == "input_file" else "")
    )


def _required(kind: str, value: Mapping[str, Any], key: str) -> str:
    found = value.get(key)
    if not isinstance(found, str):
        raise ValueError(f"{_a(kind)} needs a {key!r} string")
    return found


def _file_data(kind: str, data: object) -> str:
    """``file_data`` as a ``data:`` URL: OpenAI documents a data URL; bare base64 is
    taken as a PDF (the only type chat completions accepts)."""
    if not isinstance(data, str):
        raise ValueError(f"{_a(kind)}'s 'file_data' must be a str")
    if _is_data_url(data):
        return data
    if not data or not _is_base64(data):
        raise ValueError(f"{_a(kind)}'s 'file_data' must be a data: URL or base64")
    return data_url("application/pdf", data)


def _audio(audio: Mapping[str, Any]) -> AudioPart:
    payload = audio.get("data")
    if not isinstance(payload, str) or not payload or not _is_base64(payload):
        raise ValueError("an 'input_audio' part needs base64 'data'")
    fmt = audio.get("format")
    if not isinstance(fmt, str) or not fmt:
        raise ValueError("an 'input_audio' part needs a 'format' ('wav', 'mp3'...)")
    media_type = _AUDIO_TYPES.get(fmt.lower(), f"audio/{fmt.lower()}")
    # Decoded once here: AudioPart holds bytes (its base64 is the same text again).
    return AudioPart(_unb64(payload), media_type)
