"""parse_structured: None, JSON mode, a plain JSONSchema (the value, not validated), a
pydantic model (the instance), and invalid JSON / validation failures as a typed error
with an exact, short message that keeps the text."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import BaseModel

from libchatty.exceptions import LibchattyError
from libchatty.options import JSONSchema, as_response_format
from libchatty.structured import StructuredOutputError, parse_structured


class Person(BaseModel):
    """A person."""

    name: str
    age: int


class Team(BaseModel):
    members: list[Person]


class SchemaOnly:
    """A class with a schema but no model_validate_json (not pydantic)."""

    @classmethod
    def model_json_schema(cls) -> dict[str, Any]:
        return {"type": "object"}


PLAIN = JSONSchema("person", {"type": "object", "properties": {"age": {"type": "integer"}}})


def test_none_returns_none_without_parsing() -> None:
    assert parse_structured("not JSON at all", None) is None


@pytest.mark.parametrize("response_format", ["json", PLAIN])
def test_json_mode_and_a_plain_schema_give_the_value(response_format: Any) -> None:
    assert parse_structured('{"name": "Ada", "age": 36}', response_format) == {
        "name": "Ada",
        "age": 36,
    }
    assert parse_structured(" [1, 2.5, null] \n", response_format) == [1, 2.5, None]


def test_a_plain_schema_is_not_validated() -> None:
    # Documented: no JSON Schema validator in libchatty; the provider enforces the schema.
    assert parse_structured('{"age": "old"}', PLAIN) == {"age": "old"}


def test_a_model_class_gives_the_validated_instance() -> None:
    result = parse_structured('{"name": "Ada", "age": 36}', as_response_format(Person))
    assert type(result) is Person
    assert result == Person(name="Ada", age=36)
    team = parse_structured(
        '{"members": [{"name": "A", "age": 1}, {"name": "B", "age": "2"}]}',
        JSONSchema.from_model(Team),
    )
    assert team == Team(members=[Person(name="A", age=1), Person(name="B", age=2)])


def test_a_class_without_model_validate_json_gives_the_plain_value() -> None:
    assert parse_structured('{"a": 1}', JSONSchema.from_model(SchemaOnly)) == {"a": 1}


@pytest.mark.parametrize(
    ("text", "cause"),
    [
        (
            '{"name": "Ada",',
            "invalid JSON: Expecting property name enclosed in double quotes at offset 15",
        ),
        ("", "invalid JSON: Expecting value at offset 0"),
        ('{"a": 1} trailing', "invalid JSON: Extra data at offset 9"),
        ('{"a": NaN}', "invalid JSON: NaN is not valid JSON"),
        ("[" * 100_000, "invalid JSON: nested too deeply to parse"),
    ],
)
@pytest.mark.parametrize("response_format", ["json", PLAIN, JSONSchema.from_model(Person)])
def test_invalid_json_is_a_typed_error_keeping_the_text(
    text: str, cause: str, response_format: Any
) -> None:
    with pytest.raises(StructuredOutputError) as caught:
        parse_structured(text, response_format)
    error = caught.value
    assert isinstance(error, LibchattyError)
    assert error.cause == cause
    assert str(error) == f"structured output unusable: {cause}"
    assert error.text == text
    assert error.model is None
    assert error.validation_error is None


def test_a_validation_failure_is_a_typed_error_with_a_short_message() -> None:
    text = '{"age": "very old, with a secret-looking sk-abcdefghijklmnop"}'
    with pytest.raises(StructuredOutputError) as caught:
        parse_structured(text, JSONSchema.from_model(Person))
    error = caught.value
    cause = (
        "does not match Person: 2 validation errors: name: Field required; "
        "age: Input should be a valid integer, unable to parse string as an integer"
    )
    assert error.cause == cause
    assert str(error) == f"structured output unusable: {cause}"
    assert error.text == text
    assert error.model is Person
    assert type(error.validation_error).__name__ == "ValidationError"
    assert error.__cause__ is None  # not chained: pydantic's text repeats the input
    assert error.__suppress_context__
    # Neither the message nor the repr repeats the answer or pydantic's report.
    for rendered in (str(error), repr(error)):
        assert "very old" not in rendered
        assert "input_value" not in rendered
        assert "errors.pydantic.dev" not in rendered
    assert repr(error) == f"StructuredOutputError(cause={cause!r}, text=<{len(text)} characters>)"


def test_at_most_three_validation_errors_are_listed() -> None:
    class Wide(BaseModel):
        a: int
        b: int
        c: int
        d: int

    three = '{"a": "x", "b": "x", "c": "x", "d": 1}'
    four = '{"a": "x", "b": "x", "c": "x", "d": "x"}'
    int_error = "Input should be a valid integer, unable to parse string as an integer"
    listed = f"a: {int_error}; b: {int_error}; c: {int_error}"
    with pytest.raises(StructuredOutputError) as at_limit:
        parse_structured(three, JSONSchema.from_model(Wide))
    assert at_limit.value.cause == f"does not match Wide: 3 validation errors: {listed}"
    with pytest.raises(StructuredOutputError) as past:
        parse_structured(four, JSONSchema.from_model(Wide))
    assert past.value.cause == f"does not match Wide: 4 validation errors: {listed}; and 1 more"


def test_nested_locations_and_one_error() -> None:
    text = '{"members": [{"name": "A", "age": 1}, {"name": "B"}]}'
    with pytest.raises(StructuredOutputError) as caught:
        parse_structured(text, JSONSchema.from_model(Team))
    assert (
        caught.value.cause
        == "does not match Team: 1 validation error: members.1.age: Field required"
    )


def test_a_validator_that_raises_a_plain_value_error_is_named_by_type() -> None:
    class Strict:
        @classmethod
        def model_json_schema(cls) -> dict[str, Any]:
            return {"type": "object"}

        @classmethod
        def model_validate_json(cls, text: str) -> Strict:
            raise ValueError(f"no: {text}")

    with pytest.raises(StructuredOutputError) as caught:
        parse_structured('{"secret": 1}', JSONSchema.from_model(Strict))
    assert caught.value.cause == "does not match Strict: ValueError"
    assert "secret" not in str(caught.value)


def test_each_listed_error_is_cut_to_120_characters() -> None:
    class Table(BaseModel):
        data: dict[str, int]

    def cause_for(key: str) -> str:
        with pytest.raises(StructuredOutputError) as caught:
            text = json.dumps({"data": {key: "x"}})
            parse_structured(text, JSONSchema.from_model(Table))
        return caught.value.cause.removeprefix("does not match Table: 1 validation error: ")

    tail = ": Input should be a valid integer, unable to parse string as an integer"
    fits = "k" * (120 - len("data.") - len(tail))  # exactly 120 characters: kept whole
    assert cause_for(fits) == f"data.{fits}{tail}"
    longer = fits + "k"  # 121: cut to 117 and "..."
    assert cause_for(longer) == f"data.{longer}{tail}"[:117] + "..."


def test_a_response_format_of_another_type_is_the_callers_mistake() -> None:
    with pytest.raises(ValueError, match="must be None, 'json' or a JSONSchema, not dict"):
        parse_structured("{}", {"type": "json_object"})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not str"):
        parse_structured("{}", "text")  # type: ignore[arg-type]
