"""A short-lived process's CPU budget: what libchatty's start-up costs against what each
completion saves, beside the floor client (issue 14, target 2).

``bench_process.py`` times whole processes: start-up, the completions and the waits for
the network, all in one number. This bench takes them apart, side by side in one run
(medians of ``--runs``, the rows interleaved):

* **start-up** -- a fresh interpreter importing everything the client's plain chat
  imports (found with ``-X importtime`` from one real completion: for libchatty that
  includes what the first call loads, ``socket`` and ``json`` among them). Three rows:
  the floor client (``bench_process.FLOOR``: socket, h11, split, json), libchatty, and
  libchatty's same code **in one blob**: every libchatty module compiled from its
  source, marshalled into one file and executed from it without the import system --
  what folding the whole library into one module could save at most, which tells the
  import system's share from the code's own;
* **per completion** -- the recorded response of one completion, replayed in-process by
  a stand-in for ``socket.create_connection`` in reads of ``--read-size`` bytes; CPU
  from ``time.process_time`` over ``--completions`` after two warm-up ones. Twice: with
  nothing waiting (the client's own work: parsing, events, callback), and with
  ``--read-gap`` asleep before every read, as a read from the network waits. A wait is
  not free: the wake-up, and caches and predictors the process finds cold, cost CPU
  that grows with what the process touches after it;
* **break-even** -- how many completions repay libchatty's extra start-up from what
  each one saves, in either shape.

Run: ``python bench/bench_budget.py [--runs 21] [--completions 80] [--read-size 4096]
[--read-gap 0.002]`` (``bench/run.py`` runs it in the bench virtualenv, where libchatty
is installed).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import marshal
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
from typing import Final

import h11
from bench_process import FLOOR, LIBCHATTY, PROMPT, answer_text, child_env, start_server

# The stand-in socket, prepended to a client's code (bench_process's, unchanged): every
# request is answered with the recorded response, ``SIZE`` bytes per recv. CPU is timed
# from the third request to the end of the last response and printed to stderr.
REPLAY: Final = """
import os, socket, sys, time
with open(os.environ["BUDGET_RESPONSE"], "rb") as _f:
    _RESPONSE = _f.read()
_SIZE = int(os.environ["BUDGET_READ_SIZE"])
_GAP = float(os.environ["BUDGET_READ_GAP"])
_WARM = 2
_quiet = socket.socketpair()  # a descriptor that never turns readable: reuse probes pass

class _Replay:
    def __init__(self):
        self.pos, self.requests, self.t0 = len(_RESPONSE), 0, 0.0
    def sendall(self, data):
        if self.pos >= len(_RESPONSE):  # a new request: answer it from the start
            self.pos = 0
            self.requests += 1
            if self.requests == _WARM + 1:
                self.t0 = time.process_time()
    def recv(self, size):
        if _GAP:
            time.sleep(_GAP)  # off the CPU, as a read that waits for the network
        start = self.pos
        self.pos = end = start + min(size, _SIZE)
        if end >= len(_RESPONSE) and self.requests == int(sys.argv[2]) > _WARM:
            used = time.process_time() - self.t0
            print(f"BUDGET_US {used / (self.requests - _WARM) * 1e6:.3f}", file=sys.stderr)
        return _RESPONSE[start:end]
    def settimeout(self, timeout): pass
    def setsockopt(self, *args): pass
    def fileno(self): return _quiet[0].fileno()
    def close(self): pass

_replay = _Replay()
socket.create_connection = lambda *args, **kwargs: _replay
"""

# Loads libchatty from one marshalled blob: (name, file, is_package, code) in the order
# the imports completed, every other module imported normally at its place in that order.
ONE_BLOB: Final = """
import importlib, marshal, os, sys
from types import ModuleType
with open({path!r}, "rb") as _f:
    _blob = marshal.loads(_f.read())
for _name, _file, _package, _code in _blob:
    if _code is None:
        importlib.import_module(_name)
        continue
    _module = ModuleType(_name)
    _module.__file__ = _file
    _parent, _, _leaf = _name.rpartition(".")
    if _package:
        _module.__path__ = [os.path.dirname(_file)]
    _module.__package__ = _name if _package else _parent
    sys.modules[_name] = _module
    exec(_code, _module.__dict__)
    if _parent:
        setattr(sys.modules[_parent], _leaf, _module)
