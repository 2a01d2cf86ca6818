"""bindings/threads.py: futures, the bounded event queue, cancellation -- over real
loopback sockets against the replay server."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import CancelledError

import pytest
import trustme
from libchatty.bindings.server import Fault, ReplayServer
from libchatty.bindings.threads import ThreadedClient
from peers import client_context, server_context

from libchatty.events import Delta, Done, Error
from libchatty.exceptions import ChatError
from libchatty.replay import split_tokens

TEXT = "One two three four five six seven eight nine ten. " * 4
LONG = " ".join(f"word{i}" for i in range(300))
WAIT = 30  # seconds: an upper bound for any wait, never reached when things work


@pytest.fixture
def server() -> Iterator[ReplayServer]:
    with ReplayServer(text=TEXT) as running:
        yield running


@pytest.fixture
def slow_server() -> Iterator[ReplayServer]:
    """A long answer, one token every 10 ms (3 s in all): time to interrupt it."""
    with ReplayServer(text=LONG, token_delay=0.01) as running:
        yield running


def client_for(server: ReplayServer, **kwargs: object) -> ThreadedClient:
    return ThreadedClient(base_url=server.base_url, api_key="k", env={}, **kwargs)  # type: ignore[arg-type]


def test_submit_runs_callbacks_on_a_worker_thread(server: ReplayServer) -> None:
    threads: set[str] = set()
    pieces: list[str] = []

    def on_delta(text: str, done: bool) -> None:
        threads.add(threading.current_thread().name)
        pieces.append(text)

    with client_for(server) as client:
        answer = client.submit("hi", "m", on_delta=on_delta).result(WAIT)
    assert answer.text == TEXT and "".join(pieces) == TEXT
    assert threads and threading.current_thread().name not in threads


def test_submit_without_callbacks_is_not_streamed(server: ReplayServer) -> None:
    with client_for(server) as client:
        answer = client.submit("hi", "m").result(WAIT)
    assert answer.text == TEXT and not answer.streamed


def test_many_concurrent_submits_share_the_pool(server: ReplayServer) -> None:
    with client_for(server, max_workers=4) as client:
        futures = [client.submit("hi", "m", on_delta=lambda t, d: None) for _ in range(40)]
        assert all(f.result(WAIT).text == TEXT for f in futures)
    assert len(server.requests) == 40
    assert server.connections <= 4


def test_failure_is_the_futures_exception(server: ReplayServer) -> None:
    server.add_fault(Fault(kind="status", status=401))
    with client_for(server) as client:
        future = client.submit("hi", "m")
        with pytest.raises(ChatError) as info:
            future.result(WAIT)
    assert info.value.kind == "auth"


def test_raising_callback_is_the_futures_exception(server: ReplayServer) -> None:
    class Boom(Exception):
        pass

    def on_delta(text: str, done: bool) -> None:
        raise Boom(text)

    with client_for(server) as client:
        error = client.submit("hi", "m", on_delta=on_delta).exception(WAIT)
        assert client.submit("hi", "m").result(WAIT).text == TEXT
    assert isinstance(error, Boom)
    assert server.connections == 2  # the interrupted connection was not reused


def test_cancel_a_running_call_closes_it_promptly(slow_server: ReplayServer) -> None:
    first = threading.Event()
    count = [0]

    def on_delta(text: str, done: bool) -> None:
        count[0] += 1
        first.set()

    client = client_for(slow_server)
    future = client.submit("hi", "m", on_delta=on_delta)
    assert first.wait(WAIT)
    assert future.cancel() and future.cancelled()
    with pytest.raises(CancelledError):
        future.result(WAIT)
    client.close(wait=True)  # returns once the worker has let go
    seen = count[0]
    assert seen < len(split_tokens(LONG)) // 2
    assert LONG.startswith(future.partial)
    time.sleep(0.1)
    assert count[0] == seen  # nothing more arrives after the worker ended


def test_cancel_before_it_runs(server: ReplayServer) -> None:
    gate = threading.Event()
    with client_for(server, max_workers=1) as client:
        blocker = client.submit("hi", "m", on_delta=lambda t, d: gate.wait(WAIT))
        queued = client.submit("hi", "m")
        assert queued.cancel()
        gate.set()
        assert blocker.result(WAIT).text == TEXT
    assert len(server.requests) == 1


def test_stream_iterator(server: ReplayServer) -> None:
    with client_for(server) as client, client.stream("hi", "m") as events:
        got = list(events)
    assert "".join(e.text for e in got if type(e) is Delta) == TEXT
    assert type(got[-1]) is Done


def test_stream_error_is_the_last_event(server: ReplayServer) -> None:
    server.add_fault(Fault(kind="cut", after_events=2))
    with client_for(server) as client, client.stream("hi", "m") as events:
        got = list(events)
    assert type(got[-1]) is Error and got[-1].partial
    assert all(type(e) is Delta for e in got[:-1])


def test_stream_backpressure_stops_reading(slow_server: ReplayServer) -> None:
    with client_for(slow_server) as client:
        events = client.stream("hi", "m", queue_size=2)
        try:
            for _ in range(WAIT * 100):  # until the worker has filled the queue
                if events._queue.full():
                    break
                time.sleep(0.01)
            assert events._queue.full()
            time.sleep(0.3)  # the server offers ~30 more tokens meanwhile
            read = len(split_tokens(events.partial))
            assert read <= 5  # the worker stopped reading: the queue is full
            got = [e for e, _ in zip(events, range(3), strict=False)]
            assert all(type(e) is Delta for e in got)
        finally:
            events.stop()


def test_stream_stop_closes_promptly(slow_server: ReplayServer) -> None:
    with client_for(slow_server) as client:
        events = client.stream("hi", "m")
        iterator = iter(events)
        assert type(next(iterator)) is Delta
        events.stop()
        assert not events._thread.is_alive()  # stop() joined the worker
        rest = list(iterator)
        assert [type(e) for e in rest] == [Error] and rest[0].kind == "cancelled"  # type: ignore[union-attr]
        assert LONG.startswith(events.partial) and events.partial != LONG
        assert rest[0].partial == events.partial  # type: ignore[union-attr]


def test_stream_stopped_from_another_thread(slow_server: ReplayServer) -> None:
    with client_for(slow_server) as client, client.stream("hi", "m") as events:
        got = []
        for event in events:
            got.append(event)
            if len(got) == 2:
                threading.Thread(target=events.stop).start()
        assert type(got[-1]) is Error and got[-1].kind == "cancelled"
        assert all(type(e) is Delta for e in got[:-1])
        assert len(got) < len(split_tokens(LONG))


def test_stream_leaving_the_loop_stops(slow_server: ReplayServer) -> None:
    with client_for(slow_server) as client, client.stream("hi", "m") as events:
        for event in events:
            assert type(event) is Delta
            break
    assert not events._thread.is_alive()


def test_tls(ca: trustme.CA) -> None:
    server_ctx = server_context(ca, "127.0.0.1")
    client_ctx = client_context(ca)
    with (
        ReplayServer(text=TEXT, ssl_context=server_ctx) as tls_server,
        client_for(tls_server, ssl_context=client_ctx) as client,
    ):
        assert client.submit("hi", "m", on_delta=lambda t, d: None).result(WAIT).text == TEXT
        with client.stream("hi", "m") as events:
            assert type(list(events)[-1]) is Done
