"""One user API for every provider (issue 6).

The same user code -- :func:`ask` (streamed with ``on_delta``), :func:`answer` (one JSON
body) and :func:`ask_events` (``stream()`` iteration), written once for the blocking
``Client`` and once, with ``await``, for the trio and asyncio ``AsyncClient`` -- runs
unchanged against the replay server in every dialect. Only the client's configuration
(base URL and ``dialect=``) differs, and every dialect must give the same text, the same
pieces to the callback, the same tool calls and the same usage. Faults (a cut stream, a
429 with ``Retry-After: 0``, an error event mid-stream) must end the same way too.

Every call is bounded: the clients have connect, idle and total timeouts, and each async
run is wrapped in a deadline on top of that.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, Final, TypeVar
from urllib.parse import urlsplit

import pytest
import trio
from decoding import check_shape
from hypothesis import given
from hypothesis import strategies as st
from libchatty.bindings._api import Completion, Timeout
from libchatty.bindings._async_client import AsyncClientBase
from libchatty.bindings.asyncio import AsyncClient as AsyncioClient
from libchatty.bindings.blocking import Client
from libchatty.bindings.server import Fault, RecordedRequest, ReplayServer
from libchatty.bindings.trio import AsyncClient as TrioClient

from libchatty.dialects import DIALECT_NAMES, get_dialect
from libchatty.events import Delta, Done, Error, Event, ToolCall, Usage
from libchatty.exceptions import ChatError
from libchatty.replay import Script, get_renderer, split_tokens

T = TypeVar("T")

API_KEY: Final = "test-key"
MODEL: Final = "some-model"
MESSAGES: Final = [{"role": "user", "content": "Why are zebra crossings striped?"}]

# Non-ASCII, quotes, a backslash and a newline: every dialect must carry them unchanged.
TEXT: Final = (
    "Zebra crossings are “striped” so that drivers see them from far away 🦓.\n"
    'Contrast matters: white on dark asphalt, a "\\" never. Déjà vu at every corner.'
)
PIECES: Final = split_tokens(TEXT)
USAGE: Final = Usage(input_tokens=11, output_tokens=17, total_tokens=28)
ANSWER: Final = Script(text=TEXT, usage=USAGE)

TOOL_CALLS: Final = (
    ToolCall("call_1", "get_weather", '{"city": "Paris", "unit": "celsius"}'),
    ToolCall("call_2", "get_time", '{"tz": "Europe/Paris"}'),
)
TOOL_TEXT: Final = "Let me check."
TOOL_ANSWER: Final = Script(
    text=TOOL_TEXT, tool_calls=TOOL_CALLS, finish_reason="tool_calls", usage=USAGE
)
# What a tool call means, whatever the dialect: its name and its parsed arguments. (Ids are
# not compared: Gemini and Ollama have none on the wire; JSON spacing is not compared:
# a dialect that carries arguments as an object re-serialises them.)
TOOL_MEANING: Final = [(c.name, json.loads(c.arguments)) for c in TOOL_CALLS]

BINDINGS: Final = ("blocking", "trio", "asyncio")
# Generous, never reached when things work; they only turn a hang into a failure.
CLIENT_TIMEOUT: Final = Timeout(connect=5.0, idle=5.0, total=20.0)
RUN_DEADLINE: Final = 30.0


# --- the user's code: written once, run unchanged in every dialect ---------------------------


def ask(client: Client) -> tuple[Completion, list[str]]:
    """Stream an answer: the completion and the pieces the callback saw."""
    pieces: list[str] = []

    def collect(text: str, done: bool) -> None:
        if not done:
            pieces.append(text)

    completion = client.chat(MESSAGES, MODEL, on_delta=collect)
    return completion, pieces


def answer(client: Client) -> Completion:
    """Ask without a callback: one JSON body, no stream."""
    return client.chat(MESSAGES, MODEL)


def ask_events(client: Client) -> list[Event]:
    """Iterate over ``stream()``: every event, the last one ``Done`` or ``Error``."""
    with client.stream(MESSAGES, MODEL) as events:
        return list(events)


async def ask_async(client: AsyncClientBase) -> tuple[Completion, list[str]]:
    pieces: list[str] = []

    def collect(text: str, done: bool) -> None:
        if not done:
            pieces.append(text)

    completion = await client.chat(MESSAGES, MODEL, on_delta=collect)
    return completion, pieces


async def answer_async(client: AsyncClientBase) -> Completion:
    return await client.chat(MESSAGES, MODEL)


async def ask_events_async(client: AsyncClientBase) -> list[Event]:
    async with client.stream(MESSAGES, MODEL) as events:
        return [event async for event in events]


# The same user code in its sync and async spelling.
UserCode = tuple[Callable[[Client], T], Callable[[AsyncClientBase], Awaitable[T]]]
ASK: Final[UserCode[tuple[Completion, list[str]]]] = (ask, ask_async)
ANSWER_CODE: Final[UserCode[Completion]] = (answer, answer_async)
ASK_EVENTS: Final[UserCode[list[Event]]] = (ask_events, ask_events_async)


# --- configuration: the only thing that changes from one provider to the next ----------------


def base_url_for(server: ReplayServer, dialect: str) -> str:
    """The base URL a user would configure for this provider, pointed at the server.

    OpenAI's base URLs end in ``/v1`` (``https://api.openai.com/v1``) and the dialects
    append ``/chat/completions`` or ``/responses``; Anthropic's, Gemini's and Ollama's are
    the bare host (``https://api.anthropic.com``, ``http://localhost:11434``) and the
    dialect adds ``/v1/messages``, ``/v1beta/models/...`` or ``/api/chat``.
    """
    if dialect.startswith("openai"):
        return server.base_url
    parts = urlsplit(server.base_url)
    return f"{parts.scheme}://{parts.netloc}"


def client_settings(server: ReplayServer, dialect: str, **overrides: Any) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "base_url": base_url_for(server, dialect),
        "api_key": API_KEY,
        "dialect": dialect,
        "timeout": CLIENT_TIMEOUT,
        "env": {},  # no proxy or key from the machine running the tests
    }
    settings.update(overrides)
    return settings


def run(
    binding: str,
    server: ReplayServer,
    dialect: str,
    code: UserCode[T],
    *,
    backoffs: list[float] | None = None,
    **overrides: Any,
) -> T:
    """Run the user code with a fresh client of ``binding``; a ChatError propagates.

    With ``backoffs``, the client's waits before a retry are recorded there instead of
    slept (the backoff without ``Retry-After`` is a random fraction of a second, and
    the test only needs to know it was asked for).
    """
    settings = client_settings(server, dialect, **overrides)
    return run_with(binding, settings, code, backoffs=backoffs)


def run_with(
    binding: str,
    settings: dict[str, Any],
    code: UserCode[T],
    *,
    backoffs: list[float] | None = None,
) -> T:
    """:func:`run` with the client's settings as given (a provider name, say)."""
    sync_code, async_code = code
    if binding == "blocking":
        with Client(**settings) as client:
            if backoffs is not None:
                setattr(client.backend, "sleep", backoffs.append)  # noqa: B010
            return sync_code(client)

    async def record(seconds: float) -> None:
        assert backoffs is not None
        backoffs.append(seconds)

    if binding == "trio":

        async def on_trio() -> T:
            with trio.fail_after(RUN_DEADLINE):
                async with TrioClient(**settings) as client:
                    if backoffs is not None:
                        setattr(client.backend, "sleep", record)  # noqa: B010
                    return await async_code(client)

        return trio.run(on_trio)

    async def on_asyncio() -> T:
        async with AsyncioClient(**settings) as client:
            if backoffs is not None:
                setattr(client.backend, "sleep", record)  # noqa: B010
            return await asyncio.wait_for(async_code(client), RUN_DEADLINE)

    return asyncio.run(on_asyncio())


# --- checks shared by every binding ---------------------------------------------------------


def chat_requests(server: ReplayServer, since: int = 0) -> list[RecordedRequest]:
    return server.requests[since:]


def check_request(request: RecordedRequest, dialect: str, *, stream: bool) -> None:
    """The request reached the server on the dialect's own path, asked (or did not ask)
    for a stream, and carried the key in a header, never in the URL."""
    wire = get_renderer(dialect)
    assert wire.matches(request.method, request.target), request.target
    assert wire.is_stream_request(request.target, request.json) is stream
    assert API_KEY in " ".join(request.headers.values())
    assert API_KEY not in request.target


def text_deltas(events: list[Event]) -> list[str]:
    return [e.text for e in events if type(e) is Delta and e.kind == "text" and e.text]


def tool_fragments(events: list[Event]) -> dict[int, tuple[str | None, str]]:
    """Streamed tool-call deltas by index: the name (from whichever fragment gives it) and
    the argument text, joined."""
    names: dict[int, str | None] = {}
    parts: dict[int, list[str]] = {}
    for event in events:
        if type(event) is Delta and event.kind == "tool_call":
            if event.tool_name is not None:
                names[event.index] = event.tool_name
            names.setdefault(event.index, None)
            parts.setdefault(event.index, []).append(event.text)
    return {i: (names[i], "".join(parts[i])) for i in names}


def tool_meaning(calls: tuple[ToolCall, ...]) -> list[tuple[str, Any]]:
    return [(c.name, json.loads(c.arguments)) for c in calls]


def check_completion(
    completion: Completion, *, text: str, streamed: bool, tool_calls: tuple[ToolCall, ...] = ()
) -> None:
    """The answer every dialect must give: ``text``, streamed or not as asked, finished as
    its tool calls say (the provider's own word kept too), the usage, and the tool calls'
    meaning."""
    assert completion.text == text
    assert completion.streamed is streamed
    assert completion.finish_reason == ("tool_calls" if tool_calls else "stop")
    assert completion.raw_finish_reason  # the provider's own word is kept
    assert completion.usage == USAGE
    if tool_calls:
        assert tool_meaning(completion.tool_calls) == tool_meaning(tool_calls)
    else:
        assert completion.tool_calls == ()


def first_text_event(dialect: str, script: Script) -> int:
    """How many wire events the server sends before the first text delta: the dialect's
    preamble (``message_start``, ``response.created``...). Fault positions count from it
    so that every dialect has delivered the same text when the fault strikes."""
    first = json.dumps(script.text_pieces()[0]).encode()
    events = get_renderer(dialect).render_stream(script)
    for i, event in enumerate(events):
        if first in event:
            return i
    raise AssertionError(f"{dialect}: no event carries the first piece")


# --- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def answer_server() -> Iterator[ReplayServer]:
    with ReplayServer(script=ANSWER, keep_credentials=True) as server:
        yield server


@pytest.fixture(scope="module")
def tool_server() -> Iterator[ReplayServer]:
    with ReplayServer(script=TOOL_ANSWER, keep_credentials=True) as server:
        yield server


@pytest.fixture
def fault_server() -> Iterator[ReplayServer]:
    """A server of its own per test: a fault left queued by a failing test cannot leak."""
    with ReplayServer(script=ANSWER, keep_credentials=True) as server:
        yield server


every_dialect = pytest.mark.parametrize("dialect", DIALECT_NAMES)
every_binding = pytest.mark.parametrize("binding", BINDINGS)


def test_every_dialect_is_covered() -> None:
    assert set(DIALECT_NAMES) == {
        "openai-chat",
        "openai-responses",
        "anthropic",
        "gemini",
        "ollama",
        "cohere",
        "bedrock",
    }


# --- the same answer everywhere ---------------------------------------------------------------


@every_binding
def test_one_user_function_gives_the_same_answer_in_every_dialect(
    binding: str, answer_server: ReplayServer
) -> None:
    results = {}
    for dialect in DIALECT_NAMES:
        completion, pieces = run(binding, answer_server, dialect, ASK)
        results[dialect] = (
            completion.text,
            tuple(pieces),
            completion.finish_reason,
            completion.usage,
        )
    assert set(results.values()) == {(TEXT, tuple(PIECES), "stop", USAGE)}, results


@every_binding
@every_dialect
def test_streamed_with_on_delta(binding: str, dialect: str, answer_server: ReplayServer) -> None:
    before = len(answer_server.requests)
    completion, pieces = run(binding, answer_server, dialect, ASK)
    assert pieces == PIECES
    check_completion(completion, text=TEXT, streamed=True)
    [request] = chat_requests(answer_server, before)
    check_request(request, dialect, stream=True)


@every_binding
@every_dialect
def test_not_streamed_without_a_callback(
    binding: str, dialect: str, answer_server: ReplayServer
) -> None:
    before = len(answer_server.requests)
    completion = run(binding, answer_server, dialect, ANSWER_CODE)
    check_completion(completion, text=TEXT, streamed=False)
    [request] = chat_requests(answer_server, before)
    check_request(request, dialect, stream=False)


@every_binding
@every_dialect
def test_stream_iteration(binding: str, dialect: str, answer_server: ReplayServer) -> None:
    before = len(answer_server.requests)
    events = run(binding, answer_server, dialect, ASK_EVENTS)
    done = check_shape(events)
    assert isinstance(done, Done), done
    assert text_deltas(events) == PIECES
    assert done.text == TEXT
    assert done.finish_reason == "stop"
    assert done.usage == USAGE
    [request] = chat_requests(answer_server, before)
    check_request(request, dialect, stream=True)


# --- tool calls -------------------------------------------------------------------------------


@every_binding
@every_dialect
def test_tool_calls_streamed(binding: str, dialect: str, tool_server: ReplayServer) -> None:
    completion, pieces = run(binding, tool_server, dialect, ASK)
    assert "".join(pieces) == TOOL_TEXT
    check_completion(completion, text=TOOL_TEXT, streamed=True, tool_calls=TOOL_CALLS)


@every_binding
@every_dialect
def test_tool_calls_not_streamed(binding: str, dialect: str, tool_server: ReplayServer) -> None:
    completion = run(binding, tool_server, dialect, ANSWER_CODE)
    check_completion(completion, text=TOOL_TEXT, streamed=False, tool_calls=TOOL_CALLS)


@every_binding
@every_dialect
def test_tool_call_fragments_in_the_stream(
    binding: str, dialect: str, tool_server: ReplayServer
) -> None:
    events = run(binding, tool_server, dialect, ASK_EVENTS)
    done = check_shape(events)
    assert isinstance(done, Done), done
    fragments = tool_fragments(events)
    assert sorted(fragments) == list(range(len(TOOL_CALLS)))
    streamed = [(fragments[i][0], json.loads(fragments[i][1])) for i in sorted(fragments)]
    assert streamed == TOOL_MEANING
    assert tool_meaning(done.tool_calls) == TOOL_MEANING
    assert done.usage == USAGE


# --- faults -----------------------------------------------------------------------------------


@every_binding
@every_dialect
def test_a_cut_stream_is_incomplete_with_the_partial_text(
    binding: str, dialect: str, fault_server: ReplayServer
) -> None:
    # Three text deltas, then the connection closes without the terminal marker.
    fault_server.add_fault(Fault(kind="cut", after_events=first_text_event(dialect, ANSWER) + 3))
    seen: list[str] = []

    def record(text: str, done: bool) -> None:
        seen.append(text)

    async def record_async(text: str, done: bool) -> None:
        seen.append(text)

    def user(client: Client) -> Completion:
        return client.chat(MESSAGES, MODEL, on_delta=record)

    async def user_async(client: AsyncClientBase) -> Completion:
        return await client.chat(MESSAGES, MODEL, on_delta=record_async)

    with pytest.raises(ChatError) as caught:
        run(binding, fault_server, dialect, (user, user_async))
    assert caught.value.kind == "incomplete"
    assert caught.value.partial == "".join(PIECES[:3])
    assert seen == PIECES[:3]  # the callback saw exactly that text, never a Done
    assert caught.value.error.partial == caught.value.partial
    # Output was delivered: no retry, no fallback (it would repeat that output).
    assert len(fault_server.requests) == 1


@every_binding
@every_dialect
def test_a_rate_limit_with_retry_after_zero_is_retried(
    binding: str, dialect: str, fault_server: ReplayServer
) -> None:
    fault_server.add_fault(Fault(kind="status", status=429, retry_after="0"))
    completion, pieces = run(binding, fault_server, dialect, ASK, max_retries=1)
    check_completion(completion, text=TEXT, streamed=True)
    assert pieces == PIECES  # nothing was delivered twice
    first, second = fault_server.requests
    check_request(first, dialect, stream=True)
    check_request(second, dialect, stream=True)
    assert first.body == second.body


@every_binding
@every_dialect
def test_a_rate_limit_without_retries_is_raised(
    binding: str, dialect: str, fault_server: ReplayServer
) -> None:
    fault_server.add_fault(Fault(kind="status", status=429, retry_after="0"))
    with pytest.raises(ChatError) as caught:
        run(binding, fault_server, dialect, ASK, max_retries=0)
    error = caught.value.error
    assert (error.kind, error.status, error.retry_after) == ("rate_limit", 429, 0.0)
    assert error.retryable
    assert error.partial == ""
    assert len(fault_server.requests) == 1


@every_binding
@every_dialect
def test_an_error_event_mid_stream_keeps_the_partial_text(
    binding: str, dialect: str, fault_server: ReplayServer
) -> None:
    fault_server.add_fault(
        Fault(
            kind="stream_error",
            after_events=first_text_event(dialect, ANSWER) + 2,
            message="the model fell over",
        )
    )
    with pytest.raises(ChatError) as caught:
        run(binding, fault_server, dialect, ASK)
    error = caught.value.error
    # Anthropic's replayed error event is an overloaded_error; the others a plain error.
    assert error.kind == ("overloaded" if dialect == "anthropic" else "provider"), error
    assert "the model fell over" in error.message
    assert caught.value.partial == "".join(PIECES[:2])
    assert len(fault_server.requests) == 1  # delivered output is never re-requested


@every_binding
@every_dialect
def test_an_error_event_before_any_text_is_retried_only_when_retryable(
    binding: str, dialect: str, fault_server: ReplayServer
) -> None:
    # Whether an in-stream error is worth retrying is the provider's word (Ollama's
    # {"error": "..."} says nothing, so it is not retried; the others name a server
    # fault). Either way the user sees each piece of text once, or a clean error.
    fault_server.add_fault(Fault(kind="stream_error", after_events=0))
    backoffs: list[float] = []
    try:
        completion, pieces = run(
            binding, fault_server, dialect, ASK, max_retries=1, backoffs=backoffs
        )
    except ChatError as caught:
        assert not caught.error.retryable, caught.error
        assert caught.partial == ""
        assert len(fault_server.requests) == 1
        assert backoffs == []
    else:
        assert (completion.text, pieces) == (TEXT, PIECES)
        assert len(fault_server.requests) == 2
        [wait] = backoffs  # one backoff before the one retry
        assert 0 < wait <= 1


@every_binding
@every_dialect
def test_the_connection_is_reused_after_a_whole_answer(
    binding: str, dialect: str, fault_server: ReplayServer
) -> None:
    """After ``Done`` the rest of the body is read, so the next call of the same client
    goes over the same connection, streamed or not."""

    def twice(client: Client) -> list[str]:
        return [ask(client)[0].text, answer(client).text, ask(client)[0].text]

    async def twice_async(client: AsyncClientBase) -> list[str]:
        return [
            (await ask_async(client))[0].text,
            (await answer_async(client)).text,
            (await ask_async(client))[0].text,
        ]

    texts = run(binding, fault_server, dialect, (twice, twice_async))
    assert set(texts) == {TEXT}
    assert fault_server.connections == 1
    assert len(fault_server.requests) == len(texts)


@every_dialect
def test_a_stream_cut_before_any_text_falls_back_to_one_body(
    dialect: str, fault_server: ReplayServer
) -> None:
    fault_server.add_fault(Fault(kind="cut", after_events=0))
    completion, _ = run("blocking", fault_server, dialect, ASK)
    check_completion(completion, text=TEXT, streamed=False)
    first, second = fault_server.requests
    check_request(first, dialect, stream=True)
    check_request(second, dialect, stream=False)


# --- any text ---------------------------------------------------------------------------------


# text() draws valid UTF-8 only (no lone surrogates: no provider can send one).
@given(text=st.text(max_size=80))
def test_any_text_survives_every_dialect(text: str) -> None:
    """Whatever the model says -- control characters, quotes, astral planes -- reaches
    the user the same way in every dialect, streamed or not."""
    pieces = split_tokens(text)
    with ReplayServer(script=Script(text=text, usage=USAGE)) as server:
        for dialect in DIALECT_NAMES:
            completion, seen = run("blocking", server, dialect, ASK)
            assert (completion.text, seen) == (text, pieces), dialect
            assert run("blocking", server, dialect, ANSWER_CODE).text == text, dialect


def test_errors_are_events_not_exceptions_in_stream_iteration(
    fault_server: ReplayServer,
) -> None:
    """``stream()`` yields the Error last rather than raising, in every dialect."""
    for dialect in DIALECT_NAMES:
        fault_server.add_fault(
            Fault(kind="cut", after_events=first_text_event(dialect, ANSWER) + 1)
        )
        events = run("blocking", fault_server, dialect, ASK_EVENTS)
        last = check_shape(events)
        assert isinstance(last, Error) and last.kind == "incomplete", (dialect, last)
        assert last.partial == PIECES[0] == "".join(text_deltas(events))


# --- a base URL's query string reaches every request (issue 9, point 12) ----------------------
QUERY_TARGETS: Final = {
    ("openai-chat", True): b"/base/v1/chat/completions?api-version=2024-10-21&x=%2F",
    ("openai-chat", False): b"/base/v1/chat/completions?api-version=2024-10-21&x=%2F",
    ("openai-responses", True): b"/base/v1/responses?api-version=2024-10-21&x=%2F",
    ("openai-responses", False): b"/base/v1/responses?api-version=2024-10-21&x=%2F",
    ("anthropic", True): b"/base/v1/messages?api-version=2024-10-21&x=%2F",
    ("anthropic", False): b"/base/v1/messages?api-version=2024-10-21&x=%2F",
    ("gemini", True): (
        b"/base/v1/models/some-model:streamGenerateContent?api-version=2024-10-21&x=%2F&alt=sse"
    ),
    ("gemini", False): b"/base/v1/models/some-model:generateContent?api-version=2024-10-21&x=%2F",
    ("ollama", True): b"/base/v1/api/chat?api-version=2024-10-21&x=%2F",
    ("ollama", False): b"/base/v1/api/chat?api-version=2024-10-21&x=%2F",
    ("cohere", True): b"/base/v1/v2/chat?api-version=2024-10-21&x=%2F",
    ("cohere", False): b"/base/v1/v2/chat?api-version=2024-10-21&x=%2F",
    ("bedrock", True): b"/base/v1/model/some-model/converse-stream?api-version=2024-10-21&x=%2F",
    ("bedrock", False): b"/base/v1/model/some-model/converse?api-version=2024-10-21&x=%2F",
}


@pytest.mark.parametrize("stream", [True, False])
@pytest.mark.parametrize("dialect", DIALECT_NAMES)
def test_the_base_url_query_is_on_every_request(dialect: str, stream: bool) -> None:
    from libchatty.call import Call
    from libchatty.endpoint import Endpoint
    from libchatty.request import ChatRequest

    endpoint = Endpoint(
        "https://api.example.com/base/v1?api-version=2024-10-21&x=%2F", API_KEY, dialect
    )
    call = Call(endpoint, ChatRequest(MODEL, MESSAGES, stream=stream))
    request_line = call.start().split(b"\r\n", 1)[0]
    assert request_line == b"POST " + QUERY_TARGETS[dialect, stream] + b" HTTP/1.1"


def test_gemini_own_alt_wins_over_the_base_url_query() -> None:
    from libchatty.endpoint import Endpoint
    from libchatty.request import ChatRequest

    endpoint = Endpoint("https://g.example/v1beta?alt=json&key=k", API_KEY, "gemini")
    request = get_dialect("gemini").build_request(endpoint, ChatRequest(MODEL, MESSAGES))
    assert request.target == "/v1beta/models/some-model:streamGenerateContent?key=k&alt=sse"


# --- tool_choice in each provider's documented form (issue 9, point 11a) -----------------------
def _openai_chat_choice(body: dict[str, Any]) -> Any:
    return body["tool_choice"]


def _anthropic_choice(body: dict[str, Any]) -> Any:
    return body["tool_choice"]


def _gemini_choice(body: dict[str, Any]) -> Any:
    return body["toolConfig"]


def _ollama_choice(body: dict[str, Any]) -> Any:
    assert "tool_choice" not in body  # Ollama has no such field
    return [tool["function"]["name"] for tool in body.get("tools", ())]


def _cohere_choice(body: dict[str, Any]) -> Any:
    # A named tool is forced by offering it alone, REQUIRED; "auto" is Cohere's default.
    return body.get("tool_choice"), [tool["function"]["name"] for tool in body["tools"]]


def _bedrock_choice(body: dict[str, Any]) -> Any:
    # Converse has no "none": the tools are left out (nothing was called before).
    config = body.get("toolConfig") or {}
    return config.get("toolChoice"), [tool["toolSpec"]["name"] for tool in config.get("tools", [])]


CHOICE_OF: Final = {
    "openai-chat": _openai_chat_choice,
    "openai-responses": _openai_chat_choice,
    "anthropic": _anthropic_choice,
    "gemini": _gemini_choice,
    "ollama": _ollama_choice,
    "cohere": _cohere_choice,
    "bedrock": _bedrock_choice,
}
RENDERED_CHOICE: Final[dict[str, dict[str, Any]]] = {
    "openai-chat": {
        "auto": "auto",
        "none": "none",
        "required": "required",
        "f": {"type": "function", "function": {"name": "f"}},
    },
    "openai-responses": {
        "auto": "auto",
        "none": "none",
        "required": "required",
        "f": {"type": "function", "name": "f"},
    },
    "anthropic": {
        "auto": {"type": "auto"},
        "none": {"type": "none"},
        "required": {"type": "any"},
        "f": {"type": "tool", "name": "f"},
    },
    "gemini": {
        "auto": {"functionCallingConfig": {"mode": "AUTO"}},
        "none": {"functionCallingConfig": {"mode": "NONE"}},
        "required": {"functionCallingConfig": {"mode": "ANY"}},
        "f": {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["f"]}},
    },
    "ollama": {"auto": ["f", "g"], "none": [], "required": ["f", "g"], "f": ["f", "g"]},
    "cohere": {
        "auto": (None, ["f", "g"]),
        "none": ("NONE", ["f", "g"]),
        "required": ("REQUIRED", ["f", "g"]),
        "f": ("REQUIRED", ["f"]),
    },
    "bedrock": {
        "auto": ({"auto": {}}, ["f", "g"]),
        "none": (None, []),
        "required": ({"any": {}}, ["f", "g"]),
        "f": ({"tool": {"name": "f"}}, ["f", "g"]),
    },
}
# Each neutral choice, given in another provider's form: the rendering must not care.
CHOICE_INPUTS: Final[dict[str, Any]] = {
    "auto": {"type": "auto"},
    "none": {"functionCallingConfig": {"mode": "NONE"}},
    "required": {"type": "any"},
    "f": {"type": "function", "function": {"name": "f"}},
}


