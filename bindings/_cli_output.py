"""What the chat CLI (:mod:`~libchatty.bindings.cli`) writes while a chat runs: the
answer as it arrives, tool calls after it, every event as a JSON line with ``--json``,
and the ``--stats`` line with the numbers it is made of.

Nothing here decides what to run or how to fail: that is the command's
(:mod:`~libchatty.bindings.cli`). The CLI's common command line loads this module, so it
imports no more than the command did (``json`` and ``dataclasses`` only for ``--json``
and tool calls).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, Final, TextIO

from libchatty.events import Delta, Error, ToolCall, Usage

__all__ = ["MIN_RATE_WINDOW", "Output", "print_stats", "stats_line"]

# Content that arrived within this window came out of one network read delivered in a
# loop, not at the pace of generation: dividing by it would report millions of tokens/s.
MIN_RATE_WINDOW: Final = 0.01


class Output:
    """Writes the answer as it arrives and keeps the numbers ``--stats`` prints.

    ``event`` is the streaming callback (``on_event``): every ``Delta`` that carries text
    of any kind (answer, reasoning, tool-call arguments, refusal) is content for the
    rate; only answer text is printed, or every event as JSON with ``json_mode``.
    """

    def __init__(self, out: TextIO, json_mode: bool) -> None:
        self.out = out
        self.json_mode = json_mode
        self.started = time.perf_counter()
        self.first: float | None = None  # when the first content arrived
        self.last: float | None = None  # when the last content arrived
        self.deltas = 0
        self.byte_count = 0
        self.ends_with_newline = True
        self.saw_error = False

    def text(self, piece: str) -> None:
        self.byte_count += len(piece.encode("utf-8", "surrogatepass"))
        if piece:
            self.ends_with_newline = piece.endswith("\n")
        self.out.write(piece)
        self.out.flush()

    def event(self, event: Any) -> None:
        if isinstance(event, Delta) and event.text:
            self.last = time.perf_counter()
            if self.first is None:
                self.first = self.last
            self.deltas += 1
        if self.json_mode:
            self.write_json(event)
        elif isinstance(event, Delta) and event.kind == "text" and event.text:
            self.text(event.text)

    def write_json(self, event: Any) -> None:
        if isinstance(event, Error):
            self.saw_error = True
        elif isinstance(event, Delta) and event.kind == "text":
            self.byte_count += len(event.text.encode("utf-8", "surrogatepass"))
        self.out.write(_event_json(event) + "\n")
        self.out.flush()

    def tool_calls(self, calls: Sequence[ToolCall]) -> None:
        if calls and not self.ends_with_newline:
            self.out.write("\n")
        for call in calls:
            self.out.write(f"[tool call] {call.name} {_one_line_json(call.arguments)}\n")
            self.ends_with_newline = True
        self.out.flush()


def _one_line_json(text: str) -> str:
    """Tool-call arguments on one line: compact JSON, or the text with its whitespace
    runs collapsed when the model produced something that is not JSON."""
    import json

    try:
        return json.dumps(json.loads(text), ensure_ascii=False)
    except (ValueError, RecursionError):
        return " ".join(text.split())


def _event_json(event: Any) -> str:
    import dataclasses
    import json

    fields = dataclasses.asdict(event)
    return json.dumps({"type": type(event).__name__.lower(), **fields}, ensure_ascii=False)


def stats_line(
    *,
    streamed: bool,
    started: float,
    first: float | None,
    last: float | None,
    end: float,
    deltas: int,
    output_tokens: int | None,
    text_bytes: int,
) -> str:
    """The ``--stats`` line, from perf-counter times (pure, so it is tested exactly).

    The rate counts what arrived after the first content, over the time from the first
    content to the last: the first delta starts the clock, so it is not part of the count.
    With the provider's token count, the tokens after the first delta are estimated as
    ``tokens * (deltas - 1) / deltas`` (a delta may carry several tokens).
    """
    if output_tokens:
        count, unit, source = output_tokens, "tokens", "tokens (usage)"
    else:
        count, unit, source = deltas, "deltas", "deltas (no usage reported)"
    parts = []
    if not streamed:
        parts.append("not streamed: no rate")
    elif first is None or last is None:
        parts.append("no content streamed")
    else:
        parts.append(f"first token {1000 * (first - started):.0f} ms")
        window = last - first
        if deltas < 2:
            parts.append("rate n/a (one delta)")
        elif window < MIN_RATE_WINDOW:
            parts.append("rate n/a (arrived in one burst)")
        else:
            after_first = count * (deltas - 1) / deltas
            parts.append(f"{after_first / window:.1f} {unit}/s over {1000 * window:.0f} ms")
    if streamed or output_tokens:  # a plain body has no deltas to count
        parts.append(f"{count} {source}")
    parts.append(f"{text_bytes} bytes of text")
    parts.append(f"total {1000 * (end - started):.0f} ms")
    return "[stats] " + ", ".join(parts)


def print_stats(output: Output, usage: Usage | None, streamed: bool, err: TextIO) -> None:
    line = stats_line(
        streamed=streamed,
        started=output.started,
        first=output.first,
        last=output.last,
        end=time.perf_counter(),
        deltas=output.deltas,
        output_tokens=usage.output_tokens if usage is not None else None,
        text_bytes=output.byte_count,
    )
    err.write(line + "\n")
    err.flush()
