"""Cloud credentials in the bindings: botocore's chain for Bedrock (``libchatty[aws]``) and
google-auth's application default credentials for Vertex AI (``libchatty[google]``),
refreshed per call.

No network besides loopback: botocore reads temporary config files and never reaches the
instance metadata service (``AWS_EC2_METADATA_DISABLED``); ``google.auth.default`` is
replaced by a fake whose ``refresh`` sets a token and an expiry.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Final

import botocore.credentials
import botocore.session
import google.auth
import pytest
from libchatty.bindings._api import MissingAPIKeyError, Timeout
from libchatty.bindings._credentials import REFRESH_MARGIN, GoogleCredentials
from libchatty.bindings.blocking import Client
from libchatty.bindings.server import ReplayServer
from test_options_wiring import BINDINGS, chat

from libchatty.exceptions import ChatError
from libchatty.replay import Script

TIMEOUT: Final = Timeout(connect=5.0, idle=5.0, total=20.0)
_CLEARED: Final = (
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_BEARER_TOKEN_BEDROCK",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN", "GOOGLE_OAUTH_ACCESS_TOKEN",
    "GOOGLE_CLOUD_PROJECT", "GOOGLE_CLOUD_LOCATION", "GOOGLE_APPLICATION_CREDENTIALS",
    "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy",
)  # fmt: skip


@pytest.fixture
def aws_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty AWS configuration in ``tmp_path``: no variable, no file, no IMDS."""
    for name in _CLEARED:
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "credentials").write_text("")
    (tmp_path / "config").write_text("")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return tmp_path


@pytest.fixture
def bedrock_server() -> Iterator[ReplayServer]:
    with ReplayServer(script=Script(text="Hi from Bedrock."), keep_credentials=True) as server:
        yield server


def bedrock_settings(server: ReplayServer) -> dict[str, Any]:
    # env is left None: the process environment (monkeypatched) and botocore's files.
    return {"base_url": f"http://127.0.0.1:{server.port}", "timeout": TIMEOUT}


def _authorization(server: ReplayServer, index: int = -1) -> str:
    return server.requests[index].headers["authorization"]