@pytest.mark.parametrize("neutral", ["auto", "none", "required", "f"])
@pytest.mark.parametrize("dialect", DIALECT_NAMES)
def test_tool_choice_is_rendered_in_the_provider_form(dialect: str, neutral: str) -> None:
    from libchatty.endpoint import Endpoint
    from libchatty.request import ChatRequest, Tool

    endpoint = Endpoint("https://api.example.com/v1", API_KEY, dialect)
    for choice in (neutral, CHOICE_INPUTS[neutral]):
        request = ChatRequest(MODEL, MESSAGES, tools=[Tool("f"), Tool("g")], tool_choice=choice)
        body = json.loads(get_dialect(dialect).build_request(endpoint, request).body)
        assert CHOICE_OF[dialect](body) == RENDERED_CHOICE[dialect][neutral]


# --- Google Vertex AI: the same user code, Gemini and Claude models at Vertex paths -----------
VERTEX_DIALECTS: Final = ("gemini", "anthropic")


def vertex_base_url(server: ReplayServer) -> str:
    """What ``Client("vertex", ...)`` resolves to, pointed at the server."""
    parts = urlsplit(server.base_url)
    return f"{parts.scheme}://{parts.netloc}/v1/projects/my-proj/locations/us-east5"


@every_binding
@pytest.mark.parametrize("dialect", VERTEX_DIALECTS)
def test_vertex_streamed_and_not(binding: str, dialect: str, answer_server: ReplayServer) -> None:
    before = len(answer_server.requests)
    base_url = vertex_base_url(answer_server)
    completion, pieces = run(binding, answer_server, dialect, ASK, base_url=base_url)
    check_completion(completion, text=TEXT, streamed=True)
    assert pieces == PIECES
    whole = run(binding, answer_server, dialect, ANSWER_CODE, base_url=base_url)
    check_completion(whole, text=TEXT, streamed=False)
    streamed, plain = chat_requests(answer_server, before)
    check_request(streamed, dialect, stream=True)
    check_request(plain, dialect, stream=False)
    publisher = "google" if dialect == "gemini" else "anthropic"
    method = ("streamGenerateContent", "generateContent")
    if dialect == "anthropic":
        method = ("streamRawPredict", "rawPredict")
        assert "model" not in streamed.json
        assert streamed.json["anthropic_version"] == "vertex-2023-10-16"
    prefix = f"/v1/projects/my-proj/locations/us-east5/publishers/{publisher}/models/{MODEL}:"
    assert streamed.target.split("?")[0] == prefix + method[0]
    assert plain.target == prefix + method[1]


