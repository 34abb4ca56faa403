"""refmail.classes: classes that behave as dataclasses (frozen or not), built without compiling
generated methods; the config's classes are made by it."""

from __future__ import annotations

import copy
import dataclasses
import pickle
from dataclasses import field
from typing import Any

import pytest

from refmail import classes, config


def _pair(**options: Any) -> tuple[Any, Any]:
    """The same two-level classes, made by dataclasses and by refmail.classes."""
    made = []
    for make in (dataclasses.dataclass, classes.dataclass):

        @make(frozen=True, kw_only=True)
        class Keys:
            token: str = "t"
            secret: str = ""

        @make(frozen=True)
        class Server(Keys):
            host: str
            port: int = 0
            tags: tuple[str, ...] = ("a",)
            extra: list[int] = field(default_factory=list)
            note: str = field(default="", compare=False, repr=False)

        made.append(Server)
    return made[0], made[1]


def _hash_or_error(obj: Any) -> Any:
    try:
        return hash(obj)
    except TypeError as exc:  # a list field: unhashable, as with dataclasses
        return str(exc)


CALLS: list[tuple[tuple[Any, ...], dict[str, Any]]] = [
    (("h",), {}),
    (("h", 5), {"token": "x"}),
    ((), {"host": "h", "tags": ("b", "c"), "extra": [1], "note": "n"}),
    (("h", 1, ("x",), [2], "n"), {"secret": "s"}),
]

BAD_CALLS: list[tuple[tuple[Any, ...], dict[str, Any]]] = [
    ((), {}),  # host missing
    (("h",), {"nope": 1}),
    (("h",), {"host": "g"}),
    (("h", 1, (), [], "n", "too many"), {}),
    (("h", 1, (), [], "n", "tok"), {}),  # token is keyword-only
]


@pytest.mark.parametrize(("args", "kwargs"), CALLS)
def test_instances_behave_as_dataclasses(args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    real, cheap = _pair()
    a, b = real(*args, **kwargs), cheap(*args, **kwargs)
    assert dataclasses.asdict(a) == dataclasses.asdict(b)
    assert repr(a) == repr(b)
    assert _hash_or_error(a) == _hash_or_error(b)
    assert [f.name for f in dataclasses.fields(a)] == [f.name for f in dataclasses.fields(b)]
    assert b == cheap(*args, **kwargs) and b != cheap("other")
    assert a == dataclasses.replace(a, note="differs")  # not compared
    assert b == dataclasses.replace(b, note="differs")
    assert b != dataclasses.replace(b, port=9) and dataclasses.replace(b, port=9).port == 9
    assert b != a  # another class: never equal, as between two dataclasses
    assert copy.deepcopy(b) == b


@pytest.mark.parametrize(("args", "kwargs"), BAD_CALLS)
def test_bad_calls_fail_as_dataclasses_do(args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    for cls in _pair():
        with pytest.raises(TypeError):
            cls(*args, **kwargs)


def test_instances_are_frozen() -> None:
    for cls in _pair():
        obj = cls("h")
        with pytest.raises(dataclasses.FrozenInstanceError):
            obj.port = 1
        with pytest.raises(dataclasses.FrozenInstanceError):
            del obj.host
        with pytest.raises(dataclasses.FrozenInstanceError):
            obj.unknown = 1
        assert obj.port == 0


def test_default_factory_runs_per_instance() -> None:
    _, cheap = _pair()
    assert cheap("h").extra is not cheap("h").extra


def test_a_required_field_after_a_default_is_refused_at_definition() -> None:
    with pytest.raises(TypeError, match="non-default argument 'b'"):

        @classes.dataclass(frozen=True)
        class Bad:
            a: int = 0
            b: int  # type: ignore[misc]


def test_mutable_classes_behave_as_dataclasses() -> None:
    made: list[Any] = []
    for make in (dataclasses.dataclass, classes.dataclass):

        @make
        class Report:
            count: int = 0
            notes: list[str] = field(default_factory=list)

        made.append(Report)
    for cls in made:
        one = cls()
        one.count += 1
        one.notes.append("n")
        assert one == cls(1, ["n"]) and one != cls()
        assert repr(one).endswith("Report(count=1, notes=['n'])")
        with pytest.raises(TypeError, match="unhashable"):
            hash(one)


def test_a_subclass_that_is_no_dataclass_uses_its_base() -> None:
    _, cheap = _pair()

    class Sub(cheap):  # type: ignore[misc,valid-type]
        pass

    assert Sub("h", 2).port == 2
    assert repr(Sub("h")).endswith(
        ".Sub(token='t', secret='', host='h', port=0, tags=('a',), extra=[])"
    )


def test_frozen_and_mutable_do_not_mix_in_a_hierarchy_as_with_dataclasses() -> None:
    for make in (dataclasses.dataclass, classes.dataclass):

        @make(frozen=True)
        class Frozen:
            a: int = 0

        @make
        class Mutable:
            b: int = 0

        with pytest.raises(TypeError, match="cannot inherit non-frozen dataclass from a frozen"):
            make(type("Thawed", (Frozen,), {"__annotations__": {"c": "int"}, "c": 0}))
        with pytest.raises(TypeError, match="cannot inherit frozen dataclass from a non-frozen"):
            make(frozen=True)(type("Set", (Mutable,), {"__annotations__": {"c": "int"}, "c": 0}))


def test_a_record_that_holds_itself_has_a_repr() -> None:
    @classes.dataclass
    class Node:
        items: list[Any] = field(default_factory=list)

    node = Node()
    node.items.append(node)
    assert repr(node).endswith("Node(items=[...])")


def test_own_methods_and_post_init_are_refused() -> None:
    with pytest.raises(TypeError, match="defines __repr__"):

        @classes.dataclass(frozen=True)
        class Own:
            a: int = 0

            def __repr__(self) -> str:
                return "own"

    with pytest.raises(TypeError, match="defines __post_init__"):

        @classes.dataclass
        class Post:
            a: int = 0

            def __post_init__(self) -> None:
                pass


def test_the_config_classes_are_made_without_generated_code() -> None:
    made = [
        v
        for v in vars(config).values()
        if isinstance(v, type) and dataclasses.is_dataclass(v) and v.__module__ == config.__name__
    ]
    assert len(made) >= 17
    for cls in made:
        assert cls.__init__ is classes._init, cls
        assert cls.__eq__ is classes._eq, cls


def test_config_values_compare_and_hash_by_content() -> None:
    one = config.Settings(accounts=(), caps=config.Caps(min_gap_hours=2))
    two = config.Settings(accounts=(), caps=config.Caps(min_gap_hours=2.0))
    assert one == two and hash(one) == hash(two)
    assert one != dataclasses.replace(two, database="sqlite:///other.db")
    assert config.KindDelivery(thank_you="smtp").thank_you == "smtp"
    assert config.KindDelivery().check_in == ""
    assert pickle.loads(pickle.dumps(one)) == one  # settings reach the reader processes