# --- AWS: botocore's chain ---------------------------------------------------------------------
@pytest.mark.parametrize("binding", BINDINGS)
def test_bedrock_signs_with_a_profile_from_the_credentials_file(
    binding: str, aws_home: Path, bedrock_server: ReplayServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    (aws_home / "credentials").write_text(
        "[work]\naws_access_key_id = AKIDPROFILEFILE01\n"
        "aws_secret_access_key = profile-secret-0123456789\n"
    )
    monkeypatch.setenv("AWS_PROFILE", "work")
    monkeypatch.setenv("AWS_REGION", "us-west-2")
    completion = chat(binding, {"provider": "bedrock", **bedrock_settings(bedrock_server)})
    assert completion.text == "Hi from Bedrock."
    authorization = _authorization(bedrock_server)
    assert authorization.startswith(
        "AWS4-HMAC-SHA256 Credential=AKIDPROFILEFILE01/"
    ) and "/us-west-2/bedrock/aws4_request" in authorization
    assert "x-amz-security-token" not in bedrock_server.requests[-1].headers


def test_bedrock_region_from_the_config_file(aws_home: Path) -> None:
    (aws_home / "config").write_text("[default]\nregion = eu-west-3\n")
    (aws_home / "credentials").write_text(
        "[default]\naws_access_key_id = AKIDDEFAULT000001\naws_secret_access_key = s3cr3t-xyz\n"
    )
    client = Client("bedrock")
    assert client.config.endpoint.region == "eu-west-3"
    assert client.config.endpoint.base_url == "https://bedrock-runtime.eu-west-3.amazonaws.com"
    assert client.config.credentials is not None


def test_bedrock_without_any_credentials_names_the_variables(aws_home: Path) -> None:
    with pytest.raises(MissingAPIKeyError) as info:
        Client("bedrock", region="us-east-1")
    assert info.value.variables == (
        "AWS_BEARER_TOKEN_BEDROCK", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")  # fmt: skip


def test_an_explicit_env_does_not_consult_botocore(aws_home: Path) -> None:
    (aws_home / "credentials").write_text(
        "[default]\naws_access_key_id = AKIDDEFAULT000001\naws_secret_access_key = s3cr3t-xyz\n"
    )
    with pytest.raises(MissingAPIKeyError):
        Client("bedrock", region="us-east-1", env={})


def test_environment_keys_need_no_botocore(aws_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDENVIRONMENT01")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "env-secret-0123")
    client = Client("bedrock", region="us-east-1")
    assert client.config.credentials is None  # static keys: signed with the endpoint's
    assert client.config.endpoint.aws_credentials is not None
    assert client.config.endpoint.aws_credentials.access_key_id == "AKIDENVIRONMENT01"


class _Rotating:
    """A refresh function for botocore's RefreshableCredentials: a new key each time,
    valid for 5 minutes (inside botocore's refresh window, so every call refreshes)."""

    def __init__(self, fail: bool = False) -> None:
        self.calls = 0
        self.threads: list[str] = []
        self.fail = fail

    def __call__(self) -> dict[str, str]:
        self.calls += 1
        self.threads.append(threading.current_thread().name)
        if self.fail:
            raise RuntimeError("the SSO token has expired: secret-in-message")
        expiry = datetime.now(timezone.utc) + timedelta(minutes=5)
        return {"access_key": f"AKIDROTATING0000{self.calls}",
                "secret_key": f"rotating-secret-{self.calls}",
                "token": f"session-token-{self.calls}", "expiry_time": expiry.isoformat()}


def _refreshable(
    monkeypatch: pytest.MonkeyPatch, refresh: _Rotating
) -> botocore.credentials.RefreshableCredentials:
    expired = (datetime.now(timezone.utc) - timedelta(minutes=1)).isoformat()
    credentials = botocore.credentials.RefreshableCredentials.create_from_metadata(
        {"access_key": "AKIDSTALE00000000", "secret_key": "stale", "token": "stale",
         "expiry_time": expired},
        refresh_using=refresh, method="test",
    )  # fmt: skip
    monkeypatch.setattr(botocore.session.Session, "get_credentials", lambda self: credentials)
    return credentials


@pytest.mark.parametrize("binding", BINDINGS)
def test_bedrock_temporary_credentials_are_refreshed_per_call(
    binding: str, aws_home: Path, bedrock_server: ReplayServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    refresh = _Rotating()
    _refreshable(monkeypatch, refresh)
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    settings = {"provider": "bedrock", **bedrock_settings(bedrock_server)}
    for _ in range(2):
        chat(binding, settings)
    keys = [_authorization(bedrock_server, i).split("Credential=")[1].split("/")[0]
            for i in (0, 1)]  # fmt: skip
    assert keys == ["AKIDROTATING00001", "AKIDROTATING00002"]
    assert [r.headers["x-amz-security-token"] for r in bedrock_server.requests] == [
        "session-token-1", "session-token-2"]  # fmt: skip
    if binding in ("trio", "asyncio"):  # the refresh never blocks the event loop
        assert "MainThread" not in refresh.threads


@pytest.mark.parametrize("binding", BINDINGS)
def test_a_failed_refresh_is_an_auth_error_without_its_text(
    binding: str, aws_home: Path, bedrock_server: ReplayServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    _refreshable(monkeypatch, _Rotating(fail=True))
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    with pytest.raises(ChatError) as info:
        chat(binding, {"provider": "bedrock", **bedrock_settings(bedrock_server)})
    assert (info.value.kind, info.value.error.retryable) == ("auth", False)
    assert str(info.value) == (
        "auth: botocore's AWS credential chain failed to refresh (RuntimeError)")
    assert bedrock_server.requests == []  # nothing was sent


# --- Google: application default credentials ----------------------------------------------------
class FakeGoogleCredentials:
    """What google-auth's credentials look like to libchatty: ``token``, ``expiry``
    (naive UTC), ``valid`` and ``refresh(request)``."""

    def __init__(self, lifetime: timedelta = timedelta(hours=1)) -> None:
        self.token: str | None = None
        self.expiry: datetime | None = None
        self.lifetime = lifetime
        self.refreshes = 0
        self.threads: list[str] = []

    @property
    def valid(self) -> bool:
        return self.token is not None and (
            self.expiry is None or self.expiry > datetime.now(timezone.utc).replace(tzinfo=None)
        )

    def refresh(self, request: object) -> None:
        self.refreshes += 1
        self.threads.append(threading.current_thread().name)
        self.token = f"ya29.token-{self.refreshes}"
        self.expiry = datetime.now(timezone.utc).replace(tzinfo=None) + self.lifetime


@pytest.fixture
def adc(monkeypatch: pytest.MonkeyPatch) -> FakeGoogleCredentials:
    for name in _CLEARED:
        monkeypatch.delenv(name, raising=False)
    credentials = FakeGoogleCredentials()
    scopes_asked: list[Any] = []

    def default(scopes: Any = None, **kwargs: Any) -> tuple[FakeGoogleCredentials, str]:
        scopes_asked.append(scopes)
        return credentials, "adc-project"

    monkeypatch.setattr(google.auth, "default", default)
    credentials.scopes_asked = scopes_asked  # type: ignore[attr-defined]
    return credentials


@pytest.fixture
def vertex_server() -> Iterator[ReplayServer]:
    with ReplayServer(script=Script(text="Hi from Vertex."), keep_credentials=True) as server:
        yield server


def vertex_settings(server: ReplayServer) -> dict[str, Any]:
    base = f"http://127.0.0.1:{server.port}/v1/projects/my-proj/locations/us-east5"
    return {"provider": "vertex", "base_url": base, "timeout": TIMEOUT}


@pytest.mark.parametrize("binding", BINDINGS)
def test_vertex_sends_the_adc_token_and_refreshes_it_near_expiry(
    binding: str, adc: FakeGoogleCredentials, vertex_server: ReplayServer
) -> None:
    settings = vertex_settings(vertex_server)
    assert chat(binding, settings).text == "Hi from Vertex."
    chat(binding, settings)
    assert adc.refreshes == 1  # the token was still good for the second call
    assert adc.expiry is not None
    adc.expiry = datetime.now(timezone.utc).replace(tzinfo=None) + timedelta(
        seconds=REFRESH_MARGIN - 5)  # fmt: skip
    chat(binding, settings)
    tokens = [r.headers["authorization"] for r in vertex_server.requests]
    assert tokens == ["Bearer ya29.token-1", "Bearer ya29.token-1", "Bearer ya29.token-2"]
    assert adc.scopes_asked == [["https://www.googleapis.com/auth/cloud-platform"]] * 3  # type: ignore[attr-defined]
    if binding in ("trio", "asyncio"):
        assert "MainThread" not in adc.threads


def test_vertex_project_from_adc(adc: FakeGoogleCredentials) -> None:
    client = Client("vertex")
    assert client.config.endpoint.base_url == (
        "https://aiplatform.googleapis.com/v1/projects/adc-project/locations/global")
    assert isinstance(client.config.credentials, GoogleCredentials)
    assert client.config.endpoint.api_key is None  # the token comes per call


def test_vertex_env_token_wins_over_adc(
    adc: FakeGoogleCredentials, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GOOGLE_OAUTH_ACCESS_TOKEN", "ya29.from-env")
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "env-project")
    client = Client("vertex-anthropic", location="us-east5")
    assert client.config.credentials is None
    assert client.config.endpoint.api_key == "ya29.from-env"
    assert client.config.endpoint.base_url == (
        "https://us-east5-aiplatform.googleapis.com/v1/projects/env-project/locations/us-east5")
    assert adc.scopes_asked == []  # type: ignore[attr-defined]


def test_the_refresh_margin_at_the_limit_and_one_past(adc: FakeGoogleCredentials) -> None:
    source = GoogleCredentials(Client("vertex").config.endpoint, adc)
    now = datetime(2030, 1, 1, tzinfo=timezone.utc)
    adc.token = "ya29.t"
    adc.expiry = (now + timedelta(seconds=REFRESH_MARGIN)).replace(tzinfo=None)
    assert source.current(now - timedelta(seconds=1)) is not None  # 61 s left: kept
    assert source.current(now) is None  # 60 s left: refreshed first
