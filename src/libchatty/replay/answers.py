"""Which scripted answer a request gets: one text, one script, a sequence, or routes.

* a ``str`` is tokenised into deltas; the answer names the model the request named and
  carries a plausible, deterministic usage;
* a :class:`Script` answers every request the same way;
* a sequence of scripts answers successive requests in order -- turn 1 a tool call, turn 2
  the text. When it is used up, the next request gets an error (410, see
  :data:`EXHAUSTED_STATUS`): a test that sends one request too many fails loudly instead of
  silently getting turn 1 again;
* ``routes`` map a request to one of those: a key starting with ``/`` matches a request
  whose path ends with it (``"/v1/messages"``, ``"/responses"``), any other key is a model
  name matched exactly (the body's ``model``, or the model in Gemini's path). A model
  route wins over a path route, and a longer path route over a shorter one. A request no
  route matches gets the default answer, or -- when there is none -- an error naming its
  model and path (404).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final, TypeAlias

from ..events import Usage
from .script import Script, split_tokens

__all__ = ["EXHAUSTED_STATUS", "Answer", "Answers", "Routes"]

#: The status of the answer to a request after a sequence was used up.
EXHAUSTED_STATUS: Final = 410
#: The status of the answer to a request no route matches (and with no default).
NO_ROUTE_STATUS: Final = 404

#: What the server is given to answer with.
Answer: TypeAlias = "str | Script | Sequence[Script]"


class Answers:
    """One source of answers; :meth:`next` is the answer to the next chat request."""

    def __init__(self, answer: Answer) -> None:
        if isinstance(answer, str):
            self.text: str | None = answer
            self.scripts: tuple[Script, ...] = ()
        elif isinstance(answer, Script):
            self.text, self.scripts = None, (answer,)
        else:
            self.text, self.scripts = None, tuple(answer)
            if not self.scripts or not all(isinstance(s, Script) for s in self.scripts):
                raise TypeError("a scripted sequence must be a non-empty sequence of Script")
        self.sequence = not isinstance(answer, (str, Script))
        self.used = 0

    @property
    def model(self) -> str:
        """The model the answers name (for ``GET /models``)."""
        return self.scripts[0].model if self.scripts else "replay-1"

    def next(self, model: str | None, body_size: int) -> Script | str:
        """The script for a request naming ``model`` whose body has ``body_size`` bytes,
        or the error message when a sequence is used up."""
        if self.text is not None:
            # Not a tokenizer: a stable estimate so usage is plausible and deterministic.
            input_tokens = max(1, body_size // 4)
            output = len(split_tokens(self.text))
            usage = Usage(input_tokens, output, input_tokens + output)
            return Script(text=self.text, usage=usage, model=model or "replay-1")
        if not self.sequence:
            return self.scripts[0]
        self.used += 1
        if self.used > len(self.scripts):
            count = len(self.scripts)
            return (
                f"replay: the scripted sequence has {count} answer{'s' if count != 1 else ''}; "
                f"this is request {self.used}"
            )
        return self.scripts[self.used - 1]

    def cache_key(self, model: str | None, body_size: int) -> tuple[str, int] | None:
        """A key under which the rendering of :meth:`next`'s script may be cached (the
        same for every request with it), or None when it must not be."""
        if self.text is not None:
            return (model or "replay-1", max(1, body_size // 4))
        return None if self.sequence else ("", 0)


class Routes:
    """Answers chosen by model or path (see the module docstring)."""

    def __init__(self, routes: Mapping[str, Answer]) -> None:
        self.models = {key: Answers(a) for key, a in routes.items() if not key.startswith("/")}
        paths = [(key, Answers(a)) for key, a in routes.items() if key.startswith("/")]
        # Longest first, so that the most specific path route wins.
        self.paths = sorted(paths, key=lambda item: -len(item[0]))

    def find(self, path: str, model: str | None) -> Answers | None:
        if model is not None and model in self.models:
            return self.models[model]
        for key, answers in self.paths:
            if path.endswith(key):
                return answers
        return None
