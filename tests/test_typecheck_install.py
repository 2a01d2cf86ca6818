"""A user's own code, outside the repository, type-checks against the installed libchatty.

setuptools' default editable install is an import hook that mypy and pyright cannot
follow ("Cannot find implementation or library stub for module named 'libchatty'"), so
the Makefile installs a link tree on a ``.pth`` path entry instead
(``--config-settings editable_mode=strict``). This test runs the project's own mypy
(``sys.executable -m mypy``) in an empty temporary directory, as a user would: a correct
program passes, and a program with deliberate type errors reports exactly those errors,
which proves mypy resolved libchatty's real types (an unresolved import would make every
name ``Any`` and the errors would be different ones).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Final

# Generous: a cold mypy run over libchatty takes a few seconds; this only turns a hang into
# a failure.
TIMEOUT: Final = 180

GOOD: Final = '''\
from libchatty import Call, ChatRequest, Delta, Done, Endpoint, Error, Message
from libchatty.bindings.blocking import Client


def answer(client: Client, question: str) -> str:
    completion = client.chat(question, "some-model")
    return completion.text


def texts(call: Call, data: bytes) -> list[str]:
    return [event.text for event in call.receive_data(data) if isinstance(event, Delta)]


def finished(event: Delta | Done | Error) -> bool:
    return isinstance(event, (Done, Error))


def build(key: str) -> Call:
    endpoint = Endpoint("https://api.openai.com/v1", key, dialect="openai-chat")
    return Call(endpoint, ChatRequest("gpt-4o-mini", [Message("user", "hi")]))
'''

BAD: Final = '''\
from libchatty import Delta
from libchatty.bindings.blocking import Client


def answer(client: Client) -> int:
    return client.chat("hi", "some-model").text


def length(delta: Delta) -> str:
    return len(delta.text)
'''

BAD_ERRORS: Final = [
    'bad.py:6: error: Incompatible return value type (got "str", expected "int")  '
    "[return-value]",
    'bad.py:10: error: Incompatible return value type (got "int", expected "str")  '
    "[return-value]",
]

REINSTALL_HINT: Final = (
    "libchatty is not visible to type checkers: install it with "
    "`pip install --config-settings editable_mode=strict -e .` (as the Makefile does)"
)


def mypy(directory: Path, *files: str) -> subprocess.CompletedProcess[str]:
    config = directory / "mypy.ini"
    config.write_text("[mypy]\n", encoding="utf-8")  # no project configuration leaks in
    env = {k: v for k, v in os.environ.items() if k not in ("MYPYPATH", "PYTHONPATH")}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--config-file",
            str(config),
            "--cache-dir",
            str(directory / ".mypy_cache"),
            "--no-error-summary",
            "--show-error-codes",
            "--hide-error-context",
            "--no-pretty",
            "--no-color-output",
            *files,
        ],
        capture_output=True,
        text=True,
        cwd=directory,
        env=env,
        timeout=TIMEOUT,
    )


def test_the_program_directory_is_outside_the_repository(tmp_path: Path) -> None:
    repo = Path(__file__).resolve().parents[1]
    assert repo not in tmp_path.resolve().parents


def test_a_correct_program_passes_strict_mypy(tmp_path: Path) -> None:
    (tmp_path / "good.py").write_text(GOOD, encoding="utf-8")
    result = mypy(tmp_path, "good.py")
    assert "import-not-found" not in result.stdout, REINSTALL_HINT + "\n" + result.stdout
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_type_errors_against_libchatty_are_reported_exactly(tmp_path: Path) -> None:
    (tmp_path / "bad.py").write_text(BAD, encoding="utf-8")
    result = mypy(tmp_path, "bad.py")
    assert "import-not-found" not in result.stdout, REINSTALL_HINT + "\n" + result.stdout
    assert result.stdout.splitlines() == BAD_ERRORS
    assert result.returncode == 1
