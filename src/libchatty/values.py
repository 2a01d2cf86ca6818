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
when there is one). That ``__init__`` is compiled when the class has been constructed
:data:`COMPILE_AFTER` times, not at import: compiling costs ~10 us a field (more the
first time in a process: 2.5 M instructions for ``Done``, ``Usage`` and
``RequestSpec``), which a program that builds a value a few times -- a CLI run's one
answer -- never pays; until then a generic ``__init__`` binds the arguments (~0.2 us a
field more). The compiled one is the code a hand-written ``__init__`` would be (one
``object.__setattr__`` per field, as a frozen dataclass), so hot-path construction
(``Delta``) costs what it always did.
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

Finishing a class does no more than it must (issue 14: 19 value classes on ``import
libchatty.bindings.blocking``): one pass over the declarations keeps each field as a
plain tuple, and the slotted class is built once with everything in its namespace.
The ``Field`` objects are made the first time ``__dataclass_fields__`` is read (by
``dataclasses`` -- most programs never ask), from those tuples, and then kept on the
class. A ``field()`` declaration may set ``default``, ``init``, ``repr``, ``compare``
and ``hash``; anything else it could say (``metadata``, ``kw_only``...) is refused.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from itertools import repeat
from operator import attrgetter
from typing import TYPE_CHECKING, Any, ClassVar, Final, TypeVar, cast

if TYPE_CHECKING:
    from typing import TypeAlias

__all__ = ["COMPILE_AFTER", "Value", "frozen", "replaced", "set_fields", "value"]

_T = TypeVar("_T", bound="Value")

# dataclasses.fields() and asdict() keep only Fields marked as plain fields; the marker
# is private, stable since Python 3.7 (tests/test_values.py checks fields(), asdict(),
# replace() and is_dataclass() on every value class, so a change would be caught).
_FIELD: Final[Any] = dataclasses._FIELD  # type: ignore[attr-defined]
_MISSING: Final[Any] = dataclasses.MISSING
_setattr: Final = object.__setattr__


def _getter(names: tuple[str, ...]) -> Any:
    """A class attribute that, called as ``self._value_key(self)``, gives the fields
    ``names`` as a tuple: a C ``attrgetter`` (which does not bind to the instance), or a
    static method where ``attrgetter`` would not give a tuple (one name or none).
    (Never ``staticmethod(attrgetter(...))``: wrapping a C callable costs a failed
    lookup of each of its missing ``__name__``, ``__doc__``... ~13k instructions.)"""
    if len(names) > 1:
        return attrgetter(*names)
    if names:
        one = attrgetter(names[0])
        return staticmethod(lambda obj: (one(obj),))
    return staticmethod(lambda obj: ())


if TYPE_CHECKING:
    # A field as frozen and value keep it: (name, default or MISSING, init, repr,
    # compare, hash); a hash of None means "as compare", as in dataclasses.field.
    _Spec: TypeAlias = tuple[str, Any, bool, bool, bool, bool | None]


class _DataclassFields:
    """``__dataclass_fields__`` of a value class: its :class:`dataclasses.Field` objects,
    made on first access and put on the class, which holds them from then on."""

    def __get__(self, obj: object, owner: type[Value]) -> dict[str, dataclasses.Field[Any]]:
        try:
            specs = owner._value_specs
        except AttributeError:  # Value itself: not a dataclass
            raise AttributeError("__dataclass_fields__") from None
        annotations = getattr(owner, "__annotations__", {})
        made = {}
        for name, default, init, repr_, compare, hash_ in specs:
            spec: dataclasses.Field[Any] = dataclasses.field(
                default=default, init=init, repr=repr_, compare=compare, hash=hash_
            )
            spec.name = name
            spec.type = annotations.get(name, Any)
            spec._field_type = _FIELD  # type: ignore[attr-defined]
            made[name] = spec
        setattr(owner, "__dataclass_fields__", made)  # noqa: B010 - a ClassVar to mypy
        return made


