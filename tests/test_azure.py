"""Azure OpenAI (issue 13 item 1): the provider's URL styles and auth, its stream shapes
(a first chunk with ``choices: []`` and ``prompt_filter_results``,
``content_filter_results`` on chunks, ``finish_reason: "content_filter"``) and its 400
``content_filter`` error. Fixtures are written from the Azure OpenAI reference ("Content
filtering", "Content streaming") and decoded whole, byte by byte and at random splits."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from decoding import feed
from wire import all_splittings, fixture

from libchatty.call import Call
from libchatty.dialects import get_dialect
from libchatty.dialects.azure_errors import decode_error
from libchatty.endpoint import Endpoint
from libchatty.events import Delta, Done, Error, Usage
from libchatty.providers import resolve
from libchatty.request import ChatRequest, Message

BASE = "https://res.openai.azure.com/openai/v1"
REQUEST = ChatRequest("gpt-4o", [Message("user", "hi")])


def make_call() -> Call:
    return Call(Endpoint(BASE, "azure-key-123"), REQUEST)


def test_stream_with_filter_annotations_decodes_every_way() -> None:
    for how, pieces in all_splittings(fixture("azure/stream-text.http")):
        events = feed(make_call(), pieces)
        assert events == [
            Delta("Hello"),
            Delta(" there"),
            Delta("!"),
            Done(
                "stop",
                "Hello there!",
                usage=Usage(9, 4, 13),
                raw_finish_reason="stop",
                response_id="chatcmpl-AzR9",
                model="gpt-4o-2024-11-20",
            ),
        ], how


def test_content_filter_finish_decodes_every_way() -> None:
    for how, pieces in all_splittings(fixture("azure/stream-content-filter.http")):
        events = feed(make_call(), pieces)
        assert events == [
            Delta("Once upon"),
            Done(
                "content_filter",
                "Once upon",
                usage=Usage(9, 4, 13),
                raw_finish_reason="content_filter",
                response_id="chatcmpl-AzR9",
                model="gpt-4o-2024-11-20",
            ),
        ], how


MESSAGE = (
    "The response was filtered due to the prompt triggering Azure OpenAI's content "
    "management policy. Please modify your prompt and retry. To learn more about our "
    "content filtering policies please read our documentation: "
    "https://go.microsoft.com/fwlink/?linkid=2198766"
)


def test_content_filter_error_names_what_was_filtered() -> None:
    raw = fixture("azure/error-400-content-filter.http")
    _, _, body = raw.partition(b"\r\n\r\n")
    error = decode_error(400, "model_error", [(b"content-type", b"application/json")], body)
    assert error == Error(
        kind="bad_request",
        message="content filtered (ResponsibleAIPolicyViolation: jailbreak, violence high): "
        + MESSAGE,
        status=400,
        retryable=False,
        provider_type="content_filter",
    )
    # Both OpenAI dialects read error bodies this way (through a hook that imports
    # azure_errors with the first error body).
    for name in ("openai-chat", "openai-responses"):
        headers = [(b"content-type", b"application/json")]
        assert get_dialect(name).decode_error(400, "model_error", headers, body) == error


def test_a_streamed_answer_loads_no_error_reading() -> None:
    # An answer without an error never imports the error-body readers: two modules of
    # every process's start-up. Run in a fresh interpreter, where nothing else has.
    code = (
        "import sys\n"
        "from wire import fixture\n"
        "from libchatty.call import Call\n"
        "from libchatty.endpoint import Endpoint\n"
        "from libchatty.events import Done\n"
        "from libchatty.request import ChatRequest, Message\n"
        "call = Call(Endpoint('https://api.openai.com/v1', 'k'),"
        " ChatRequest('m', [Message('user', 'hi')]))\n"
        "call.start()\n"
        "events = call.receive_data(fixture('openai-chat/stream-text.http'))\n"
        "assert type(events[-1]) is Done, events\n"
        "print(sorted(m for m in sys.modules if m in"
        " ('libchatty.httperrors', 'libchatty.dialects.azure_errors')))\n"
    )
    tests = str(Path(__file__).parent)
    env = {**os.environ, "PYTHONPATH": tests + os.pathsep + os.environ.get("PYTHONPATH", "")}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert (out.returncode, out.stdout, out.stderr) == (0, "[]\n", "")
    # The hook hands every argument on: the reason (no message in the body) and the
    # partial text.
    for name in ("openai-chat", "openai-responses"):
        error = get_dialect(name).decode_error(503, "Service Unavailable", [], b"", "so far")
        assert error == Error(
            "overloaded", "HTTP 503 Service Unavailable", 503, retryable=True, partial="so far"
        )
        # Without a partial text, the error has none.
        error = get_dialect(name).decode_error(503, "Service Unavailable", [], b"")
        assert error == Error("overloaded", "HTTP 503 Service Unavailable", 503, retryable=True)


def test_other_error_bodies_are_left_as_the_shared_reading() -> None:
    body = b'{"error": {"message": "bad", "type": "invalid_request_error", "code": null}}'
    error = decode_error(400, "Bad Request", [], body, "part")
    assert error == Error(
        "bad_request", "bad", 400, partial="part", provider_type="invalid_request_error"
    )


def test_provider_v1_api_with_api_key_header() -> None:
    env = {"AZURE_OPENAI_ENDPOINT": "https://res.openai.azure.com", "AZURE_OPENAI_API_KEY": "k1"}
    resolved = resolve("azure", env=env)
    assert (resolved.base_url, resolved.api_key, dict(resolved.headers)) == (
        "https://res.openai.azure.com/openai/v1",
        None,
        {"api-key": "k1"},
    )
    assert (resolved.dialect, resolved.max_tokens_field, resolved.key_required) == (
        "openai-chat",
        "max_completion_tokens",
        False,
    )
    endpoint = Endpoint(resolved.base_url, resolved.api_key, headers=resolved.headers)
    sent = get_dialect("openai-chat").build_request(endpoint, REQUEST)
    assert (sent.target, sent.headers) == ("/openai/v1/chat/completions", (("api-key", "k1"),))


def test_provider_deployments_url_with_entra_token() -> None:
    env = {"OPENAI_API_VERSION": "2024-10-21", "AZURE_OPENAI_AD_TOKEN": "tok"}
    base = "https://res.openai.azure.com/openai/deployments/gpt4o"
    resolved = resolve("azure", base, env=env)
    assert (resolved.base_url, resolved.api_key, dict(resolved.headers)) == (
        base + "?api-version=2024-10-21",
        "tok",
        {},
    )
    endpoint = Endpoint(resolved.base_url, resolved.api_key)
    sent = get_dialect("openai-chat").build_request(endpoint, REQUEST)
    assert sent.target == "/openai/deployments/gpt4o/chat/completions?api-version=2024-10-21"
    assert sent.headers == (("Authorization", "Bearer tok"),)


def test_provider_refusals() -> None:
    with pytest.raises(ValueError) as caught:
        resolve("azure", env={})
    assert str(caught.value) == (
        "azure needs an endpoint: set AZURE_OPENAI_ENDPOINT "
        "(https://<resource>.openai.azure.com) or pass base_url="
    )
    with pytest.raises(ValueError, match="an Azure deployments URL needs an API version"):
        resolve("azure", "https://res.openai.azure.com/openai/deployments/d", env={})
    missing = resolve("azure", env={"AZURE_OPENAI_ENDPOINT": "https://res.openai.azure.com"})
    assert (missing.api_key, missing.key_required) == (None, True)
    by_host = resolve(
        base_url="https://res.openai.azure.com/openai/v1", env={"AZURE_OPENAI_API_KEY": "k2"}
    )
    assert (by_host.provider, dict(by_host.headers)) == ("azure", {"api-key": "k2"})


# -- the content-filter message at its edges (mutation testing, issue 16) -----------------


def filtered_error(inner: object, status: int = 400) -> Error:
    body = json.dumps({"error": inner}).encode()
    return decode_error(status, "Bad Request", [], body)


def filter_body(details: object) -> dict[str, object]:
    return {"message": "m", "code": "content_filter", "innererror": details}


def said(error: Error) -> tuple[str, str | None, bool]:
    return (error.message, error.provider_type, error.retryable)


def test_content_filter_category_and_word_bounds() -> None:
    at_limit = {f"c{i:02}": {"filtered": True} for i in range(16)}
    one_past = {**at_limit, "c16": {"filtered": True}}
    names = ", ".join(f"c{i:02}" for i in range(16))
    for result in (at_limit, one_past):
        error = filtered_error(filter_body({"code": "P", "content_filter_result": result}))
        assert said(error) == (f"content filtered (P: {names}): m", "content_filter", False)
    word, long = "w" * 64, "w" * 65
    for name in (word, long):
        verdicts: dict[str, object] = {name: {"filtered": True, "severity": name}}
        error = filtered_error(filter_body({"code": name, "content_filter_result": verdicts}))
        assert error.message == f"content filtered ({word}: {word} {word}): m"


def test_content_filter_only_true_verdicts_and_string_severities_count() -> None:
    result = {
        "a": {"filtered": False, "severity": "high"},
        "b": {"filtered": "true", "severity": "high"},
        "c": ["filtered"],
        "d": {"filtered": True, "severity": ""},
        "e": {"filtered": True, "severity": 3},
        "f": {"filtered": True},
        "g": {"filtered": True, "severity": "low"},
    }
    error = filtered_error(filter_body({"content_filter_result": result}))
    assert said(error) == ("content filtered (d, e, f, g low): m", "content_filter", False)


def test_content_filter_with_code_or_categories_alone() -> None:
    no_categories = {"code": "Policy", "content_filter_result": {"a": {"filtered": False}}}
    assert filtered_error(filter_body(no_categories)).message == "content filtered (Policy): m"
    not_a_dict = {"code": "", "content_filter_result": ["hate"]}
    assert filtered_error(filter_body(not_a_dict)).message == "content filtered: m"
    no_code = {"code": 7, "content_filter_result": {"hate": {"filtered": True}}}
    assert filtered_error(filter_body(no_code)).message == "content filtered (hate): m"
    details: object
    for details in (None, "x", {}):
        error = filtered_error(filter_body(details))
        assert said(error) == ("content filtered: m", "content_filter", False)


def test_content_filter_is_never_retryable_and_other_codes_are_untouched() -> None:
    error = filtered_error(filter_body(None), status=500)
    assert (error.kind, error.status) == ("server", 500)
    assert said(error) == ("content filtered: m", "content_filter", False)
    other = filtered_error({"message": "m", "code": "other", "innererror": {"code": "P"}}, 500)
    assert said(other) == ("m", "other", True)
    not_a_dict = decode_error(400, "Bad Request", [], b'{"error": "content_filter"}')
    assert said(not_a_dict) == ("content_filter", None, False)
