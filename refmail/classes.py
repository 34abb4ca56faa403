"""Record classes that cost no generated code at import: `dataclass`'s behaviour (frozen or
not) from a few shared methods instead of source text compiled for every class.

Python 3.11's dataclasses writes each class's `__init__`, `__repr__`, `__eq__`, `__hash__`,
`__setattr__` and `__delattr__` as source and compiles it with `exec` (the config's 17 classes:
≈ 75 M instructions of every command's start). Here `dataclasses` still collects the fields
(so `fields`, `replace`, `asdict` and `is_dataclass` work as ever) but generates nothing; the
methods are the ones below, equal in behaviour for classes of plain fields. mypy sees the real
`dataclasses.dataclass` (the same fields, signatures and frozenness).
"""

from __future__ import annotations

import dataclasses
import reprlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

T = TypeVar("T", bound=type)


class _Spec(NamedTuple):
    positional: tuple[str, ...]  # the fields __init__ takes by position, in order
    fields: dict[str, dataclasses.Field[Any]]  # every field, in definition order
    compared: tuple[str, ...]  # what __eq__ looks at
    hashed: tuple[str, ...]  # what __hash__ looks at
    frozen: bool


# Each class keeps its spec as a class attribute: a subclass that is no dataclass inherits its
# base's, as dataclasses' generated methods would serve it.
_SPEC = "__classes_spec__"


def _dataclass(cls: T | None = None, /, *, frozen: bool = False, kw_only: bool = False) -> Any:
    """`dataclasses.dataclass([frozen=...][, kw_only=...])`, without generating code."""

    def wrap(c: T) -> T:
        return _make(c, frozen, kw_only)

    return wrap if cls is None else wrap(cls)


def _make(cls: T, frozen: bool, kw_only: bool) -> T:
    for name in (*_METHODS, "__post_init__"):
        if name in cls.__dict__ or (name == "__post_init__" and hasattr(cls, name)):
            raise TypeError(f"{cls.__qualname__} defines {name}: use dataclasses.dataclass")
    inherited: _Spec | None = getattr(cls, _SPEC, None)  # a base's, made here
    if inherited is not None and inherited.frozen != frozen:  # as dataclasses refuses it
        which = "frozen" if frozen else "non-frozen"
        raise TypeError(f"cannot inherit {which} dataclass from a {'non-' * frozen}frozen one")
    # Fields only: no method is written (dataclass's hash table: eq=False, frozen=False → none).
    dataclasses.dataclass(cls, init=False, repr=False, eq=False, kw_only=kw_only)  # in place
    fields = {f.name: f for f in dataclasses.fields(cls)}
    if any(not f.init for f in fields.values()):
        raise TypeError(f"{cls.__qualname__}: init=False fields are not supported")
    positional = tuple(f.name for f in fields.values() if not f.kw_only)
    defaulted = False
    for name in positional:  # what dataclass's generated __init__ refuses at definition
        has_default = _has_default(fields[name])
        if defaulted and not has_default:
            raise TypeError(f"non-default argument {name!r} follows default argument")
        defaulted = defaulted or has_default
    compared = tuple(f.name for f in fields.values() if f.compare)
    hashed = tuple(f.name for f in fields.values() if (f.hash is None and f.compare) or f.hash)
    setattr(cls, _SPEC, _Spec(positional, fields, compared, hashed, frozen))
    for name, method in _METHODS.items():
        if frozen or name in _MUTABLE:
            setattr(cls, name, method)
    if not frozen:
        cls.__hash__ = None  # type: ignore[method-assign,assignment]  # as dataclass: unhashable
    return cls


def _spec(cls: type) -> _Spec:
    """The spec of `cls`, or of the nearest base made here (a subclass that is no dataclass)."""
    spec: _Spec = getattr(cls, _SPEC)
    return spec


def _has_default(f: dataclasses.Field[Any]) -> bool:
    return f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING


def _init(self: Any, *args: Any, **kwargs: Any) -> None:
    spec = _spec(type(self))
    where = f"{type(self).__qualname__}.__init__()"
    if len(args) > len(spec.positional):
        raise TypeError(
            f"{where} takes {len(spec.positional) + 1} positional arguments"
            f" but {len(args) + 1} were given"
        )
    values = dict(zip(spec.positional, args, strict=False))
    for name, value in kwargs.items():
        if name not in spec.fields:
            raise TypeError(f"{where} got an unexpected keyword argument {name!r}")
        if name in values:
            raise TypeError(f"{where} got multiple values for argument {name!r}")
        values[name] = value
    for name, f in spec.fields.items():
        if name in values:
            value = values[name]
        elif f.default is not dataclasses.MISSING:
            value = f.default
        elif f.default_factory is not dataclasses.MISSING:
            value = f.default_factory()
        else:
            raise TypeError(f"{where} missing 1 required argument: {name!r}")
        object.__setattr__(self, name, value)


@reprlib.recursive_repr()
def _repr(self: Any) -> str:
    fields = _spec(type(self)).fields.values()
    shown = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in fields if f.repr)
    return f"{type(self).__qualname__}({shown})"


def _eq(self: Any, other: object) -> bool:
    if other.__class__ is self.__class__:
        names = _spec(type(self)).compared
        return tuple(getattr(self, n) for n in names) == tuple(getattr(other, n) for n in names)
    return NotImplemented


def _hash(self: Any) -> int:
    return hash(tuple(getattr(self, n) for n in _spec(type(self)).hashed))


def _setattr(self: Any, name: str, value: Any) -> None:
    raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")


def _delattr(self: Any, name: str) -> None:
    raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")


_METHODS: dict[str, Callable[..., Any]] = {
    "__init__": _init,
    "__repr__": _repr,
    "__eq__": _eq,
    "__hash__": _hash,
    "__setattr__": _setattr,
    "__delattr__": _delattr,
}
_MUTABLE = ("__init__", "__repr__", "__eq__")  # what a class that is not frozen gets

if TYPE_CHECKING:
    from dataclasses import dataclass
else:
    dataclass = _dataclass
