"""Request settings that every dialect renders natively: structured output and reasoning.

* :class:`JSONSchema` -- "answer with JSON matching this schema". ``response_format``
  takes one, the string ``"json"`` (JSON mode: any JSON object), or any class with a
  ``model_json_schema()`` class method (pydantic models, without libchatty depending on
  pydantic): :func:`as_response_format` turns the latter into a :class:`JSONSchema` that
  remembers the class, so the answer can be validated into an instance.
* :class:`Reasoning` -- how hard a reasoning model should think: an ``effort``
  (``low``/``medium``/``high``), a token ``budget_tokens`` (Anthropic and Gemini think
  in budgets), and whether to ask for a ``summary`` of the reasoning.

Each dialect maps these to its provider's fields; where a provider has only one of
effort and budget, the dialect derives the other (documented in the dialect).

Both are :class:`~libchatty.values.Value` classes: frozen and slotted as a dataclass
(``dataclasses.replace`` works) without the dataclass machinery at import (issue 14).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import field
from typing import Any, Final, Literal

from .values import Value, frozen

__all__ = [
    "EFFORTS",
    "MIN_BUDGET_TOKENS",
    "Effort",
    "JSONSchema",
    "Reasoning",
    "ResponseFormat",
    "as_response_format",
    "strict_schema",
]

#: ``Reasoning.effort`` values.
Effort = Literal["low", "medium", "high"]
EFFORTS: Final[tuple[Effort, ...]] = ("low", "medium", "high")
#: The smallest ``Reasoning.budget_tokens``: Anthropic's minimum thinking budget, and a
#: useful floor everywhere (Gemini's smallest budgets are below it).
MIN_BUDGET_TOKENS: Final = 1024

# OpenAI's rule for a schema name, the strictest of the providers'. A pattern, not a
# compiled one: re compiles and caches it when a first schema is made.
_NAME: Final = r"[A-Za-z0-9_-]{1,64}"


@frozen
class JSONSchema(Value):
    """A JSON Schema the answer must follow.

    ``name`` identifies it to the provider (letters, digits, ``_`` and ``-``, at most 64);
    ``strict`` asks for exact adherence where the provider supports it (OpenAI's
    structured outputs); ``description`` is sent where the provider takes one. ``model``
    is the class it came from, if any (see :meth:`from_model`), used to build
    ``Completion.parsed``; it is not part of equality.
    """

    name: str
    schema: Mapping[str, Any]
    strict: bool = True
    description: str | None = None
    model: type | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not re.fullmatch(_NAME, self.name):
            raise ValueError(
                "JSONSchema.name must be 1-64 letters, digits, '_' or '-' (OpenAI's rule)"
            )
        if not isinstance(self.schema, Mapping):
            raise ValueError("JSONSchema.schema must be a mapping (a JSON Schema object)")
        if not isinstance(self.strict, bool):
            raise ValueError("JSONSchema.strict must be a bool")
        if self.description is not None and not isinstance(self.description, str):
            raise ValueError("JSONSchema.description must be a str or None")

    @classmethod
    def from_model(cls, model: type, *, strict: bool = True) -> JSONSchema:
        """The schema of a class with ``model_json_schema()`` (a pydantic model).

        ``name`` is the class name with every character outside ``[A-Za-z0-9_-]`` made
        ``_`` (``Page[int]`` -> ``Page_int_``), cut to 64; ``schema`` is exactly what
        ``model_json_schema()`` returns; ``description`` the class docstring; ``model``
        the class.
        """
        method = getattr(model, "model_json_schema", None)
        if not isinstance(model, type) or not callable(method):
            raise ValueError("JSONSchema.from_model needs a class with model_json_schema()")
        schema = method()
        name = re.sub(r"[^A-Za-z0-9_-]", "_", model.__name__)[:64] or "answer"
        doc = model.__doc__.strip() if isinstance(model.__doc__, str) else ""
        return cls(name, schema, strict, doc or None, model)


ResponseFormat = JSONSchema | Literal["json"]


def as_response_format(value: object) -> ResponseFormat | None:
    """The neutral structured-output setting from what a caller may give:

    * ``None`` (free text), ``"json"`` (JSON mode: any JSON object), a :class:`JSONSchema`;
    * a class with ``model_json_schema()`` -> :meth:`JSONSchema.from_model`;
    * OpenAI's own ``response_format`` objects: ``{"type": "json_object"}`` -> ``"json"``,
      ``{"type": "json_schema", "json_schema": {"name", "schema", "strict"?,
      "description"?}}`` -> a :class:`JSONSchema` (``strict`` defaults to False there,
      as in OpenAI's API), ``{"type": "text"}`` -> ``None``.

    Anything else is a ``ValueError``.
    """
    if value is None or isinstance(value, JSONSchema):
        return value
    if isinstance(value, str):
        if value == "json":
            return "json"
        raise ValueError("response_format as a string must be 'json' (JSON mode)")
    if isinstance(value, type) and callable(getattr(value, "model_json_schema", None)):
        return JSONSchema.from_model(value)
    if isinstance(value, Mapping):
        return _openai_format(value)
    raise ValueError(
        "response_format must be a JSONSchema, 'json', or a class with model_json_schema() "
        f"(a pydantic model), not {type(value).__name__}"
    )


def _openai_format(value: Mapping[str, Any]) -> ResponseFormat | None:
    kind = value.get("type")
    if kind in ("text", "json_object") and value.keys() == {"type"}:
        return None if kind == "text" else "json"
    spec = value.get("json_schema")
    if kind != "json_schema" or value.keys() != {"type", "json_schema"}:
        raise ValueError(
            "response_format as a mapping must be OpenAI's {'type': 'json_schema', "
            "'json_schema': {...}}, {'type': 'json_object'} or {'type': 'text'}"
        )
    if not isinstance(spec, Mapping) or not spec.keys() <= _SPEC_KEYS or "name" not in spec:
        raise ValueError(
            "response_format['json_schema'] must be an object with 'name' and 'schema' "
            "(and optionally 'strict', 'description')"
        )
    return JSONSchema(
        spec["name"],
        spec.get("schema", {}),
        False if spec.get("strict") is None else spec["strict"],
        spec.get("description"),
    )


_SPEC_KEYS: Final = frozenset({"name", "schema", "strict", "description"})


# Keywords whose value is a schema, a list of schemas, or a name -> schema mapping.
_ONE: Final = ("items", "additionalItems", "not", "if", "then", "else", "contains")
_LIST: Final = ("anyOf", "allOf", "oneOf", "prefixItems")
_MAP: Final = ("properties", "$defs", "definitions", "patternProperties")


def strict_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``schema`` in the form OpenAI's strict structured outputs demand: every
    object schema (``"type": "object"`` or with ``properties``) gets
    ``"additionalProperties": false`` unless it says otherwise, and lists all its
    properties in ``required`` (an optional field stays expressible as a union with
    ``null``); ``"default": null`` is dropped (strict mode rejects it). Sub-schemas are
    converted wherever a keyword holds one (``properties``, ``items``, ``anyOf``,
    ``$defs``...). A pydantic ``model_json_schema()`` needs this for ``strict=True``;
    ``schema`` itself is not changed. Linear in the size of the schema.
    """
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in _ONE and isinstance(value, Mapping):
            out[key] = strict_schema(value)
        elif key in _LIST and isinstance(value, (list, tuple)):
            out[key] = [strict_schema(v) if isinstance(v, Mapping) else v for v in value]
        elif key in _MAP and isinstance(value, Mapping):
            out[key] = {
                name: strict_schema(v) if isinstance(v, Mapping) else v for name, v in value.items()
            }
        elif key == "default" and value is None:
            continue
        else:
            out[key] = value
    properties = out.get("properties")
    if out.get("type") == "object" or isinstance(properties, Mapping):
        out.setdefault("additionalProperties", False)
        if isinstance(properties, Mapping):
            out["required"] = list(properties)
    return out


@frozen
class Reasoning(Value):
    """Reasoning settings for models that think before answering.

    ``effort``: ``"low"``, ``"medium"``, ``"high"`` or None (the provider's default).
    ``budget_tokens``: the most tokens to spend thinking, at least
    :data:`MIN_BUDGET_TOKENS` (1,024), or None. ``summary``: ask the provider to return a
    summary of its reasoning (OpenAI Responses), or its thoughts (Gemini
    ``includeThoughts``) -- reasoning text arrives as ``Delta(kind="reasoning")``.
    Both ``effort`` and ``budget_tokens`` may be given: a dialect whose provider takes
    one of them uses it, and derives it from the other only when it is missing (see
    :meth:`budget` and :meth:`effort_or`).
    """

    effort: Effort | None = None
    budget_tokens: int | None = None
    summary: bool = False

    def __post_init__(self) -> None:
        if self.effort is not None and (
            not isinstance(self.effort, str) or self.effort not in EFFORTS
        ):
            raise ValueError(f"Reasoning.effort must be one of {list(EFFORTS)} or None")
        budget = self.budget_tokens
        if budget is not None and (
            isinstance(budget, bool) or not isinstance(budget, int) or budget < MIN_BUDGET_TOKENS
        ):
            raise ValueError(
                f"Reasoning.budget_tokens must be an integer of at least {MIN_BUDGET_TOKENS}"
            )
        if not isinstance(self.summary, bool):
            raise ValueError("Reasoning.summary must be a bool")

    def budget(self, default_for_effort: Mapping[str, int]) -> int | None:
        """``budget_tokens``, or the budget this dialect gives the ``effort``."""
        if self.budget_tokens is not None:
            return self.budget_tokens
        return default_for_effort.get(self.effort) if self.effort else None

    def effort_or(self, default_for_budget: tuple[tuple[int, str], ...]) -> str | None:
        """``effort``, or the effort for ``budget_tokens`` from ``(upper bound, effort)``
        steps in increasing order (the last applies above every bound)."""
        if self.effort is not None or self.budget_tokens is None:
            return self.effort
        for bound, effort in default_for_budget:
            if self.budget_tokens <= bound:
                return effort
        return default_for_budget[-1][1] if default_for_budget else None
