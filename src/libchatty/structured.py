"""The parsed structured answer: the final text of a structured-output response, read.

:func:`parse_structured` turns the answer text into what ``Completion.parsed`` holds:

* ``response_format`` None (free text): None, without looking at the text;
* ``"json"`` (JSON mode) or a :class:`~libchatty.options.JSONSchema` without a model
  class: the JSON value (:func:`libchatty.jsonload.loads`: strict RFC 8259, no
  ``NaN``). The value is NOT validated against the schema: libchatty carries no JSON
  Schema validator; the provider's structured-output mode is what enforces it;
* a :class:`~libchatty.options.JSONSchema` made from a class (``JSONSchema.model``,
  e.g. by :meth:`~libchatty.options.JSONSchema.from_model`) that has
  ``model_validate_json`` (pydantic v2): the validated instance, from
  ``model.model_validate_json(text)``. A class without that method gives the plain
  value. pydantic is never imported here: the class brings it.

Text that is not JSON, or that the model class rejects, raises
:class:`StructuredOutputError`: ``text`` keeps the whole answer (nothing received is
lost), ``cause`` says briefly what was wrong (``invalid JSON: ...`` with the offset, or
``does not match Person: ...`` with at most three of the validator's errors, each a
location and a message). The message never includes the answer itself nor the
validator's exception text (pydantic's repeats the input). Model output cannot hold the
API key the request carried, so nothing here is redacted; the answer may be long or
private, so it stays on ``text`` rather than in the message.

The JSON is checked with :func:`~libchatty.jsonload.loads` before a model class sees
it, so "what is valid JSON" is the same with and without a model (pydantic's parser is
more lenient, e.g. with ``NaN``); that is one more parse of the answer, a few
milliseconds per megabyte.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Final

from .exceptions import LibchattyError
from .jsonload import JSONDecodeError, loads
from .options import JSONSchema, ResponseFormat

__all__ = ["StructuredOutputError", "parse_structured"]

# How many of a validator's errors the message lists, and how long each may be.
_MAX_ERRORS: Final = 3
_MAX_ERROR_CHARS: Final = 120


class StructuredOutputError(LibchattyError):
    """The structured answer is not JSON, or not what the model class accepts.

    ``text`` is the whole answer; ``cause`` a short description of the fault; ``model``
    the class that rejected it and ``validation_error`` its exception, for the details
    (both None for invalid JSON). The exception is not chained (``__cause__`` is None):
    a validator's text repeats the input, which would put the answer in every logged
    traceback.
    """

    def __init__(
        self,
        cause: str,
        text: str,
        model: type | None = None,
        validation_error: Exception | None = None,
    ) -> None:
        super().__init__(f"structured output unusable: {cause}")
        self.cause = cause
        self.text = text
        self.model = model
        self.validation_error = validation_error

    def __repr__(self) -> str:
        return f"StructuredOutputError(cause={self.cause!r}, text=<{len(self.text)} characters>)"


def _shorten(text: str, limit: int = _MAX_ERROR_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _json_cause(exc: BaseException) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"invalid JSON: {exc.msg} at offset {exc.pos}"
    if isinstance(exc, RecursionError):
        return "invalid JSON: nested too deeply to parse"
    return f"invalid JSON: {_shorten(str(exc))}"


def _location(parts: Any) -> str:
    if not isinstance(parts, Sequence) or isinstance(parts, str) or not parts:
        return "(root)"
    return ".".join(str(part) for part in parts)


def _validation_cause(model: type, exc: Exception) -> str:
    """``does not match Model: loc: msg; ...`` from pydantic's ``errors()``, without
    the input values pydantic also reports; any other exception by its type only."""
    name = model.__name__
    errors_method = getattr(exc, "errors", None)
    errors: Any = None
    if callable(errors_method):
        try:
            errors = errors_method(include_input=False, include_url=False)
        except TypeError:  # an errors() of another shape
            errors = None
    if not isinstance(errors, list) or not errors:
        return f"does not match {name}: {type(exc).__name__}"
    described = [
        _shorten(f"{_location(error.get('loc'))}: {error.get('msg', '?')}")
        for error in errors[:_MAX_ERRORS]
        if isinstance(error, Mapping)
    ]
    more = len(errors) - len(described)
    count = f"{len(errors)} validation error{'s' if len(errors) != 1 else ''}"
    tail = f"; and {more} more" if more > 0 else ""
    return f"does not match {name}: {count}: {'; '.join(described)}{tail}"


def parse_structured(text: str, response_format: ResponseFormat | None) -> Any:
    """The structured answer in ``text`` for ``response_format`` (see the module doc).

    Raises :class:`StructuredOutputError` for text that is not JSON or that the model
    class rejects; ``ValueError`` for a ``response_format`` that is not None, ``"json"``
    or a :class:`~libchatty.options.JSONSchema` (pass user input through
    :func:`~libchatty.options.as_response_format` first).
    """
    if response_format is None:
        return None
    if response_format != "json" and not isinstance(response_format, JSONSchema):
        raise ValueError(
            "parse_structured: response_format must be None, 'json' or a JSONSchema, "
            f"not {type(response_format).__name__}"
        )
    try:
        value = loads(text)
    except JSONDecodeError as exc:
        raise StructuredOutputError(_json_cause(exc), text) from None
    model = response_format.model if isinstance(response_format, JSONSchema) else None
    validate = getattr(model, "model_validate_json", None) if model is not None else None
    if model is None or not callable(validate):
        return value
    try:
        return validate(text)
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        cause = _validation_cause(model, exc)
        raise StructuredOutputError(cause, text, model, exc) from None
