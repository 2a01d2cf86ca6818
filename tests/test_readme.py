"""Every ```python block of the README runs, verbatim, against the replay server.

The blocks are taken from README.md as they are and executed in a fresh namespace, in
this process, with stdout captured and compared exactly. Nothing reaches a real
provider: the environment is cleared of every key and base URL and then points the
provider the block names at a loopback replay server.

* A block that builds ``Client("openai")`` (or ``AsyncClient``/``ThreadedClient``) is
  what the README means by "switching provider changes only the client": it runs once
  per provider below, with only the provider name replaced. Each provider is reached
  through its own base-URL variable, except Gemini, which has none: its client gets
  ``base_url=`` instead (the one place the block's text gains something).
* Names the README's prose supplies are a documented prelude: ``callback`` and ``show``
  (an ``on_delta`` that prints the text), ``api_key``, and ``sock`` (a socket already
  connected to the replay server, as "connect to call.host:call.port" says).
* A block that passes ``tools=`` talks to a server whose model always asks for a tool,
  so the README's bounded loop runs all its rounds; every round's tool result must reach
  the server.
* Shell blocks (```sh) are not run.
"""

from __future__ import annotations

import json
import os
import re
import socket
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import pytest
from libchatty.bindings.server import RecordedRequest, ReplayServer

from libchatty.events import ToolCall
from libchatty.replay import Script

README: Final = Path(__file__).resolve().parents[1] / "README.md"
TEXT: Final = "Hello from the replay server, in small pieces."
TOOL_TEXT: Final = "Let me look that up."
CALL: Final = ToolCall("call_1", "get_weather", '{"city": "Paris"}')
TOOL_RESULT: Final = json.dumps({"city": "Paris", "temp_c": 21})
KEY: Final = "readme-test-key"
# The README's tool loop runs at most this many rounds (``for _ in range(5)``).
TOOL_ROUNDS: Final = 5

# A fence may be indented (a block inside a list item).
BLOCK: Final = re.compile(r"^( *)```(\w*)\n(.*?)^\1```$", re.MULTILINE | re.DOTALL)
MULTI_PROVIDER: Final = re.compile(r'Client\("openai"')

# The exact stdout of each block, found by a phrase only that block contains. A new
# block must be added here, with what it prints.
EXPECTED: Final = {
    'answer = client.chat("Say hi"': TEXT + "\n" + TEXT,
    "tools=tools": TOOL_TEXT + "\n",
    "trio.run(main)": TEXT,
    "asyncio.run(main())": TEXT + "\n",
    "ThreadedClient(": TEXT + TEXT + "\n",
    "call.receive_data(": TEXT,
}

# Blocks that need more than this file's prelude (an image file, pydantic, a Dask cluster,
# a pytest run of their own) are run verbatim by another test, from a constant that must
# equal the README's text: phrase -> (test module, constant).
RUN_ELSEWHERE: Final = {
    "Describe this image.": ("test_examples", "DESCRIBE_IMAGE"),
    "response_format=Person": ("test_examples", "SCHEMA_AS_IT_FILLS_IN"),
    'Reasoning(effort="high")': ("test_examples", "HIGH_REASONING"),
    "session.request(": ("test_framed_recipes", "RECIPE"),
    "batch_bag(": ("test_dask", "README_DASK"),
    "@pytest.mark.replay(": ("test_replay", "README_EXAMPLE"),
}

# provider -> the environment pointing it at the replay server ({v1}: the base URL with
# /v1, for OpenAI-style providers; {host}: scheme, host and port)
PROVIDERS: Final = {
    "openai": {"OPENAI_BASE_URL": "{v1}", "OPENAI_API_KEY": KEY},
    "openai-responses": {"OPENAI_BASE_URL": "{v1}", "OPENAI_API_KEY": KEY},
    "groq": {"GROQ_BASE_URL": "{v1}", "GROQ_API_KEY": KEY},
    "anthropic": {"ANTHROPIC_BASE_URL": "{host}", "ANTHROPIC_API_KEY": KEY},
    "gemini": {"GEMINI_API_KEY": KEY},  # no base-URL variable: see gemini_client
    "ollama": {"OLLAMA_HOST": "{host}"},
    "cohere": {"CO_API_URL": "{host}", "CO_API_KEY": KEY},
}


def blocks() -> list[tuple[str, str]]:
    """(language, code) of every fenced block in the README, in order."""
    text = README.read_text(encoding="utf-8")
    return [(m[2], textwrap.dedent(m[3])) for m in BLOCK.finditer(text)]


def python_blocks() -> list[str]:
    return [code for language, code in blocks() if language == "python"]


