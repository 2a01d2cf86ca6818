"""Shared test setup: hypothesis profiles (``ci`` is what ``make test`` uses)."""

from __future__ import annotations

import os

import pytest
import trustme
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=False,
)
settings.register_profile("dev", max_examples=200, deadline=None)
settings.register_profile("long", max_examples=5000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    """One test certificate authority for the session (see ``peers.py``)."""
    return trustme.CA()


# The replay server fixture users get (``replay_server``), used by the project's own tests.
pytest_plugins = ["libchatty.bindings.pytest_plugin"]