del _blob
"""

CLIENTS: Final = {"floor": "STREAMING = False\n" + FLOOR, "libchatty": LIBCHATTY}
_IMPORT_LINE: Final = re.compile(r"import time:\s+\d+ \|\s+\d+ \|( *)(\S+)")


def record_response(url: str) -> bytes:
    """The raw bytes of one streamed completion, head and chunked body, as served."""
    host, port = url.split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)
    message = {"role": "user", "content": PROMPT}
    body = json.dumps({"model": "replay-1", "stream": True, "messages": [message]}).encode()
    conn = h11.Connection(h11.CLIENT)
    head = [("host", f"{host}:{port}"), ("content-type", "application/json")]
    head.append(("content-length", str(len(body))))
    request = h11.Request(method="POST", target="/v1/chat/completions", headers=head)
    raw = []
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(conn.send(request) + conn.send(h11.Data(data=body)))
        sock.sendall(conn.send(h11.EndOfMessage()))
        while type(event := conn.next_event()) is not h11.EndOfMessage:
            if event is h11.NEED_DATA:
                raw.append(sock.recv(65536))
                conn.receive_data(raw[-1])
                if not raw[-1]:
                    raise SystemExit("the replay server closed before the end")
    return b"".join(raw)


def run(argv: list[str], env: dict[str, str], cwd: str) -> tuple[float, str, str]:
    """CPU seconds (user+sys, from the OS), stdout and stderr of one child process."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(argv, stdout=out, stderr=err, env=env, cwd=cwd)
        _, status, usage = os.wait4(proc.pid, 0)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"{argv[:3]} failed: {stderr[-2000:]}")
        return usage.ru_utime + usage.ru_stime, stdout, stderr