def phrases(code: str) -> list[str]:
    return [phrase for phrase in (*EXPECTED, *RUN_ELSEWHERE) if phrase in code]


def block_id(code: str) -> str:
    """A readable test id; "unknown" for a block EXPECTED does not know (which fails)."""
    return "+".join(re.sub(r"\W+", "_", phrase).strip("_") for phrase in phrases(code)) or (
        "unknown"
    )


def cases() -> list[Any]:
    params = []
    for code in python_blocks():
        if any(phrase in RUN_ELSEWHERE for phrase in phrases(code)):
            continue  # see test_block_is_run_verbatim_elsewhere
        providers = list(PROVIDERS) if MULTI_PROVIDER.search(code) else [None]
        for provider in providers:
            name = block_id(code) + (f"-{provider}" if provider else "")
            params.append(pytest.param(code, provider, id=name))
    return params


@pytest.fixture(scope="module")
def text_server() -> Iterator[ReplayServer]:
    with ReplayServer(text=TEXT) as server:
        yield server


@pytest.fixture(scope="module")
def tool_server() -> Iterator[ReplayServer]:
    script = Script(text=TOOL_TEXT, tool_calls=(CALL,), finish_reason="tool_calls")
    with ReplayServer(script=script) as server:
        yield server


def host_of(server: ReplayServer) -> str:
    return f"http://{server.host}:{server.port}"


def gemini_client(code: str, host: str) -> str:
    """The block with Gemini's client pointed at ``host`` (Gemini has no base-URL
    environment variable to do it)."""
    changed, count = MULTI_PROVIDER.subn(f'Client("gemini", base_url="{host}"', code)
    assert count == 1
    return changed


def print_text(text: str, done: bool) -> None:
    print(text, end="", flush=True)


def test_the_readme_has_the_blocks_this_test_knows() -> None:
    # Each block is known by exactly one phrase, and each phrase names one block.
    known = [*EXPECTED, *RUN_ELSEWHERE]
    assert sorted(phrase for code in python_blocks() for phrase in phrases(code)) == sorted(known)
    assert [len(phrases(code)) for code in python_blocks()] == [1] * len(known)
    assert {language for language, _ in blocks()} == {"python", "sh", ""}


@pytest.mark.parametrize("phrase", list(RUN_ELSEWHERE))
def test_block_is_run_verbatim_elsewhere(phrase: str) -> None:
    (code,) = [code for code in python_blocks() if phrase in code]
    module_name, constant = RUN_ELSEWHERE[phrase]
    module = __import__(module_name)
    assert code.strip("\n") == textwrap.dedent(getattr(module, constant)).strip("\n")


@pytest.mark.parametrize(("code", "provider"), cases())
def test_readme_block_runs(
    code: str,
    provider: str | None,
    text_server: ReplayServer,
    tool_server: ReplayServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (phrase,) = phrases(code)  # else: add the block to EXPECTED, with what it prints
    server = tool_server if "tools=" in code else text_server
    first_request = len(server.requests)
    # Only loopback: no key or base URL of the machine running the tests survives.
    for name in list(os.environ):
        if name.endswith(("_API_KEY", "_BASE_URL", "_API_BASE")) or name.lower() in (
            "ollama_host",
            "https_proxy",
            "http_proxy",
            "all_proxy",
        ):
            monkeypatch.delenv(name)
    host = host_of(server)
    if provider is not None:
        for name, value in PROVIDERS[provider].items():
            monkeypatch.setenv(name, value.format(v1=server.base_url, host=host))
        if provider == "gemini":
            code = gemini_client(code, host)
        else:
            code, count = MULTI_PROVIDER.subn(f'Client("{provider}"', code)
            assert count == 1

    namespace: dict[str, Any] = {
        "__name__": "__readme__",
        "callback": print_text,
        "show": print_text,
        "api_key": KEY,
    }
    sock = None
    if re.search(r"\bsock\b", code):
        sock = socket.create_connection((server.host, server.port), timeout=10)
        namespace["sock"] = sock
    try:
        exec(compile(code, f"{README.name} block", "exec"), namespace)
    finally:
        if sock is not None:
            sock.close()

    assert capsys.readouterr().out == EXPECTED[phrase]
    if "tools=" in code:
        check_tool_rounds(server.requests[first_request:])
    if sock is not None:
        assert namespace["reuse_connection"] is True  # read to its end, nothing after it


def check_tool_rounds(requests: list[RecordedRequest]) -> None:
    """Each round sent back every tool result so far: round n carries n results."""
    assert len(requests) == TOOL_ROUNDS
    for n, request in enumerate(requests):
        assert request.body.count(b"temp_c") == n, (n, request.body)
