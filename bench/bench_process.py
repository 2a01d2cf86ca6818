"""Whole-process cost of streaming: libchatty against the floor and against peers.

Each client is a fresh Python process that does ``--completions`` (10) streamed chat
completions of ``--chunks`` (200) text chunks from the replay server, which runs in a
separate process on loopback. The client's user+sys CPU and peak RSS come from the OS
(``os.wait4``), so start-up, imports and the network loop all count. Then the CLI shape:
``--completions`` separate processes of one completion each (``python -m libchatty``
against a floor script).

Clients (a row is "unavailable" when its packages are not installed -- ``bench/run.py``
runs this in .bench-venv, which has them):

* floor -- raw socket + h11 + ``bytes.split`` + ``json.loads``: the least a Python
  program can do and still speak HTTP/1.1 and SSE correctly;
* libchatty -- ``libchatty.bindings.blocking.Client.chat(..., on_delta=...)``;
* openai -- the official SDK, ``client.chat.completions.create(stream=True)``;
* httpx + httpx-sse -- ``connect_sse`` and ``json.loads`` per event.

Every client writes the answer text to stdout, which is checked, so no row can win by
doing less. Run: ``python bench/bench_process.py [--runs 5] [--only process|cli]
[--token-delay S] [--read-size N] [--no-peers] [--json FILE]``.

Read shapes (issue 14, target 2): by default the server sends each response as fast as
it can and a client's read holds whatever has arrived (batched). ``--token-delay S``
makes the server wait S seconds between events, so that every event is its own read
(the live shape: a model sends tokens one at a time; 0.002 is ample on loopback while
the client needs well under 1 ms per event). ``--read-size N`` puts a relay between
client and server (a thread of this script, on loopback; its CPU is not the client's)
that forwards the server's bytes in pieces of at most N bytes, ``--read-gap`` (2 ms)
apart, so that every read is one piece: ``--read-size 4096`` is "4 KiB reads".
Targets (issue 4): libchatty within 1.25x of the floor's CPU with max RSS under 22 MB;
the CLI loop within 1.3x of the floor's (issue 14 keeps it; bench/README.md says where a
CLI run's start-up goes).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from typing import Final

PROMPT: Final = "Tell me a story in two hundred words."
_WORDS: Final = (
    "the quick brown fox jumps over a lazy dog while seven wizards quietly hex "
    "twelve boxing frogs near café naïve résumé"
)

# --- the clients (each runs as `python -c CODE URL N`) ------------------------------------
_COMMON: Final = f"""
import sys
URL, N = sys.argv[1], int(sys.argv[2])
PROMPT = {PROMPT!r}
out = sys.stdout
"""

FLOOR: Final = (
    _COMMON
    + """
import json, socket
from urllib.parse import urlsplit
import h11

url = urlsplit(URL)
body = json.dumps({"model": "replay-1", "stream": True,
                   "messages": [{"role": "user", "content": PROMPT}]}).encode()
head = [("host", url.netloc), ("content-type", "application/json"),
        ("content-length", str(len(body))), ("authorization", "Bearer bench")]
sock = socket.create_connection((url.hostname, url.port))
conn = h11.Connection(h11.CLIENT)
for _ in range(N):
    sock.sendall(conn.send(h11.Request(method="POST", target=url.path + "/chat/completions",
                                       headers=head))
                 + conn.send(h11.Data(data=body)) + conn.send(h11.EndOfMessage()))
    rest = b""
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            conn.receive_data(sock.recv(65536))
        elif type(event) is h11.Data:
            blocks = (rest + event.data).split(b"\\n\\n")
            rest = blocks.pop()
            for block in blocks:
                if block.startswith(b"data: {"):
                    choices = json.loads(block[6:])["choices"]
                    if choices:
                        text = choices[0]["delta"].get("content")
                        if text:
                            out.write(text)
                            if STREAMING:
                                out.flush()
        elif type(event) is h11.EndOfMessage:
            break
    out.flush()
    conn.start_next_cycle()
"""
)

LIBCHATTY: Final = (
    _COMMON
    + """
from libchatty.bindings.blocking import Client

def on_delta(text, done):
    out.write(text)

with Client(base_url=URL, api_key="bench") as client:
    for _ in range(N):
        client.chat([{"role": "user", "content": PROMPT}], model="replay-1", on_delta=on_delta)
        out.flush()
"""
)

OPENAI: Final = (
    _COMMON
    + """
