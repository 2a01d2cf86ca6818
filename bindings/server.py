"""The local replay server: a real HTTP/1.1 server on loopback that answers like a provider.

A thin asyncio shell over the sans-I/O :class:`libchatty.replay.Replay`, which chooses and
renders every answer, applies faults and keeps the request log; this module moves bytes
and sleeps where told (:class:`~libchatty.replay.Pause`). Use it as a context manager
(``with ReplayServer(script=[tool_turn, text_turn]) as server:``, the loop in a background
thread), through the ``replay_server`` pytest fixture (``libchatty.bindings.pytest_plugin``),
or standalone: ``python -m libchatty.serve --port 8080 --fault status=429,retry-after=2``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import signal
import ssl
import sys
import threading
from collections.abc import Mapping, Sequence
from typing import Any, Final

from libchatty.replay import Pause, RecordedRequest, Replay, Script
from libchatty.replay.answers import Answer
from libchatty.replay.faults import FAULT_KINDS, Fault
from libchatty.replay.record import CREDENTIAL_HEADERS, CREDENTIAL_PARAMS, redact_target
from libchatty.replay.server import DEFAULT_TEXT

__all__ = [  # the request log's and the faults' names, re-exported for users' tests
    "CREDENTIAL_HEADERS", "CREDENTIAL_PARAMS", "DEFAULT_TEXT", "FAULT_KINDS", "Fault",
    "RecordedRequest", "ReplayServer", "main", "redact_target",
]  # fmt: skip

_READ_SIZE: Final = 64 * 1024
# Listen backlog: the benchmark opens 10,000 connections at once.
_BACKLOG: Final = 16384


class ReplayServer:
    """The replay server: a context manager (sync: loop in a background thread; or
    ``async with`` on the running loop) that listens while inside.

    It answers with ``text``, a ``script`` (a :class:`Script`, or a sequence answering
    successive chat requests in order; one request too many gets a 410 error), ``routes``
    (by model or path: :mod:`libchatty.replay.answers`) or a ``transcript`` (one raw HTTP
    response); :meth:`answer` changes that while running. ``base_url`` is
    ``http://HOST:PORT/v1``; ``connections`` counts TCP connections; ``requests`` is the
    log (the last ``max_recorded``, credentials as ``***`` unless ``keep_credentials``);
    :meth:`add_fault` queues a :class:`Fault`; ``token_delay`` paces the events.
    """

    def __init__(
        self,
        text: str | None = None,
        script: Script | Sequence[Script] | None = None,
        token_delay: float = 0.0,
        host: str = "127.0.0.1",
        port: int = 0,
        ssl_context: ssl.SSLContext | None = None,
        faults: Sequence[Fault] = (),
        transcript: bytes | None = None,
        *,
        routes: Mapping[str, Answer] | None = None,
        max_recorded: int = 100_000,
        keep_credentials: bool = False,
    ) -> None:
        #: The sans-I/O server: what is answered, the fault queue, the request log.
        self.replay = Replay(
            text, script, routes, token_delay=token_delay, faults=faults,
            transcript=transcript, max_recorded=max_recorded, keep_credentials=keep_credentials,
        )  # fmt: skip
        self.host, self.port, self.ssl_context = host, port, ssl_context
        #: Queue a :class:`Fault`: the next chat request without one takes it.
        self.add_fault = self.replay.add_fault
        #: Replace what the server answers with (``text``, ``script``, ``routes``).
        self.answer = self.replay.answer
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None

    def __repr__(self) -> str:
        return f"<ReplayServer {self.base_url}>"

    @property
    def base_url(self) -> str:
        scheme = "https" if self.ssl_context is not None else "http"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{self.port}/v1"

    @property
    def connections(self) -> int:
        return self.replay.connections

    @property
    def requests(self) -> list[RecordedRequest]:
        return self.replay.requests

    # --- serving on the current loop --------------------------------------------------------
    async def _listen(self) -> None:
        self._server = await asyncio.start_server(
            self._handle, self.host, self.port, ssl=self.ssl_context, backlog=_BACKLOG,
            limit=_READ_SIZE,
        )  # fmt: skip
        self.port = self._server.sockets[0].getsockname()[1]

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        # Let the handler of a connection accepted just now start, to cancel it too.
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = self.replay.connection()
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            while not conn.closed:
                data = await reader.read(_READ_SIZE)
                for item in conn.receive_data(data):
                    if isinstance(item, Pause):
                        await writer.drain()
                        await _pause(item.seconds)
                    else:
                        writer.write(item)
                        await writer.drain()
                if not data:
                    break
        except (OSError, asyncio.CancelledError):
            # The client went away, or the server is closing. Not re-raised: asyncio's
            # stream callback would log the cancelled task as an error.
            pass
        finally:
            if task is not None:
                self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    # --- in a background thread -------------------------------------------------------------
    def start(self) -> None:
        """Start listening (in a daemon thread); returns once the port is bound."""
        if self._thread is not None:
            raise RuntimeError("this ReplayServer is already running")
        ready = threading.Event()
        failure: list[BaseException] = []

        async def run() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            try:
                await self._listen()
            except BaseException as exc:
                failure.append(exc)
                ready.set()
                return
            ready.set()
            try:
                await self._stop.wait()
            finally:
                await self._shutdown()

        self._thread = threading.Thread(
            target=asyncio.run, args=(run(),), name="libchatty-replay", daemon=True
        )
        self._thread.start()
        if not ready.wait(timeout=30):
            raise RuntimeError("the replay server did not start within 30 s")
        if failure:
            self._thread.join(timeout=5)
            self._thread = None
            raise failure[0]

    def close(self) -> None:
        """Stop listening, drop open connections, and join the thread."""
        thread, loop, stop = self._thread, self._loop, self._stop
        if thread is None or loop is None or stop is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop already ended
            loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=30)
        self._thread = None

    def __enter__(self) -> ReplayServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- on the caller's asyncio loop -------------------------------------------------------
    async def __aenter__(self) -> ReplayServer:
        await self._listen()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._shutdown()


async def _pause(seconds: float) -> None:
    if math.isinf(seconds):  # stall until the server closes
        await asyncio.Event().wait()
    else:
        await asyncio.sleep(seconds)


# --- python -m libchatty.serve ------------------------------------------------------------
def _fault(spec: str) -> Fault:
    """``Fault.parse``, its error as argparse wants it (said without a traceback)."""
    try:
        return Fault.parse(spec)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


_FAULT_HELP: Final = (
    "queue a fault for the next chat request (repeatable, taken in order): status=429,"
    "retry-after=2 | cut | cut-after=N | stall=S|forever[,after=N] | malformed[=N] | json | "
    "stream-error[=N][,message=TEXT] | reject-stream"
)


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m libchatty.serve",
        description="libchatty's local replay server: answers chat requests in every "
        "provider dialect with a scripted, streamed answer.",
    )
    add = parser.add_argument
    add("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    add("--port", type=int, default=0, help="port (default: a free one)")
    add("--text", help="the answer text (default: a short greeting)")
    add("--transcript", metavar="FILE", help="replay this raw HTTP response file instead")
    add("--token-delay", type=float, default=0.0, metavar="S", help="seconds between events")
    add("--fault", type=_fault, action="append", default=[], metavar="SPEC", help=_FAULT_HELP)
    add("--print-url", action="store_true", help="print only the base URL when ready")
    return parser.parse_args(argv)


async def _serve(args: argparse.Namespace) -> None:
    transcript = None
    if args.transcript:
        with open(args.transcript, "rb") as file:
            transcript = file.read()
    # max_recorded: nobody reads them here; keep memory flat under a benchmark.
    server = ReplayServer(
        args.text, None, args.token_delay, args.host, args.port, None, args.fault, transcript,
        max_recorded=1000,
    )  # fmt: skip
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    async with server:
        ready = f"libchatty replay server on {server.base_url} (Ctrl-C to stop)"
        print(server.base_url if args.print_url else ready, flush=True)
        await stop.wait()


def _raise_open_file_limit() -> None:
    """Each connection is a file descriptor: allow as many as the hard limit does, so
    the server carries the 10,000-connection benchmark."""
    try:
        import resource
    except ImportError:  # not on Unix
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the replay server until SIGINT/SIGTERM. Returns the exit status."""
    args = _parse_args(argv)
    _raise_open_file_limit()
    try:
        asyncio.run(_serve(args))
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        print(f"libchatty.serve: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
