"""values.Value: every value class behaves as the frozen slotted dataclass it replaces.

The oracle is a real ``@dataclass(frozen=True, slots=True)`` twin made from the same
field list (names, defaults, compare/hash/repr flags): repr, ==, hash, fields, asdict,
replace, pickling, copying, immutability and the constructor's parameters must agree
exactly on the same values.
"""

from __future__ import annotations

import copy
import dataclasses
import inspect
import pickle
from dataclasses import field
from typing import Any, ClassVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from libchatty import values
from libchatty.callhead import HTTPRequest
from libchatty.content import AudioPart, DocumentPart, ImagePart, TextPart
from libchatty.dialects.base import RequestSpec
from libchatty.events import Citation, Delta, Done, Error, ToolCall, Usage
from libchatty.options import JSONSchema, Reasoning
from libchatty.partial_objects import PartialFailure, PartialObject
from libchatty.request import ChatRequest, Message, Tool
from libchatty.sse import ServerSentEvent
from libchatty.values import (
    COMPILE_AFTER,
    Value,
    _bound,
    _compiled_init,
    frozen,
    replaced,
    set_fields,
    value,
)

# One value of each class with every field set to something other than its default.
SAMPLES: list[Value] = [
    Delta("hé", "tool_call", 2, "call_1", "get_weather"),
    ToolCall("call_1", "get_weather", '{"city": "Paris"}', "sig"),
    Usage(10, 20, 30, 5, 2),
    Citation(0, 5, "Paris", ({"type": "document", "id": "d1"},), "TEXT_CONTENT"),
    Done(
        "stop",
        "Paris",
        "thinking",
        (ToolCall("c", "f", "{}"),),
        Usage(1, 2, 3),
        "end_turn",
        "no",
        ("a", "b"),
        "rsig",
        "resp_1",
        "gpt-4o",
        (Citation(0, 1, "P"),),
    ),
    Error("rate_limit", "slow down", 429, 1.5, True, "par", "rate", "Wed", "req_1", (("a", "b"),)),
    ServerSentEvent("delta", "{}", "7", 3000),
    Reasoning("high", 2048, True),
    JSONSchema("answer", {"type": "object"}, False, "d", dict),
    TextPart("hi"),
    ChatRequest(
        "gpt-4o",
        (Message("user", "hi"),),
        False,
        0.5,
        0.9,
        100,
        ("END",),
        (Tool("f"),),
        "f",
        {"user": "u1"},
        "json",
        Reasoning("low"),
        7,
        2,
        {"X-Trace": "t1"},
    ),
    PartialObject({"a": [1]}, "tool_call", 1, "call_1", "f", True),
    PartialFailure("answer", 0, "invalid JSON at offset 3"),
]
# Parts with checks and a derived field: their own repr, and replace() re-runs the checks.
PARTS: list[Value] = [
    ImagePart(url="https://example.com/a.png", media_type="image/png", detail="low"),
    DocumentPart(b"%PDF-1.4", name="a.pdf"),
    AudioPart(b"RIFF", "audio/wav"),
]
# Values that accept any field value (no checks), so any field can be replaced.
UNCHECKED = [sample for sample in SAMPLES if not hasattr(sample, "__post_init__")]


def twin(cls: type[Value]) -> Any:
    """The frozen slotted dataclass with the same fields as ``cls``."""
    specs = []
    for f in dataclasses.fields(cls):
        kwargs: dict[str, Any] = {"repr": f.repr, "compare": f.compare, "hash": f.hash}
        if f.default is not dataclasses.MISSING:
            kwargs["default"] = f.default
        specs.append((f.name, Any, dataclasses.field(**kwargs)))
    return dataclasses.make_dataclass(cls.__name__, specs, frozen=True, slots=True)


def hash_or_error(obj: object) -> int | str:
    """The hash, or the error a field that cannot be hashed gives (as a dataclass does)."""
    try:
        return hash(obj)
    except TypeError as exc:
        return str(exc)