from openai import OpenAI

client = OpenAI(base_url=URL, api_key="bench", max_retries=0)
for _ in range(N):
    stream = client.chat.completions.create(
        model="replay-1", messages=[{"role": "user", "content": PROMPT}], stream=True)
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            out.write(chunk.choices[0].delta.content)
    out.flush()
"""
)

HTTPX: Final = (
    _COMMON
    + """
import json
import httpx
from httpx_sse import connect_sse

payload = {"model": "replay-1", "stream": True,
           "messages": [{"role": "user", "content": PROMPT}]}
with httpx.Client(headers={"authorization": "Bearer bench"}) as client:
    for _ in range(N):
        with connect_sse(client, "POST", URL + "/chat/completions", json=payload) as source:
            for sse in source.iter_sse():
                if sse.data == "[DONE]":
                    break
                choices = json.loads(sse.data)["choices"]
                if choices and choices[0]["delta"].get("content"):
                    out.write(choices[0]["delta"]["content"])
        out.flush()
"""
)


@dataclass
class Row:
    label: str
    argv: list[str]  # run as argv + [URL, N] for "-c" clients, or as is for CLI rows
    completions: int
    cpu: list[float]
    rss_kib: list[int]
    error: str = ""
    # CPU of the same process doing no completion (start-up and imports), when measured:
    # what is left, cpu - startup, is the cost of the streaming itself.
    startup: list[float] = field(default_factory=list)

    @property
    def cpu_median(self) -> float:
        return statistics.median(self.cpu)

    @property
    def rss_median(self) -> float:
        return statistics.median(self.rss_kib) / 1024


def answer_text(chunks: int) -> str:
    """``chunks`` words: the replay server streams one word per event."""
    words = _WORDS.split()
    return " ".join(words[i % len(words)] for i in range(chunks))


def start_server(text: str, token_delay: float) -> tuple[subprocess.Popen[bytes], str]:
    args = [sys.executable, "-m", "libchatty.serve", "--print-url", "--text", text]
    args += ["--token-delay", str(token_delay)]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=child_env())
    assert proc.stdout is not None
    url = proc.stdout.readline().decode().strip()
    if not url.startswith("http"):
        proc.kill()
        _, err = proc.communicate(timeout=10)
        raise SystemExit(f"the replay server did not start: {err.decode()[-2000:]}")
    return proc, url


class Relay:
    """A loopback relay that re-cuts the server's bytes into pieces of at most ``size``
    bytes, ``gap`` seconds apart, so that each of the client's reads gets one piece.
    The request goes through unchanged. Threads of this process: the measured client's
    CPU does not include them."""

    def __init__(self, upstream: str, size: int, gap: float) -> None:
        host_port = upstream.split("//", 1)[1].split("/", 1)[0]
        host, port = host_port.rsplit(":", 1)
        self.upstream = (host, int(port))
        self.size, self.gap = size, gap
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.url = upstream.replace(host_port, f"127.0.0.1:{self.port}")
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # closed
            server = socket.create_connection(self.upstream)
            for sock in (client, server):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=self._pipe, args=(client, server, 0), daemon=True).start()
            threading.Thread(
                target=self._pipe, args=(server, client, self.size), daemon=True
            ).start()

    def _pipe(self, source: socket.socket, sink: socket.socket, size: int) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                if not size:
                    sink.sendall(data)
                    continue
                for start in range(0, len(data), size):
                    sink.sendall(data[start : start + size])
                    time.sleep(self.gap)
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self.listener.close()


def child_env() -> dict[str, str]:
    """The environment for measured processes: bytecode caching on (an installed package
    has its .pyc files; without them every run would recompile libchatty from source and
    measure the compiler), and no provider settings that could send a request elsewhere."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k != "PYTHONDONTWRITEBYTECODE" and not k.endswith(("_API_KEY", "_BASE_URL"))
    }
    env.pop("OPENAI_API_BASE", None)
    return env


