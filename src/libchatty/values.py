"""Frozen, slotted value classes without the dataclass machinery at import time.

``@dataclass(frozen=True, slots=True)`` compiles ``__init__``, ``__repr__``, ``__eq__``,
``__hash__``, ``__setattr__`` and ``__delattr__`` with ``exec`` when the module is
imported, and builds the class twice (slots): 0.4-1.0 ms per class, about 12 ms for the
classes on ``import libchatty`` -- the largest item of a CLI run's start-up (issue 14).

:class:`Value` gives the same behaviour from methods written once: a subclass lists its
fields in ``__slots__`` (in order) and writes its ``__init__`` by hand (compiled into
the module's bytecode like any function, so free at import); :func:`value` then fills in
what ``@dataclass`` would have:

* ``==`` compares the ``compare`` fields as a tuple when both sides are the same class
  (``NotImplemented`` otherwise); ``hash`` hashes the compared fields not excluded from
  hashing; ``repr`` is ``Name(field=value, ...)`` over the ``repr`` fields;
* assigning or deleting an attribute raises :class:`dataclasses.FrozenInstanceError`;
* pickling and ``copy`` go through ``__getstate__``/``__setstate__`` as for a frozen
  slotted dataclass;
* ``__dataclass_fields__`` holds one :class:`dataclasses.Field` per field, so
  ``dataclasses.is_dataclass``, ``fields``, ``replace`` and ``asdict`` work unchanged
  (the events are documented as dataclasses; dialects and users ``replace`` them), and
  ``__match_args__`` is set for ``match`` statements.

Nothing here is on a hot path: construction is the subclass's own ``__init__`` (the
same ``object.__setattr__`` per field a frozen dataclass uses), and ``==``/``hash`` use
one C ``attrgetter`` call per side.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from operator import attrgetter
from typing import Any, ClassVar, Final, TypeVar

__all__ = ["Value", "value"]

_T = TypeVar("_T", bound="Value")

# dataclasses.fields() and asdict() keep only Fields marked as plain fields; the marker
# is private, stable since Python 3.7 (tests/test_values.py checks fields(), asdict(),
# replace() and is_dataclass() on every value class, so a change would be caught).
_FIELD: Final[Any] = dataclasses._FIELD  # type: ignore[attr-defined]
_MISSING: Final[Any] = dataclasses.MISSING
_setattr: Final = object.__setattr__


def _tuple_getter(names: tuple[str, ...]) -> Callable[[Any], tuple[Any, ...]]:
    """``attrgetter`` that always returns a tuple (one name gives the bare value)."""
    if len(names) == 1:
        one = attrgetter(names[0])
        return lambda obj: (one(obj),)
    if not names:
        return lambda obj: ()
    return attrgetter(*names)


class Value:
    """Base of the frozen slotted values: see the module docstring."""

    __slots__ = ()

    __dataclass_fields__: ClassVar[dict[str, dataclasses.Field[Any]]]
    __match_args__: ClassVar[tuple[str, ...]]
    # Getters taking the instance (static methods: called as self._value_key(self)).
    _value_all: ClassVar[Callable[..., tuple[Any, ...]]]
    _value_key: ClassVar[Callable[..., tuple[Any, ...]]]
    _value_hash: ClassVar[Callable[..., tuple[Any, ...]]]
    _value_repr: ClassVar[tuple[str, ...]]

    def __eq__(self, other: object) -> bool:
        if other.__class__ is self.__class__:
            return self._value_key(self) == self._value_key(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._value_hash(self))

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._value_repr)
        return f"{type(self).__qualname__}({fields})"

    def __setattr__(self, name: str, value: Any) -> None:
        raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")

    def __getstate__(self) -> list[Any]:
        return list(self._value_all(self))

    def __setstate__(self, state: list[Any]) -> None:
        names: tuple[str, ...] = self.__slots__
        for name, item in zip(names, state, strict=True):
            _setattr(self, name, item)


def value(
    *,
    no_init: tuple[str, ...] = (),
    no_compare: tuple[str, ...] = (),
    no_hash: tuple[str, ...] = (),
    no_repr: tuple[str, ...] = (),
) -> Callable[[type[_T]], type[_T]]:
    """Finish a :class:`Value` subclass: its fields are its ``__slots__``, in order.

    ``no_init``: fields its ``__init__`` does not take (set from others); ``no_compare``:
    left out of ``==`` and ``hash``; ``no_hash``: left out of ``hash`` only; ``no_repr``:
    left out of ``repr``. Defaults for ``dataclasses.fields`` are read from the
    ``__init__`` signature.
    """

    def finish(cls: type[_T]) -> type[_T]:
        names: tuple[str, ...] = cls.__slots__
        if not isinstance(names, tuple) or not names:  # pragma: no cover - a coding error
            raise TypeError(f"{cls.__name__}.__slots__ must be a non-empty tuple")
        init = tuple(name for name in names if name not in no_init)
        compared = tuple(name for name in names if name not in no_compare)
        defaults = _defaults(cls.__init__, init)
        fields: dict[str, dataclasses.Field[Any]] = {}
        for name in names:
            spec: dataclasses.Field[Any] = dataclasses.field(
                default=defaults.get(name, _MISSING),
                init=name in init,
                repr=name not in no_repr,
                compare=name in compared,
                hash=False if name in no_hash else None,
            )
            spec.name = name
            spec.type = cls.__annotations__.get(name, Any)
            spec._field_type = _FIELD  # type: ignore[attr-defined]
            fields[name] = spec
        cls.__dataclass_fields__ = fields
        cls.__match_args__ = init  # type: ignore[misc]  # set once, here
        # staticmethod: a getter that is a Python function must not bind to the instance.
        hashed = tuple(name for name in compared if name not in no_hash)
        for attribute, getter in (
            ("_value_all", _tuple_getter(names)),
            ("_value_key", _tuple_getter(compared)),
            ("_value_hash", _tuple_getter(hashed)),
        ):
            setattr(cls, attribute, staticmethod(getter))
        cls._value_repr = tuple(name for name in names if name not in no_repr)
        return cls

    return finish


def _defaults(init: Callable[..., None], names: tuple[str, ...]) -> dict[str, Any]:
    """The default of each parameter of ``init`` among ``names`` that has one."""
    code = getattr(init, "__code__", None)
    if code is None:  # pragma: no cover - every value class writes its __init__
        return {}
    positional = code.co_varnames[1 : code.co_argcount]  # without self
    values = init.__defaults__ or ()
    found = dict(zip(positional[len(positional) - len(values) :], values, strict=True))
    found.update(init.__kwdefaults__ or {})
    return {name: found[name] for name in names if name in found}
