"""The keyword options of chat()/stream()/submit() are typed (``ChatOptions`` +
``Unpack``): mypy catches a misspelt option or a wrong type in a user's program, on every
client. One mypy run (a subprocess, bounded in time) over a small program outside the
package."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from libchatty.bindings._api import CHAT_OPTIONS, ChatOptions

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
'''


def test_chat_options_is_what_the_request_accepts() -> None:
    assert CHAT_OPTIONS == frozenset(ChatOptions.__annotations__) == frozenset(
        {"temperature", "top_p", "max_tokens", "stop", "tools", "tool_choice", "extra"}
    )


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
        '9: Argument "top_p" to "stream" of "AsyncClientBase" has incompatible type "str"; '
        'expected "float | None"  [arg-type]',
        '14: Unexpected keyword argument "temprature" for "chat" of "Client"; '
        'did you mean "temperature"?  [call-arg]',
        '17: Argument "stop" to "stream" of "Client" has incompatible type "int"; '
        'expected "str | Sequence[str] | None"  [arg-type]',
        '19: Unexpected keyword argument "extras" for "submit" of "ThreadedClient"; '
        'did you mean "extra"?  [call-arg]',
    ]), result.stdout + result.stderr
    assert result.returncode == 1