def run_client(argv: list[str], text: str, count: int) -> tuple[float, int, str]:
    """CPU seconds and peak RSS (KiB) of one client process; an error text if its output
    is not ``count`` copies of ``text``."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(
            argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=child_env()
        )
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        produced = out.read().decode("utf-8", "replace")
        problem = ""
        if proc.returncode != 0:
            lines = err.read().decode("utf-8", "replace").strip().splitlines()
            problem = lines[-1] if lines else f"exit status {proc.returncode}"
        elif produced.strip().count(text) != count:
            problem = f"wrong output ({len(produced)} chars)"
        return usage.ru_utime + usage.ru_stime, usage.ru_maxrss, problem


def measure(
    rows: list[Row], text: str, runs: int, processes: int, each: int, startup: bool = False
) -> None:
    """Run every row ``runs`` times; a run is ``processes`` processes doing ``each``
    completions, and counts their summed CPU and highest peak RSS. Round-robin over the
    rows, so drift in the machine's load hits each alike. With ``startup``, each run also
    times the row's program doing zero completions (its last argument set to 0)."""
    for row in rows:  # warm-up: writes the .pyc files and fills the OS caches
        _, _, row.error = run_client(row.argv, text, each)
    for _ in range(runs):
        for row in rows:
            if row.error:
                continue
            if startup:
                cpu, _, problem = run_client([*row.argv[:-1], "0"], text, 0)
                if problem:
                    row.error = problem
                    continue
                row.startup.append(cpu)
            cpu_total, rss_peak = 0.0, 0
            for _ in range(processes):
                cpu, rss, problem = run_client(row.argv, text, each)
                if problem:
                    row.error = problem
                    break
                cpu_total += cpu
                rss_peak = max(rss_peak, rss)
            else:
                row.cpu.append(cpu_total)
                row.rss_kib.append(rss_peak)


def table(title: str, rows: list[Row]) -> list[str]:
    floor = rows[0]
    split = bool(floor.startup)
    head = f"{'':34} {'CPU s':>8} {'x floor':>8} {'max RSS MB':>11} {'x floor':>8}"
    if split:
        head += f" {'start-up s':>11} {'streaming s':>12} {'x floor':>8}"
    lines = [title, head]
    for row in rows:
        if row.error or not row.cpu:
            lines.append(f"{row.label:34} unavailable: {row.error}")
            continue
        cpu_ratio = rss_ratio = ""
        if floor.cpu and not floor.error:
            cpu_ratio = f"{row.cpu_median / floor.cpu_median:.2f}"
            rss_ratio = f"{row.rss_median / floor.rss_median:.2f}"
        line = (
            f"{row.label:34} {row.cpu_median:8.3f} {cpu_ratio:>8} "
            f"{row.rss_median:11.1f} {rss_ratio:>8}"
        )
        if split and row.startup and floor.startup:
            start = statistics.median(row.startup)
            streaming = row.cpu_median - start
            floor_streaming = floor.cpu_median - statistics.median(floor.startup)
            ratio = f"{streaming / floor_streaming:.2f}" if floor_streaming > 0 else ""
            line += f" {start:11.3f} {streaming:12.3f} {ratio:>8}"
        lines.append(line)
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="repetitions; medians reported")
    parser.add_argument("--completions", type=int, default=10)
    parser.add_argument("--chunks", type=int, default=200, help="text chunks per completion")
    parser.add_argument(
        "--token-delay",
        type=float,
        default=0.0,
        help="server delay between events (0: events arrive in batches)",
    )
    parser.add_argument(
        "--read-size",
        type=int,
        default=0,
        help="relay the server's bytes in pieces of at most this many bytes (0: no relay)",
    )
    parser.add_argument(
        "--read-gap", type=float, default=0.002, help="seconds between the relay's pieces"
    )
    parser.add_argument("--no-peers", action="store_true", help="only the floor and libchatty rows")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    parser.add_argument(
        "--only",
        choices=("process", "cli"),
        help="one shape: the in-process rows, or the CLI rows (ten processes)",
    )
    args = parser.parse_args()

    text = answer_text(args.chunks)
    py = sys.executable
    n = str(args.completions)
    server, url = start_server(text, args.token_delay)
    relay = Relay(url, args.read_size, args.read_gap) if args.read_size else None
    if relay is not None:
        url = relay.url
    try:
        floor_code = "STREAMING = False\n" + FLOOR
        in_process = [
            Row("floor (socket+h11+split+json)", [py, "-c", floor_code, url, n], 0, [], []),
            Row("libchatty blocking", [py, "-c", LIBCHATTY, url, n], 0, [], []),
            Row("openai SDK", [py, "-c", OPENAI, url, n], 0, [], []),
            Row("httpx + httpx-sse", [py, "-c", HTTPX, url, n], 0, [], []),
        ]
        if args.no_peers:
            del in_process[2:]
        for row in in_process:
            row.completions = args.completions
        # One completion per process, tokens flushed as they arrive, as a CLI does.
        cli_floor = "STREAMING = True\n" + FLOOR
        cli = [
            Row("floor script", [py, "-c", cli_floor, url, "1"], args.completions, [], []),
            Row(
                "python -m libchatty -s",
                [py, "-m", "libchatty", "-s", "--base-url", url, "replay-1", PROMPT],
                args.completions,
                [],
                [],
            ),
        ]
        script = os.path.join(os.path.dirname(py), "libchatty")
        if os.path.exists(script):
            cli.append(
                Row(
                    "libchatty -s (console script)",
                    [script, "-s", "--base-url", url, "replay-1", PROMPT],
                    args.completions,
                    [],
                    [],
                )
            )
        if not args.no_peers:
            cli += [
                Row("openai SDK script", [py, "-c", OPENAI, url, "1"], args.completions, [], []),
                Row(
                    "httpx + httpx-sse script",
                    [py, "-c", HTTPX, url, "1"],
                    args.completions,
                    [],
                    [],
                ),
            ]
        if args.only != "cli":
            measure(in_process, text, args.runs, processes=1, each=args.completions, startup=True)
        if args.only != "process":
            measure(cli, text, args.runs, processes=args.completions, each=1)
    finally:
        if relay is not None:
            relay.close()
        server.terminate()
        server.communicate(timeout=10)

    shape = f"{args.completions} streamed completions of {args.chunks} chunks"
    if args.token_delay:
        shape += f", {args.token_delay * 1000:g} ms between events"
    if args.read_size:
        shape += f", reads of at most {args.read_size} bytes"
    print(f"bench_process: {shape}, median of {args.runs} runs ({py})")
    if args.only != "cli":
        print("\n".join(table(f"\none process, {shape}:", in_process)))
    if args.only != "process":
        print("\n".join(table(f"\n{args.completions} processes of one completion each:", cli)))
    verdicts, lines = verdict(in_process, cli)
    print("\n".join(lines))
    if args.json:
        with open(args.json, "w") as file:
            json.dump(
                {
                    "shape": shape,
                    "runs": args.runs,
                    "token_delay": args.token_delay,
                    "read_size": args.read_size,
                    "in_process": [_row_json(r) for r in in_process],
                    "cli": [_row_json(r) for r in cli],
                    "verdict": verdicts,
                },
                file,
                indent=2,
            )
    return 0


