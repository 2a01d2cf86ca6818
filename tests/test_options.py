"""Structured output (JSONSchema, 'json', pydantic models, OpenAI's own forms) and
Reasoning: every accepted form with its exact neutral value, every refused form with its
exact message."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, Generic, TypeVar

import pytest

from libchatty.options import (
    EFFORTS,
    MIN_BUDGET_TOKENS,
    JSONSchema,
    Reasoning,
    as_response_format,
    strict_schema,
)

try:
    import pydantic
except ImportError:  # pragma: no cover - pydantic is in the test extra
    pydantic = None

T = TypeVar("T")
needs_pydantic = pytest.mark.skipif(pydantic is None, reason="pydantic is not installed")

if pydantic is not None:

    class Weather(pydantic.BaseModel):
        """Today's weather in a city."""

        city: str
        celsius: float

    class Page(pydantic.BaseModel, Generic[T]):
        items: list[T]


class Plain:
    """Not pydantic: anything with a model_json_schema() class method will do."""

    SCHEMA: ClassVar[dict[str, Any]] = {"type": "object", "properties": {}}

    @classmethod
    def model_json_schema(cls) -> dict[str, Any]:
        return cls.SCHEMA


def message_of(make: Callable[[], object]) -> str:
    with pytest.raises(ValueError) as info:
        make()
    return str(info.value)


NAME_RULE = "JSONSchema.name must be 1-64 letters, digits, '_' or '-' (OpenAI's rule)"
SCHEMA = {"type": "object", "properties": {"a": {"type": "string"}}}


# --- JSONSchema -----------------------------------------------------------------------------


def test_json_schema_fields() -> None:
    spec = JSONSchema("answer", SCHEMA)
    assert (spec.name, spec.schema, spec.strict, spec.description, spec.model) == (
        "answer",
        SCHEMA,
        True,
        None,
        None,
    )
    assert JSONSchema("a" * 64, {}).name == "a" * 64
    assert JSONSchema("A-z_09", {}, strict=False, description="d").strict is False


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("", {}), NAME_RULE),
        (("a" * 65, {}), NAME_RULE),
        (("has space", {}), NAME_RULE),
        (("dotted.name", {}), NAME_RULE),
        ((3, {}), NAME_RULE),
        (("a", [1]), "JSONSchema.schema must be a mapping (a JSON Schema object)"),
        (("a", "{}"), "JSONSchema.schema must be a mapping (a JSON Schema object)"),
        (("a", {}, 1), "JSONSchema.strict must be a bool"),
        (("a", {}, True, 3), "JSONSchema.description must be a str or None"),
    ],
)
def test_bad_json_schemas(args: tuple[Any, ...], message: str) -> None:
    assert message_of(lambda: JSONSchema(*args)) == message


@needs_pydantic
def test_from_a_pydantic_model() -> None:
    spec = JSONSchema.from_model(Weather)
    assert spec.name == "Weather"
    assert spec.schema == Weather.model_json_schema()
    assert spec.strict is True
    assert spec.description == "Today's weather in a city."
    assert spec.model is Weather
    # equality ignores the model: the same schema written by hand is the same request
    assert spec == JSONSchema(
        "Weather", Weather.model_json_schema(), True, "Today's weather in a city."
    )
    assert "model" not in repr(spec)
    assert JSONSchema.from_model(Weather, strict=False).strict is False


@needs_pydantic
def test_model_names_are_sanitised_and_cut() -> None:
    spec = JSONSchema.from_model(Page[int])
    assert spec.name == "Page_int_"
    assert spec.schema == Page[int].model_json_schema()
    assert spec.description is None  # no docstring
    long = type("L" * 70, (Plain,), {})
    assert JSONSchema.from_model(long).name == "L" * 64
    unicode = type("Météo", (Plain,), {})
    assert JSONSchema.from_model(unicode).name == "M_t_o"


