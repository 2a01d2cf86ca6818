"""Fuzz target: libchatty.sse.SSEDecoder.

Input layout: byte 0 picks the event-size limit (tiny limits exercise the bounds), the
rest is the stream. Asserts that only ServerSentEvent values or the documented
LimitExceeded come out; that whole, byte-by-byte, an input-derived split and reads ending
at blank lines (the decoder's whole-events lane; also through ``live_data``, the shortcut
``Call`` takes, and with ``undecoded_messages``, the bytes lane ``Call`` reads batched
events through, each undecoded item built into its event) agree exactly (events, error, comments,
unknown fields, last event ID, retry); that the decoder never buffers more than its
limit; and that a failed decoder refuses more input with LocalProtocolError. Run it with
fuzz/run.py (see fuzz/README.md)."""

from __future__ import annotations

from typing import Any

from libchatty.exceptions import LimitExceeded, LocalProtocolError
from libchatty.sse import ServerSentEvent, SSEDecoder

LIMITS = (7, 32, 200, 4 * 1024 * 1024)
BYTEWISE = 256
# Strict mode: these, and only these, may come out of the decoder. Anything else escaping
# TestOneInput (KeyError, UnicodeDecodeError, AssertionError, ...) is a crash.
DOCUMENTED_ERRORS = (LimitExceeded,)


def chunkings(stream: bytes) -> list[list[bytes]]:
    whole = [stream]
    # Byte by byte over the first BYTEWISE bytes, then the rest in one piece: every
    # boundary near the start, without making a 4 KiB input cost 4,096 feeds per run.
    head = stream[:BYTEWISE]
    one_by_one = [head[i : i + 1] for i in range(len(head))] + [stream[BYTEWISE:]]
    # Chunk sizes taken from the input itself, so the fuzzer steers the boundaries.
    sizes = [1 + b % 29 for b in stream[:32]] or [1]
    derived, i, k = [], 0, 0
    while i < len(stream):
        n = sizes[k % len(sizes)]
        derived.append(stream[i : i + n])
        i, k = i + n, k + 1
    # Reads that end at blank lines, as a live stream's do: the decoder's fast lane.
    events = stream.split(b"\n\n")
    at_blanks = [e + b"\n\n" for e in events[:-1]] + ([events[-1]] if events[-1] else [])
    return [whole, one_by_one, derived, at_blanks]


def run(
    chunks: list[bytes], limit: int, live: bool = False, undecoded: bool = False
) -> tuple[Any, ...]:
    comments: list[str] = []
    unknown: list[tuple[str, str]] = []
    decoder = SSEDecoder(
        limit,
        on_comment=comments.append,
        on_unknown_field=lambda n, v: unknown.append((n, v)),
        undecoded_messages=undecoded,
    )

    def built(items: list[Any]) -> list[Any]:
        # An undecoded item stands for the event with the ID and retry this feed left.
        return [decoder.message_event(it) if type(it) is bytes else it for it in items]

    events: list[ServerSentEvent] = []
    failed = False
    try:
        for chunk in chunks:
            payload = decoder.live_data(chunk) if live else None
            if payload is None:
                events.extend(built(decoder.feed(chunk)))
            else:  # the event live_data counted without building it
                data = payload.decode("utf-8", "replace")
                events.append(
                    ServerSentEvent("message", data, decoder.last_event_id, decoder.retry)
                )
            assert decoder.buffered <= limit, (decoder.buffered, limit)
        assert decoder.close() == []
    except DOCUMENTED_ERRORS as exc:
        failed = True
        events.extend(built(exc.items))
        try:
            decoder.feed(b"\n")
        except LocalProtocolError:
            pass
        else:
            raise AssertionError("a failed decoder accepted more input") from None
    for event in events:
        assert type(event) is ServerSentEvent
        assert isinstance(event.event, str) and event.event
        assert isinstance(event.data, str) and isinstance(event.id, str)
        assert "\x00" not in event.id and "\r" not in event.data
        assert event.retry is None or (isinstance(event.retry, int) and event.retry >= 0)
    assert decoder.comments == len(comments)
    return failed, events, comments, unknown, decoder.last_event_id, decoder.retry


def TestOneInput(data: bytes) -> None:
    if not data:
        return
    limit = LIMITS[data[0] % len(LIMITS)]
    splits = chunkings(data[1:])
    results = [run(chunks, limit) for chunks in splits]
    results.append(run(splits[-1], limit, live=True))  # reads at blank lines via live_data
    results += [run(chunks, limit, undecoded=True) for chunks in splits[2:]]  # the bytes lane
    assert all(result == results[0] for result in results), results


if __name__ == "__main__":
    import sys

    import atheris

    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()
