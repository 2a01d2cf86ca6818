"""What is loaded on first use rather than on import (PEP 562), and that the lazy names
still resolve.

``libchatty`` exports its names lazily, ``libchatty.dialects`` loads its ``Dialect``
base with the first dialect, ``libchatty.bindings._config`` its ``ClientOptions``
TypedDict when named, and ``libchatty.endpoint.split_url`` splits a plain base URL
without urllib.parse. ``Dialect.decode_error`` loads ``libchatty.httperrors``, a request
with ``response_format`` or ``reasoning`` loads ``libchatty.options``, and the HTTP/1.1
body reader compiles its grammar's patterns when a body first needs them.
A message with content parts loads ``libchatty.content``, a request with a tool_choice
``libchatty.toolchoice``, an https client with a proxy variable set
``libchatty.bindings._proxy``, and the OpenAI dialects' first error body
``libchatty.dialects.error_bodies``. tests/test_startup_imports.py pins the
standard-library side of start-up; this file pins libchatty's own modules. Each check
runs in a fresh interpreter.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
from collections.abc import Callable

import pytest
from libchatty.bindings import _config
from libchatty.bindings._proxy import Proxy, proxy_from_env
from test_startup_imports import loaded, roots

import libchatty
from libchatty.endpoint import Endpoint

# Not loaded by `import libchatty.bindings.blocking`: each is a path a plain streamed
# call does not take, or a name only type checkers need.
NOT_FOR_A_BLOCKING_IMPORT: frozenset[str] = frozenset(
    {
        "libchatty.replay",  # the replay server and its recordings
        "libchatty.serve",
        "libchatty.partial_objects",  # on_partial / stream(partial=True)
        "libchatty.partialjson",
        "libchatty.structured",  # response_format's parsed answer
        "libchatty.sigv4",  # Bedrock: signing, AWS event streams
        "libchatty.eventstream",
        "libchatty.contentcoding",  # a compressed body
        "libchatty.ndjson",  # Ollama's NDJSON streams
        "libchatty.clouds",  # Azure, Bedrock and Vertex rules
        "libchatty.ratelimit",  # Completion.rate_limit, when read
        "libchatty.httperrors",  # an error response (Dialect.decode_error)
        "libchatty.dialects.azure_errors",
        "libchatty.policy",  # retries and the fallback: with the first failure
        "libchatty.options",  # a request with response_format or reasoning
        "libchatty.providers",  # the provider table: when a client is made
        "libchatty.provider_table",
        "libchatty.dialects.openai_chat",  # every dialect: the first call loads its own
        "libchatty.dialects.anthropic",
        "libchatty.dialects.gemini",
        "libchatty.dialects.bedrock",
        "libchatty.bindings._client_options",  # TypedDicts: for type checkers
        "libchatty.bindings._chat_options",
        "libchatty.bindings._credentials",  # botocore and google-auth chains
        "libchatty.bindings._partials",
        "libchatty.bindings.server",
        "libchatty.bindings.batch",
        "libchatty.content",  # a message with content parts
        "libchatty.toolchoice",  # a request with a tool_choice
        "libchatty.bindings._proxy",  # https with a proxy variable set
        "ssl",  # https:// only
        "json",  # the first request or parse (jsonload builds its decoder then)
        "urllib.parse",  # a URL urlsplit must read
    }
)


def test_a_blocking_import_leaves_the_paths_not_taken() -> None:
    modules = loaded("import libchatty.bindings.blocking")
    assert "libchatty.bindings.blocking" in modules
    assert sorted(NOT_FOR_A_BLOCKING_IMPORT & roots(modules)) == []


def test_import_libchatty_alone_loads_no_module_of_its_own() -> None:
    modules = loaded("import libchatty")
    assert sorted(m for m in modules if m.startswith("libchatty.")) == []
    assert "h11" not in modules


def test_a_plain_base_url_needs_no_urllib() -> None:
    # Endpoint and the provider table split these with split_url alone.
    code = """