# --- Azure OpenAI: the same user code, configured by provider name ----------------------------
AZURE_KEY: Final = "azure-test-key"


def azure_settings(server: ReplayServer) -> dict[str, Any]:
    """``Client("azure")`` as a user configures it: the resource in AZURE_OPENAI_ENDPOINT
    (here the server), the key in AZURE_OPENAI_API_KEY. Nothing else changes."""
    parts = urlsplit(server.base_url)
    env = {
        "AZURE_OPENAI_ENDPOINT": f"{parts.scheme}://{parts.netloc}",
        "AZURE_OPENAI_API_KEY": AZURE_KEY,
    }
    return {"provider": "azure", "timeout": CLIENT_TIMEOUT, "env": env}


def check_azure_request(request: RecordedRequest, *, stream: bool) -> None:
    """Azure's v1 path under the resource, the key in ``api-key`` and nowhere else."""
    assert request.method == "POST"
    assert request.target == "/openai/v1/chat/completions"
    assert get_renderer("openai-chat").is_stream_request(request.target, request.json) is stream
    assert request.headers["api-key"] == AZURE_KEY
    assert "authorization" not in request.headers
    assert request.json["model"] == MODEL
    # TODO(once make_config passes Resolved.max_tokens_field to the Endpoint): a request
    # with max_tokens must carry it as "max_completion_tokens" (Azure's), never "max_tokens";
    # assert that here with a user function that sets max_tokens.


