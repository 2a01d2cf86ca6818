"""ChatRequest, Message and Tool: invalid values are refused before anything is sent."""

from __future__ import annotations

import base64
import subprocess
import sys
from collections.abc import Callable

import pytest

from libchatty.content import DocumentPart, ImagePart, TextPart
from libchatty.events import ToolCall
from libchatty.options import JSONSchema, Reasoning
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


# --- content parts (issue 12) ---------------------------------------------------------------

PNG = b"\x89PNG\r\n\x1a\n" + bytes(16)
PNG_B64 = base64.b64encode(PNG).decode("ascii")
PNG_URL = f"data:image/png;base64,{PNG_B64}"


def message_of(make: Callable[[], object]) -> str:
    with pytest.raises(ValueError) as info:
        make()
    return str(info.value)


@pytest.mark.parametrize(
    ("content", "stored", "text", "parts"),
    [
        ("hi", "hi", "hi", (TextPart("hi"),)),
        ("", "", "", ()),
        (None, None, "", ()),
        ([], (), "", ()),
        (["a", "b"], (TextPart("a"), TextPart("b")), "ab", (TextPart("a"), TextPart("b"))),
        (
            [TextPart("look: "), ImagePart(PNG), {"type": "text", "text": "ok?"}],
            (TextPart("look: "), ImagePart(PNG), TextPart("ok?")),
            "look: ok?",
            (TextPart("look: "), ImagePart(PNG), TextPart("ok?")),
        ),
        ((p for p in ["x"]), (TextPart("x"),), "x", (TextPart("x"),)),
        (
            [ImagePart(url="https://x.test/a.png")],
            (ImagePart(url="https://x.test/a.png"),),
            "",
            (ImagePart(url="https://x.test/a.png"),),
        ),
    ],
)
def test_message_content_forms(
    content: object, stored: object, text: str, parts: tuple[object, ...]
) -> None:
    message = Message("user", content)  # type: ignore[arg-type]
    assert message.content == stored
    assert type(message.content) is type(stored)
    assert message.text == text
    assert message.parts == parts


CONTENT_RULE = "Message.content must be a str, None, or a sequence of content parts"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"bytes", CONTENT_RULE),
        (bytearray(b"x"), CONTENT_RULE),
        ({"type": "text", "text": "a dict, not a list"}, CONTENT_RULE),
        (3, CONTENT_RULE),
        (
            [3],
            "a content part must be a str, TextPart, ImagePart, DocumentPart, AudioPart or a "
            "dict, not int",
        ),
        ([{"type": "image"}], "unknown content part type 'image'"),
    ],
)
def test_bad_message_content(content: object, message: str) -> None:
    assert message_of(lambda: Message("user", content)) == message  # type: ignore[arg-type]


ROLE_RULE = (
    "Message.role must be one of ['assistant', 'developer', 'system', 'tool', 'user'], not {}"
)


@pytest.mark.parametrize(
    ("role", "shown"),
    [
        ("wizard", "'wizard'"),
        (["user"], "['user']"),  # unhashable: still a ValueError, not a TypeError
        (None, "None"),
        ("r" * 100, "'" + "r" * 60 + "..."),
    ],
)
def test_bad_roles_are_refused(role: object, shown: str) -> None:
    assert message_of(lambda: Message(role, "hi")) == ROLE_RULE.format(shown)  # type: ignore[arg-type]


def test_as_message_accepts_an_openai_message_with_dict_parts() -> None:
    message = as_message(
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is in this image?"},
                {"type": "image_url", "image_url": {"url": PNG_URL, "detail": "low"}},
                {
                    "type": "file",
                    "file": {
                        "file_data": "data:application/pdf;base64,JVBERg==",
                        "filename": "a.pdf",
                    },
                },
            ],
        }
    )
    assert message == Message(
        "user",
        (
            TextPart("What is in this image?"),
            ImagePart(url=PNG_URL, detail="low"),
            DocumentPart(url="data:application/pdf;base64,JVBERg==", name="a.pdf"),
        ),
    )
    image = message.parts[1]
    assert isinstance(image, ImagePart)
    assert (image.base64, image.media_type) == (PNG_B64, "image/png")
    assert message.text == "What is in this image?"


def test_as_message_tool_calls() -> None:
    message = as_message(
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "c1", "function": {"name": "f", "arguments": '{"a":1}'}},
                {"id": "c2", "name": "g", "arguments": {"b": "é"}},  # function at top level
                {"function": {"name": "h"}, "signature": "sig"},
                ToolCall("c4", "k", "{}"),
            ],
        }
    )
    assert message.tool_calls == (
        ToolCall("c1", "f", '{"a":1}'),
        ToolCall("c2", "g", '{"b":"é"}'),
        ToolCall(None, "h", "", "sig"),
        ToolCall("c4", "k", "{}"),
    )


