"""A recorded HTTP response the replay server sends back byte for byte."""

from __future__ import annotations

from typing import Any

import h11

__all__ = ["Transcript"]


class Transcript:
    """``raw``: the bytes of one recorded HTTP/1.1 response. When they are one complete,
    self-framed response, the connection can stay open for the next request; otherwise
    it closes after them."""

    def __init__(self, raw: bytes) -> None:
        self.raw = raw
        self.events = _parse(raw)

    def walk(self, conn: h11.Connection) -> bool:
        """Walk the server's h11 connection through the same response (its output
        discarded: the raw bytes went out as recorded) so that keep-alive bookkeeping
        stays right. False when the connection must close instead."""
        if self.events is None:
            return False
        try:
            for event in self.events:
                if isinstance(event, h11.Response):
                    event = h11.Response(
                        status_code=event.status_code, headers=event.headers, reason=event.reason
                    )
                conn.send(event)
        except h11.LocalProtocolError:
            return False
        return True


def _parse(raw: bytes) -> list[Any] | None:
    """The h11 events of a recorded response, or None when it is not one complete,
    self-framed HTTP/1.1 response."""
    client = h11.Connection(h11.CLIENT, max_incomplete_event_size=len(raw) + 1)
    client.send(h11.Request(method="POST", target="/", headers=[("host", "replay")]))
    client.send(h11.EndOfMessage())
    events: list[Any] = []
    try:
        client.receive_data(raw)
        while True:
            event = client.next_event()
            if event is h11.NEED_DATA or event is h11.PAUSED:
                return None
            if isinstance(event, h11.InformationalResponse):
                return None
            events.append(event)
            if isinstance(event, h11.EndOfMessage):
                return events
    except h11.RemoteProtocolError:
        return None