@every_binding
def test_azure_streamed_and_not(binding: str, answer_server: ReplayServer) -> None:
    before = len(answer_server.requests)
    completion, pieces = run_with(binding, azure_settings(answer_server), ASK)
    check_completion(completion, text=TEXT, streamed=True)
    assert pieces == PIECES
    whole = run_with(binding, azure_settings(answer_server), ANSWER_CODE)
    check_completion(whole, text=TEXT, streamed=False)
    events = run_with(binding, azure_settings(answer_server), ASK_EVENTS)
    assert text_deltas(events) == PIECES
    assert type(events[-1]) is Done
    streamed, plain, iterated = chat_requests(answer_server, before)
    check_azure_request(streamed, stream=True)
    check_azure_request(plain, stream=False)
    check_azure_request(iterated, stream=True)


@every_binding
def test_azure_tool_calls(binding: str, tool_server: ReplayServer) -> None:
    before = len(tool_server.requests)
    completion, _ = run_with(binding, azure_settings(tool_server), ASK)
    check_completion(completion, text=TOOL_TEXT, streamed=True, tool_calls=TOOL_CALLS)
    (request,) = chat_requests(tool_server, before)
    check_azure_request(request, stream=True)


# --- Ollama /api/generate: one prompt, the same user function -------------------------------
# A prompt dialect, not a conversation one: MESSAGES (one user message) fits it; a tool
# loop does not (several turns), so only the answer checks apply.


