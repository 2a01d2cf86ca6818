"""``Completion`` metadata in every binding: ``response_id``/``model``/``citations`` from
``Done``, ``request_id``/``headers``/``rate_limit`` from the response head, and the
same head on ``ChatError``. The server replays one raw HTTP response (a transcript) with
OpenAI's headers, on loopback."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Final

import pytest
from libchatty.bindings._api import Completion
from libchatty.bindings.server import ReplayServer
from test_options_wiring import BINDINGS, chat, settings

from libchatty.events import Citation, Done
from libchatty.exceptions import ChatError
from libchatty.ratelimit import RateLimit

KEY: Final = "sk-test-wiring"


def _transcript(status: int, headers: list[tuple[str, str]], body: bytes) -> bytes:
    head = [f"HTTP/1.1 {status} {'OK' if status == 200 else 'Too Many Requests'}",
            *(f"{name}: {value}" for name, value in headers),
            f"content-length: {len(body)}"]  # fmt: skip
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


BODY: Final = json.dumps({
    "id": "chatcmpl-42", "object": "chat.completion", "model": "gpt-4o-2024-08-06",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello."},
                 "finish_reason": "stop"}],
}).encode()  # fmt: skip
HEADERS: Final = [
    ("Content-Type", "application/json"),
    ("X-Request-Id", "req_abc123"),
    ("x-ratelimit-limit-requests", "500"),
    ("x-ratelimit-remaining-requests", "499"),
    ("x-ratelimit-reset-requests", "120ms"),
    ("x-ratelimit-limit-tokens", "30000"),
    ("x-ratelimit-remaining-tokens", "29000"),
    ("x-ratelimit-reset-tokens", "2s"),
    ("Set-Cookie", "session=secret-cookie"),
    ("Authorization", "Bearer " + KEY),
]


@pytest.mark.parametrize("binding", BINDINGS)
def test_completion_carries_the_response_metadata(binding: str) -> None:
    before = datetime.now(timezone.utc)
    with ReplayServer(transcript=_transcript(200, HEADERS, BODY)) as server:
        completion = chat(binding, settings(server))
    after = datetime.now(timezone.utc)
    assert (completion.text, completion.response_id, completion.model) == (
        "Hello.", "chatcmpl-42", "gpt-4o-2024-08-06")  # fmt: skip
    assert completion.request_id == "req_abc123"
    assert completion.headers == (
        ("content-type", "application/json"),
        ("x-request-id", "req_abc123"),
        ("x-ratelimit-limit-requests", "500"),
        ("x-ratelimit-remaining-requests", "499"),
        ("x-ratelimit-reset-requests", "120ms"),
        ("x-ratelimit-limit-tokens", "30000"),
        ("x-ratelimit-remaining-tokens", "29000"),
        ("x-ratelimit-reset-tokens", "2s"),
    )  # no cookie, no credential header, no framing header
    limit = completion.rate_limit
    assert limit is not None
    assert (limit.requests_limit, limit.requests_remaining, limit.requests_reset) == (500, 499,
                                                                                      0.12)
    assert (limit.tokens_limit, limit.tokens_remaining, limit.tokens_reset) == (30000, 29000, 2.0)
    # The absolute resets are relative to when the response ended.
    assert limit.tokens_reset_at is not None
    assert before + timedelta(seconds=2) <= limit.tokens_reset_at <= after + timedelta(seconds=2)
    assert KEY not in repr(completion) and "secret-cookie" not in repr(completion)


@pytest.mark.parametrize("binding", BINDINGS)
def test_the_error_carries_request_id_and_headers(binding: str) -> None:
    body = b'{"error": {"message": "slow down", "type": "rate_limit_exceeded"}}'
    headers = [("Content-Type", "application/json"), ("x-request-id", "req_429"),
               ("x-ratelimit-remaining-requests", "0"), ("retry-after", "7")]  # fmt: skip
    with ReplayServer(transcript=_transcript(429, headers, body)) as server, pytest.raises(
        ChatError
    ) as info:
        chat(binding, settings(server, max_retries=0))
    error = info.value.error
    assert (error.kind, error.status, error.request_id) == ("rate_limit", 429, "req_429")
    assert ("x-ratelimit-remaining-requests", "0") in error.headers
    assert str(info.value) == "rate_limit: slow down"


def test_from_done_copies_every_done_field() -> None:
    citation = Citation(start=0, end=5, text="Hello", sources=({"id": "doc-1"},))
    done = Done("stop", "Hello.", response_id="r-1", model="m-2", citations=(citation,))
    completion = Completion.from_done(done, True, request_id="q", headers=(("a", "b"),),
                                      rate_limit=RateLimit(requests_limit=1), parsed={"x": 1})
    assert (completion.response_id, completion.model, completion.citations) == (
        "r-1", "m-2", (citation,))  # fmt: skip
    assert (completion.request_id, completion.headers, completion.rate_limit,
            completion.parsed) == ("q", (("a", "b"),), RateLimit(requests_limit=1), {"x": 1})
    # parsed may be unhashable (a dict): the completion stays hashable.
    assert hash(completion) == hash(Completion.from_done(done, True, request_id="q",
                                    headers=(("a", "b"),), rate_limit=RateLimit(requests_limit=1),
                                    parsed={"x": 2}))  # fmt: skip
    assert completion != Completion.from_done(done, True, request_id="q", headers=(("a", "b"),),
                                              rate_limit=RateLimit(requests_limit=1),
                                              parsed={"x": 2})  # fmt: skip


def test_from_done_fills_every_field_as_the_constructor_does() -> None:
    from libchatty.events import ToolCall, Usage

    done = Done("length", "T", "R", (ToolCall("c1", "f", "{}"),), Usage(1, 2, 3), "max", "F",
                ("T", "U"), "sig", "r-9", "m-9", (Citation(0, 1, "T", ()),))  # fmt: skip
    limit = RateLimit(requests_limit=1)
    completion = Completion.from_done(done, True, request_id="q", headers=(("a", "b"),),
                                      rate_limit=limit, parsed=[1])  # fmt: skip
    for name in Done.__slots__:  # every field of Done, under its own name
        assert getattr(completion, name) == getattr(done, name), name
    eager = Completion(**{name: getattr(completion, name) for name in Completion._fields})
    assert type(completion) is Completion
    assert (completion, repr(completion)) == (eager, repr(eager))
    assert (completion.streamed, completion.request_id, completion.parsed) == (True, "q", [1])
    with pytest.raises(AttributeError):
        completion.text = "changed"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del completion.text  # type: ignore[misc]


def test_from_done_of_a_subclass_is_built_by_its_constructor() -> None:
    class Answer(Completion):
        pass

    answer = Answer.from_done(Done("stop", "Hi."), False, request_id="q")
    assert type(answer) is Answer
    assert (answer.text, answer.request_id, answer.streamed) == ("Hi.", "q", False)