class _Signature:
    """``__signature__`` of the value classes: None, so ``inspect.signature`` reads the
    ``__init__``. Asked of a frozen class whose ``__init__`` is still the stub, it first
    compiles the real one (:func:`_compile_init`), whose parameters are the answer, not
    the stub's ``(*args, **kwargs)``: looking costs what building often would."""

    def __get__(self, obj: object, owner: type[Value]) -> None:
        if obj is None and owner.__dict__.get("__init__") is _init_until_compiled:
            _compile_init(owner)


class Value:
    """Base of the frozen slotted values: see the module docstring."""

    # A value class's __slots__ are its fields, in order (set by frozen, or written out).
    __slots__: ClassVar[tuple[str, ...]] = ()

    __match_args__: ClassVar[tuple[str, ...]]
    # One (name, default, init, repr, compare, hash) tuple per field, in order: what the
    # compiled __init__ and the dataclass metadata are made from.
    _value_specs: ClassVar[tuple[_Spec, ...]]
    if TYPE_CHECKING:
        __dataclass_fields__: ClassVar[dict[str, dataclasses.Field[Any]]]
    else:
        __dataclass_fields__ = _DataclassFields()
        __signature__ = _Signature()
    # Getters taking the instance (not bound to it: called as self._value_key(self)).
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
    namespace = dict(cls.__dict__)
    namespace.pop("__dict__", None)
    namespace.pop("__weakref__", None)
    specs = []
    defaulted = False  # whether an earlier __init__ parameter has a default
    for name, annotation in cls.__annotations__.items():
        if str(annotation).startswith(("ClassVar", "typing.ClassVar")):
            continue
        # The class is built again with slots, as @dataclass(slots=True) does: the
        # defaults leave the class body (a slot and a class attribute cannot share a name).
        declared = namespace.pop(name, _MISSING)
        spec = _spec(name, declared)
        refused = _refused(declared, spec, defaulted)
        if refused:
            raise TypeError(f"{cls.__name__}.{name}: {refused}")
        defaulted = defaulted or (spec[2] and spec[1] is not _MISSING)
        specs.append(spec)
    namespace["__slots__"] = tuple(spec[0] for spec in specs)
    namespace.update(_metadata(tuple(specs)))
    namespace.setdefault("__init__", _init_until_compiled)
    namespace["__qualname__"] = cls.__qualname__
    return cast("type[_T]", type(cls.__name__, cls.__bases__, namespace))


if TYPE_CHECKING:  # see the module docstring
    from dataclasses import dataclass as frozen
else:
    frozen = _frozen


def _spec(name: str, declared: Any) -> _Spec:
    """The field ``name`` as the class body declares it: a default, ``field(...)`` or
    nothing (``MISSING``)."""
    if isinstance(declared, dataclasses.Field):
        field_ = declared
        return (name, field_.default, field_.init, field_.repr, field_.compare, field_.hash)
    return (name, declared, True, True, True, None)


def _refused(declared: Any, spec: _Spec, defaulted: bool) -> str:
    """Why the field cannot be declared (``""``: it can): what ``@dataclass`` refuses,
    a ``default_factory``, which the compiled ``__init__`` does not call, and what else a
    ``field()`` can say that a value class does not keep."""
    if isinstance(declared, dataclasses.Field):
        if declared.default_factory is not _MISSING:
            return "a value field takes a default, not a default_factory"
        if declared.kw_only is not _MISSING or declared.metadata:
            return "a value field takes no kw_only or metadata"
    _, default, init, *_ = spec
    has_default = default is not _MISSING
    if has_default and type(default).__hash__ is None:
        return f"mutable default {type(default).__name__}"
    if not init and not has_default:
        return "a field left out of __init__ needs a default"
    if init and not has_default and defaulted:
        return "a field without a default follows one with a default"
    return ""


#: Constructions of a frozen class before its ``__init__`` is compiled: about where
#: binding the arguments here has cost what compiling does. Every answer builds a
#: ``Done``, a ``Usage`` and a ``RequestSpec``: 57k instructions more through this stub
#: than compiled, and 2.5 M to compile the three (the first compiling of a process).
COMPILE_AFTER: Final = 40

# How many times each frozen class not yet compiled has been constructed.
_constructions: dict[type[Value], int] = {}