@every_binding
def test_ollama_generate_streamed_and_not(binding: str, answer_server: ReplayServer) -> None:
    before = len(answer_server.requests)
    dialect = "ollama-generate"
    completion, pieces = run(binding, answer_server, dialect, ASK)
    check_completion(completion, text=TEXT, streamed=True)
    assert pieces == PIECES
    whole = run(binding, answer_server, dialect, ANSWER_CODE)
    check_completion(whole, text=TEXT, streamed=False)
    events = run(binding, answer_server, dialect, ASK_EVENTS)
    assert text_deltas(events) == PIECES
    assert type(events[-1]) is Done
    for request, stream in zip(
        chat_requests(answer_server, before), (True, False, True), strict=True
    ):
        assert request.target == "/api/generate"
        assert request.json["prompt"] == MESSAGES[0]["content"]
        assert "messages" not in request.json
        assert request.json["stream"] is stream
        assert request.headers["authorization"] == f"Bearer {API_KEY}"


# --- issue 12: "describe this image", "answer in this schema, show the object as it fills in"
# and "use high reasoning effort" are each ONE call, the same in every dialect -------------------
PNG: Final = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00"
    b"\x90wS\xde\x00\x00\x00\x0cIDATx\x9cc\xf8\xff\x00\x00\x03\x01\x01\x00\xc9\xfe\x92\xef"
    b"\x00\x00\x00\x00IEND\xaeB`\x82"
)
PERSON_SCHEMA: Final = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "langs": {"type": "array",
                                                          "items": {"type": "string"}}},
    "required": ["name", "langs"],
    "additionalProperties": False,
}  # fmt: skip
PERSON: Final = '{"name": "Ada Lovelace", "langs": ["en", "fr"]}'
# A Bedrock model id whose reasoning settings Converse documents (Anthropic's).
BEDROCK_MODEL: Final = "anthropic.claude-sonnet-4-5-v1:0"
# Where each dialect puts "high" reasoning effort (with max_tokens=32000), from each
# provider's API reference.
HIGH_REASONING: Final[dict[str, Callable[[dict[str, Any]], Any]]] = {
    "openai-chat": lambda body: body["reasoning_effort"] == "high",
    "openai-responses": lambda body: body["reasoning"] == {"effort": "high"},
    "anthropic": lambda body: body["thinking"] == {"type": "enabled", "budget_tokens": 24576},
    "gemini": lambda body: body["generationConfig"]["thinkingConfig"]
    == {"thinkingBudget": 24576},
    "ollama": lambda body: body["think"] == "high",
    "cohere": lambda body: body["thinking"] == {"type": "enabled", "token_budget": 24576},
    "bedrock": lambda body: body["additionalModelRequestFields"]["thinking"]
    == {"type": "enabled", "budget_tokens": 24576},
}


