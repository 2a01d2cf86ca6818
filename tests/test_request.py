"""ChatRequest, Message and Tool: invalid values are refused before anything is sent."""

from __future__ import annotations

import pytest

from libchatty.events import ToolCall
from libchatty.request import ChatRequest, Message, Tool, as_message

HELLO = [Message("user", "hello")]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"model": ""}, "model"),
        ({"model": "  "}, "model"),
        ({"model": "gpt\r\nX-Evil: 1"}, "model"),
        ({"messages": []}, "messages"),
        ({"temperature": 2.5}, "temperature"),
        ({"temperature": -0.1}, "temperature"),
        ({"temperature": float("nan")}, "temperature"),
        ({"temperature": True}, "temperature"),
        ({"top_p": 1.5}, "top_p"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"max_tokens": 1.5}, "max_tokens"),
        ({"extra": [1]}, "extra"),
    ],
)
def test_invalid_values_name_their_field(kwargs: dict[str, object], field: str) -> None:
    args: dict[str, object] = {"model": "m", "messages": HELLO, **kwargs}
    with pytest.raises(ValueError, match=field):
        ChatRequest(**args)  # type: ignore[arg-type]


def test_boundaries_are_accepted() -> None:
    request = ChatRequest("m", HELLO, temperature=0, top_p=1.0, max_tokens=1)
    assert request.temperature == 0
    assert ChatRequest("m", HELLO, temperature=2.0).temperature == 2.0


def test_messages_accept_openai_dicts_and_become_a_tuple() -> None:
    request = ChatRequest(
        "m",
        [
            {"role": "system", "content": "be brief"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
                ],
            },
            {"role": "tool", "content": "42", "tool_call_id": "c1"},
        ],
    )
    assert isinstance(request.messages, tuple)
    assert request.messages[1].tool_calls == (ToolCall("c1", "f", "{}"),)
    assert request.messages[2].tool_call_id == "c1"


def test_bad_messages_are_refused() -> None:
    with pytest.raises(ValueError, match="role"):
        Message("wizard", "hi")
    with pytest.raises(ValueError, match="tool_call_id"):
        Message("tool", "42")
    with pytest.raises(ValueError, match="role"):
        as_message({"content": "no role"})
    with pytest.raises(ValueError, match="mapping"):
        as_message("hello")  # type: ignore[arg-type]


def test_stop_and_tools_are_normalised() -> None:
    request = ChatRequest(
        "m",
        HELLO,
        stop="END",
        tools=[{"type": "function", "function": {"name": "get", "parameters": {"type": "object"}}}],
    )
    assert request.stop_list == ("END",)
    assert request.tool_list == (Tool("get", "", {"type": "object"}),)
    with pytest.raises(ValueError, match="name"):
        ChatRequest("m", HELLO, tools=[{"type": "function", "function": {}}])


# --- tool_choice: every provider's form, normalised (issue 9, point 11a) ----------------------
TOOLS = [Tool("f"), Tool("get_weather")]


@pytest.mark.parametrize(
    ("given", "neutral"),
    [
        ("auto", "auto"),
        ("none", "none"),
        ("required", "required"),
        ("f", "f"),
        ({"type": "function", "function": {"name": "f"}}, "f"),  # OpenAI chat
        ({"type": "function", "name": "get_weather"}, "get_weather"),  # Responses
        ({"type": "tool", "name": "f"}, "f"),  # Anthropic
        ({"type": "any"}, "required"),
        ({"type": "auto"}, "auto"),
        ({"type": "none"}, "none"),
        ({"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["f"]}}, "f"),
        ({"functionCallingConfig": {"mode": "ANY"}}, "required"),
        ({"functionCallingConfig": {"mode": "AUTO"}}, "auto"),
        ({"functionCallingConfig": {"mode": "NONE"}}, "none"),
        ({"functionCallingConfig": {}}, "auto"),
    ],
)
def test_tool_choice_forms_are_normalised(given: object, neutral: str) -> None:
    request = ChatRequest("m", HELLO, tools=TOOLS, tool_choice=given)  # type: ignore[arg-type]
    assert request.tool_choice == neutral
    assert request.neutral_tool_choice == neutral


def test_tool_choice_none_stays_none() -> None:
    assert ChatRequest("m", HELLO).neutral_tool_choice is None


FIELD = "ChatRequest.tool_choice"
UNSUPPORTED_KEY = (
    FIELD + ": key {} is not supported (send provider-specific fields through ChatRequest.extra)"
)


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("", FIELD + ": the tool name must be a non-empty string"),
        (
            3,
            FIELD + " must be 'auto', 'none', 'required', a tool name or a provider's "
            "tool_choice object, not int",
        ),
        ({"type": "allowed_tools", "tools": []}, FIELD + ": type 'allowed_tools' is not supported"),
        ({"type": "custom", "name": "f"}, FIELD + ": type 'custom' is not supported"),
        ({"type": "x" * 100}, FIELD + ": type '" + "x" * 60 + "... is not supported"),
        ({"type": "required"}, FIELD + ": type 'required' is not supported"),
        ({"name": "f"}, FIELD + ": a tool_choice object needs a string 'type'"),
        ({"type": ["any"]}, FIELD + ": a tool_choice object needs a string 'type'"),
        ({"type": "function"}, FIELD + ": the tool name must be a non-empty string"),
        ({"type": "tool", "name": 7}, FIELD + ": the tool name must be a non-empty string"),
        (
            {"type": "function", "function": "f"},
            FIELD + ": 'function' must be an object with a 'name'",
        ),
        (
            {"type": "function", "function": {"name": "f", "strict": True}},
            UNSUPPORTED_KEY.format("'strict'"),
        ),
        (
            {"type": "auto", "disable_parallel_tool_use": True},
            UNSUPPORTED_KEY.format("'disable_parallel_tool_use'"),
        ),
        ({"type": "tool", "name": "f", "extra": 1}, UNSUPPORTED_KEY.format("'extra'")),
        (
            {"functionCallingConfig": {"mode": "VALIDATED"}},
            FIELD + ": functionCallingConfig.mode must be AUTO, NONE or ANY",
        ),
        (
            {"functionCallingConfig": {"mode": ["ANY"]}},
            FIELD + ": functionCallingConfig.mode must be AUTO, NONE or ANY",
        ),
        ({"functionCallingConfig": "ANY"}, FIELD + ": functionCallingConfig must be an object"),
        (
            {
                "functionCallingConfig": {
                    "mode": "ANY",
                    "allowedFunctionNames": ["f", "get_weather"],
                }
            },
            FIELD + ": allowedFunctionNames is supported only as one name with mode ANY",
        ),
        (
            {"functionCallingConfig": {"mode": "AUTO", "allowedFunctionNames": ["f"]}},
            FIELD + ": allowedFunctionNames is supported only as one name with mode ANY",
        ),
        ("nope", FIELD + " names tool 'nope', which is not in ChatRequest.tools"),
        (
            {"type": "tool", "name": "y" * 100},
            FIELD + " names tool '" + "y" * 60 + "..., which is not in ChatRequest.tools",
        ),
    ],
)
def test_bad_tool_choice_is_refused_naming_the_field(given: object, message: str) -> None:
    with pytest.raises(ValueError) as info:
        ChatRequest("m", HELLO, tools=TOOLS, tool_choice=given)  # type: ignore[arg-type]
    assert str(info.value) == message


def test_a_named_tool_is_not_checked_without_tools() -> None:
    request = ChatRequest("m", HELLO, tool_choice={"type": "tool", "name": "elsewhere"})
    assert request.tool_choice == "elsewhere"
