"""Faults the replay server can inject, from code (:class:`Fault`) or from a command line
(:meth:`Fault.parse`: ``status=429,retry-after=2``, ``cut-after=3``, ``stall=forever``)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Final

__all__ = ["FAULT_KINDS", "Fault"]

#: Every ``Fault.kind``.
FAULT_KINDS: Final = frozenset(
    {"status", "cut", "stall", "malformed", "json", "stream_error", "reject_stream"}
)

# Command-line spelling -> (kind, the Fault field the spelling's own value sets).
_SPELLINGS: Final[dict[str, tuple[str, str | None]]] = {
    "status": ("status", "status"),
    "cut": ("cut", "after_events"),
    "cut-after": ("cut", "after_events"),
    "stall": ("stall", "seconds"),
    "malformed": ("malformed", "after_events"),
    "json": ("json", None),
    "stream-error": ("stream_error", "after_events"),
    "reject-stream": ("reject_stream", None),
}
# ``key=value`` options after the first item -> the Fault field they set.
_OPTIONS: Final = {
    "status": "status",
    "retry-after": "retry_after",
    "after": "after_events",
    "seconds": "seconds",
    "message": "message",
}


@dataclass(frozen=True, slots=True)
class Fault:
    """A fault for one chat request (queued; each request takes at most one).

    * ``"status"``: answer HTTP ``status`` (default 500) with the dialect's error body;
      ``retry_after`` becomes a ``Retry-After`` header: seconds, or a string sent as is
      (an HTTP-date); a 429 gets ``1`` when not given.
    * ``"cut"``: close the connection after ``after_events`` wire events (after the
      response head when 0; before any response at all when None). A non-streamed answer
      is cut halfway through its body.
    * ``"stall"``: after ``after_events`` events (before the response head when None),
      send nothing for ``seconds`` (default 30; ``math.inf``: until the client gives up),
      then carry on.
    * ``"malformed"``: event number ``after_events`` (0-based, default 0) is broken JSON;
      a non-streamed body is truncated JSON.
    * ``"json"``: answer a stream request with a plain JSON body.
    * ``"stream_error"``: after ``after_events`` events (default 0) send the dialect's
      error event and end the body without the terminal marker.
    * ``"reject_stream"``: answer a stream request with a 400 OpenAI-shaped "streaming
      is not supported" error.

    ``json``, ``stream_error`` and ``reject_stream`` only affect stream requests; a
    non-stream request that takes one is answered normally (the fault is used up).
    ``message`` overrides the error text of ``status``, ``stream_error`` and
    ``reject_stream``.
    """

    kind: str
    status: int | None = None
    retry_after: float | str | None = None
    after_events: int | None = None
    seconds: float | None = None
    message: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"Fault.kind must be one of {sorted(FAULT_KINDS)}, not {self.kind!r}")
        if self.status is not None and not 100 <= self.status <= 599:
            raise ValueError(f"Fault.status must be an HTTP status, not {self.status!r}")
        if self.after_events is not None and self.after_events < 0:
            raise ValueError("Fault.after_events must not be negative")
        if self.seconds is not None and not self.seconds >= 0:  # NaN too
            raise ValueError("Fault.seconds must not be negative")

    @classmethod
    def parse(cls, spec: str) -> Fault:
        """A fault from its command-line form: ``KIND[=VALUE][,OPTION=VALUE]...``.

        KIND is ``status`` (VALUE: the status), ``cut`` or ``cut-after`` (VALUE: events
        before the cut), ``stall`` (VALUE: seconds, or ``forever``), ``malformed``
        (VALUE: the broken event's index), ``json``, ``stream-error`` (VALUE: events
        before it) or ``reject-stream``. OPTIONs: ``status``, ``retry-after``, ``after``
        (events), ``seconds`` and ``message`` -- which takes the rest of the text, commas
        included, so it comes last; a value may hold other commas (an HTTP-date). A bad spec
        is a ``ValueError`` saying what is wrong.
        """
        head, _, rest = spec.strip().partition(",")
        name, has_value, value = head.partition("=")
        spelling = _SPELLINGS.get(name.strip().lower().replace("_", "-"))
        if spelling is None:
            raise ValueError(f"unknown fault {name!r}; known: {', '.join(_SPELLINGS)}")
        kind, own_field = spelling
        fields: dict[str, str] = {}
        if has_value:
            if own_field is None:
                raise ValueError(f"fault {name!r} takes no value")
            fields[own_field] = value
        last: str | None = None
        while rest:
            item, _, after = rest.partition(",")
            key, eq, value = item.partition("=")
            key = key.strip().lower()
            if key == "message" and eq:
                fields["message"] = rest.partition("=")[2]
                break
            if not eq and last is not None:  # a comma inside a value (an HTTP-date)
                fields[last] += "," + item
            elif key in _OPTIONS and eq:
                last = _OPTIONS[key]
                fields[last] = value
            else:
                raise ValueError(f"bad fault option {item!r}; known: {', '.join(_OPTIONS)}=...")
            rest = after
        values: dict[str, Any] = {key: _convert(key, text) for key, text in fields.items()}
        return cls(kind, **values)


def _convert(field: str, text: str) -> int | float | str:
    text = text.strip() if field != "message" else text
    try:
        if field in ("status", "after_events"):
            return int(text)
        if field == "seconds":
            return math.inf if text.lower() == "forever" else float(text)
        if field == "retry_after":
            try:
                return float(text)
            except ValueError:
                return text  # an HTTP-date, sent as is
    except ValueError:
        raise ValueError(
            f"fault {field.replace('_', '-')} must be a number, not {text!r}"
        ) from None
    return text