def issue12_settings(server: ReplayServer, dialect: str) -> dict[str, Any]:
    if dialect == "bedrock":
        parts = urlsplit(server.base_url)
        return client_settings(server, dialect, base_url=f"{parts.scheme}://{parts.netloc}",
                               region="us-east-1")  # fmt: skip
    return client_settings(server, dialect)


def issue12_model(dialect: str) -> str:
    return BEDROCK_MODEL if dialect == "bedrock" else MODEL


@pytest.fixture(scope="module")
def person_server() -> Iterator[ReplayServer]:
    with ReplayServer(script=Script(text=PERSON), keep_credentials=True) as server:
        yield server


@every_binding
@pytest.mark.parametrize("dialect", DIALECT_NAMES)
def test_describe_this_image_is_one_call(
    binding: str, dialect: str, answer_server: ReplayServer
) -> None:
    import base64

    from libchatty.content import ImagePart
    from libchatty.request import Message

    model = issue12_model(dialect)
    messages = [Message("user", ["Describe this image.", ImagePart(data=PNG)])]
    before = len(answer_server.requests)

    def describe(client: Client) -> Completion:
        return client.chat(messages, model)

    async def describe_async(client: AsyncClientBase) -> Completion:
        return await client.chat(messages, model)

    completion = run_with(binding, issue12_settings(answer_server, dialect),
                          (describe, describe_async))  # fmt: skip
    assert completion.text == TEXT
    (sent,) = chat_requests(answer_server, before)
    encoded = base64.b64encode(PNG).decode()
    assert sent.body.decode().count(encoded) == 1  # the image went once, base64
    assert sent.body.decode().count("Describe this image.") == 1


