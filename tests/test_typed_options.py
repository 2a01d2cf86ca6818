"""The keyword options of chat()/stream()/submit() are typed (``ChatOptions`` +
``Unpack``): mypy catches a misspelt option or a wrong type in a user's program, on every
client. One mypy run (a subprocess, bounded in time) over a small program outside the
package."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from libchatty.bindings._api import CHAT_OPTIONS, ChatOptions, Timeout
from libchatty.bindings._config import CLIENT_OPTIONS, ClientOptions
from libchatty.bindings.asyncio import AsyncClient as AsyncioClient
from libchatty.bindings.blocking import Client
from libchatty.bindings.threads import ThreadedClient
from libchatty.bindings.trio import AsyncClient as TrioClient

CLIENTS = (Client, ThreadedClient, AsyncioClient, TrioClient)

PROGRAM = '''\
from libchatty.bindings.asyncio import AsyncClient as AsyncioClient
from libchatty.bindings.blocking import Client
from libchatty.bindings.threads import ThreadedClient
from libchatty.bindings.trio import AsyncClient as TrioClient


async def use_async(a: AsyncioClient, t: TrioClient) -> None:
    await a.chat("hi", "m", max_token=5)
    async with t.stream("hi", "m", top_p="high") as events:
        pass


def use(client: Client, threaded: ThreadedClient) -> None:
    client.chat("hi", "m", temprature=0.2)
    client.chat("hi", "m", temperature=0.2, max_tokens=5, stop=["x"], tool_choice="auto",
                tools=[{"type": "function"}], extra={"seed": 1}, top_p=0.5)
    with client.stream("hi", "m", stop=3):
        pass
    threaded.submit("hi", "m", extras={})
    threaded.stream("hi", "m", temperature=0.1, tool_choice={"type": "function"})


def make() -> None:
    Client("openai", base_ur="http://x")
    ThreadedClient(max_workers=2, max_retries="3")
    AsyncioClient(timeout="slow")
    TrioClient(None, base_url="http://localhost:1/v1", env={}, ssl_context=None, headers={})

from libchatty.bindings._api import Timeout  # noqa: E402
from libchatty.options import JSONSchema, Reasoning  # noqa: E402


def per_request(client: Client, threaded: ThreadedClient) -> None:
    client.chat("hi", "m", response_format="json", reasoning=Reasoning(effort="high"), seed=1,
                n=2, headers={"X-Trace": "1"}, timeout=Timeout(5), max_retries=0)
    client.chat("hi", "m", seed="1")
    client.chat("hi", "m", reasoning="high")
    client.chat("hi", "m", max_retry=1)
    threaded.submit("hi", "m", timeout="slow")
    client.chat("hi", "m", header={"X": "1"})
    with client.stream("hi", "m", partial=True, response_format=JSONSchema("p", {})) as items:
        for item in items:
            shown: int = item
    with client.stream("hi", "m") as events:
        for event in events:
            seen: int = event
'''


def test_chat_options_is_what_the_request_accepts() -> None:
    assert CHAT_OPTIONS == frozenset(ChatOptions.__annotations__) == frozenset(
        {"temperature", "top_p", "max_tokens", "stop", "tools", "tool_choice", "extra",
         "response_format", "reasoning", "seed", "n", "headers", "timeout", "max_retries"}
    )


def test_the_option_types_are_importable_at_run_time() -> None:
    # _api loads them on first use (PEP 562); they are the classes type checkers read.
    from libchatty.bindings import _api, _chat_options
    from libchatty.bindings._api import ChatArguments, PartialStreamOptions

    assert ChatArguments is _chat_options.ChatArguments
    assert "partial" in PartialStreamOptions.__annotations__
    assert set(_chat_options.__all__) <= set(_api.__all__)
    for name in _chat_options.__all__:
        assert getattr(_api, name) is getattr(_chat_options, name)
    with pytest.raises(AttributeError, match="has no attribute 'ChatOption'"):
        _api.ChatOption  # type: ignore[attr-defined]  # noqa: B018


def test_client_options_are_the_constructor_keywords() -> None:
    assert CLIENT_OPTIONS == frozenset(ClientOptions.__annotations__) == frozenset(
        {"base_url", "api_key", "dialect", "timeout", "max_retries", "ssl_context", "headers",
         "env", "region", "aws_credentials", "project", "location"}
    )


@pytest.mark.parametrize("client_class", CLIENTS, ids=lambda c: f"{c.__module__}.{c.__name__}")
def test_every_client_takes_the_same_keywords(client_class: type[Client]) -> None:
    client = client_class(
        None, base_url="http://127.0.0.1:9/v1", api_key="sk-test", dialect="ollama",
        timeout=5, max_retries=0, ssl_context=None, headers={"X-Team": "a"}, env={},
    )
    config = client.config
    assert (config.endpoint.base_url, config.endpoint.dialect, config.timeout,
            config.max_retries, config.proxy) == (
        "http://127.0.0.1:9/v1", "ollama", Timeout(5, 5, None), 0, None)
    assert config.endpoint.headers == {"X-Team": "a"}


@pytest.mark.parametrize("client_class", CLIENTS, ids=lambda c: f"{c.__module__}.{c.__name__}")
def test_a_misspelt_constructor_keyword_is_a_type_error(client_class: type[Client]) -> None:
    with pytest.raises(TypeError) as info:
        client_class(None, base_url="http://127.0.0.1:9/v1", max_retry=1)  # type: ignore[call-arg]
    assert str(info.value) == "unexpected keyword argument(s): max_retry"


def test_mypy_reports_misspelt_and_mistyped_options(tmp_path: Path) -> None:
    program = tmp_path / "program.py"
    program.write_text(PROGRAM)
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-error-summary", "--hide-error-context",
         "--cache-dir", str(tmp_path / "cache"), "--no-pretty", "--show-column-numbers",
         str(program)],
        cwd=tmp_path, capture_output=True, text=True, timeout=180, check=False,
    )
    lines = sorted(
        line.split(": error: ", 1)[0].rsplit(":", 2)[-2] + ": " + line.split(": error: ", 1)[1]
        for line in result.stdout.splitlines() if ": error: " in line
    )
    assert lines == sorted([
        '8: Unexpected keyword argument "max_token" for "chat" of "AsyncClientBase"; '
        'did you mean "max_tokens"?  [call-arg]',
        '9: No overload variant of "stream" of "AsyncClientBase" matches argument types '
        '"str", "str", "str"  [call-overload]',
        '14: Unexpected keyword argument "temprature" for "chat" of "Client"; '
        'did you mean "temperature"?  [call-arg]',
        '17: No overload variant of "stream" of "Client" matches argument types '
        '"str", "str", "int"  [call-overload]',
        '19: Unexpected keyword argument "extras" for "submit" of "ThreadedClient"; '
        'did you mean "extra"?  [call-arg]',
        '24: Unexpected keyword argument "base_ur" for "Client"; did you mean "base_url"?  '
        '[call-arg]',
        '25: Argument "max_retries" to "ThreadedClient" has incompatible type "str"; '
        'expected "int"  [arg-type]',
        '26: Argument "timeout" to "AsyncClient" has incompatible type "str"; '
        'expected "Timeout | float | None"  [arg-type]',
        '36: Argument "seed" to "chat" of "Client" has incompatible type "str"; '
        'expected "int | None"  [arg-type]',
        '37: Argument "reasoning" to "chat" of "Client" has incompatible type "str"; '
        'expected "Reasoning | None"  [arg-type]',
        '38: Unexpected keyword argument "max_retry" for "chat" of "Client"; '
        'did you mean "max_retries"?  [call-arg]',
        '39: Argument "timeout" to "submit" of "ThreadedClient" has incompatible type "str"; '
        'expected "Timeout | float | None"  [arg-type]',
        '40: Unexpected keyword argument "header" for "chat" of "Client"; '
        'did you mean "headers"?  [call-arg]',
        '43: Incompatible types in assignment (expression has type '
        '"Delta | Done | Error | PartialObject", variable has type "int")  [assignment]',
        '46: Incompatible types in assignment (expression has type "Delta | Done | Error", '
        'variable has type "int")  [assignment]',
    ]), result.stdout + result.stderr
    assert result.returncode == 1
