"""Frozen, slotted value classes without the dataclass machinery at import time.

``@dataclass(frozen=True, slots=True)`` compiles ``__init__``, ``__repr__``, ``__eq__``,
``__hash__``, ``__setattr__`` and ``__delattr__`` with ``exec`` when the module is
imported, and builds the class twice (slots): 0.4-1.0 ms per class, about 12 ms for the
classes on ``import libchatty`` -- the largest item of a CLI run's start-up (issue 14).

:class:`Value` gives the same behaviour from methods written once. A value class is
declared as a dataclass is, and finished by :func:`frozen`::

    @frozen
    class Delta(Value):
        text: str
        kind: str = "text"
        cache: str | None = field(default=None, init=False, compare=False)

Its fields become its ``__slots__``, and it gets the ``__init__`` ``@dataclass`` would
write (defaults, ``init=False`` fields set to their default, then ``__post_init__``
when there is one). That ``__init__`` is compiled when the class is first constructed,
not at import: ~10 us a field, paid only by the classes a program builds; after that it
is the code a hand-written ``__init__`` would be (one ``object.__setattr__`` per field,
as a frozen dataclass), so hot-path construction (``Delta``) costs what it always did.
To a type checker ``frozen`` *is* ``dataclasses.dataclass``, so it checks constructor
calls against the fields (``typing.dataclass_transform`` would say the same, but it is
not in Python 3.10's ``typing``); it does not learn that the class is frozen:
:class:`Value` refuses assignment at run time.

A class whose constructor takes other types than its fields hold (``Message`` takes a
list of parts and keeps a tuple) writes ``__slots__`` (its fields, in order) and
``__init__`` itself, sets the fields with :func:`set_fields`, and is finished by
:func:`value`, whose options name the fields it leaves out of ``__init__``, ``==``,
``hash`` or ``repr``.

Either way the class gets what ``@dataclass`` would have given:

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

``==`` and ``hash`` use one C ``attrgetter`` call per side.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from itertools import repeat
from operator import attrgetter
from typing import TYPE_CHECKING, Any, ClassVar, Final, TypeVar, cast

__all__ = ["Value", "frozen", "replaced", "set_fields", "value"]

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

    # A value class's __slots__ are its fields, in order (set by frozen, or written out).
    __slots__: ClassVar[tuple[str, ...]] = ()

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
        set_fields(self, *state)


def set_fields(obj: Value, *values: Any) -> None:
    """Set the fields of ``obj`` -- its ``__slots__`` -- to ``values``, in order."""
    names = obj.__slots__
    if len(values) != len(names):
        raise ValueError(
            f"{len(values)} values for the {len(names)} fields of {type(obj).__name__}"
        )
    # One C-level map, not a Python step per field: this is every request and message.
    for _ in map(_setattr, repeat(obj, len(names)), names, values):
        pass


def replaced(obj: _T, **changes: Any) -> _T:
    """``obj`` with the fields named in ``changes`` set to their values: what
    ``dataclasses.replace`` gives for fields ``__init__`` takes, without its checks and
    its call of ``__init__`` (every answer's ``Done`` is made this way). A name that is
    not a field raises ``TypeError``."""
    names = obj.__slots__
    values = list(obj._value_all(obj))
    for name, item in changes.items():
        try:
            values[names.index(name)] = item
        except ValueError:
            raise TypeError(f"{type(obj).__name__} has no field {name!r}") from None
    new = object.__new__(type(obj))
    set_fields(new, *values)
    return new


def _frozen(cls: type[_T]) -> type[_T]:
    """What :func:`frozen` does at run time (see the module docstring)."""
    fields = _declared_fields(cls)
    names = {spec.name for spec in fields}
    # The class is built again with slots, as @dataclass(slots=True) does: the defaults
    # leave the class body (a slot and a class attribute cannot share a name).
    namespace = {
        key: item
        for key, item in cls.__dict__.items()
        if key not in names and key not in ("__dict__", "__weakref__")
    }
    namespace["__slots__"] = tuple(spec.name for spec in fields)
    namespace.setdefault("__init__", _init_on_first_use)
    slotted = cast("type[_T]", type(cls.__name__, cls.__bases__, namespace))
    slotted.__qualname__ = cls.__qualname__
    return _finish(slotted, fields)


if TYPE_CHECKING:  # see the module docstring
    from dataclasses import dataclass as frozen
else:
    frozen = _frozen


def _declared_fields(cls: type[Value]) -> list[dataclasses.Field[Any]]:
    """The fields the class body declares, in order, each a ``dataclasses.Field``."""
    fields: list[dataclasses.Field[Any]] = []
    defaulted = False  # whether an earlier __init__ parameter has a default
    for name, annotation in cls.__annotations__.items():
        if str(annotation).startswith(("ClassVar", "typing.ClassVar")):
            continue
        declared = cls.__dict__.get(name, _MISSING)
        spec: dataclasses.Field[Any] = (
            declared
            if isinstance(declared, dataclasses.Field)
            else dataclasses.field(default=declared)
        )
        spec.name = name
        refused = _refused(spec, defaulted)
        if refused:
            raise TypeError(f"{cls.__name__}.{name}: {refused}")
        defaulted = defaulted or (spec.init and spec.default is not _MISSING)
        fields.append(spec)
    return fields


def _refused(spec: dataclasses.Field[Any], defaulted: bool) -> str:
    """Why the field cannot be declared (``""``: it can): what ``@dataclass`` refuses,
    and a ``default_factory``, which the compiled ``__init__`` does not call."""
    has_default = spec.default is not _MISSING
    if spec.default_factory is not _MISSING:
        return "a value field takes a default, not a default_factory"
    if has_default and type(spec.default).__hash__ is None:
        return f"mutable default {type(spec.default).__name__}"
    if not spec.init and not has_default:
        return "a field left out of __init__ needs a default"
    if spec.init and not has_default and defaulted:
        return "a field without a default follows one with a default"
    return ""


def _init_on_first_use(self: Value, *args: Any, **kwargs: Any) -> None:
    """A frozen class's ``__init__`` until it is first constructed: compiles the real one
    (:func:`_compiled_init`) and puts it on the class, which calls it from then on (two
    threads that race here compile it twice, harmlessly)."""
    cls = type(self)
    init = _compiled_init(cls)
    setattr(cls, "__init__", init)  # noqa: B010 - mypy refuses assigning to a method
    init(self, *args, **kwargs)


def _compiled_init(cls: type[Value]) -> Callable[..., None]:
    """The ``__init__`` ``@dataclass`` writes for the fields of ``cls``."""
    scope: dict[str, Any] = {"_set": _setattr}
    parameters = ["self"]
    body = []
    for spec in cls.__dataclass_fields__.values():
        name = spec.name
        default = f"_default_{name}"
        if spec.default is not _MISSING:
            scope[default] = spec.default
        if not spec.init:  # such a field has a default (_declared_fields checks)
            body.append(f"_set(self, {name!r}, {default})")
            continue
        parameters.append(name if spec.default is _MISSING else f"{name}={default}")
        body.append(f"_set(self, {name!r}, {name})")
    if hasattr(cls, "__post_init__"):
        body.append("self.__post_init__()")
    exec(f"def __init__({', '.join(parameters)}):\n    " + "\n    ".join(body), scope)
    init: Callable[..., None] = scope["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    return init


def value(
    *,
    no_init: tuple[str, ...] = (),
    no_compare: tuple[str, ...] = (),
    no_hash: tuple[str, ...] = (),
    no_repr: tuple[str, ...] = (),
) -> Callable[[type[_T]], type[_T]]:
    """Finish a :class:`Value` subclass that writes its own ``__slots__`` (its fields, in
    order) and ``__init__``.

    ``no_init``: fields its ``__init__`` does not take (set from others); ``no_compare``:
    left out of ``==`` and ``hash``; ``no_hash``: left out of ``hash`` only; ``no_repr``:
    left out of ``repr``. Defaults for ``dataclasses.fields`` are read from the
    ``__init__`` signature.
    """

    def finish(cls: type[_T]) -> type[_T]:
        names = cls.__slots__
        if not isinstance(names, tuple) or not names:  # pragma: no cover - a coding error
            raise TypeError(f"{cls.__name__}.__slots__ must be a non-empty tuple")
        defaults = _defaults(cls.__init__, names)
        fields = []
        for name in names:
            spec: dataclasses.Field[Any] = dataclasses.field(
                default=defaults.get(name, _MISSING),
                init=name not in no_init,
                repr=name not in no_repr,
                compare=name not in no_compare,
                hash=False if name in no_hash else None,
            )
            spec.name = name
            fields.append(spec)
        return _finish(cls, fields)

    return finish


def _finish(cls: type[_T], fields: list[dataclasses.Field[Any]]) -> type[_T]:
    """Give ``cls`` the dataclass metadata and the getters :class:`Value` reads."""
    for spec in fields:
        spec.type = cls.__annotations__.get(spec.name, Any)
        spec._field_type = _FIELD  # type: ignore[attr-defined]
    cls.__dataclass_fields__ = {spec.name: spec for spec in fields}
    cls.__match_args__ = tuple(spec.name for spec in fields if spec.init)  # type: ignore[misc]
    names = tuple(spec.name for spec in fields)
    compared = tuple(spec.name for spec in fields if spec.compare)
    # A field's hash=None means "as compare", as in dataclasses.field.
    hashed = tuple(
        spec.name for spec in fields if (spec.compare if spec.hash is None else spec.hash)
    )
    # staticmethod: a getter that is a Python function must not bind to the instance.
    for attribute, chosen in (
        ("_value_all", names),
        ("_value_key", compared),
        ("_value_hash", hashed),
    ):
        setattr(cls, attribute, staticmethod(_tuple_getter(chosen)))
    cls._value_repr = tuple(spec.name for spec in fields if spec.repr)
    return cls


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