from libchatty.endpoint import Endpoint
from libchatty.providers import resolve
Endpoint("https://api.openai.com/v1", "sk-test")
Endpoint("http://127.0.0.1:8080/v1?x=1")
resolved = resolve(base_url="http://localhost:11434/v1", env={})
assert resolved.provider == "ollama-openai", resolved.provider
resolve("groq", env={"GROQ_BASE_URL": "https://api.groq.com/openai/v1"})
"""
    modules = loaded(code)
    assert "libchatty.provider_table" in modules  # the table really was read
    assert sorted({"urllib.parse", "ipaddress"} & modules) == []


def test_choosing_a_provider_leaves_the_dialects_unloaded() -> None:
    modules = loaded("import libchatty.providers")
    assert "libchatty.dialects" in modules  # for the names
    assert sorted(m for m in modules if m.startswith("libchatty.dialects.")) == []


@pytest.mark.parametrize("name", libchatty.__all__)
def test_every_exported_name_resolves_to_its_definition(name: str) -> None:
    value = getattr(libchatty, name)
    if name == "__version__":
        assert isinstance(value, str)
        return
    home = importlib.import_module(f"libchatty.{libchatty._HOMES[name]}")
    assert value is getattr(home, name)
    assert getattr(value, "__name__", name) == name  # ContentPart is a union, unnamed


def test_from_libchatty_import_every_name() -> None:
    code = "from libchatty import " + ", ".join(libchatty.__all__)
    assert "libchatty.call" in loaded(code)


def test_dir_lists_every_exported_name() -> None:
    assert set(libchatty.__all__) <= set(dir(libchatty))
    assert set(libchatty._HOMES) | {"__version__"} == set(libchatty.__all__)


def test_a_submodule_is_reachable_as_an_attribute() -> None:
    # As when the package imported its modules eagerly: libchatty.events.Delta works
    # after a plain `import libchatty`.
    code = "import libchatty\nassert libchatty.events.Delta.__name__ == 'Delta'"
    assert "libchatty.events" in loaded(code)


def test_unknown_names_are_attribute_errors() -> None:
    with pytest.raises(AttributeError, match="no attribute 'NoSuchThing'"):
        libchatty.NoSuchThing  # noqa: B018
    with pytest.raises(AttributeError, match="no attribute 'nosuchmodule'"):
        libchatty.nosuchmodule  # noqa: B018
    with pytest.raises(AttributeError, match="no attribute '_private'"):
        libchatty._private  # noqa: B018
    dialects = importlib.import_module("libchatty.dialects")
    with pytest.raises(AttributeError, match="no attribute 'Nothing'"):
        dialects.Nothing  # noqa: B018
    with pytest.raises(AttributeError, match="no attribute 'Nothing'"):
        _config.Nothing  # noqa: B018


def test_the_lazy_dialect_base_is_the_real_one() -> None:
    from libchatty.dialects import get_dialect
    from libchatty.dialects.base import Dialect

    dialects = importlib.import_module("libchatty.dialects")
    assert dialects.Dialect is Dialect
    assert isinstance(get_dialect("openai-chat"), Dialect)


def test_client_options_names_the_keywords_clients_accept() -> None:
    options = _config.ClientOptions
    assert frozenset(options.__annotations__) == _config.CLIENT_OPTIONS
    assert options.__total__ is False


def test_a_plain_request_leaves_the_options_unloaded() -> None:
    code = """
from libchatty.request import ChatRequest
request = ChatRequest("m", [{"role": "user", "content": "Hi"}])
assert request.neutral_response_format is None
"""
    assert "libchatty.options" not in loaded(code)


def test_a_request_with_options_loads_and_applies_them() -> None:
    # The lazy import still normalises response_format and checks reasoning.
    code = """
from libchatty.request import ChatRequest
hi = [{"role": "user", "content": "Hi"}]
assert ChatRequest("m", hi, response_format={"type": "json_object"}).response_format == "json"
schema = {"type": "json_schema", "json_schema": {"name": "a", "schema": {}}}
neutral = ChatRequest("m", hi, response_format=schema).neutral_response_format
assert type(neutral).__name__ == "JSONSchema" and neutral.strict is False, neutral
for bad in ({"response_format": "yaml"}, {"reasoning": "high"}):
    try:
        ChatRequest("m", hi, **bad)
    except ValueError:
        pass
    else:
        raise AssertionError(bad)
"""
    assert "libchatty.options" in loaded(code)


def test_the_default_decode_error_loads_the_error_reader() -> None:
    code = """
from libchatty.dialects import get_dialect
from libchatty.dialects.base import Dialect
dialect = get_dialect("anthropic")
assert type(dialect).decode_error is Dialect.decode_error  # the shared reading
error = dialect.decode_error(429, "Too Many Requests", [(b"retry-after", b"2")], b"", "so far")
assert (error.kind, error.retry_after, error.retryable, error.partial) == (
    "rate_limit", 2.0, True, "so far"), error
"""
    assert "libchatty.httperrors" in loaded(code)


def test_the_body_reader_compiles_its_patterns_on_first_use() -> None:
    from libchatty import http1body

    code = """
