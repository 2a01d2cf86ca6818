"""A pytest fixture for testing an application built on libchatty offline.

Enable it in your ``conftest.py``::

    pytest_plugins = ["libchatty.bindings.pytest_plugin"]

``replay_server`` is a running :class:`~libchatty.bindings.server.ReplayServer` on a free
loopback port, fresh for each test (its request log empty, no fault queued) and closed
after it. Point your client at ``replay_server.base_url``; choose what it answers with the
``replay`` marker (keyword arguments of ``ReplayServer``) or, inside the test, with
``replay_server.answer(...)``::

    @pytest.mark.replay(script=[Script(tool_calls=(call,), finish_reason="tool_calls"),
                                Script(text="It is 21 °C in Paris.")])
    def test_my_agent(replay_server):
        assert my_agent(base_url=replay_server.base_url) == "It is 21 °C in Paris."
        assert replay_server.requests[1].json["messages"][-1]["role"] == "tool"
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .server import ReplayServer

__all__ = ["replay_server"]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "replay(**kwargs): what the replay_server fixture answers with "
        "(ReplayServer's keyword arguments: text, script, routes, faults, token_delay...)",
    )


@pytest.fixture
def replay_server(request: pytest.FixtureRequest) -> Iterator[ReplayServer]:
    """A running replay server on loopback for this test (see the module docstring)."""
    marker = request.node.get_closest_marker("replay")
    if marker is not None and marker.args:
        raise TypeError("@pytest.mark.replay takes keyword arguments only (text=, script=...)")
    options = dict(marker.kwargs) if marker is not None else {}
    with ReplayServer(**options) as server:
        yield server
