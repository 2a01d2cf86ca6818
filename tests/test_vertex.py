"""Google Vertex AI (issue 13 item 3): the ``vertex`` and ``vertex-anthropic`` providers,
Gemini models through the gemini dialect and Claude models through the anthropic
dialect, at their Vertex paths; and both through the sans-I/O replay server.

Expected targets and bodies are written from Google's Vertex AI REST reference
(``projects.locations.publishers.models.streamGenerateContent`` / ``generateContent``)
and its "Claude on Vertex AI" page (``streamRawPredict`` / ``rawPredict``, body
``anthropic_version: "vertex-2023-10-16"`` without ``model``), not from the renderer.
"""

from __future__ import annotations

import json
from typing import Any, Final

import pytest

from libchatty.call import Call
from libchatty.content import ImagePart, TextPart
from libchatty.dialects import get_dialect
from libchatty.endpoint import Endpoint
from libchatty.events import Delta, Done, Event, Usage
from libchatty.options import JSONSchema
from libchatty.providers import get_provider, provider_for_base_url, resolve
from libchatty.replay import Replay, Script
from libchatty.replay.server import Pause
from libchatty.request import ChatRequest, Message

TOKEN: Final = "ya29.EXAMPLE-not-a-real-token"
BASE: Final = "https://us-east5-aiplatform.googleapis.com/v1/projects/my-proj/locations/us-east5"
ENV: Final = {
    "GOOGLE_CLOUD_PROJECT": "my-proj",
    "GOOGLE_CLOUD_LOCATION": "us-east5",
    "GOOGLE_OAUTH_ACCESS_TOKEN": TOKEN,
}
PNG: Final = b"\x89PNG\r\n\x1a\n" + b"\x00" * 8
PNG_B64: Final = "iVBORw0KGgoAAAAAAAAAAA=="
CLAUDE: Final = "claude-sonnet-4-5@20250929"


# --- providers ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "dialect"), [("vertex", "gemini"), ("vertex-anthropic", "anthropic")]
)
def test_providers_build_the_project_location_base_url(name: str, dialect: str) -> None:
    resolved = resolve(name, env=ENV)
    assert (resolved.base_url, resolved.dialect, resolved.api_key, resolved.provider) == (
        BASE,
        dialect,
        TOKEN,
        name,
    )
    assert resolved.key_env_checked == ("GOOGLE_OAUTH_ACCESS_TOKEN",)
    assert TOKEN not in repr(resolved)


def test_global_location_arguments_and_dialect_override() -> None:
    env = {"GOOGLE_CLOUD_PROJECT": "p-1", "GOOGLE_OAUTH_ACCESS_TOKEN": TOKEN}
    assert resolve("vertex", env=env).base_url == (
        "https://aiplatform.googleapis.com/v1/projects/p-1/locations/global"
    )
    chosen = resolve(
        "vertex", env=ENV, dialect="anthropic", project="other", location="europe-west1"
    )
    assert (chosen.base_url, chosen.dialect) == (
        "https://europe-west1-aiplatform.googleapis.com/v1/projects/other/locations/europe-west1",
        "anthropic",
    )
    assert get_provider("vertex-ai").name == "vertex"
    assert get_provider("vertex-claude").name == "vertex-anthropic"
    # An explicit base URL (a proxy, the replay server) is used as given.
    own = resolve("vertex", base_url="http://127.0.0.1:9/v1/projects/p/locations/l", env=ENV)
    assert own.base_url == "http://127.0.0.1:9/v1/projects/p/locations/l"


def test_a_base_url_on_aiplatform_is_vertex() -> None:
    found = provider_for_base_url(BASE)
    assert found is not None and found.name == "vertex"
    found = provider_for_base_url(
        "https://aiplatform.googleapis.com/v1/projects/p/locations/global"
    )
    assert found is not None and found.name == "vertex"
    assert provider_for_base_url("https://evil-aiplatform.googleapis.com.example.com/") is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"env": {"GOOGLE_OAUTH_ACCESS_TOKEN": TOKEN}},
            "vertex needs a Google Cloud project: set GOOGLE_CLOUD_PROJECT or pass project=",
        ),
        (
            {"env": ENV, "location": "us-east5/../x"},
            "vertex: the location must be lower-case letters, digits and hyphens, "
            "not 'us-east5/../x'",
        ),
        (
            {"env": ENV, "project": "My_Proj"},
            "vertex: the project must be lower-case letters, digits and hyphens, not 'My_Proj'",
        ),
    ],
)
def test_bad_or_missing_project_and_location(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError) as caught:
        resolve("vertex", **kwargs)
    assert str(caught.value) == message


def test_a_missing_token_is_reported_not_raised() -> None:
    resolved = resolve("vertex", env={"GOOGLE_CLOUD_PROJECT": "p1"})
    assert (resolved.api_key, resolved.key_required) == (None, True)


# --- requests -------------------------------------------------------------------------------
def build(dialect: str, request: ChatRequest, base: str = BASE) -> tuple[str, Any, Any]:
    built = get_dialect(dialect).build_request(Endpoint(base, TOKEN, dialect), request)
    return built.target, dict(built.headers), json.loads(built.body)


