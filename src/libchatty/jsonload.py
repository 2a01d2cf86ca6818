"""Parse one JSON document, with orjson when the optional ``fast`` extra is installed.

``loads(data)`` takes ``bytes`` or ``str`` and returns the value. What it accepts is the
same with or without orjson: RFC 8259 JSON in UTF-8 -- no BOM, no ``NaN``/``Infinity``,
no trailing data (whitespace around the value is fine). Anything else raises one of
:data:`JSONDecodeError` (catch that tuple, never a specific class): ``ValueError``
(``json.JSONDecodeError``, ``UnicodeDecodeError`` and orjson's error are subclasses) or
``RecursionError`` for absurdly deep nesting. The values are the same too, with one
exception: an integer beyond 64 bits is an ``int`` with the standard library but may be a
``float`` with orjson (recent versions convert rather than refuse). No provider sends one.

With orjson installed, the standard library still parses the first
:data:`ORJSON_AFTER` bytes of JSON a process reads, and orjson everything after: importing
orjson costs more than it saves on a short run (see the constant). ``backend`` names what
is in use now: ``"json"``, then ``"orjson"`` once it has taken over.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

__all__ = ["ORJSON_AFTER", "JSONDecodeError", "backend", "loads"]

JSONDecodeError: tuple[type[Exception], ...] = (ValueError, RecursionError)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _build_decoder() -> None:
    """Bind ``_scan`` and ``_decode`` to a real decoder. Done by the first parse, not at
    import: the ``json`` package costs about a millisecond to load, and a program that
    imports libchatty without parsing (``--help``, a test collection) should not pay it."""
    global _scan, _decode
    import json

    decoder = json.JSONDecoder(parse_constant=_reject_constant)
    # The C scanner parses one value at an index; json.loads adds two regex passes for
    # surrounding whitespace that the common compact document does not need.
    _scan = decoder.scan_once  # type: ignore[attr-defined]
    _decode = decoder.decode


def _first_scan(text: str, index: int) -> tuple[Any, int]:
    _build_decoder()
    return _scan(text, index)


def _first_decode(text: str) -> Any:
    _build_decoder()
    return _decode(text)


# Rebound by the first parse (see _build_decoder): no test per parse.
_scan: Callable[[str, int], tuple[Any, int]] = _first_scan
_decode: Callable[[str], Any] = _first_decode


_JSON_WHITESPACE = " \t\n\r"  # RFC 8259 whitespace: exactly these four


def stdlib_loads(data: bytes | str) -> Any:
    """``loads`` with the standard library only."""
    text = data.decode("utf-8") if isinstance(data, bytes) else data
    try:
        value, end = _scan(text, 0)
    except StopIteration:
        return _decode(text)  # leading whitespace, or not JSON: the full path decides
    if end != len(text) and text[end:].strip(_JSON_WHITESPACE):
        return _decode(text)  # extra data after the value: the full path raises
    # Trailing JSON whitespace (a body's final newline) is fine: parsing the whole
    # document again just to skip it would cost a second full parse.
    return value


def make_loads(orjson_module: Any | None) -> Callable[[bytes | str], Any]:
    """A ``loads`` built on ``orjson_module`` (or the stdlib one when it is None).

    orjson refuses a few documents the standard library reads (numbers beyond a double's
    range, lone surrogates in ``str`` input, integers beyond 64 bits in older versions);
    those fall back to the standard library, so both backends accept the same documents.
    A refusal costs a second parse; refusals are rare.
    """
    if orjson_module is None:
        return stdlib_loads
    fast = orjson_module.loads

    def orjson_loads(data: bytes | str) -> Any:
        try:
            return fast(data)
        except ValueError:
            return stdlib_loads(data)

    return orjson_loads


def _find_orjson() -> Any | None:
    try:
        import orjson
    except ImportError:
        return None
    return orjson


#: Bytes of JSON the standard library parses before orjson (when installed) takes over.
#: orjson reads a stream event 0.5-0.8 us faster than the standard library (4-6 ns a
#: byte, on OpenAI and Anthropic events), but importing it costs about 3 ms (it loads
#: uuid, platform and datetime), so it pays for itself after roughly 600 KB. One CLI
#: completion is about 35 KB of JSON, ten are 350 KB: a short program never pays the
#: import, and a long one pays at most twice what the best choice in hindsight would
#: have cost.
ORJSON_AFTER: Final = 512 * 1024

backend = "json"
_fast: Callable[[bytes | str], Any] | None = None  # orjson.loads, once it took over
_stdlib_left = ORJSON_AFTER  # bytes until then; 0 for good when orjson is not installed


def _take_over() -> None:
    """Put orjson in charge if it is installed; either way, stop counting."""
    global _fast, _stdlib_left, backend
    _stdlib_left = 0
    orjson = _find_orjson()
    if orjson is not None:
        _fast = orjson.loads
        backend = "orjson"


def loads(data: bytes | str) -> Any:
    """The value of the JSON document ``data`` (see the module docstring)."""
    fast = _fast
    if fast is not None:
        try:
            return fast(data)
        except ValueError:
            return stdlib_loads(data)  # orjson refuses a few documents: see make_loads
    global _stdlib_left
    if _stdlib_left > 0:
        # Unlocked: threads racing here can only move the take-over by a few documents.
        _stdlib_left -= len(data)
        if _stdlib_left <= 0:
            _take_over()
    return stdlib_loads(data)
