"""A batch's input: JSON lines read lazily, each one a :class:`Job` or a :class:`BadLine`.

Two line formats are accepted, as they are:

* libchatty's: ``{"id": ..., "messages": [...], "model": ..., ...options}``;
* OpenAI's Batch API: ``{"custom_id": ..., "method": "POST", "url":
  "/v1/chat/completions", "body": {"model": ..., "messages": [...], ...}}``.

Options on a line override the defaults given for the run (the command line). The
options ``chat()`` knows (:data:`~libchatty.bindings._api.CHAT_OPTIONS`) are passed as
such; any other key of the request (``seed``, ``response_format``, ``n``, ...) goes to
``extra``, sent on the wire as it is -- so an OpenAI batch file keeps its meaning.
``stream`` and ``stream_options`` are dropped: the batch always streams.

A line that cannot be a request -- not JSON, not an object, no id, no messages, a
duplicate id, longer than ``max_line_bytes`` -- is a :class:`BadLine` with its line
number and the reason; it never stops the run. Reading is lazy and bounded: one line at a
time, and a line too long is skipped in pieces, never held whole.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import IO, Any, Final

from ._api import CHAT_OPTIONS

__all__ = [
    "MAX_LINE_BYTES",
    "BadLine",
    "Job",
    "id_key",
    "iter_lines",
    "parse_line",
    "read_jobs",
]

#: The default bound on one input line (a request with a few images inline fits).
MAX_LINE_BYTES: Final = 32 * 1024 * 1024
# Read this much at a time when skipping the rest of a line that is too long.
_SKIP_CHUNK: Final = 1024 * 1024
# Keys that are not request options in either format.
_ENVELOPE: Final = frozenset({"id", "messages", "model"})
# The batch always streams, and retries itself (so that every 429 reaches its rate
# control): a line's own stream flag or retry budget is not passed to the client.
_DROPPED: Final = frozenset({"stream", "stream_options", "max_retries"})
_CHAT_URLS: Final = frozenset({"/v1/chat/completions", "/chat/completions"})
# Characters per token for the estimate made before a request is sent (corrected by the
# usage the provider reports): about right for English text and JSON.
_CHARS_PER_TOKEN: Final = 4


def id_key(value: object) -> str:
    """The key under which a request id is remembered: its canonical JSON, so ``1`` and
    ``"1"`` are two ids and a re-run recognises each exactly."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class Job:
    """One request of the batch: ``id`` as given (``custom_id`` in OpenAI's format),
    ``key`` its :func:`id_key`, ``line`` its 1-based line number, the ``model`` (None:
    the run's default) and the ``chat()`` ``options`` (line over defaults).
    ``input_tokens`` is an estimate of the prompt's size, for the tokens-per-minute cap."""

    id: Any
    key: str
    line: int
    messages: list[Any]
    model: str | None
    options: dict[str, Any] = field(default_factory=dict)
    input_tokens: int = 0


@dataclass(frozen=True, slots=True)
class BadLine:
    """A line that is not a request: ``line`` number, ``message`` why, and the ``id``
    when one could be read (None otherwise)."""

    line: int
    message: str
    id: Any = None


def iter_lines(
    file: IO[bytes], max_bytes: int = MAX_LINE_BYTES
) -> Iterator[tuple[int, bytes | None]]:
    """``(line number, line)`` for each non-blank line of ``file``; ``None`` for a line
    longer than ``max_bytes`` (skipped without being held whole)."""
    number = 0
    while True:
        line = file.readline(max_bytes + 1)
        if not line:
            return
        number += 1
        if len(line) > max_bytes:
            while line and not line.endswith(b"\n"):
                line = file.readline(_SKIP_CHUNK)
            yield number, None
            continue
        if line.strip():
            yield number, line


