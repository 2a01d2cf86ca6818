"""Credentials that expire: the cloud SDKs' credential chains, refreshed per call.

A client whose provider signs with short-lived credentials keeps a
:class:`CredentialSource` on its configuration. Before each attempt the request loop
asks it for the endpoint to use: :meth:`~CredentialSource.current` answers at once when
the credentials it holds are still good (no I/O), else the loop yields an
:class:`~libchatty.bindings._ops.Authenticate` operation and the backend runs
:meth:`~CredentialSource.refresh` -- on the calling thread for the blocking bindings,
on a worker thread for trio and asyncio (a refresh is a blocking HTTP call or a
subprocess), so an event loop never waits on it.

* :class:`BotocoreCredentials` (``libchatty[aws]``): AWS Bedrock with botocore's whole
  credential chain (profiles, SSO, ``credential_process``, container and instance
  roles); temporary credentials are refreshed by botocore when they near their expiry,
  and each attempt signs with the frozen set of the moment.
* :class:`GoogleCredentials` (``libchatty[google]``): Vertex AI with google-auth's
  application default credentials; the access token is refreshed when it is missing,
  invalid, or expires within :data:`REFRESH_MARGIN` seconds, and sent as the bearer key.

Both SDKs are imported only here, and only by :func:`bedrock_chain` /
:func:`google_default` when a client needs them. A failed refresh becomes
:class:`CredentialsError`, whose message names the source and the exception's type --
never its text, which may quote a credential file.
"""

from __future__ import annotations

import dataclasses
import threading
from abc import ABC, abstractmethod
from datetime import datetime, timedelta, timezone
from typing import Any, Final

from libchatty.endpoint import Endpoint
from libchatty.exceptions import LibchattyError

__all__ = [
    "GOOGLE_SCOPES",
    "REFRESH_MARGIN",
    "BotocoreCredentials",
    "CredentialSource",
    "CredentialsError",
    "GoogleCredentials",
    "bedrock_chain",
    "google_default",
]

#: Seconds before its expiry that a Google access token is refreshed: a token that
#: would expire while the request travels must not be sent.
REFRESH_MARGIN: Final = 60.0
#: The scope Vertex AI needs (what google-genai and anthropic[vertex] ask for).
GOOGLE_SCOPES: Final = ("https://www.googleapis.com/auth/cloud-platform",)


class CredentialsError(LibchattyError):
    """Credentials could not be obtained or refreshed; the call ends with
    ``Error("auth")`` carrying this message."""


class CredentialSource(ABC):
    """The endpoint to send a request to, with credentials that are good now."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint  # the client's, without credentials of the moment
        self._lock = threading.Lock()  # one refresh at a time, whatever the threads

    @abstractmethod
    def current(self, now: datetime) -> Endpoint | None:
        """The endpoint with credentials good at ``now`` (aware, UTC), or None when a
        refresh is needed first. Never does I/O."""

    @abstractmethod
    def _refresh(self) -> Endpoint:
        """Refresh (blocking I/O allowed) and return the endpoint to use."""

    def refresh(self) -> Endpoint:
        """Refresh the credentials (blocking) and return the endpoint to use; raises
        :class:`CredentialsError`."""
        with self._lock:
            try:
                return self._refresh()
            except CredentialsError:
                raise
            except Exception as exc:  # whatever the SDK raises: named, not quoted
                raise CredentialsError(
                    f"{self.what} failed to refresh ({type(exc).__name__})"
                ) from None

    @property
    @abstractmethod
    def what(self) -> str:
        """Where the credentials come from, for messages."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.endpoint!r}>"


class BotocoreCredentials(CredentialSource):
    """AWS credentials from botocore (a ``botocore.credentials.Credentials``): each
    attempt signs with ``get_frozen_credentials()``."""

    what = "botocore's AWS credential chain"

    def __init__(self, endpoint: Endpoint, credentials: Any) -> None:
        super().__init__(endpoint)
        self.credentials = credentials
        self._frozen: Any = None
        self._signed: Endpoint | None = None

    def current(self, now: datetime) -> Endpoint | None:
        refresh_needed = getattr(self.credentials, "refresh_needed", None)
        if refresh_needed is not None and refresh_needed():
            return None  # botocore would block on its refresh: not on this thread
        return self._endpoint(self.credentials.get_frozen_credentials())

    def _refresh(self) -> Endpoint:
        return self._endpoint(self.credentials.get_frozen_credentials())

    def _endpoint(self, frozen: Any) -> Endpoint:
        if frozen != self._frozen or self._signed is None:
            from libchatty.sigv4 import AWSCredentials

            if not frozen.access_key or not frozen.secret_key:
                raise CredentialsError(f"{self.what} gave no access key")
            credentials = AWSCredentials(frozen.access_key, frozen.secret_key, frozen.token)
            self._signed = dataclasses.replace(self.endpoint, aws_credentials=credentials)
            self._frozen = frozen
        return self._signed


class GoogleCredentials(CredentialSource):
    """A google-auth credentials object: its access token is the bearer key."""

    what = "Google application default credentials"

    def __init__(self, endpoint: Endpoint, credentials: Any) -> None:
        super().__init__(endpoint)
        self.credentials = credentials
        self._token: str | None = None
        self._keyed: Endpoint | None = None

    def current(self, now: datetime) -> Endpoint | None:
        credentials = self.credentials
        if not credentials.valid:
            return None
        expiry = credentials.expiry  # naive UTC in google-auth, or None: no expiry
        if expiry is not None:
            if expiry.tzinfo is None:
                expiry = expiry.replace(tzinfo=timezone.utc)
            if expiry - now <= timedelta(seconds=REFRESH_MARGIN):
                return None
        return self._endpoint(credentials.token)

    def _refresh(self) -> Endpoint:
        from google.auth.transport.requests import Request

        self.credentials.refresh(Request())
        return self._endpoint(self.credentials.token)

    def _endpoint(self, token: object) -> Endpoint:
        if not isinstance(token, str) or not token:
            raise CredentialsError(f"{self.what} gave no access token")
        if token != self._token or self._keyed is None:
            self._keyed = dataclasses.replace(self.endpoint, api_key=token)
            self._token = token
        return self._keyed


def bedrock_chain() -> tuple[Any, str | None] | None:
    """botocore's credentials and region for this process (its environment, config
    files, SSO, roles), or None when botocore is not installed. The credentials are
    None when the chain found none."""
    try:
        import botocore.session  # type: ignore[import-untyped]
    except ImportError:
        return None
    session = botocore.session.Session()
    region = session.get_config_variable("region")
    return session.get_credentials(), region if isinstance(region, str) and region else None


def google_default() -> tuple[Any, str | None] | None:
    """google-auth's application default credentials and project, or None when
    google-auth is not installed or finds no credentials."""
    try:
        import google.auth
        import google.auth.exceptions
    except ImportError:
        return None
    try:
        credentials, project = google.auth.default(scopes=list(GOOGLE_SCOPES))
    except google.auth.exceptions.DefaultCredentialsError:
        return None
    return credentials, project if isinstance(project, str) and project else None