def values_of(obj: Value) -> list[Any]:
    return [getattr(obj, f.name) for f in dataclasses.fields(obj)]


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: type(s).__name__)
def test_behaves_as_the_dataclass_twin(sample: Value) -> None:
    cls = type(sample)
    other_cls = twin(cls)
    other = other_cls(*values_of(sample))
    assert repr(sample) == repr(other)
    assert hash_or_error(sample) == hash_or_error(other)
    assert dataclasses.asdict(sample) == dataclasses.asdict(other)
    assert dataclasses.is_dataclass(sample)
    assert cls.__match_args__ == other_cls.__match_args__
    names = [f.name for f in dataclasses.fields(other)]
    assert [f.name for f in dataclasses.fields(sample)] == names
    assert list(cls.__slots__) == names
    # Defaults: the same object built from the positional fields with defaults left out.
    required = [f.name for f in dataclasses.fields(other) if f.default is dataclasses.MISSING]
    bare = cls(*values_of(sample)[: len(required)])
    bare_twin = other_cls(*values_of(sample)[: len(required)])
    assert repr(bare) == repr(bare_twin)
    assert parameters(cls) == parameters(other_cls)


def parameters(cls: type) -> list[tuple[str, Any, Any]]:
    """The constructor's parameters: name, kind and default, in order."""
    return [(p.name, p.kind, p.default) for p in inspect.signature(cls).parameters.values()]


@pytest.mark.parametrize("sample", UNCHECKED, ids=lambda s: type(s).__name__)
def test_equality_follows_the_compared_fields(sample: Value) -> None:
    cls = type(sample)
    same = cls(*values_of(sample))
    assert same == sample
    assert not same.__ne__(sample)
    assert sample != twin(cls)(*values_of(sample))  # another class: never equal
    for f in dataclasses.fields(sample):
        changed = dataclasses.replace(sample, **{f.name: "CHANGED"})
        assert getattr(changed, f.name) == "CHANGED"
        assert (changed == sample) is (not f.compare), f.name
        if not f.compare:
            assert hash_or_error(changed) == hash_or_error(sample), f.name


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: type(s).__name__)
def test_frozen_pickle_and_copy(sample: Value) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        sample.text = "x"
    with pytest.raises(dataclasses.FrozenInstanceError):
        del sample.__slots__
    first = dataclasses.fields(sample)[0].name
    with pytest.raises(dataclasses.FrozenInstanceError, match=f"'{first}'"):
        setattr(sample, first, None)
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        back = pickle.loads(pickle.dumps(sample, protocol))
        assert values_of(back) == values_of(sample)
        assert type(back) is type(sample)
    assert values_of(copy.copy(sample)) == values_of(sample)
    assert values_of(copy.deepcopy(sample)) == values_of(sample)
    assert not hasattr(sample, "__dict__")


def test_error_keeps_metadata_out_of_eq_and_repr() -> None:
    a = Error("auth", "m", request_id="r1", headers=(("x", "1"),))
    b = Error("auth", "m", request_id="r2")
    assert a == b and hash(a) == hash(b)
    assert repr(a) == (
        "Error(kind='auth', message='m', status=None, retry_after=None, retryable=False, "
        "partial='', provider_type=None, retry_after_date=None, request_id='r1')"
    )


def test_citation_sources_are_compared_but_not_hashed() -> None:
    a = Citation(0, 1, "t", ({"id": 1},))
    assert hash(a) == hash(Citation(0, 1, "t", ({"id": 2},)))
    assert a != Citation(0, 1, "t", ({"id": 2},))


def test_request_spec_repr_hides_header_values_and_body() -> None:
    spec = RequestSpec("POST", "/v1", (("Authorization", "Bearer sk-secret"),), b"{}")
    assert repr(spec) == (
        "RequestSpec(method='POST', target='/v1', headers=[Authorization], body=<2 bytes>)"
    )
    assert dataclasses.replace(spec, target="/v2").target == "/v2"