def test_from_any_class_with_model_json_schema() -> None:
    spec = JSONSchema.from_model(Plain)
    assert spec == JSONSchema(
        "Plain",
        Plain.SCHEMA,
        True,
        "Not pydantic: anything with a model_json_schema() class method will do.",
    )


@needs_pydantic
@pytest.mark.parametrize("value", ["instance", int, "Weather"])
def test_from_model_needs_a_class_with_the_method(value: object) -> None:
    if value == "instance":
        value = Weather(city="x", celsius=1.0)
    assert message_of(lambda: JSONSchema.from_model(value)) == (  # type: ignore[arg-type]
        "JSONSchema.from_model needs a class with model_json_schema()"
    )


# --- as_response_format ---------------------------------------------------------------------


@needs_pydantic
def test_response_format_forms() -> None:
    spec = JSONSchema("answer", SCHEMA)
    assert as_response_format(None) is None
    assert as_response_format("json") == "json"
    assert as_response_format(spec) is spec
    assert as_response_format(Weather) == JSONSchema.from_model(Weather)
    assert as_response_format(Weather).model is Weather  # type: ignore[union-attr]
    assert as_response_format({"type": "json_object"}) == "json"
    assert as_response_format({"type": "text"}) is None
    openai = {
        "type": "json_schema",
        "json_schema": {"name": "answer", "schema": SCHEMA, "strict": True, "description": "d"},
    }
    assert as_response_format(openai) == JSONSchema("answer", SCHEMA, True, "d")
    bare = {"type": "json_schema", "json_schema": {"name": "answer"}}
    assert as_response_format(bare) == JSONSchema("answer", {}, False)  # OpenAI's defaults


WRONG_TYPE = (
    "response_format must be a JSONSchema, 'json', or a class with model_json_schema() "
    "(a pydantic model), not {}"
)
WRONG_MAPPING = (
    "response_format as a mapping must be OpenAI's {'type': 'json_schema', "
    "'json_schema': {...}}, {'type': 'json_object'} or {'type': 'text'}"
)
WRONG_SPEC = (
    "response_format['json_schema'] must be an object with 'name' and 'schema' "
    "(and optionally 'strict', 'description')"
)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("JSON", "response_format as a string must be 'json' (JSON mode)"),
        ("json_object", "response_format as a string must be 'json' (JSON mode)"),
        (int, WRONG_TYPE.format("type")),
        (3, WRONG_TYPE.format("int")),
        ({"type": "json_object", "schema": {}}, WRONG_MAPPING),
        ({"type": "xml"}, WRONG_MAPPING),
        ({"type": "json_schema"}, WRONG_MAPPING),
        ({"type": "json_schema", "json_schema": "x"}, WRONG_SPEC),
        ({"type": "json_schema", "json_schema": {"schema": {}}}, WRONG_SPEC),
        ({"type": "json_schema", "json_schema": {"name": "a", "extra": 1}}, WRONG_SPEC),
        ({"type": "json_schema", "json_schema": {"name": "a b"}}, NAME_RULE),
        (
            {"type": "json_schema", "json_schema": {"name": "a", "strict": "yes"}},
            "JSONSchema.strict must be a bool",
        ),
    ],
)
def test_bad_response_formats(value: object, message: str) -> None:
    assert message_of(lambda: as_response_format(value)) == message


@needs_pydantic
def test_a_model_instance_is_not_a_response_format() -> None:
    instance = Weather(city="x", celsius=1.0)
    assert message_of(lambda: as_response_format(instance)) == WRONG_TYPE.format("Weather")


# --- Reasoning ------------------------------------------------------------------------------


@pytest.mark.parametrize("effort", [None, "low", "medium", "high"])
def test_reasoning_efforts(effort: Any) -> None:
    assert Reasoning(effort).effort == effort
    assert EFFORTS == ("low", "medium", "high")