def _split_options(request: Mapping[str, Any], skip: frozenset[str]) -> dict[str, Any]:
    options: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for key, value in request.items():
        if key in skip or key in _DROPPED:
            continue
        if key in CHAT_OPTIONS:
            options[key] = value
        else:
            extra[key] = value
    if extra:
        given = options.get("extra")
        options["extra"] = {**extra, **given} if isinstance(given, Mapping) else extra
    return options


def parse_line(number: int, raw: bytes | str | Mapping[str, Any]) -> Job | BadLine:
    """The request on one line (or an already-decoded object, for in-memory batches)."""
    if isinstance(raw, Mapping):
        value: Any = raw
    else:
        try:
            value = json.loads(raw)
        except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
            reason = exc.msg if isinstance(exc, json.JSONDecodeError) else type(exc).__name__
            return BadLine(number, f"line {number}: not JSON ({reason})")
    if not isinstance(value, Mapping):
        return BadLine(number, f"line {number}: not a JSON object")
    if "custom_id" in value:
        return _openai_batch_line(number, value)
    if "id" not in value or value["id"] is None:
        return BadLine(number, f'line {number}: no "id"')
    return _request(number, value["id"], value, _ENVELOPE)


def _openai_batch_line(number: int, value: Mapping[str, Any]) -> Job | BadLine:
    request_id = value["custom_id"]
    if request_id is None:
        return BadLine(number, f'line {number}: "custom_id" is null')
    method = value.get("method", "POST")
    url = value.get("url", "/v1/chat/completions")
    if method != "POST" or url not in _CHAT_URLS:
        return BadLine(
            number,
            f"line {number}: only POST /v1/chat/completions is supported, not "
            f"{str(method)[:20]} {str(url)[:100]}",
            request_id,
        )
    body = value.get("body")
    if not isinstance(body, Mapping):
        return BadLine(number, f'line {number}: "body" is not a JSON object', request_id)
    return _request(number, request_id, body, _ENVELOPE)


def _request(
    number: int, request_id: Any, request: Mapping[str, Any], skip: frozenset[str]
) -> Job | BadLine:
    if isinstance(request_id, (dict, list)):
        return BadLine(number, f"line {number}: the id must be a string or a number")
    messages = request.get("messages")
    if not isinstance(messages, list) or not messages:
        return BadLine(number, f'line {number}: "messages" must be a non-empty list', request_id)
    model = request.get("model")
    if model is not None and not isinstance(model, str):
        return BadLine(number, f'line {number}: "model" must be a string', request_id)
    size = len(json.dumps(messages, ensure_ascii=False, default=str))
    return Job(
        id=request_id,
        key=id_key(request_id),
        line=number,
        messages=messages,
        model=model,
        options=_split_options(request, skip),
        input_tokens=max(1, size // _CHARS_PER_TOKEN),
    )


def read_jobs(
    source: IO[bytes] | Iterable[bytes | str | Mapping[str, Any]],
    max_line_bytes: int = MAX_LINE_BYTES,
) -> Iterator[Job | BadLine]:
    """Every line of ``source`` as a :class:`Job` or a :class:`BadLine`, lazily.

    ``source`` is a binary file (read line by line, bounded by ``max_line_bytes``) or an
    iterable of lines or decoded objects (line numbers count from 1). An id met a second
    time is a :class:`BadLine` (its first request is the one run): remembering the ids
    seen is the one thing that grows with the input.
    """
    if hasattr(source, "readline"):
        numbered: Iterable[tuple[int, Any]] = iter_lines(source, max_line_bytes)  # type: ignore[arg-type]
    else:
        numbered = enumerate(source, 1)
    seen: set[str] = set()
    for number, raw in numbered:
        if raw is None:
            yield BadLine(number, f"line {number}: longer than {max_line_bytes} bytes")
            continue
        item = parse_line(number, raw)
        if isinstance(item, Job):
            if item.key in seen:
                yield BadLine(number, f"line {number}: duplicate id {item.key[:100]}")
                continue
            seen.add(item.key)
        yield item