def test_replace_refuses_a_field_not_taken_by_init() -> None:
    @value(no_init=("size",))
    class Sized(Value):
        __slots__ = ("text", "size")  # noqa: RUF023 - the fields, in order
        text: str
        size: int

        def __init__(self, text: str) -> None:
            object.__setattr__(self, "text", text)
            object.__setattr__(self, "size", len(text))

    item = Sized("abc")
    assert dataclasses.replace(item, text="abcd").size == 4
    with pytest.raises(ValueError, match="init=False"):
        dataclasses.replace(item, size=1)
    assert Sized.__match_args__ == ("text",)
    assert repr(item).endswith(".<locals>.Sized(text='abc', size=3)")  # __qualname__, as dataclass


def test_one_field_value() -> None:
    @value()
    class One(Value):
        __slots__ = ("x",)
        x: int

        def __init__(self, x: int = 7) -> None:
            object.__setattr__(self, "x", x)

    assert One() == One(7) != One(8)
    assert hash(One()) == hash((7,))
    assert dataclasses.fields(One)[0].default == 7


def test_match_statement() -> None:
    match Delta("x", "reasoning"):
        case Delta(text, "reasoning"):
            got = text
        case _:
            got = ""
    assert got == "x"


@pytest.mark.parametrize("part", PARTS, ids=lambda s: type(s).__name__)
def test_parts_keep_their_derived_field_out_of_init_and_eq(part: Value) -> None:
    fields = {f.name: f for f in dataclasses.fields(part)}
    assert not fields["base64"].init and not fields["base64"].compare
    again = dataclasses.replace(part)
    assert again == part and hash(again) == hash(part)
    assert again.base64 == part.base64  # type: ignore[attr-defined]
    assert pickle.loads(pickle.dumps(part)) == part
    with pytest.raises(ValueError, match="init=False"):
        dataclasses.replace(part, base64="x")
    with pytest.raises(ValueError, match="media_type"):
        dataclasses.replace(part, media_type="no-slash")


def test_checks_run_on_construction() -> None:
    with pytest.raises(ValueError, match=r"TextPart\.text"):
        TextPart(3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="budget_tokens"):
        Reasoning(budget_tokens=1023)
    assert Reasoning(budget_tokens=1024).budget_tokens == 1024
    with pytest.raises(ValueError, match=r"JSONSchema\.name"):
        dataclasses.replace(JSONSchema("a", {}), name="a b")


def test_tool_is_a_frozen_value_with_a_fresh_default_schema() -> None:
    tool = Tool("get_weather", "the weather", {"type": "object", "required": ["city"]})
    assert [f.name for f in dataclasses.fields(Tool)] == ["name", "description", "parameters"]
    assert Tool.__match_args__ == ("name", "description", "parameters")
    assert repr(tool) == (
        "Tool(name='get_weather', description='the weather', "
        "parameters={'type': 'object', 'required': ['city']})"
    )
    assert tool == Tool("get_weather", "the weather", {"type": "object", "required": ["city"]})
    assert tool != Tool("get_weather", "the weather")
    with pytest.raises(TypeError, match="unhashable type: 'dict'"):
        hash(tool)  # a dict field, as the dataclass it replaces
    with pytest.raises(dataclasses.FrozenInstanceError):
        tool.name = "x"
    assert pickle.loads(pickle.dumps(tool)) == tool
    assert dataclasses.replace(tool, name="f").parameters is tool.parameters
    bare, other = Tool("f"), Tool("f", parameters=None)
    assert bare.parameters == other.parameters == {"type": "object", "properties": {}}
    assert bare.parameters is not other.parameters  # never one dict shared by all tools


def test_message_is_a_frozen_value_whose_replace_runs_the_checks() -> None:
    message = Message("user", ["hi", TextPart("there")], name="ann")
    assert [f.name for f in dataclasses.fields(Message)] == [
        "role",
        "content",
        "tool_calls",
        "tool_call_id",
        "name",
        "reasoning",
        "reasoning_signature",
    ]
    assert message.content == (TextPart("hi"), TextPart("there"))
    assert message == Message("user", (TextPart("hi"), TextPart("there")), name="ann")
    assert hash(message) == hash(Message("user", ["hi", "there"], name="ann"))
    assert repr(Message("tool", "4", tool_call_id="c1")) == (
        "Message(role='tool', content='4', tool_calls=(), tool_call_id='c1', name=None, "
        "reasoning=None, reasoning_signature=None)"
    )
    assert pickle.loads(pickle.dumps(message)) == message
    with pytest.raises(dataclasses.FrozenInstanceError):
        message.role = "system"
    with pytest.raises(ValueError, match=r"Message\.role must be one of"):
        dataclasses.replace(message, role="robot")
    with pytest.raises(ValueError, match="tool_call_id is required"):
        dataclasses.replace(message, role="tool")


