"""What start-up loads: the modules a program pays for before its first token.

Timings live in bench/ (bench_import.py, bench_process.py); these tests pin the module
set instead, so a change that brings back an eager import of a path not taken (TLS,
logging, argparse, IDNA, retries' randomness, HTTP dates, other event loops) fails here
without any clock. Each check runs in a fresh interpreter on loopback only.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest
from libchatty.bindings.server import ReplayServer

# Loaded by none of the checks below: each is a path these programs do not take.
NEVER: frozenset[str] = frozenset(
    {
        "ssl",  # TLS: only for https:// (default_ssl_context imports it)
        "logging",  # see bindings/_log.py: only once the application imported it
        "argparse",  # the CLI's plain command lines skip it (bindings/_argv.py)
        "gettext",  # argparse's
        "locale",  # gettext's
        "encodings.idna",  # ASCII host names go to getaddrinfo as bytes
        "email",  # Retry-After HTTP dates only
        "random",  # retry jitter only
        "asyncio",
        "trio",
        "threading",
        "concurrent",
        "libchatty.bindings.batch",
        "libchatty.bindings.server",
        # orjson, and uuid and platform, which it imports: jsonload lets the standard
        # library parse the first ORJSON_AFTER bytes (a short program never gets there).
        "orjson",
        "uuid",
        "platform",
        # Only signing (Bedrock), expiring credentials and rate-limit resets need a time.
        "datetime",
        # The TypedDicts of chat()'s keywords: for type checkers (bindings/_api.py).
        "libchatty.bindings._chat_options",
    }
)

# Not loaded by the import alone: a program pays for each once it takes the path.
NOT_AT_IMPORT: frozenset[str] = frozenset(
    {
        "urllib.parse",  # a URL parsed (an Endpoint's base URL, a request's repr)
        "ipaddress",  # urllib.parse's
        "zlib",  # a compressed response body (contentcoding)
        "binascii",  # base64 media in a request (content)
        "socket",  # the first connection (bindings/blocking.py), and with it:
        "selectors",
        "select",
    }
)

# A fresh interpreter runs CODE and prints the modules it loaded as JSON, last line.
# Taken before the report imports anything of its own (json, to print the list).
_REPORT = "\nimport sys\n_seen = sorted(sys.modules)\nimport json\nprint(json.dumps(_seen))\n"


def loaded(code: str) -> frozenset[str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
    env.pop("OPENAI_API_BASE", None)
    result = subprocess.run(
        [sys.executable, "-c", code + _REPORT],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return frozenset(json.loads(result.stdout.splitlines()[-1]))


def roots(modules: frozenset[str]) -> frozenset[str]:
    """Each module and every package above it (``email.utils`` counts as ``email``)."""
    return frozenset(
        ".".join(name.split(".")[: i + 1]) for name in modules for i in range(name.count(".") + 1)
    )


@pytest.fixture(scope="module")
def server() -> Iterator[ReplayServer]:
    with ReplayServer(text="one two three") as running:
        assert running.base_url.startswith("http://127.0.0.1:")
        yield running


def test_import_blocking_binding() -> None:
    modules = loaded("import libchatty.bindings.blocking")
    assert "libchatty.bindings.blocking" in modules
    assert sorted((NEVER | NOT_AT_IMPORT) & roots(modules)) == []


def test_a_streamed_chat_with_the_blocking_client(server: ReplayServer) -> None:
    code = f"""
from libchatty.bindings.blocking import Client
with Client(base_url={server.base_url!r}, api_key="test") as client:
    text = client.chat("Hi", "replay-1", on_delta=lambda text, done: None).text
assert text == "one two three", text
"""
    modules = loaded(code)
    assert "libchatty.dialects.openai_chat" in modules  # the chat really happened
    assert sorted(NEVER & roots(modules)) == []


def test_the_cli_on_its_common_command_line(server: ReplayServer) -> None:
    code = f"""
from libchatty.bindings.cli import main
assert main(["-s", "--base-url", {server.base_url!r}, "replay-1", "Hi"]) == 0
"""
    modules = loaded(code)
    assert "libchatty.providers" in modules
    assert "libchatty.clouds" not in modules  # Azure, Bedrock and Vertex rules only
    assert sorted(NEVER & roots(modules)) == []


def test_logging_is_used_once_the_application_imported_it() -> None:
    # The other side of the rule: an application that imported logging gets the
    # libchatty logger (tests/test_logging.py checks the records themselves).
    code = """
import logging
from libchatty.bindings import _log
assert _log.debug_enabled() is False  # nothing configured: WARNING
logging.getLogger("libchatty").setLevel(logging.DEBUG)
assert _log.debug_enabled() is True
"""
    assert "logging" in loaded(code)


def test_without_logging_debug_is_a_no_op() -> None:
    code = """
import sys
from libchatty.bindings import _log
_log.debug("nothing %s", "happens")
assert _log.debug_enabled() is False
assert "logging" not in sys.modules
"""
    assert "logging" not in loaded(code)


def test_ascii_hosts_reach_getaddrinfo_as_bytes() -> None:
    from libchatty.bindings._sockets import _host_bytes

    assert _host_bytes("127.0.0.1") == b"127.0.0.1"
    assert _host_bytes("::1") == b"::1"
    assert _host_bytes("api.openai.com") == b"api.openai.com"
    assert _host_bytes("bücher.example") == "bücher.example"  # IDNA still applies