from libchatty import http1body
assert http1body._size_line.cache_info().currsize == 0
body = http1body.ChunkedBody()
assert body.feed(b"2;ext=1\\r\\nhi\\r\\n0\\r\\nx-t: 1\\r\\n\\r\\n") == b"hi" and body.done
assert http1body._size_line.cache_info().currsize == 1
"""
    loaded(code)
    assert http1body._size_line() is http1body._size_line()  # compiled once, kept


@pytest.mark.parametrize(
    ("document", "value"),
    [
        ('{"a":[1,2]}', "{'a': [1, 2]}"),  # the first parse through the scanner
        (' {"a":1}', "{'a': 1}"),  # leading whitespace: the first parse through decode()
        ("NaN", "ValueError"),  # refused, as after the decoder exists
    ],
)
def test_the_first_parse_loads_json_and_builds_the_decoder(document: str, value: str) -> None:
    code = (
        "import sys\n"
        "from libchatty import jsonload\n"
        "before = 'json' in sys.modules\n"
        "try:\n"
        f"    got = repr(jsonload.loads({document!r}))\n"
        "except ValueError:\n"
        "    got = 'ValueError'\n"
        "print(before, 'json' in sys.modules, got, jsonload.loads('[3]'))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout == f"False True {value} [3]\n"


# --- the paths a plain chat does not take: content parts, tool_choice, proxies, errors ----
# Loaded by none of a plain chat's calls: a blocking client against a local server, string
# content, no tool_choice, an answer without an error.
NOT_FOR_A_PLAIN_CHAT: frozenset[str] = frozenset(
    {
        "libchatty.content",
        "libchatty.toolchoice",
        "libchatty.bindings._proxy",
        "libchatty.dialects.error_bodies",
        "libchatty.dialects.azure_errors",
        "libchatty.httperrors",
    }
)

_PLAIN_CHAT = """
from libchatty.bindings.blocking import Client
from libchatty.bindings.server import ReplayServer
with ReplayServer(text="one two") as server:
    with Client(base_url=server.base_url, api_key="k", max_retries=0) as client:
        for _ in range(2):
            seen = []
            messages = [{"role": "user", "content": "hi"}]
            done = client.chat(messages, "m", on_delta=lambda t, d: seen.append(t))
            assert done.text == "one two" == "".join(seen), (done, seen)
        assert client.chat("hi", "m").text == "one two"
        with client.stream("hi", "m") as events:
            assert type(list(events)[-1]).__name__ == "Done"
"""


def test_a_plain_chat_leaves_parts_tool_choice_proxy_and_errors_unloaded() -> None:
    modules = loaded(_PLAIN_CHAT)
    assert "libchatty.dialects.openai_chat" in modules  # the chats really ran
    assert sorted(NOT_FOR_A_PLAIN_CHAT & modules) == []


def test_a_message_with_parts_loads_and_applies_them() -> None:
    code = """
from libchatty.request import ChatRequest, Message
assert Message("user", "hi").parts[0].text == "hi" and Message("user", "").parts == ()
parts = Message("user", ["a", {"type": "text", "text": "b"}]).content
assert [type(p).__name__ for p in parts] == ["TextPart", "TextPart"], parts
assert Message("user", parts).text == "ab"
from libchatty.dialects import get_dialect
from libchatty.endpoint import Endpoint
image = {"type": "image_url", "image_url": {"url": "https://x.test/a.png"}}
request = ChatRequest("m", [Message("user", ["look", image])])
body = get_dialect("openai-chat").build_request(Endpoint("http://127.0.0.1:1/v1"), request).body
assert b'"image_url":{"url":"https://x.test/a.png"}' in body.replace(b" ", b""), body
for bad in (b"x", 3):
    try:
        Message("user", bad)
    except ValueError:
        pass
    else:
        raise AssertionError(bad)
"""
    assert "libchatty.content" in loaded(code)


def test_a_tool_choice_loads_and_applies_it() -> None:
    code = """
from libchatty.request import ChatRequest, Tool
hi = [{"role": "user", "content": "hi"}]
tools = [Tool("f", "", {"type": "object"})]
named = {"type": "function", "function": {"name": "f"}}
assert ChatRequest("m", hi, tools=tools, tool_choice=named).tool_choice == "f"
assert ChatRequest("m", hi, tool_choice={"type": "any"}).tool_choice == "required"
for bad in ({"tool_choice": "g", "tools": tools}, {"tool_choice": {"type": "nope"}}):
    try:
        ChatRequest("m", hi, **bad)
    except ValueError as exc:
        assert "ChatRequest.tool_choice" in str(exc), exc
    else:
        raise AssertionError(bad)