def test_http_request_repr_hides_credentials() -> None:
    request = HTTPRequest(
        "POST", "https://h.example/v1?key=sk-secret", [("x-api-key", "sk-secret")], b"{}"
    )
    assert repr(request) == (
        "HTTPRequest(method='POST', url='https://h.example/v1?...', headers=[x-api-key], "
        "body=<2 bytes>)"
    )
    assert [f.name for f in dataclasses.fields(HTTPRequest)] == ["method", "url", "headers", "body"]
    assert [f.repr for f in dataclasses.fields(HTTPRequest)] == [True, True, False, False]
    assert request == HTTPRequest(
        "POST", "https://h.example/v1?key=sk-secret", [("x-api-key", "sk-secret")], b"{}"
    )
    assert dataclasses.replace(request, method="GET").method == "GET"
    with pytest.raises(dataclasses.FrozenInstanceError):
        request.url = "x"


def test_frozen_compiles_the_dataclass_init_after_binding_its_arguments_itself() -> None:
    @frozen
    class Point(Value):
        label: ClassVar[str] = "point"  # a class variable, not a field
        x: int
        y: int = 0
        norm: int = field(default=-1, init=False, compare=False)

        def __post_init__(self) -> None:
            object.__setattr__(self, "norm", abs(self.x) + abs(self.y))

    @frozen
    class Other(Value):
        name: str

    assert Point.__slots__ == ("x", "y", "norm") and Point.label == "point"
    # Nothing is compiled for a class until it has been built COMPILE_AFTER times: every
    # one shares the stub, which binds the arguments as the compiled __init__ does.
    stub = vars(Other)["__init__"]
    built = []
    for compiled in (False, True):
        assert (vars(Point)["__init__"] is stub) is not compiled
        made = [Point(3, -4), Point(1), Point(1, 0), Point(1, 1), Point(y=2, x=1), Point(1, y=2)]
        assert made[0].norm == 7 and made[1] == made[2] != made[3] and made[4] == made[5]
        built.append([(p.x, p.y, p.norm) for p in made])
        while vars(Point)["__init__"] is stub:
            Point(0)
    assert built[0] == built[1]
    assert Point.__init__.__qualname__.endswith("<locals>.Point.__init__")
    assert vars(Other)["__init__"] is stub
    plain = inspect.Parameter.POSITIONAL_OR_KEYWORD
    assert parameters(Point) == [("x", plain, inspect.Parameter.empty), ("y", plain, 0)]
    with pytest.raises(TypeError, match="missing 1 required positional argument: 'x'"):
        Point()  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="init=False"):
        dataclasses.replace(Point(1), norm=0)


def test_asking_for_the_signature_compiles_the_init() -> None:
    @frozen
    class K(Value):
        a: int
        b: str = "b"

    assert K.__init__.__name__ == "_init_until_compiled"
    plain = inspect.Parameter.POSITIONAL_OR_KEYWORD
    assert parameters(K) == [("a", plain, inspect.Parameter.empty), ("b", plain, "b")]
    assert K.__init__.__name__ == "__init__" and K.__signature__ is None  # type: ignore[attr-defined]
    assert K(1) == K(a=1, b="b") and inspect.signature(K(1).__eq__) is not None


def test_the_stub_compiles_after_so_many_constructions() -> None:
    @frozen
    class One(Value):
        x: int

    for _ in range(COMPILE_AFTER):
        assert One(1).x == 1 and One.__init__.__name__ == "_init_until_compiled"
    assert One(2).x == 2 and One.__init__.__name__ == "__init__"


