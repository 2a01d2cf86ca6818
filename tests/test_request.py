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
                    {"id": "c1", "type": "function",
                     "function": {"name": "f", "arguments": "{}"}}
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