def imports(client: str, url: str, cwd: str) -> list[tuple[int, str]]:
    """(depth, name) of every module one real completion of ``client`` imports, in the
    order the imports completed (``-X importtime``; depth 0 is a top-level import)."""
    listed = client + '\nprint("LOADED", *sys.modules, file=sys.stderr)\n'
    argv = [sys.executable, "-X", "importtime", "-c", listed, url, "1"]
    _, _, stderr = run(argv, child_env(), cwd)
    loaded = set(stderr.split("LOADED ", 1)[1].split())  # importtime lists failures too
    found = [(len(m[1]) // 2, m[2]) for m in map(_IMPORT_LINE.match, stderr.splitlines()) if m]
    return [(depth, name) for depth, name in found if name in loaded]


def startup_code(found: list[tuple[int, str]]) -> str:
    """A program that imports what ``found`` lists, top-level names in order."""
    return "\n".join(f"import {name}" for depth, name in found if depth == 0) + "\n"


def write_blob(found: list[tuple[int, str]], path: str) -> None:
    """libchatty's modules compiled from source into one marshalled file; other modules
    as names to import at their place in the order."""
    rows = []
    for _, name in found:
        if name != "libchatty" and not name.startswith("libchatty."):
            rows.append((name, "", False, None))
            continue
        spec = importlib.util.find_spec(name)
        assert spec is not None and spec.origin is not None, name
        with open(spec.origin, "rb") as file:
            code = compile(file.read(), spec.origin, "exec", dont_inherit=True)
        rows.append((name, spec.origin, spec.submodule_search_locations is not None, code))
    with open(path, "wb") as file:
        file.write(marshal.dumps(tuple(rows)))


def per_completion_us(
    py: str, code: str, env: dict[str, str], cwd: str, n: int, text: str
) -> float:
    """A client's CPU per completion against the replayed response (``REPLAY``)."""
    _, out, err = run([py, "-c", REPLAY + code, "http://127.0.0.1:9/v1", str(n)], env, cwd)
    if out.count(text) != n:
        raise SystemExit(f"a client streamed {len(out)} characters, not {n} answers")
    return float(err.split("BUDGET_US ", 1)[1].split()[0])


def prepare(text: str, work: str, cwd: str) -> tuple[bytes, dict[str, str]]:
    """The recorded response, and the start-up program of each row."""
    server, url = start_server(text, 0.0)
    try:
        response = record_response(url)
        found = {name: imports(code, url, cwd) for name, code in CLIENTS.items()}
        blob = os.path.join(work, "libchatty.blob")
        write_blob(found["libchatty"], blob)
        one_blob = ONE_BLOB.format(path=blob)
        # the one-blob build must stream the same answer as the installed package
        _, out, _ = run([sys.executable, "-c", one_blob + LIBCHATTY, url, "1"], child_env(), cwd)
        if out.strip().count(text) != 1:
            raise SystemExit(f"the one-blob build streamed {out[:200]!r}")
    finally:
        server.terminate()
        server.communicate(timeout=10)
    starts = {
        "floor": startup_code(found["floor"]),
        "libchatty": startup_code(found["libchatty"]),
        "libchatty, one blob": one_blob,
    }
    return response, starts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=21, help="repetitions, interleaved")
    parser.add_argument("--completions", type=int, default=80, help="per timed process")
    parser.add_argument("--chunks", type=int, default=200, help="text chunks per completion")
    parser.add_argument("--read-size", type=int, default=4096, help="bytes per replayed read")
    parser.add_argument(
        "--read-gap", type=float, default=0.002, help="seconds asleep before each read (0: none)"
    )
    args = parser.parse_args()

    text = answer_text(args.chunks)
    py = sys.executable
    # (title, seconds asleep before each read, completions per process)
    shapes = [("nothing waits", 0.0, args.completions)]
    if args.read_gap:
        title = f"{args.read_gap * 1e3:g} ms asleep before every read"
        shapes.append((title, args.read_gap, max(args.completions // 4, 3)))
    startup: dict[str, list[float]] = {}
    each: dict[tuple[str, str], list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="bench_budget_") as work:
        cwd = os.path.join(work, "empty")  # -c lists its directory: keep it empty
        os.mkdir(cwd)
        response, starts = prepare(text, work, cwd)
        with open(os.path.join(work, "response"), "wb") as file:
            file.write(response)
        for i in range(args.runs):
            order = list(starts.items())
            for name, code in order if i % 2 == 0 else order[::-1]:
                startup.setdefault(name, []).append(run([py, "-c", code], child_env(), cwd)[0])
            for title, read_gap, n in shapes:
                env = child_env()
                env.update(BUDGET_RESPONSE=file.name, BUDGET_READ_SIZE=str(args.read_size))
                env["BUDGET_READ_GAP"] = str(read_gap)
                for name, code in CLIENTS.items():
                    us = per_completion_us(py, code, env, cwd, n, text)
                    each.setdefault((title, name), []).append(us)

    print(
        f"bench_budget: {args.chunks} chunks per completion, {len(response)} bytes in reads "
        f"of {args.read_size}, {args.runs} runs interleaved ({py})"
    )
    report(startup, each, [title for title, _, _ in shapes])
    return 0


def report(
    startup: dict[str, list[float]], each: dict[tuple[str, str], list[float]], shapes: list[str]
) -> None:
    """Medians throughout: single runs on a shared machine move by milliseconds."""
    start = {name: statistics.median(values) * 1e3 for name, values in startup.items()}
    print(f"\n{'start-up: what a plain chat imports':52} CPU ms (median)  over floor")
    for name, median in start.items():
        extra = "" if name == "floor" else f"{median - start['floor']:+11.2f}"
        print(f"  {name:50} {median:10.2f} {extra}")
    for title in shapes:
        floor = statistics.median(each[(title, "floor")])
        lib = statistics.median(each[(title, "libchatty")])
        print(f"\nper completion, {title:37} CPU us (median)     x floor")
        print(f"  {'floor':50} {floor:10.1f}")
        print(f"  {'libchatty':50} {lib:10.1f} {lib / floor:11.2f}")
        print(f"  completions that repay the extra start-up, {floor - lib:.1f} us saved by each:")
        for name in ("libchatty", "libchatty, one blob"):
            extra = (start[name] - start["floor"]) * 1e3
            verdict = f"{extra / (floor - lib):.1f}" if floor > lib else "never"
            print(f"    {name:48} {verdict:>10}")


if __name__ == "__main__":
    sys.exit(main())