@pytest.mark.parametrize(
    ("args", "kwargs", "error"),
    [
        ((), {}, "missing 1 required positional argument: 'x'"),
        ((1,), {"norm": 2}, "unexpected keyword argument 'norm'"),
        ((1,), {"x": 2}, "got multiple values for argument 'x'"),
        ((1, 2, 3), {}, "takes from 2 to 3 positional arguments but 4 were given"),
        ((1,), {"z": 2}, "unexpected keyword argument 'z'"),
    ],
)
def test_what_the_stub_refuses_the_compiled_init_refuses(
    args: tuple[Any, ...], kwargs: dict[str, Any], error: str
) -> None:
    @frozen
    class Point(Value):
        x: int
        y: int = 0
        norm: int = field(default=-1, init=False, compare=False)

    with pytest.raises(TypeError, match=error):
        Point(*args, **kwargs)
    assert Point.__init__.__name__ == "__init__"  # compiled, to raise its own error


@given(
    st.lists(st.integers(), max_size=4).map(tuple),
    st.dictionaries(st.sampled_from(["a", "b", "c", "d", "e"]), st.integers(), max_size=4),
)
def test_the_stub_binds_as_the_compiled_init(args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    @frozen
    class Q(Value):
        a: int
        b: int = 1
        c: int = field(default=5, init=False)
        d: int | None = None

    compiled = _compiled_init(Q)
    twin = object.__new__(Q)
    try:
        compiled(twin, *args, **kwargs)
    except TypeError:
        assert _bound(Q._value_specs, args, kwargs) is None
    else:
        assert _bound(Q._value_specs, args, kwargs) == list(Q._value_all(twin))
        assert Q(*args, **kwargs) == twin and Q.__init__.__name__ == "_init_until_compiled"


def test_frozen_keeps_an_init_the_class_writes() -> None:
    @frozen
    class Pair(Value):
        left: int
        right: int

        def __init__(self, both: int) -> None:
            set_fields(self, both, both)

    assert Pair(2) == Pair(2) and repr(Pair(2)).endswith("Pair(left=2, right=2)")
    with pytest.raises(ValueError, match=r"^3 values for the 2 fields of Pair$"):
        set_fields(Pair(1), 1, 2, 3)
    with pytest.raises(ValueError, match=r"^1 values for the 2 fields of Pair$"):
        set_fields(Pair(1), 1)


@pytest.mark.parametrize(
    ("declaration", "message"),
    [
        ("x: int = 1\n    y: int", "B.y: a field without a default follows"),
        ("x: list[int] = []", "B.x: mutable default list"),
        (
            "x: int = field(default_factory=int)",
            "^B.x: a value field takes a default, not a default_factory$",
        ),
        ("x: int = field(init=False)", "^B.x: a field left out of __init__ needs a default$"),
        ("x: int = field(default=1, kw_only=True)", "^B.x: a value field takes no kw_only or"),
        ("x: int = field(default=1, metadata={1: 2})", "^B.x: a value field takes no kw_only or"),
    ],
)
def test_frozen_refuses_what_dataclass_refuses(declaration: str, message: str) -> None:
    with pytest.raises(TypeError, match=message):
        exec(f"@frozen\nclass B(Value):\n    {declaration}\n", {**globals()})


def test_the_dataclass_fields_are_made_on_first_access_as_dataclass_makes_them() -> None:
    @frozen
    class P(Value):
        x: int
        y: str = field(default="y", compare=False, repr=False)
        z: tuple[int, ...] = field(default=(), hash=False)

    @dataclasses.dataclass(frozen=True)
    class Twin:
        x: int
        y: str = field(default="y", compare=False, repr=False)
        z: tuple[int, ...] = field(default=(), hash=False)

    # Building, comparing, hashing, showing and replacing need no Field objects.
    assert replaced(P(1, "a"), x=2) == P(2) and hash(P(1)) == hash(P(1, "b"))
    assert repr(P(1)).endswith("P(x=1, z=())") and P.__match_args__ == ("x", "y", "z")
    assert "__dataclass_fields__" not in vars(P)
    made = dataclasses.fields(P)
    assert vars(P)["__dataclass_fields__"] is P.__dataclass_fields__  # kept on the class
    assert dataclasses.fields(P(1)) == made and dataclasses.is_dataclass(P)
    names = "name type default default_factory init repr hash compare metadata _field_type"
    attributes = names.split()
    assert [[getattr(f, a) for a in attributes] for f in made] == [
        [getattr(f, a) for a in attributes] for f in dataclasses.fields(Twin)
    ]
    assert not dataclasses.is_dataclass(Value) and not hasattr(Value, "__dataclass_fields__")


# --- pinned by mutation testing (mutate/run.py values) ---------------------------------------
def test_deleting_a_field_names_it() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError, match=r"^cannot delete field 'text'$"):
        del Delta("a").text