@pytest.mark.parametrize(
    ("calls", "message"),
    [
        ("f()", "a message's 'tool_calls' must be a list"),
        ({"id": "c1"}, "a message's 'tool_calls' must be a list"),
        (["f"], "a message's tool_calls[0] must be an object"),
        ([{"function": {"arguments": "{}"}}], "a message's tool_calls[0] needs a function name"),
        (
            [{"function": {"name": "f"}}, {"function": {"name": ""}}],
            "a message's tool_calls[1] needs a function name",
        ),
        ([{"function": "f"}], "a message's tool_calls[0]: 'function' must be an object"),
        (
            [{"function": {"name": "f", "arguments": 3}}],
            "a message's tool_calls[0]: 'arguments' must be JSON text or an object",
        ),
        (
            [{"id": 1, "function": {"name": "f"}}],
            "a message's tool_calls[0]: 'id' and 'signature' must be strings",
        ),
    ],
)
def test_bad_tool_calls_are_typed_errors(calls: object, message: str) -> None:
    value = {"role": "assistant", "content": None, "tool_calls": calls}
    assert message_of(lambda: as_message(value)) == message


# --- response_format, reasoning, seed, n (issue 12) -----------------------------------------


def test_response_format_is_stored_neutral() -> None:
    spec = JSONSchema("answer", {"type": "object"})
    assert ChatRequest("m", HELLO).neutral_response_format is None
    assert ChatRequest("m", HELLO, response_format="json").neutral_response_format == "json"
    assert ChatRequest("m", HELLO, response_format=spec).response_format is spec
    openai = {
        "type": "json_schema",
        "json_schema": {"name": "answer", "schema": {"type": "object"}},
    }
    assert ChatRequest("m", HELLO, response_format=openai).neutral_response_format == (
        JSONSchema("answer", {"type": "object"}, strict=False)
    )

    class Answer:
        @classmethod
        def model_json_schema(cls) -> dict[str, object]:
            return {"type": "object"}

    request = ChatRequest("m", HELLO, response_format=Answer)
    assert request.response_format == JSONSchema("Answer", {"type": "object"})
    assert request.neutral_response_format == JSONSchema("Answer", {"type": "object"})
    assert message_of(lambda: ChatRequest("m", HELLO, response_format="JSON")) == (  # type: ignore[arg-type]
        "response_format as a string must be 'json' (JSON mode)"
    )


def test_reasoning_must_be_a_reasoning() -> None:
    assert ChatRequest("m", HELLO, reasoning=Reasoning("high")).reasoning == Reasoning("high")
    assert message_of(lambda: ChatRequest("m", HELLO, reasoning="high")) == (  # type: ignore[arg-type]
        "ChatRequest.reasoning must be a Reasoning"
    )


SEED_RULE = f"ChatRequest.seed must be an integer from {-(2**63)} to {2**63 - 1}"
N_RULE = "ChatRequest.n must be an integer from 1 to 128"


@pytest.mark.parametrize("seed", [None, 0, 42, -(2**63), 2**63 - 1])
def test_seeds_at_the_limits(seed: int | None) -> None:
    assert ChatRequest("m", HELLO, seed=seed).seed == seed


@pytest.mark.parametrize("seed", [-(2**63) - 1, 2**63, True, 1.0, "1"])
def test_seeds_past_the_limits(seed: object) -> None:
    assert message_of(lambda: ChatRequest("m", HELLO, seed=seed)) == SEED_RULE  # type: ignore[arg-type]


@pytest.mark.parametrize("n", [None, 1, 2, 128])
def test_n_at_the_limits(n: int | None) -> None:
    assert ChatRequest("m", HELLO, n=n).n == n


@pytest.mark.parametrize("n", [0, 129, -1, True, 2.0, "2"])
def test_n_past_the_limits(n: object) -> None:
    assert message_of(lambda: ChatRequest("m", HELLO, n=n)) == N_RULE  # type: ignore[arg-type]


# --- per-request headers (issue 12) ---------------------------------------------------------

TOKEN = "sk-per-request-s3cr3t"


