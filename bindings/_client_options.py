"""The keywords of every client's constructor, as a ``TypedDict``: what a type checker
reads to catch a misspelt or mistyped one (``**options: Unpack[ClientOptions]``).

Re-exported by :mod:`libchatty.bindings._config`, which imports this module only when
the name is asked for at run time: building a ``TypedDict`` costs about half a
millisecond (typing compiles each string annotation), which every program importing a
binding would otherwise pay for a name only type checkers need. ``_config`` checks
keywords against its own ``CLIENT_OPTIONS`` (tests/test_lazy_imports.py holds the two
to the same names).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypedDict

if TYPE_CHECKING:
    import ssl
    from collections.abc import Mapping

    from libchatty.sigv4 import AWSCredentials

    from ._api import Timeout

__all__ = ["ClientOptions"]


class ClientOptions(TypedDict, total=False):
    """The keywords of every client's constructor (after the ``provider`` name), typed so
    that a type checker catches a misspelt or mistyped one (constructors take
    ``**options: Unpack[ClientOptions]``). Absent means the default shown.

    * ``base_url`` (None: the provider's) and ``dialect`` (None: the provider's, or
      ``"openai-chat"`` for a bare ``base_url``);
    * ``api_key`` (None: from the provider's environment variable);
    * ``timeout``: a :class:`~libchatty.bindings._api.Timeout` or a number (connect and
      idle seconds); None (the default) is ``Timeout()``;
    * ``max_retries`` (2); ``ssl_context`` (None: verified, system CAs);
    * ``headers`` sent with every request; ``env`` (None: ``os.environ``) for keys,
      URL overrides and proxies;
    * ``region`` (AWS Bedrock; None: ``AWS_REGION``/``AWS_DEFAULT_REGION``, else
      botocore's configured region) and ``aws_credentials`` (an
      :class:`~libchatty.sigv4.AWSCredentials` to sign with; None: the environment's
      ``AWS_*`` keys, else botocore's credential chain);
    * ``project`` and ``location`` (Google Vertex AI; None: ``GOOGLE_CLOUD_PROJECT``,
      else the application default credentials' project; ``GOOGLE_CLOUD_LOCATION``,
      else ``global``).

    The cloud SDK chains (``libchatty[aws]``: botocore; ``libchatty[google]``:
    google-auth) are consulted only when the environment gave no credentials and
    ``env`` is None: they read the process environment and files, which an explicit
    ``env`` is meant to replace. Their credentials are refreshed per call (see
    :mod:`libchatty.bindings._credentials`).
    """

    base_url: str | None
    api_key: str | None
    dialect: str | None
    timeout: Timeout | float | None
    max_retries: int
    ssl_context: ssl.SSLContext | None
    headers: Mapping[str, str] | None
    env: Mapping[str, str] | None
    region: str | None
    aws_credentials: AWSCredentials | None
    project: str | None
    location: str | None
