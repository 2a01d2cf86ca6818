"""bindings._ops: an operation's ``__init__`` -- set by the stub until the class has been
built ``COMPILE_AFTER`` times, then compiled -- takes its fields in order either way."""

from __future__ import annotations

from typing import Any

import pytest
from libchatty.bindings import _ops
from libchatty.bindings._ops import COMPILE_AFTER, _Op


def make_pair() -> Any:
    class Pair(_Op):
        left: int
        right: str

    return Pair


def test_the_stub_sets_the_fields_until_the_init_is_compiled() -> None:
    pair = make_pair()
    stub = vars(pair)["__init__"]
    assert stub is _ops._init_until_compiled and pair.__slots__ == ("left", "right")
    made: list[Any] = []
    while vars(pair)["__init__"] is stub:
        made.append(pair(len(made), "r"))
    assert len(made) == COMPILE_AFTER + 1  # the last one by the compiled __init__
    assert pair.__init__.__qualname__.endswith("<locals>.Pair.__init__")
    assert [(op.left, op.right) for op in made] == [(i, "r") for i in range(len(made))]
    assert repr(pair(7, "x")) == "Pair(left=7, right='x')"
    assert pair not in _ops._constructions


@pytest.mark.parametrize(
    ("args", "kwargs", "error"),
    [
        ((1,), {}, "missing 1 required positional argument: 'right'"),
        ((1, "r", 2), {}, "takes 3 positional arguments but 4 were given"),
        ((1,), {"left": 2}, "got multiple values for argument 'left'"),
        ((), {"middle": 1}, "unexpected keyword argument 'middle'"),
    ],
)
def test_what_the_stub_does_not_take_goes_to_the_compiled_init(
    args: tuple[object, ...], kwargs: dict[str, object], error: str
) -> None:
    pair = make_pair()
    with pytest.raises(TypeError, match=error):
        pair(*args, **kwargs)
    assert vars(pair)["__init__"] is not _ops._init_until_compiled
    made = pair(right="r", left=1)  # keywords: the compiled __init__ takes them
    assert (made.left, made.right) == (1, "r")
