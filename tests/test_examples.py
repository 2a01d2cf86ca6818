"""The README's three examples for issue 12, run verbatim against the replay server.

Each snippet below is the exact text the README shows. It runs with the provider's base
URL and key variables pointing at a replay server on loopback (``OPENAI_BASE_URL``,
``ANTHROPIC_BASE_URL``), and the test checks what reached the wire and what it printed.
"""

from __future__ import annotations

import base64
import json
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

import pytest
from libchatty.bindings.server import ReplayServer

from libchatty.replay import Script

DESCRIBE_IMAGE: Final = """\
from libchatty import ImagePart, Message
from libchatty.bindings.blocking import Client

with Client("openai") as client:
    image = ImagePart(data=open("cat.png", "rb").read())
    answer = client.chat([Message("user", ["Describe this image.", image])], "gpt-4o-mini")
    print(answer.text)
"""

SCHEMA_AS_IT_FILLS_IN: Final = """\
from pydantic import BaseModel
from libchatty.bindings.blocking import Client

class Person(BaseModel):
    name: str
    languages: list[str]

with Client("openai") as client:
    answer = client.chat("Who wrote the first program?", "gpt-4o-mini",
                         response_format=Person,
                         on_partial=lambda partial: print(partial.value))
    print(answer.parsed.name)
"""

HIGH_REASONING: Final = """\
from libchatty import Reasoning
from libchatty.bindings.blocking import Client

with Client("anthropic") as client:
    answer = client.chat("Prove that the square root of 2 is irrational.", "claude-sonnet-4-5",
                         reasoning=Reasoning(effort="high"), max_tokens=32000)
    print(answer.text)
"""


def _png() -> bytes:
    """A valid 1x1 PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data))  # fmt: skip

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x80\x00")
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(
        b"IEND", b"")  # fmt: skip


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy",
                 "all_proxy", "OPENAI_API_BASE", "OPENAI_ORG_ID", "OPENAI_PROJECT_ID"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def _run(snippet: str, server: ReplayServer, monkeypatch: pytest.MonkeyPatch) -> None:
    host = urlsplit(server.base_url).netloc
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-example")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", f"http://{host}")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-example")
    exec(compile(snippet, "<README>", "exec"), {"__name__": "__readme__"})


@pytest.fixture
def server() -> Iterator[ReplayServer]:
    with ReplayServer(script=Script(text="A ginger cat.")) as replay:
        yield replay


def test_describe_this_image(
    home: Path, server: ReplayServer, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    png = _png()
    (home / "cat.png").write_bytes(png)
    _run(DESCRIBE_IMAGE, server, monkeypatch)
    assert capsys.readouterr().out == "A ginger cat.\n"
    (sent,) = server.requests
    assert sent.json["messages"] == [{"role": "user", "content": [
        {"type": "text", "text": "Describe this image."},
        {"type": "image_url",
         "image_url": {"url": "data:image/png;base64," + base64.b64encode(png).decode()}},
    ]}]  # fmt: skip


def test_answer_in_this_schema_showing_the_object_as_it_fills_in(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    document = '{"name": "Ada Lovelace", "languages": ["en"]}'
    with ReplayServer(script=Script(text=document)) as server:
        _run(SCHEMA_AS_IT_FILLS_IN, server, monkeypatch)
        (sent,) = server.requests
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1] == "Ada Lovelace"
    assert lines[-2] == str(json.loads(document))  # the complete object, then the answer
    assert lines[0] == "{}"  # the object opens before its first member arrives
    assert "{'name': 'Ada'}" in lines  # a string shows as its decoded prefix
    format_ = sent.json["response_format"]
    assert (format_["type"], format_["json_schema"]["name"], format_["json_schema"]["strict"]) == (
        "json_schema", "Person", True)  # fmt: skip
    assert sent.json["stream"] is True


def test_use_high_reasoning_effort(
    home: Path, server: ReplayServer, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _run(HIGH_REASONING, server, monkeypatch)
    assert capsys.readouterr().out == "A ginger cat.\n"
    (sent,) = server.requests
    assert sent.target == "/v1/messages"
    assert sent.json["thinking"] == {"type": "enabled", "budget_tokens": 24576}
    assert sent.json["max_tokens"] == 32000