@every_binding
@pytest.mark.parametrize("dialect", DIALECT_NAMES)
def test_answer_in_this_schema_showing_the_object_is_one_call(
    binding: str, dialect: str, person_server: ReplayServer
) -> None:
    from libchatty.options import JSONSchema

    model = issue12_model(dialect)
    schema = JSONSchema("person", PERSON_SCHEMA)

    def fill(client: Client) -> tuple[Completion, list[Any]]:
        seen: list[Any] = []
        done = client.chat("Who was Ada?", model, response_format=schema,
                           on_partial=lambda p: seen.append(json.dumps(p.value)))  # fmt: skip
        return done, seen

    async def fill_async(client: AsyncClientBase) -> tuple[Completion, list[Any]]:
        seen: list[Any] = []
        done = await client.chat("Who was Ada?", model, response_format=schema,
                                 on_partial=lambda p: seen.append(json.dumps(p.value)))  # fmt: skip
        return done, seen

    completion, seen = run_with(binding, issue12_settings(person_server, dialect),
                                (fill, fill_async))  # fmt: skip
    assert completion.parsed == json.loads(PERSON)
    assert json.loads(seen[-1]) == json.loads(PERSON)
    assert len(seen) >= 3 and json.loads(seen[0]) == {}


@every_binding
@pytest.mark.parametrize("dialect", DIALECT_NAMES)
def test_use_high_reasoning_effort_is_one_call(
    binding: str, dialect: str, answer_server: ReplayServer
) -> None:
    from libchatty.options import Reasoning

    model = issue12_model(dialect)
    before = len(answer_server.requests)

    def think(client: Client) -> Completion:
        return client.chat("Why?", model, reasoning=Reasoning(effort="high"), max_tokens=32000)

    async def think_async(client: AsyncClientBase) -> Completion:
        return await client.chat("Why?", model, reasoning=Reasoning(effort="high"),
                                 max_tokens=32000)  # fmt: skip

    completion = run_with(binding, issue12_settings(answer_server, dialect),
                          (think, think_async))  # fmt: skip
    assert completion.text == TEXT
    (sent,) = chat_requests(answer_server, before)
    assert HIGH_REASONING[dialect](sent.json) is True
