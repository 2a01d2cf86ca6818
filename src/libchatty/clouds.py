"""The clouds' own conventions: Azure OpenAI, AWS Bedrock and Google Vertex AI.

Each cloud builds its base URL from the environment (a resource, a region, a project and
location) and authenticates its own way; :func:`libchatty.providers.resolve` calls the
functions here for the provider it resolved (the conventions are listed in its module
docstring). Pure: the environment is passed in, nothing reads ``os.environ``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Final
from urllib.parse import urlsplit

from .provider_table import (
    AZURE_KEY_ENV,
    AZURE_TEMPLATE,
    PROVIDERS,
    VERTEX_HOST,
    VERTEX_TEMPLATE,
    bedrock_region,
    first_set,
)

if TYPE_CHECKING:
    from .sigv4 import AWSCredentials  # imported by aws_access_keys: Bedrock only

__all__ = [
    "AWS_KEY_ENV",
    "aws_access_keys",
    "azure_auth",
    "azure_base_url",
    "bedrock_base_url",
    "vertex_base_url",
]

_AWS_REGION_ENV: Final = ("AWS_REGION", "AWS_DEFAULT_REGION")
AWS_KEY_ENV: Final = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
# A project id or a location: it becomes part of the host name and of the path.
_VERTEX_NAME: Final = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")


def bedrock_base_url(
    base_url: str | None, region: str | None, env: Mapping[str, str], from_table: bool
) -> tuple[str, str]:
    """(base URL, region) for Bedrock."""
    if region is None:
        _, region = first_set(env, _AWS_REGION_ENV)
    if region is None and base_url is not None and not from_table:
        region = bedrock_region((urlsplit(base_url).hostname or "").lower())
    if region is None:
        raise ValueError(
            "bedrock needs an AWS region: set AWS_REGION (or AWS_DEFAULT_REGION) or pass region="
        )
    if base_url is None or from_table:
        base_url = PROVIDERS["bedrock"].base_url.replace("{region}", region)
    return base_url, region


def vertex_base_url(project: str | None, location: str | None, env: Mapping[str, str]) -> str:
    """The Vertex AI base URL of a project location (see the module)."""
    if project is None:
        _, project = first_set(env, ("GOOGLE_CLOUD_PROJECT",))
    if project is None:
        raise ValueError(
            "vertex needs a Google Cloud project: set GOOGLE_CLOUD_PROJECT or pass project="
        )
    if location is None:
        _, location = first_set(env, ("GOOGLE_CLOUD_LOCATION",))
    location = location or "global"
    for what, value in (("project", project), ("location", location)):
        if not _VERTEX_NAME.fullmatch(value):
            raise ValueError(
                f"vertex: the {what} must be lower-case letters, digits and hyphens, "
                f"not {value[:64]!r}"
            )
    host = VERTEX_HOST if location == "global" else f"{location}-{VERTEX_HOST}"
    return VERTEX_TEMPLATE.format(host=host, project=project, location=location)


def azure_base_url(base_url: str, env: Mapping[str, str]) -> str:
    """Azure's base URL (see the module): a bare resource URL gets ``/openai/v1``;
    ``OPENAI_API_VERSION`` becomes ``?api-version=`` unless the URL has one; a
    deployments URL without an API version is a ``ValueError`` (Azure refuses it)."""
    if base_url == AZURE_TEMPLATE:
        raise ValueError(
            "azure needs an endpoint: set AZURE_OPENAI_ENDPOINT "
            "(https://<resource>.openai.azure.com) or pass base_url="
        )
    parts = urlsplit(base_url)
    path = parts.path.rstrip("/") or "/openai/v1"
    query = parts.query
    _, version = first_set(env, ("OPENAI_API_VERSION",))
    if version is not None and "api-version=" not in query:
        query = f"{query}&api-version={version}" if query else f"api-version={version}"
    if "/deployments/" in path and "api-version=" not in query:
        raise ValueError(
            "an Azure deployments URL needs an API version: set OPENAI_API_VERSION or add "
            "?api-version= to the base URL (or use the v1 API: <endpoint>/openai/v1)"
        )
    return parts._replace(path=path, query=query).geturl()


def azure_auth(api_key: str | None, env: Mapping[str, str], headers: dict[str, str]) -> str | None:
    """The bearer token for Azure, after putting a key in ``headers["api-key"]``: an
    explicit key or ``AZURE_OPENAI_API_KEY`` is an ``api-key``; else
    ``AZURE_OPENAI_AD_TOKEN`` (Entra ID) is the bearer token."""
    key = api_key if api_key is not None else first_set(env, AZURE_KEY_ENV[:1])[1]
    if key is not None:
        headers.setdefault("api-key", key)
        return None
    return first_set(env, AZURE_KEY_ENV[1:])[1]


def aws_access_keys(env: Mapping[str, str]) -> AWSCredentials | None:
    _, key_id = first_set(env, AWS_KEY_ENV[:1])
    _, secret = first_set(env, AWS_KEY_ENV[1:])
    if key_id is None or secret is None:
        return None
    from .sigv4 import AWSCredentials

    return AWSCredentials(key_id, secret, first_set(env, ("AWS_SESSION_TOKEN",))[1])
