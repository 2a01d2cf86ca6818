"""Per-request options, partial objects and ``parsed`` in every binding (blocking, threads,
trio, asyncio), against the replay server on loopback.

Each test runs the same call through :func:`chat` / :func:`stream_items`, which spell it
for each binding; the request the server recorded and the result are checked exactly.
Every client has connect, idle and total timeouts, and every async run a deadline, so a
failure can never hang.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import json
from collections.abc import Iterator
from typing import Any, Final

import pydantic
import pytest
import trio
from libchatty.bindings._api import STOP, Completion, Timeout
from libchatty.bindings.asyncio import AsyncClient as AsyncioClient
from libchatty.bindings.blocking import Client
from libchatty.bindings.server import Fault, ReplayServer
from libchatty.bindings.threads import ThreadedClient
from libchatty.bindings.trio import AsyncClient as TrioClient

from libchatty.events import Delta, Done, Error, ToolCall
from libchatty.exceptions import ChatError
from libchatty.options import JSONSchema, Reasoning
from libchatty.partial_objects import PartialObject
from libchatty.replay import Script
from libchatty.structured import StructuredOutputError

BINDINGS: Final = ("blocking", "threads", "trio", "asyncio")
CLIENT_TIMEOUT: Final = Timeout(connect=5.0, idle=5.0, total=20.0)
DEADLINE: Final = 30.0
KEY: Final = "sk-test-wiring"

SCHEMA: Final = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "langs": {"type": "array",
                                                          "items": {"type": "string"}}},
    "required": ["name", "langs"],
    "additionalProperties": False,
}  # fmt: skip
DOCUMENT: Final = '{"name": "Ada Lovelace", "langs": ["en", "fr", "it"]}'
STRUCTURED: Final = Script(text=DOCUMENT)
TOOLS: Final = Script(
    tool_calls=(
        ToolCall("call_1", "get_weather", '{"city": "Paris", "days": [1, 2]}'),
        ToolCall("call_2", "get_time", '{"tz": "Europe/Paris"}'),
    ),
    finish_reason="tool_calls",
)


class Person(pydantic.BaseModel):
    name: str
    langs: list[str]


every_binding = pytest.mark.parametrize("binding", BINDINGS)


def settings(server: ReplayServer, **overrides: Any) -> dict[str, Any]:
    return {"base_url": server.base_url, "api_key": KEY, "timeout": CLIENT_TIMEOUT,
            "env": {}, **overrides}  # fmt: skip


def chat(binding: str, client_settings: dict[str, Any], **kwargs: Any) -> Completion:
    """``client.chat("hi", "m", **kwargs)`` with a fresh client of ``binding``."""
    if binding == "blocking":
        with Client(**client_settings) as client:
            return client.chat("hi", "m", **kwargs)
    if binding == "threads":
        with ThreadedClient(**client_settings) as threaded:
            return threaded.submit("hi", "m", **kwargs).result(timeout=DEADLINE)
    if binding == "trio":

        async def on_trio() -> Completion:
            with trio.fail_after(DEADLINE):
                async with TrioClient(**client_settings) as client:
                    return await client.chat("hi", "m", **kwargs)

        return trio.run(on_trio)

    async def on_asyncio() -> Completion:
        async with AsyncioClient(**client_settings) as client:
            return await asyncio.wait_for(client.chat("hi", "m", **kwargs), DEADLINE)

    return asyncio.run(on_asyncio())


def stream_items(binding: str, client_settings: dict[str, Any], **kwargs: Any) -> list[Any]:
    """Every item of ``client.stream("hi", "m", **kwargs)``, in order (partial objects
    deep-copied as they come: their values are live)."""
    if binding == "blocking":
        with Client(**client_settings) as client, client.stream("hi", "m", **kwargs) as items:
            return [copy.deepcopy(item) for item in items]
    if binding == "threads":
        with ThreadedClient(**client_settings) as threaded, threaded.stream(
            "hi", "m", **kwargs
        ) as stream:
            return [copy.deepcopy(item) for item in stream]
    if binding == "trio":

        async def on_trio() -> list[Any]:
            with trio.fail_after(DEADLINE):
                async with TrioClient(**client_settings) as client, client.stream(
                    "hi", "m", **kwargs
                ) as items:
                    return [copy.deepcopy(item) async for item in items]

        return trio.run(on_trio)

    async def on_asyncio() -> list[Any]:
        async with AsyncioClient(**client_settings) as client, client.stream(
            "hi", "m", **kwargs
        ) as items:
            return [copy.deepcopy(item) async for item in items]

    return asyncio.run(on_asyncio())


@pytest.fixture
def structured_server() -> Iterator[ReplayServer]:
    with ReplayServer(script=STRUCTURED) as server:
        yield server


@pytest.fixture
def tool_server() -> Iterator[ReplayServer]:
    with ReplayServer(script=TOOLS) as server:
        yield server


# --- per-request options reach the wire ---------------------------------------------------
@every_binding
def test_every_per_request_option_reaches_the_wire(
    binding: str, structured_server: ReplayServer
) -> None:
    completion = chat(
        binding, settings(structured_server, headers={"X-Team": "search"}),
        response_format=JSONSchema("person", SCHEMA), reasoning=Reasoning(effort="high"),
        seed=7, n=2, headers={"X-Trace": "t-1"}, max_tokens=64,
    )  # fmt: skip
    sent = structured_server.requests[-1]
    assert len(structured_server.requests) == 1
    body = sent.json
    # OpenAI chat completions, as its API reference documents each field.
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "person", "schema": SCHEMA, "strict": True},
    }
    assert (body["reasoning_effort"], body["seed"], body["n"], body["max_tokens"]) == (
        "high", 7, 2, 64)  # fmt: skip
    assert "max_completion_tokens" not in body  # a compatible server, not api.openai.com
    assert (sent.headers["x-trace"], sent.headers["x-team"]) == ("t-1", "search")
    assert completion.parsed == json.loads(DOCUMENT)


@every_binding
def test_a_per_request_header_goes_with_that_request_only(
    binding: str, structured_server: ReplayServer
) -> None:
    chat(binding, settings(structured_server), headers={"X-Trace": "only-once"})
    chat(binding, settings(structured_server))
    first, second = structured_server.requests
    assert first.headers["x-trace"] == "only-once"
    assert "x-trace" not in second.headers


@every_binding
def test_per_call_max_retries_overrides_the_clients(binding: str) -> None:
    with ReplayServer(text="fine") as server:
        for _ in range(2):
            server.add_fault(Fault("status", status=429, retry_after=0.0))
        with pytest.raises(ChatError) as info:
            chat(binding, settings(server, max_retries=5), max_retries=1)
        assert (info.value.kind, info.value.status) == ("rate_limit", 429)
        assert len(server.requests) == 2  # the first request and exactly one retry

        for _ in range(2):
            server.add_fault(Fault("status", status=429, retry_after=0.0))
        completion = chat(binding, settings(server, max_retries=0), max_retries=2)
        assert completion.text == "fine"
        assert len(server.requests) == 5  # 2 before, then two 429s and the answer


@every_binding
def test_max_retries_zero_for_one_call_is_one_request(binding: str) -> None:
    with ReplayServer(text="fine") as server:
        server.add_fault(Fault("status", status=429, retry_after=0.0))
        with pytest.raises(ChatError):
            chat(binding, settings(server, max_retries=3), max_retries=0)
        assert len(server.requests) == 1


@every_binding
def test_per_call_timeout_overrides_the_clients(binding: str) -> None:
    with ReplayServer(text="fine") as server:
        server.add_fault(Fault("stall", seconds=30))
        with pytest.raises(ChatError) as info:
            chat(binding, settings(server, max_retries=0), timeout=Timeout(connect=5, idle=0.2))
        assert info.value.kind == "timeout"
        assert info.value.error.message == "no data from the server for 0.2 s (idle timeout)"


def test_bad_per_call_settings_are_value_errors() -> None:
    with ReplayServer(text="fine") as server, Client(**settings(server)) as client:
        for bad in (-1, True, 1.5):
            with pytest.raises(ValueError, match="max_retries must be a non-negative integer"):
                client.chat("hi", "m", max_retries=bad)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match=r"Timeout\.connect must be a positive number"):
            client.chat("hi", "m", timeout=0)
        with pytest.raises(ValueError, match="must not set 'Content-Length'"):
            client.chat("hi", "m", headers={"Content-Length": "1"})
        assert server.requests == []  # nothing was sent


# --- structured output: parsed ---------------------------------------------------------------
@every_binding
def test_parsed_is_the_pydantic_instance(binding: str, structured_server: ReplayServer) -> None:
    completion = chat(binding, settings(structured_server), response_format=Person)
    assert completion.parsed == Person(name="Ada Lovelace", langs=["en", "fr", "it"])
    assert type(completion.parsed) is Person
    sent = structured_server.requests[-1].json["response_format"]
    assert (sent["type"], sent["json_schema"]["name"]) == ("json_schema", "Person")


@every_binding
def test_json_mode_parsed_streamed_and_not(binding: str, structured_server: ReplayServer) -> None:
    plain = chat(binding, settings(structured_server), response_format="json")
    streamed = chat(binding, settings(structured_server), response_format="json",
                    on_delta=lambda text, done: None)  # fmt: skip
    assert plain.parsed == streamed.parsed == json.loads(DOCUMENT)
    assert (plain.streamed, streamed.streamed) == (False, True)
    assert structured_server.requests[0].json["response_format"] == {"type": "json_object"}


@every_binding
def test_invalid_json_is_a_structured_output_error_keeping_the_text(binding: str) -> None:
    with ReplayServer(text='{"name": "Ada", ') as server, pytest.raises(
        StructuredOutputError
    ) as info:
        chat(binding, settings(server), response_format="json")
    assert info.value.text == '{"name": "Ada", '
    assert info.value.cause.startswith("invalid JSON")


@every_binding
def test_no_response_format_no_parsed(binding: str, structured_server: ReplayServer) -> None:
    completion = chat(binding, settings(structured_server))
    assert (completion.text, completion.parsed) == (DOCUMENT, None)
    assert "response_format" not in structured_server.requests[-1].json


# --- partial objects ------------------------------------------------------------------------
def _grows(before: Any, after: Any) -> bool:
    """``after`` extends ``before``: strings extend, lists and objects gain members,
    nothing changes type or disappears."""
    if isinstance(before, str):
        return isinstance(after, str) and after.startswith(before)
    if isinstance(before, list):
        return (isinstance(after, list) and len(after) >= len(before)
                and all(_grows(b, a) for b, a in zip(before, after, strict=False)))  # fmt: skip
    if isinstance(before, dict):
        return isinstance(after, dict) and all(
            key in after and _grows(value, after[key]) for key, value in before.items()
        )
    return before == after


@every_binding
def test_on_partial_grows_to_the_parsed_value(
    binding: str, structured_server: ReplayServer
) -> None:
    seen: list[PartialObject] = []

    def on_partial(partial: PartialObject) -> None:
        seen.append(copy.deepcopy(partial))

    completion = chat(binding, settings(structured_server), response_format=Person,
                      on_partial=on_partial)  # fmt: skip
    assert completion.streamed is True
    assert len(seen) >= 3
    assert {(p.source, p.index) for p in seen} == {("answer", 0)}
    for before, after in itertools.pairwise(seen):
        assert _grows(before.value, after.value), (before.value, after.value)
    assert [p.complete for p in seen] == [False] * (len(seen) - 1) + [True]
    assert seen[-1].value == json.loads(DOCUMENT) == completion.parsed.model_dump()


@pytest.mark.parametrize("binding", ["trio", "asyncio"])
def test_an_async_on_partial_is_awaited(binding: str, structured_server: ReplayServer) -> None:
    seen: list[Any] = []

    async def on_partial(partial: PartialObject) -> None:
        seen.append(copy.deepcopy(partial.value))

    completion = chat(binding, settings(structured_server), response_format="json",
                      on_partial=on_partial)  # fmt: skip
    assert seen[-1] == completion.parsed == json.loads(DOCUMENT)


@every_binding
def test_on_partial_tool_arguments_per_call(binding: str, tool_server: ReplayServer) -> None:
    seen: list[PartialObject] = []
    completion = chat(binding, settings(tool_server), on_partial=lambda p: seen.append(
        copy.deepcopy(p)))  # fmt: skip
    finals = [(p.index, p.tool_call_id, p.tool_name, p.value) for p in seen if p.complete]
    assert finals == [
        (0, "call_1", "get_weather", {"city": "Paris", "days": [1, 2]}),
        (1, "call_2", "get_time", {"tz": "Europe/Paris"}),
    ]
    for index in (0, 1):
        values = [p.value for p in seen if p.index == index]
        for before, after in itertools.pairwise(values):
            assert _grows(before, after)
    assert completion.parsed is None  # no response_format: tool arguments only
    assert [c.name for c in completion.tool_calls] == ["get_weather", "get_time"]


@every_binding
def test_on_partial_stop_ends_the_call(binding: str, structured_server: ReplayServer) -> None:
    completion = chat(binding, settings(structured_server), response_format="json",
                      on_partial=lambda partial: STOP)  # fmt: skip
    assert completion.finish_reason == "stopped"
    assert DOCUMENT.startswith(completion.text)


@every_binding
def test_stream_partial_yields_partials_among_events(
    binding: str, structured_server: ReplayServer
) -> None:
    items = stream_items(binding, settings(structured_server), partial=True,
                         response_format="json")  # fmt: skip
    assert type(items[-1]) is Done and items[-1].text == DOCUMENT
    partials = [item for item in items if type(item) is PartialObject]
    assert partials[-1] == PartialObject(json.loads(DOCUMENT), "answer", complete=True)
    assert type(items[-2]) is PartialObject and items[-2].complete
    # Each partial right after the delta that made it (one document: one partial each).
    for i, item in enumerate(items):
        if type(item) is PartialObject and not item.complete:
            assert type(items[i - 1]) is Delta
    deltas = "".join(i.text for i in items if type(i) is Delta and i.kind == "text")
    assert deltas == DOCUMENT


@every_binding
def test_stream_without_partial_has_no_partials(
    binding: str, structured_server: ReplayServer
) -> None:
    items = stream_items(binding, settings(structured_server), response_format="json")
    assert {type(item) for item in items} == {Delta, Done}


@every_binding
def test_stream_yields_done_as_is_for_invalid_json(binding: str) -> None:
    with ReplayServer(text="not json") as server:
        items = stream_items(binding, settings(server), partial=True, response_format="json")
    assert type(items[-1]) is Done and items[-1].text == "not json"
    assert not any(type(item) is PartialObject for item in items)
    assert not any(type(item) is Error for item in items)
