"""Azure OpenAI (issue 13 item 1): the provider's URL styles and auth, its stream shapes
(a first chunk with ``choices: []`` and ``prompt_filter_results``,
``content_filter_results`` on chunks, ``finish_reason: "content_filter"``) and its 400
``content_filter`` error. Fixtures are written from the Azure OpenAI reference ("Content
filtering", "Content streaming") and decoded whole, byte by byte and at random splits."""

from __future__ import annotations

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
    assert get_dialect("openai-chat").decode_error is decode_error  # type: ignore[attr-defined]
    assert get_dialect("openai-responses").decode_error is decode_error  # type: ignore[attr-defined]


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