@pytest.mark.parametrize(
    ("stream", "method"),
    [(True, ":streamGenerateContent?alt=sse"), (False, ":generateContent")],
)
def test_gemini_on_vertex(stream: bool, method: str) -> None:
    request = ChatRequest("gemini-2.5-flash", [Message("user", "hi")], stream=stream)
    target, headers, body = build("gemini", request)
    assert target == (
        "/v1/projects/my-proj/locations/us-east5/publishers/google/models/gemini-2.5-flash" + method
    )
    assert headers == {"Authorization": f"Bearer {TOKEN}"}
    assert body == {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}


@pytest.mark.parametrize(
    ("stream", "method"), [(True, ":streamRawPredict"), (False, ":rawPredict")]
)
def test_anthropic_on_vertex(stream: bool, method: str) -> None:
    request = ChatRequest(
        CLAUDE, [Message("system", "Be brief."), Message("user", "hi")], stream=stream
    )
    target, headers, body = build("anthropic", request)
    assert target == (
        "/v1/projects/my-proj/locations/us-east5/publishers/anthropic/models/"
        "claude-sonnet-4-5@20250929" + method
    )
    assert headers == {"Authorization": f"Bearer {TOKEN}"}
    wanted: dict[str, Any] = {
        "anthropic_version": "vertex-2023-10-16",
        "max_tokens": 4096,
        "system": "Be brief.",
        "messages": [{"role": "user", "content": "hi"}],
    }
    if stream:
        wanted["stream"] = True
    assert body == wanted


def test_the_global_host_and_request_headers() -> None:
    base = "https://aiplatform.googleapis.com/v1/projects/p/locations/global"
    request = ChatRequest(CLAUDE, [Message("user", "hi")], headers={"X-Goog-User-Project": "q"})
    target, headers, _ = build("anthropic", request, base)
    assert target == (
        "/v1/projects/p/locations/global/publishers/anthropic/models/"
        "claude-sonnet-4-5@20250929:streamRawPredict"
    )
    assert headers == {"Authorization": f"Bearer {TOKEN}", "X-Goog-User-Project": "q"}


# --- through the replay server, in process ----------------------------------------------------
def round_trip(dialect: str, request: ChatRequest, replay: Replay, base: str) -> list[Event]:
    """``request`` through a :class:`Call` and a replay connection, all in memory."""
    call = Call(Endpoint(base, TOKEN, dialect), request)
    conn = replay.connection()
    events: list[Event] = []
    pending = [call.start()]
    for _ in range(8):  # a request, its answer, at most a few turns: bounded
        outputs = [item for data in pending for item in conn.receive_data(data)]
        pending = []
        for item in outputs:
            if not isinstance(item, Pause):
                events.extend(call.receive_data(item))
        if call.finished:
            return events
        if conn.closed:
            events.extend(call.receive_data(b""))
            return events
    raise AssertionError("the exchange did not finish")


ANSWER: Final = Script(text='{"animal": "zebra"}', usage=Usage(5, 7, 12), model="m-reported")


@pytest.mark.parametrize("dialect", ["gemini", "anthropic"])
@pytest.mark.parametrize("stream", [True, False])
def test_parts_and_structured_output_round_trip_on_vertex(dialect: str, stream: bool) -> None:
    replay = Replay(script=ANSWER, keep_credentials=True)
    model = "gemini-2.5-flash" if dialect == "gemini" else CLAUDE
    schema = {"type": "object", "properties": {"animal": {"type": "string"}}}
    request = ChatRequest(
        model,
        [Message("user", [TextPart("What animal?"), ImagePart(data=PNG)])],
        stream=stream,
        response_format=JSONSchema("animal", schema, strict=False),
    )
    events = round_trip(dialect, request, replay, "http://127.0.0.1:9/v1/projects/p/locations/l")
    done = events[-1]
    assert type(done) is Done
    assert done.text == '{"animal": "zebra"}'
    assert "".join(e.text for e in events if type(e) is Delta) == done.text
    assert (done.response_id, done.model) == (ANSWER.response_id, "m-reported")
    seen = replay.requests[-1]
    if dialect == "gemini":
        assert seen.json["contents"] == [
            {
                "role": "user",
                "parts": [
                    {"text": "What animal?"},
                    {"inlineData": {"mimeType": "image/png", "data": PNG_B64}},
                ],
            }
        ]
        assert seen.json["generationConfig"] == {
            "responseMimeType": "application/json",
            "responseJsonSchema": schema,
        }
    else:
        image = {"type": "base64", "media_type": "image/png", "data": PNG_B64}
        assert seen.json["messages"] == [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What animal?"},
                    {"type": "image", "source": image},
                ],
            }
        ]
        assert seen.json["output_config"] == {"format": {"type": "json_schema", "schema": schema}}
        assert seen.json["anthropic_version"] == "vertex-2023-10-16"
        assert "model" not in seen.json