def test_reasoning_fields_and_budget_floor() -> None:
    assert Reasoning() == Reasoning(None, None, False)
    assert MIN_BUDGET_TOKENS == 1024
    assert Reasoning(budget_tokens=1024).budget_tokens == 1024
    both = Reasoning("high", 32_000, summary=True)
    assert (both.effort, both.budget_tokens, both.summary) == ("high", 32_000, True)


EFFORT_RULE = "Reasoning.effort must be one of ['low', 'medium', 'high'] or None"
BUDGET_RULE = "Reasoning.budget_tokens must be an integer of at least 1024"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"effort": "max"}, EFFORT_RULE),
        ({"effort": "minimal"}, EFFORT_RULE),
        ({"effort": "HIGH"}, EFFORT_RULE),
        ({"effort": ["low"]}, EFFORT_RULE),
        ({"effort": 1}, EFFORT_RULE),
        ({"budget_tokens": 1023}, BUDGET_RULE),
        ({"budget_tokens": 0}, BUDGET_RULE),
        ({"budget_tokens": -1}, BUDGET_RULE),
        ({"budget_tokens": True}, BUDGET_RULE),
        ({"budget_tokens": 2048.0}, BUDGET_RULE),
        ({"budget_tokens": "2048"}, BUDGET_RULE),
        ({"summary": "yes"}, "Reasoning.summary must be a bool"),
        ({"summary": 1}, "Reasoning.summary must be a bool"),
    ],
)
def test_bad_reasoning(kwargs: dict[str, Any], message: str) -> None:
    assert message_of(lambda: Reasoning(**kwargs)) == message


BUDGETS = {"low": 1024, "medium": 8192, "high": 24_576}
STEPS = ((2048, "low"), (16_384, "medium"), (32_768, "high"))


@pytest.mark.parametrize(
    ("reasoning", "budget", "effort"),
    [
        (Reasoning(), None, None),
        (Reasoning("medium"), 8192, "medium"),
        (Reasoning("low", 5000), 5000, "low"),
        (Reasoning(budget_tokens=2048), 2048, "low"),  # at a step's bound
        (Reasoning(budget_tokens=2049), 2049, "medium"),  # one past it
        (Reasoning(budget_tokens=16_384), 16_384, "medium"),
        (Reasoning(budget_tokens=40_000), 40_000, "high"),  # above every bound
    ],
)
def test_a_dialect_derives_the_missing_half(
    reasoning: Reasoning, budget: int | None, effort: str | None
) -> None:
    assert reasoning.budget(BUDGETS) == budget
    assert reasoning.effort_or(STEPS) == effort


# --- strict_schema: OpenAI's strict form -----------------------------------------------------


def test_strict_schema_closes_every_object_and_requires_every_property() -> None:
    schema = {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "nick": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
            "tags": {"type": "array", "items": {"type": "object", "properties": {"t": {}}}},
            "default": {"type": "integer", "default": 3},  # a property named "default"
            "meta": {"type": "object", "additionalProperties": True},
        },
        "required": ["name"],
        "$defs": {"Point": {"properties": {"x": {"type": "number"}}}},
    }
    before = repr(schema)
    assert strict_schema(schema) == {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "nick": {"anyOf": [{"type": "string"}, {"type": "null"}]},
            "tags": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"t": {}},
                    "additionalProperties": False,
                    "required": ["t"],
                },
            },
            "default": {"type": "integer", "default": 3},
            "meta": {"type": "object", "additionalProperties": True},
        },
        "required": ["name", "nick", "tags", "default", "meta"],
        "$defs": {
            "Point": {
                "properties": {"x": {"type": "number"}},
                "additionalProperties": False,
                "required": ["x"],
            }
        },
        "additionalProperties": False,
    }
    assert repr(schema) == before  # the given schema is not changed
    assert strict_schema({"type": "string"}) == {"type": "string"}


@needs_pydantic
def test_strict_schema_of_a_pydantic_model() -> None:
    strict = strict_schema(Weather.model_json_schema())
    assert strict == {**Weather.model_json_schema(), "additionalProperties": False}
    assert strict["required"] == ["city", "celsius"]