def _init_until_compiled(self: Value, *args: Any, **kwargs: Any) -> None:
    """A frozen class's ``__init__`` until it has been constructed :data:`COMPILE_AFTER`
    times: sets the fields from the arguments itself, then compiles the real one
    (:func:`_compiled_init`) and puts it on the class, which calls it from then on (two
    threads that race here compile it twice, harmlessly). Arguments the real one would
    refuse go to it at once, so the ``TypeError`` is its own."""
    cls = type(self)
    built = _constructions.get(cls, 0)
    if built < COMPILE_AFTER:
        values = _bound(cls._value_specs, args, kwargs)
        if values is not None:
            _constructions[cls] = built + 1
            set_fields(self, *values)
            post_init = getattr(self, "__post_init__", None)
            if post_init is not None:
                post_init()
            return
    _compile_init(cls)(self, *args, **kwargs)


def _compile_init(cls: type[Value]) -> Callable[..., None]:
    """Put the compiled ``__init__`` on ``cls`` in place of the stub; return it."""
    _constructions.pop(cls, None)
    init = _compiled_init(cls)
    setattr(cls, "__init__", init)  # noqa: B010 - mypy refuses assigning to a method
    return init


def _bound(
    specs: tuple[_Spec, ...], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> list[Any] | None:
    """The value of each field for a call with these arguments, as the compiled
    ``__init__`` would set them; None when it would raise ``TypeError`` instead (an
    argument too many, unknown, given twice or missing)."""
    values = []
    taken = 0  # positional arguments
    named = 0  # keyword arguments
    for name, default, init, _, _, _ in specs:  # (no starred unpacking: a list a field)
        if not init:
            values.append(default)
        elif taken < len(args):
            if name in kwargs:
                return None
            values.append(args[taken])
            taken += 1
        elif name in kwargs:
            values.append(kwargs[name])
            named += 1
        elif default is not _MISSING:
            values.append(default)
        else:
            return None
    if taken < len(args) or named < len(kwargs):
        return None
    return values


def _compiled_init(cls: type[Value]) -> Callable[..., None]:
    """The ``__init__`` ``@dataclass`` writes for the fields of ``cls``."""
    scope: dict[str, Any] = {"_set": _setattr}
    parameters = ["self"]
    body = []
    for name, default, init, *_ in cls._value_specs:
        default_name = f"_default_{name}"
        if default is not _MISSING:
            scope[default_name] = default
        if not init:  # such a field has a default (_refused checks)
            body.append(f"_set(self, {name!r}, {default_name})")
            continue
        parameters.append(name if default is _MISSING else f"{name}={default_name}")
        body.append(f"_set(self, {name!r}, {name})")
    if hasattr(cls, "__post_init__"):
        body.append("self.__post_init__()")
    exec(f"def __init__({', '.join(parameters)}):\n    " + "\n    ".join(body), scope)
    compiled: Callable[..., None] = scope["__init__"]
    compiled.__qualname__ = f"{cls.__qualname__}.__init__"
    return compiled


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
        specs = tuple(
            (
                name,
                defaults.get(name, _MISSING),
                name not in no_init,
                name not in no_repr,
                name not in no_compare,
                False if name in no_hash else None,
            )
            for name in names
        )
        for attribute, item in _metadata(specs).items():
            setattr(cls, attribute, item)
        return cls

    return finish


def _metadata(specs: tuple[_Spec, ...]) -> dict[str, Any]:
    """The class attributes that make a class with these fields a value class: the
    fields themselves, ``__match_args__`` and the getters :class:`Value` reads."""
    names = []
    taken = []  # by __init__
    compared = []
    hashed = []
    shown = []  # by repr
    for name, _, init, repr_, compare, hash_ in specs:
        names.append(name)
        if init:
            taken.append(name)
        if compare:
            compared.append(name)
        if compare if hash_ is None else hash_:  # None: as compare, as in dataclasses
            hashed.append(name)
        if repr_:
            shown.append(name)
    return {
        "_value_specs": specs,
        "__match_args__": tuple(taken),
        "_value_all": _getter(tuple(names)),
        "_value_key": _getter(tuple(compared)),
        "_value_hash": _getter(tuple(hashed)),
        "_value_repr": tuple(shown),
    }


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