def test_a_class_var_is_not_a_field_however_it_is_written() -> None:
    import typing

    @frozen
    class C(Value):
        limit: typing.ClassVar[int] = 3
        other: ClassVar[int] = 4
        x: int = 0

    assert [spec.name for spec in dataclasses.fields(C)] == ["x"]
    assert (C(1).x, C.limit, C.other) == (1, 3, 4)


def test_fields_carry_their_annotation_and_the_first_construction_takes_keywords() -> None:
    @frozen
    class K(Value):
        a: int
        b: str = "b"

    assert K(a=1, b="c") == K(1, "c")  # keywords at the first construction (compiling)
    assert [spec.type for spec in dataclasses.fields(K)] == ["int", "str"]
    assert [spec.type for spec in dataclasses.fields(Delta)][:2] == ["str", "str"]


def test_value_options_set_the_fields_flags() -> None:
    @value(no_init=("size",), no_compare=("note",), no_hash=("tag",), no_repr=("secret",))
    class V(Value):
        __slots__ = ("name", "size", "note", "tag", "secret")  # noqa: RUF023 -- field order

        def __init__(self, name: str, note: str = "", tag: str = "", secret: str = "") -> None:
            set_fields(self, name, len(name), note, tag, secret)

    flags = {
        spec.name: (spec.init, spec.repr, spec.compare, spec.hash, spec.default)
        for spec in dataclasses.fields(V)
    }
    assert flags == {
        "name": (True, True, True, None, dataclasses.MISSING),
        "size": (False, True, True, None, dataclasses.MISSING),
        "note": (True, True, False, None, ""),
        "tag": (True, True, True, False, ""),
        "secret": (True, False, True, None, ""),
    }
    assert V("a", note="x") == V("a", note="y") and V("a", tag="x") != V("a", tag="y")
    assert hash(V("a", tag="x")) == hash(V("a", tag="y"))
    assert repr(V("a", secret="k")).endswith("V(name='a', size=1, note='', tag='')")


def test_a_class_with_nothing_to_compare_equals_and_hashes_as_its_dataclass_twin() -> None:
    # No compared field: == compares (), hash is hash(()); no field at all: the state is [].
    @frozen
    class Note(Value):
        text: str = field(default="", compare=False)

    @frozen
    class Empty(Value):
        pass

    note_twin = twin(Note)
    assert Note("a") == Note("b") and note_twin("a") == note_twin("b")
    assert hash(Note("a")) == hash(note_twin("a")) == hash(())
    assert hash(Empty()) == hash(twin(Empty)()) == hash(()) and Empty() == Empty()
    assert Empty().__getstate__() == [] and copy.copy(Empty()) == Empty()
    assert copy.copy(Note("a")).text == "a"


def test_value_itself_has_no_dataclass_fields() -> None:
    with pytest.raises(AttributeError, match=r"^__dataclass_fields__$"):
        Value.__dataclass_fields__  # noqa: B018 - the access is the test


def test_asking_for_the_signature_compiles_once_and_only_of_the_class() -> None:
    @frozen
    class K(Value):
        a: int

    k = K(1)
    assert k.__signature__ is None  # type: ignore[attr-defined]
    assert vars(K)["__init__"].__name__ == "_init_until_compiled"  # an instance: no compiling
    assert K.__signature__ is None  # type: ignore[attr-defined]
    compiled = vars(K)["__init__"]
    assert compiled.__name__ == "__init__"
    assert K.__signature__ is None  # type: ignore[attr-defined]
    assert vars(K)["__init__"] is compiled  # compiled already: kept