def test_headers_are_copied_and_hidden_from_repr() -> None:
    given = {"X-Trace": "abc", "Authorization": f"Bearer {TOKEN}"}
    request = ChatRequest("m", HELLO, headers=given)
    given["X-Trace"] = "changed"
    assert request.headers == {"X-Trace": "abc", "Authorization": f"Bearer {TOKEN}"}
    assert TOKEN not in repr(request)
    assert "headers" not in repr(request)
    assert ChatRequest("m", HELLO, headers={}).headers == {}
    assert ChatRequest("m", HELLO, headers={"X-Empty": ""}).headers == {"X-Empty": ""}


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ([("X-A", "1")], "ChatRequest.headers must be a mapping of str to str"),
        (
            {"X A": "1"},
            "ChatRequest.headers: the name of header #0 is not a valid HTTP header name "
            "(letters, digits, -!#$%&'*+.^_`|~)",
        ),
        (
            {"X-A": "1", 3: "1"},
            "ChatRequest.headers: the name of header #1 must be a str, not int",
        ),
        (
            {"X-A": "1", "x-a": "2"},
            "ChatRequest.headers sets 'x-a' twice (names ignore case)",
        ),
        (
            {"Content-Length": "0"},
            "ChatRequest.headers must not set 'Content-Length': the call writes it itself",
        ),
        (
            {"transfer-encoding": "chunked"},
            "ChatRequest.headers must not set 'transfer-encoding': the call writes it itself",
        ),
        (
            {"Host": "evil.test"},
            "ChatRequest.headers must not set 'Host': the call writes it itself",
        ),
        (
            {"Connection": "close"},
            "ChatRequest.headers must not set 'Connection': the call writes it itself",
        ),
        (
            {"X-Key": f"{TOKEN}\r\nX-Evil: 1"},
            "ChatRequest.headers: the value of header 'X-Key' contains a control character "
            "(CR, LF, NUL...); it was refused (its value is not shown)",
        ),
        (
            {"X-Key": f" {TOKEN}"},
            "ChatRequest.headers: the value of header 'X-Key' has leading or trailing "
            "whitespace; it was refused (its value is not shown)",
        ),
        (
            {"X-Key": f"{TOKEN}é"},
            "ChatRequest.headers: the value of header 'X-Key' contains a non-ASCII character; "
            "it was refused (its value is not shown)",
        ),
        (
            {"X-Key": 42},
            "ChatRequest.headers: the value of header 'X-Key' must be a str, not int",
        ),
    ],
)
def test_bad_headers_are_refused_without_quoting_values(headers: object, message: str) -> None:
    text = message_of(lambda: ChatRequest("m", HELLO, headers=headers))  # type: ignore[arg-type]
    assert text == message
    assert TOKEN not in text


# --- package exports (issue 12): the request types, and lazy heavy ones ---------------------


def test_issue_12_names_are_exported_and_the_heavy_ones_load_lazily() -> None:
    code = (
        "import sys, libchatty\n"
        "lazy = ('libchatty.partialjson', 'libchatty.eventstream')\n"
        "print(sorted(m for m in lazy if m in sys.modules))\n"
        "from libchatty import PartialJSON, EventStreamDecoder, EventStreamMessage\n"
        "print(sorted(m for m in lazy if m in sys.modules))\n"
        "print(all(hasattr(libchatty, name) for name in libchatty.__all__))\n"
        "print(libchatty.__all__ == sorted(libchatty.__all__))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    assert out == ("[]\n['libchatty.eventstream', 'libchatty.partialjson']\nTrue\nTrue\n")
    import libchatty
    from libchatty import content, eventstream, options, partialjson, sigv4

    expected = {
        "TextPart": content.TextPart,
        "ImagePart": content.ImagePart,
        "DocumentPart": content.DocumentPart,
        "AudioPart": content.AudioPart,
        "ContentPart": content.ContentPart,
        "JSONSchema": options.JSONSchema,
        "Reasoning": options.Reasoning,
        "PartialJSON": partialjson.PartialJSON,
        "EventStreamDecoder": eventstream.EventStreamDecoder,
        "EventStreamMessage": eventstream.EventStreamMessage,
        "AWSCredentials": sigv4.AWSCredentials,
    }
    for name, value in expected.items():
        assert name in libchatty.__all__
        assert getattr(libchatty, name) is value
    with pytest.raises(AttributeError, match="module 'libchatty' has no attribute 'Nope'"):
        libchatty.Nope  # noqa: B018


def test_the_request_init_is_written_out_and_takes_the_fields() -> None:
    # Written out so that a process's first request does not compile one (values.frozen
    # would); it must stay the one the fields declare: names, order and defaults.
    import dataclasses
    import inspect

    assert ChatRequest.__init__.__code__.co_filename.endswith("request.py")
    parameters = list(inspect.signature(ChatRequest).parameters.values())
    fields = dataclasses.fields(ChatRequest)
    assert [p.name for p in parameters] == [f.name for f in fields]
    assert [p.default for p in parameters] == [
        inspect.Parameter.empty if f.default is dataclasses.MISSING else f.default for f in fields
    ]