"""
    assert "libchatty.toolchoice" in loaded(code)


def test_a_bad_role_is_quoted_through_toolchoice() -> None:
    from libchatty.request import Message

    with pytest.raises(ValueError, match=r"not 'x{60}\.\.\.$"):
        Message("x" * 100)


def test_the_lazy_request_names_are_toolchoices() -> None:
    from libchatty import request, toolchoice
    from libchatty.request import TOOL_MODES, normalize_tool_choice

    assert TOOL_MODES is toolchoice.TOOL_MODES == frozenset({"auto", "none", "required"})
    assert normalize_tool_choice is toolchoice.normalize_tool_choice
    assert set(request.__all__) <= set(dir(request)) | {"TOOL_MODES", "normalize_tool_choice"}
    with pytest.raises(AttributeError, match="no attribute 'shown'"):
        request.shown  # noqa: B018
    code = "from libchatty.request import *\nassert normalize_tool_choice('auto') in TOOL_MODES"
    assert "libchatty.toolchoice" in loaded(code)


# An environment -> the proxy an https client of api.example.com uses ("host:port"),
# or the error it refuses the environment with.
_PROXY_ENVS: list[tuple[dict[str, str], str | None]] = [
    ({}, None),
    ({"HTTP_PROXY": "http://p:1", "http_proxy": "http://p:1"}, None),  # not read: https only
    ({"HTTPS_PROXY": "http://p:1"}, "p:1"),
    ({"https_proxy": " p:2 "}, "p:2"),
    ({"ALL_PROXY": "http://u:pw@p:3"}, "p:3"),
    ({"all_proxy": "http://p:4", "HTTPS_PROXY": "  "}, "p:4"),
    ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "api.example.com"}, None),
    ({"HTTPS_PROXY": "http://p:1", "no_proxy": "*"}, None),
    ({"HTTPS_PROXY": "ftp://p:1"}, "the proxy URL must be http://host:port"),
]


def _proxy_or_error(make: Callable[[], object]) -> object:
    try:
        return make()
    except ValueError as exc:
        return str(exc)


@pytest.mark.parametrize(("env", "for_api"), _PROXY_ENVS)
@pytest.mark.parametrize(
    "base_url", ["https://api.example.com/v1", "http://api.example.com/v1", "https://localhost/v1"]
)
def test_a_client_decides_its_proxy_as_proxy_from_env(
    base_url: str, env: dict[str, str], for_api: str | None
) -> None:
    end = Endpoint(base_url, "k")
    want = _proxy_or_error(lambda: proxy_from_env(end.scheme, end.host, end.port, env))
    config = _config.make_config
    got = _proxy_or_error(lambda: config(base_url=base_url, api_key="k", env=env).proxy)
    assert got == want
    if isinstance(got, Proxy) and isinstance(want, Proxy):
        assert got.authorization == want.authorization
    if base_url == "https://api.example.com/v1":
        shown = f"{got.host}:{got.port}" if isinstance(got, Proxy) else got
        assert shown == for_api or str(shown).startswith(f"{for_api} (")
    else:
        assert got is None  # plain http and loopback go direct


def test_a_proxy_variable_loads_the_proxy_module_only_for_https() -> None:
    code = """
from libchatty.bindings._config import make_config
env = {"HTTPS_PROXY": "http://u:pw@127.0.0.1:9"}
assert make_config(base_url="http://127.0.0.1:1/v1", api_key="k", env=env).proxy is None
assert make_config(base_url="https://api.example.com/v1", api_key="k", env={}).proxy is None
import sys
assert "libchatty.bindings._proxy" not in sys.modules
proxy = make_config(base_url="https://api.example.com/v1", api_key="k", env=env).proxy
assert (proxy.host, proxy.port, proxy.authorization) == ("127.0.0.1", 9, "Basic dTpwdw=="), proxy
"""
    assert "libchatty.bindings._proxy" in loaded(code)


def test_an_openai_error_body_loads_its_reader() -> None:
    code = """
from libchatty.bindings.blocking import Client
from libchatty.exceptions import ChatError
from libchatty.bindings.server import ReplayServer
from libchatty.replay.faults import Fault
with ReplayServer(text="x") as server:
    server.add_fault(Fault(kind="status", status=400, message="bad request"))
    with Client(base_url=server.base_url, api_key="k", max_retries=0) as client:
        try:
            client.chat("hi", "m")
        except ChatError as exc:
            got = (exc.kind, exc.status, exc.error.message)
            assert got == ("bad_request", 400, "bad request"), exc.error
        else:
            raise AssertionError("no error")
"""
    assert "libchatty.dialects.error_bodies" in loaded(code)