def test_compiling_forgets_the_count_of_constructions() -> None:
    # The count is kept only until the class is compiled (the dict would keep the class).
    @frozen
    class One(Value):
        x: int

    One(1)
    assert values._constructions[One] == 1
    while One.__init__.__name__ == "_init_until_compiled":
        One(1)
    assert One not in values._constructions


def test_a_value_class_has_no_instance_dict_or_weakref_slot() -> None:
    @frozen
    class P(Value):
        x: int

    # Declared without __slots__, the class body had both; the slotted class has neither.
    assert "__dict__" not in vars(P) and "__weakref__" not in vars(P)
    assert not hasattr(P(1), "__dict__") and not hasattr(P(1), "__weakref__")

    @frozen
    class Q(Value):
        __slots__ = ()  # the class body says so itself: nothing to take out
        x: int

    assert Q.__slots__ == ("x",) and Q(1) == Q(1) and not hasattr(Q(1), "__dict__")


def test_only_a_defaulted_init_parameter_must_be_followed_by_defaults() -> None:
    # As in dataclasses: a field left out of __init__ is no parameter, whatever its repr.
    @frozen
    class Sized(Value):
        size: int = field(default=0, init=False)
        name: str

    @dataclasses.dataclass(frozen=True)
    class Twin:
        size: int = field(default=0, init=False)
        name: str

    assert Sized("a").name == Twin("a").name == "a" and Sized("a").size == 0
    with pytest.raises(TypeError, match=r"^B\.name: a field without a default follows one"):

        @frozen
        class B(Value):
            hidden: int = field(default=0, repr=False)
            name: str


def test_value_refuses_slots_that_are_not_a_non_empty_tuple() -> None:
    for slots in (["name"], ()):
        with pytest.raises(TypeError, match=r"^V\.__slots__ must be a non-empty tuple$"):

            @value()
            class V(Value):
                __slots__ = slots  # type: ignore[assignment]

                def __init__(self, name: str) -> None:
                    set_fields(self, name)


def test_value_fields_without_an_annotation_are_of_any_type() -> None:
    @value()
    class V(Value):
        __slots__ = ("name", "size")

        def __init__(self, name: str, size: int = 0) -> None:
            set_fields(self, name, size)

    assert [(f.name, f.type, f.default) for f in dataclasses.fields(V)] == [
        ("name", Any, dataclasses.MISSING),
        ("size", Any, 0),
    ]


def test_value_reads_defaults_only_from_a_python_init() -> None:
    @value()
    class Bare(Value):  # object's __init__: no code, so no defaults
        __slots__ = ("a",)

    assert [(f.name, f.default) for f in dataclasses.fields(Bare)] == [("a", dataclasses.MISSING)]
    # A default for self is no default of a field: refused, never shifted onto one.
    with pytest.raises(ValueError, match="longer"):

        @value()
        class Shifted(Value):
            __slots__ = ("a",)

            def __init__(self=None, a: int = 1) -> None:  # type: ignore[assignment]
                set_fields(self, a)


# --- replaced: dataclasses.replace for the fields __init__ takes, cheaper -------------------
@given(st.text(max_size=3), st.none() | st.text(max_size=3), st.none() | st.text(max_size=3))
def test_replaced_is_dataclasses_replace(
    text: str, response_id: str | None, model: str | None
) -> None:
    done = Done("stop", text, usage=Usage(1, 2, 3), tool_calls=(ToolCall("c", "f", "{}"),))
    got = replaced(done, response_id=response_id, model=model)
    assert got == dataclasses.replace(done, response_id=response_id, model=model)
    assert type(got) is Done and got is not done
    assert (got.response_id, got.model, got.text) == (response_id, model, text)
    assert replaced(done) == done and replaced(Delta("a"), text="b") == Delta("b")


def test_replaced_refuses_a_name_that_is_not_a_field() -> None:
    with pytest.raises(TypeError, match=r"^Done has no field 'modle'$"):
        replaced(Done("stop", "x"), modle="m")
