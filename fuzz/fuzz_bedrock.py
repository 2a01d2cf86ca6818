"""Fuzz target: the Bedrock Converse stream decoder behind the event stream framing.

Input layout: byte 0 picks the mode. In raw mode (bit 7 set) the rest is the HTTP body as
is, so the fuzzer attacks the framing and the decoder together. Otherwise the rest is a
list of records -- a kind byte (an event type or an exception type, from :data:`KINDS`),
a length byte and that many payload bytes -- that this target wraps in well-formed
event stream messages with Bedrock's headers, so the fuzzer reaches the dialect's JSON
handling instead of stopping at a CRC mismatch. Payloads that start with ``{`` are kept
as is; others get a JSON object built around them (a text delta, a tool input fragment,
a stop reason) so valid streams are common.

Asserts that only Delta/Done/Error events or the documented RemoteProtocolError come
out; that at most one terminal event arrives, last; that whole, byte-by-byte and an
input-derived split agree exactly; and that a Done's text is the joined text deltas and
an Error's partial the same. Run it with fuzz/run.py (see fuzz/README.md)."""

from __future__ import annotations

import json
from typing import Any

from libchatty.dialects.bedrock import BedrockStreamDecoder
from libchatty.events import Delta, Done, Error
from libchatty.eventstream import EventStreamDecoder, encode_message
from libchatty.exceptions import RemoteProtocolError

_RAW = 0x80
KINDS = (
    ("event", "messageStart"),
    ("event", "contentBlockStart"),
    ("event", "contentBlockDelta"),  # a text delta
    ("event", "contentBlockDelta"),  # a tool input fragment
    ("event", "contentBlockDelta"),  # reasoning text and signature
    ("event", "contentBlockStop"),
    ("event", "messageStop"),
    ("event", "metadata"),
    ("event", "somethingNew"),
    ("exception", "throttlingException"),
    ("exception", "modelStreamErrorException"),
    ("exception", "validationException"),
    ("error", "InternalFailure"),
)


def _payload(code: int, name: str, raw: bytes, index: int) -> bytes:
    if raw.startswith(b"{"):
        return raw
    text = raw.decode("utf-8", "replace")
    block = raw[0] % 3 if raw else 0
    shapes: dict[str, Any] = {
        "messageStart": {"role": "assistant"},
        "contentBlockStart": {
            "contentBlockIndex": block,
            "start": {"toolUse": {"toolUseId": f"t{index}", "name": text or "f"}},
        },
        "contentBlockDelta": {
            "contentBlockIndex": block,
            "delta": [
                {"text": text},
                {"toolUse": {"input": text}},
                {"reasoningContent": {"text": text, "signature": text[:3]}},
            ][(code - 2) % 3],
        },
        "contentBlockStop": {"contentBlockIndex": block},
        "messageStop": {"stopReason": text or "end_turn"},
        "metadata": {"usage": {"inputTokens": len(raw), "outputTokens": 1, "totalTokens": 2}},
    }
    return json.dumps(shapes.get(name, {"message": text})).encode()


def framed(records: bytes) -> bytes:
    out: list[bytes] = []
    at = 0
    while at < len(records):
        code = records[at] % len(KINDS)
        kind, name = KINDS[code]
        size = records[at + 1] if at + 1 < len(records) else 0
        raw = records[at + 2 : at + 2 + size]
        at += 2 + size
        headers: dict[str, str] = {":content-type": "application/json", ":message-type": kind}
        if kind == "event":
            headers[":event-type"] = name
        elif kind == "exception":
            headers[":exception-type"] = name
        else:
            headers[":error-code"] = name
        out.append(encode_message(headers, _payload(code, name, raw, len(out))))
    return b"".join(out)


def run(chunks: list[bytes]) -> tuple[Any, ...]:
    """Events and the error, as a Call gets them: the messages a failed ``feed`` decoded
    before its fault (``exc.items``) are delivered first."""
    framing = EventStreamDecoder(1 << 16)
    decoder = BedrockStreamDecoder()
    events: list[Any] = []

    def deliver(messages: list[Any]) -> bool:
        for message in messages:
            got = decoder.stream_message(message)
            events.extend(got)
            if got and type(got[-1]) is not Delta:
                return True
        return False

    try:
        for chunk in chunks:
            try:
                messages = framing.feed(chunk)
            except RemoteProtocolError as exc:
                if deliver(exc.items):
                    return events, None
                raise
            if deliver(messages):
                return events, None
        framing.close()
        events.append(decoder.end())
    except RemoteProtocolError as exc:
        return events, (type(exc), str(exc))
    return events, None


def check(events: list[Any]) -> None:
    assert all(type(e) in (Delta, Done, Error) for e in events), events
    terminal = [e for e in events if type(e) is not Delta]
    assert len(terminal) <= 1 and (not terminal or terminal[0] is events[-1]), events
    text = "".join(e.text for e in events if type(e) is Delta and e.kind == "text")
    if terminal and type(terminal[0]) is Done:
        assert terminal[0].text == text
    elif terminal:
        assert terminal[0].partial == text


def chunkings(stream: bytes) -> list[list[bytes]]:
    whole = [stream]
    one_by_one = [stream[i : i + 1] for i in range(len(stream))]
    sizes = [1 + b % 17 for b in stream[:32]] or [1]
    derived, i, k = [], 0, 0
    while i < len(stream):
        n = sizes[k % len(sizes)]
        derived.append(stream[i : i + n])
        i, k = i + n, k + 1
    return [whole, one_by_one, derived]


def TestOneInput(data: bytes) -> None:
    if not data:
        return
    stream = data[1:] if data[0] & _RAW else framed(data[1:])
    results = [run(chunks) for chunks in chunkings(stream)]
    assert all(result == results[0] for result in results), results
    check(results[0][0])


if __name__ == "__main__":
    import sys

    import atheris

    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()
