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
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

__all__ = ["EFFORTS", "JSONSchema", "Reasoning", "ResponseFormat", "as_response_format"]

#: ``Reasoning.effort`` values.
EFFORTS: Final = ("low", "medium", "high")

# OpenAI's rule for a schema name, the strictest of the providers'.
_NAME: Final = re.compile(r"[A-Za-z0-9_-]{1,64}")


@dataclass(frozen=True, slots=True)
class JSONSchema:
    """A JSON Schema the answer must follow.

    ``name`` identifies it to the provider (letters, digits, ``_`` and ``-``, at most 64);
    ``strict`` asks for exact adherence where the provider supports it (OpenAI's
    structured outputs). ``model`` is the class it came from, if any (see
    :func:`as_response_format`), used to build ``Completion.parsed``.
    """

    name: str
    schema: Mapping[str, Any]
    strict: bool = True
    description: str | None = None
    model: type | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.fullmatch(self.name):
            raise ValueError(
                "JSONSchema.name must be 1-64 letters, digits, '_' or '-' (OpenAI's rule)"
            )
        if not isinstance(self.schema, Mapping):
            raise ValueError("JSONSchema.schema must be a mapping (a JSON Schema object)")
        if not isinstance(self.strict, bool):
            raise ValueError("JSONSchema.strict must be a bool")

    @classmethod
    def from_model(cls, model: type, *, strict: bool = True) -> JSONSchema:
        """The schema of a class with ``model_json_schema()`` (a pydantic model)."""
        schema = model.model_json_schema()  # type: ignore[attr-defined]
        name = re.sub(r"[^A-Za-z0-9_-]", "_", model.__name__)[:64] or "answer"
        return cls(name, schema, strict, (model.__doc__ and model.__doc__.strip()) or None, model)


ResponseFormat = JSONSchema | Literal["json"]


def as_response_format(value: object) -> ResponseFormat | None:
    """``None``, ``"json"``, a :class:`JSONSchema`, or a class with
    ``model_json_schema()`` (-> :meth:`JSONSchema.from_model`). Anything else is a
    ``ValueError``."""
    if value is None or isinstance(value, JSONSchema):
        return value
    if value == "json":
        return "json"
    if isinstance(value, type) and callable(getattr(value, "model_json_schema", None)):
        return JSONSchema.from_model(value)
    raise ValueError(
        "response_format must be a JSONSchema, 'json', or a class with model_json_schema() "
        f"(a pydantic model), not {type(value).__name__}"
    )


@dataclass(frozen=True, slots=True)
class Reasoning:
    """Reasoning settings for models that think before answering.

    ``effort``: ``"low"``, ``"medium"``, ``"high"`` or None (the provider's default).
    ``budget_tokens``: the most tokens to spend thinking (at least 1,024: Anthropic's
    minimum, and a useful floor everywhere). ``summary``: ask the provider to return a
    summary of its reasoning (OpenAI Responses), or its thoughts (Gemini
    ``includeThoughts``) -- reasoning text arrives as ``Delta(kind="reasoning")``.
    """

    effort: str | None = None
    budget_tokens: int | None = None
    summary: bool = False

    def __post_init__(self) -> None:
        if self.effort is not None and self.effort not in EFFORTS:
            raise ValueError(f"Reasoning.effort must be one of {list(EFFORTS)} or None")
        budget = self.budget_tokens
        if budget is not None and (
            isinstance(budget, bool) or not isinstance(budget, int) or budget < 1024
        ):
            raise ValueError("Reasoning.budget_tokens must be an integer of at least 1024")
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
