"""A batch's output: one JSON line per result, appended crash-safely, and read back to
resume.

The rules a re-run relies on (and the kill-and-resume test checks):

* **One write per result.** A result is encoded whole, then written with one
  ``os.write`` on a descriptor opened with ``O_APPEND`` (and flushed by the kernel: no
  user-space buffer), optionally ``fsync``-ed. A process killed at any moment leaves every
  earlier line whole; at most the last line is *torn* (no final newline).
* **A torn last line is dropped.** :func:`scan_output` ignores it, and :class:`ResultWriter`
  truncates the file back to the end of the last whole line before appending, so it is
  never glued to the next result. Its request is simply run again.
* **Last line per id wins.** A re-run skips every id whose last line is a success, and
  every id whose last line is an error unless ``retry_errors``; a retried id gets a new
  line that supersedes the old one. Since a success is never re-run, each id has *at most
  one* success line in the file, ever: "exactly once" is "exactly one success line per
  id, and no line for that id after it".
* Input lines that were not requests and had no id are recorded with ``"id": null`` and
  their ``"line"``; they are reported again only with ``retry_errors``.
* One run per output file at a time: the writer takes an exclusive ``flock`` (where the
  platform has one) and a second run on the same file stops with :class:`OutputBusy`.

What grows with the output: the set of ids seen in it (one short string each).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

from libchatty.exceptions import LibchattyError

from .batch_input import id_key

__all__ = ["OutputBusy", "OutputState", "ResultWriter", "encode_record", "scan_output"]


class OutputBusy(LibchattyError):
    """Another run holds the output file."""


@dataclass(slots=True)
class OutputState:
    """What an output file already holds: ``done`` (ids whose last line is a success),
    ``failed`` (ids whose last line is an error), ``bad_lines`` (line numbers of input
    errors recorded without an id), ``valid_end`` (bytes up to the end of the last whole
    line), ``torn`` (bytes after it: a line cut short), ``corrupt`` (whole lines that are
    not JSON objects: skipped, never written by this module)."""

    done: set[str] = field(default_factory=set)
    failed: set[str] = field(default_factory=set)
    bad_lines: set[int] = field(default_factory=set)
    valid_end: int = 0
    torn: int = 0
    corrupt: int = 0

    def add(self, record: dict[str, Any]) -> None:
        """Apply one result line (the last line per id wins)."""
        if "id" not in record:
            self.corrupt += 1
            return
        if record["id"] is None:
            line = record.get("line")
            if isinstance(line, int):
                self.bad_lines.add(line)
            return
        key = id_key(record["id"])
        if record.get("ok") is True:
            self.done.add(key)
            self.failed.discard(key)
        else:
            self.failed.add(key)
            self.done.discard(key)

    def skips(self, key: str, retry_errors: bool) -> bool:
        """Whether the request with id ``key`` is already settled."""
        return key in self.done or (not retry_errors and key in self.failed)


def scan_output(path: str) -> OutputState:
    """Read an output file (missing: empty) line by line; see the module docstring."""
    state = OutputState()
    try:
        file = open(path, "rb")  # noqa: SIM115 -- closed below; a missing file is empty
    except FileNotFoundError:
        return state
    with file:
        for line in file:
            if not line.endswith(b"\n"):
                state.torn = len(line)
                break
            state.valid_end += len(line)
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except (ValueError, RecursionError):
                state.corrupt += 1
                continue
            if isinstance(record, dict):
                state.add(record)
            else:
                state.corrupt += 1
    return state


def _find_orjson() -> Any:
    try:
        import orjson  # optional: libchatty[fast]
    except ImportError:
        return None
    return orjson


_orjson = _find_orjson()


def encode_record(record: dict[str, Any]) -> bytes:
    """One result as one line of compact UTF-8 JSON with its newline (text with a lone
    surrogate, which UTF-8 cannot carry, is written with ASCII escapes instead).

    With orjson installed (``libchatty[fast]``) it writes the line, some twenty times
    faster: the same values, the same bytes but for the spelling of some floats
    (``0.00001`` for ``1e-05``); what orjson refuses (a lone surrogate) goes to the
    standard library."""
    if _orjson is not None:
        try:
            line: bytes = _orjson.dumps(record, option=_orjson.OPT_APPEND_NEWLINE)
        except TypeError:  # orjson.JSONEncodeError
            pass
        else:
            return line
    text = json.dumps(record, ensure_ascii=False, separators=(",", ":"))
    try:
        return (text + "\n").encode("utf-8")
    except UnicodeEncodeError:
        return (json.dumps(record, separators=(",", ":")) + "\n").encode("ascii")


class ResultWriter:
    """Appends results to ``path`` (see the module docstring). ``state`` is what the file
    held when opened (a torn last line already truncated away). ``fsync``: each line is
    also forced to disk (survives a power cut, not just a killed process; slower)."""

    def __init__(self, path: str, *, fsync: bool = False) -> None:
        self.path = path
        self.fsync = fsync
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            _lock(self.fd, path)
            # Scanned under the lock: no other run can append in between.
            self.state = scan_output(path)
            if self.state.torn:
                os.ftruncate(self.fd, self.state.valid_end)
        except BaseException:
            os.close(self.fd)
            raise

    def write(self, record: dict[str, Any]) -> None:
        """Append one result line (one ``os.write``; the loop only continues a write the
        kernel cut short, which a regular file does only on a full disk or a signal)."""
        data = memoryview(encode_record(record))
        while data:
            written = os.write(self.fd, data)
            data = data[written:]
        if self.fsync:
            os.fsync(self.fd)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)  # releases the lock
            self.fd = -1

    def __enter__(self) -> ResultWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _lock(fd: int, path: str) -> None:
    try:
        import fcntl
    except ImportError:  # not on Unix: no lock, one run at a time is up to the user
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise OutputBusy(f"{path} is being written by another run") from None