def verdict(in_process: list[Row], cli: list[Row]) -> tuple[dict[str, float], list[str]]:
    """The numbers the targets are about, and a line per target."""
    out: dict[str, float] = {}
    lines = ["", "targets:"]
    floor, lib = in_process[0], in_process[1]
    if floor.cpu and lib.cpu:
        ratio = lib.cpu_median / floor.cpu_median
        out["process_cpu_ratio"] = ratio
        out["process_rss_mb"] = lib.rss_median
        lines.append(
            f"  libchatty CPU {ratio:.2f}x floor (target <= 1.25): "
            + ("met" if ratio <= 1.25 else "MISSED")
        )
        lines.append(
            f"  libchatty max RSS {lib.rss_median:.1f} MB (target < 22): "
            + ("met" if lib.rss_median < 22 else "MISSED")
        )
    openai = in_process[2] if len(in_process) > 2 else None
    if lib.cpu and openai is not None and openai.cpu:
        out["openai_over_libchatty"] = openai.cpu_median / lib.cpu_median
        lines.append(f"  openai SDK uses {openai.cpu_median / lib.cpu_median:.1f}x libchatty's CPU")
    if cli[0].cpu and cli[1].cpu:
        ratio = cli[1].cpu_median / cli[0].cpu_median
        out["cli_cpu_ratio"] = ratio
        lines.append(
            f"  CLI loop CPU {ratio:.2f}x floor script (target <= 1.3): "
            + ("met" if ratio <= 1.3 else "MISSED")
        )
    return out, lines


def _row_json(row: Row) -> dict[str, object]:
    return {
        "label": row.label,
        "error": row.error or None,
        "cpu_s": row.cpu,
        "maxrss_kib": row.rss_kib,
        "cpu_median_s": row.cpu_median if row.cpu else None,
        "maxrss_median_mb": row.rss_median if row.rss_kib else None,
        "startup_cpu_s": row.startup,
    }


if __name__ == "__main__":
    sys.exit(main())
