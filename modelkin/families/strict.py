"""`Strict`: modelkin's own small schema engine, the base of every spec section.

A section is a class whose annotated attributes are its fields, as in a dataclass:

    class Attention(Strict):
        num_heads: PositiveInt = Field(le=65_536)
        qkv_bias: bool = False

        @model_validator(mode="after")
        def _heads_divide(self) -> Attention: ...

Field types: bool, int, float, str, `Literal[...]`, `X | None`, `list[X]`,
`Annotated[X, Field(gt=…, ge=…, lt=…, le=…)]`, another section, and a tagged union
(`Annotated[Union[A, B], Field(discriminator="type")]`).

Strict, like the JSON a spec is written in: unknown keys are refused, an int is never a
bool, nothing is coerced from strings; a float field takes an int (and holds it as a
float) but never inf or NaN. Instances are immutable. `model_validate(data)` reports every
problem it finds (`SchemaError`), in field order, each with its path.

Why not pydantic, which this replaces: the light commands' budget is 2× `import pydantic`
and inspect's is 3× a bare header read. Importing pydantic's model machinery and building
the spec's ~25 models cost more than either budget before any modelkin code ran, and the
spec needs none of its generality (issue 16; figures in the README's Performance section).
The method names (`model_validate`, `model_dump`, `model_copy`) are pydantic's, so code
reads as before.
"""

from __future__ import annotations

import json
import math
import types
import typing
from collections.abc import Callable
from typing import Annotated, Any, Literal, NamedTuple, Union, get_args, get_origin

_MISSING: Any = object()
_INVALID: Any = object()  # a checker's result when it has recorded a problem


class FieldInfo:
    """A field's default and bounds (what `Field(...)` returns)."""

    __slots__ = ("default", "gt", "ge", "lt", "le", "description", "discriminator")

    def __init__(self, default, gt, ge, lt, le, description, discriminator) -> None:
        self.default, self.gt, self.ge, self.lt, self.le = default, gt, ge, lt, le
        self.description, self.discriminator = description, discriminator


def Field(  # noqa: N802  (reads as the declaration it is: `x: int = Field(ge=0)`)
    default: Any = _MISSING,
    *,
    gt: float | None = None,
    ge: float | None = None,
    lt: float | None = None,
    le: float | None = None,
    description: str | None = None,
    discriminator: str | None = None,
) -> Any:
    return FieldInfo(default, gt, ge, lt, le, description, discriminator)


PositiveInt = Annotated[int, Field(gt=0)]
PositiveFloat = Annotated[float, Field(gt=0)]


def model_validator(*, mode: Literal["after"]) -> Callable[[Callable], Callable]:
    """Marks a method that checks the whole section once its fields are valid; it raises
    ValueError with the message to show, and receives a `ValidationInfo` if it asks for one."""

    def mark(method: Callable) -> Callable:
        method.__modelkin_after__ = True  # type: ignore[attr-defined]
        return method

    return mark


class ValidationInfo(NamedTuple):
    context: dict[str, Any] | None


class Problem(NamedTuple):
    loc: tuple[str | int, ...]
    message: str
    kind: str  # "type", "value", "missing", "extra", "literal", "tag-missing", "tag-invalid"

    @property
    def path(self) -> str:
        return ".".join(str(p) for p in self.loc)


class SchemaError(ValueError):
    """Every problem `model_validate` found, in field order."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{p.path}: {p.message}" if p.loc else p.message for p in problems))


Checker = Callable[[Any, tuple, list, Any], Any]


class _Plan(NamedTuple):
    fields: dict[str, tuple[Checker, Any, Any]]  # name -> (checker, validated default or _MISSING, type)
    after: tuple[Callable, ...]


class Strict:
    """Base of every modelkin schema: unknown keys are errors, values immutable."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # Defaults leave the class namespace (instances hold every field in their __dict__).
        own = cls.__dict__.get("__annotations__", {})
        defaults = {name: cls.__dict__[name] for name in own if name in cls.__dict__}
        for name in defaults:
            delattr(cls, name)
        cls._Strict__defaults = {**getattr(cls, "_Strict__defaults", {}), **defaults}
        cls._Strict__plan = None

    # --- building --------------------------------------------------------------

    def __init__(self, **data: Any) -> None:
        built = type(self).model_validate(data)
        self.__dict__.update(built.__dict__)

    @classmethod
    def model_validate(cls, data: Any, *, context: dict[str, Any] | None = None) -> Any:
        problems: list[Problem] = []
        value = _model_checker(cls)(data, (), problems, ValidationInfo(context))
        if problems:
            raise SchemaError(problems)
        return value

    @classmethod
    def model_validate_json(cls, text: str | bytes, *, context: dict[str, Any] | None = None) -> Any:
        return cls.model_validate(json.loads(text), context=context)

    @classmethod
    def model_json_schema(cls) -> dict[str, Any]:
        """The JSON Schema of this section (what `modelkin schema` prints for ArchSpec)."""
        return json_schema(cls)

    @classmethod
    def _plan(cls) -> _Plan:
        plan = cls.__dict__.get("_Strict__plan")
        if plan is None:
            plan = cls._Strict__plan = _make_plan(cls)
        return plan

    # --- reading ---------------------------------------------------------------

    def model_dump(
        self,
        *,
        mode: Literal["python", "json"] = "python",
        exclude_none: bool = False,
        exclude: set[str] | frozenset[str] = frozenset(),
    ) -> dict[str, Any]:
        """A plain dict; `exclude` names fields of this section. Every value is already JSON's,
        so the two modes are the same."""
        return {
            k: _dump(v, exclude_none)
            for k, v in self.__dict__.items()
            if k not in exclude and not (exclude_none and v is None)
        }

    def model_dump_json(self) -> str:
        return json.dumps(self.model_dump(), separators=(",", ":"))

    def model_copy(self, *, update: dict[str, Any] | None = None) -> Any:
        """A copy with some fields replaced, not validated again (as pydantic's model_copy)."""
        copy = object.__new__(type(self))
        copy.__dict__.update(self.__dict__)
        unknown = set(update or ()) - set(self.__dict__)
        if unknown:
            raise TypeError(f"{type(self).__name__} has no field {', '.join(sorted(unknown))}")
        copy.__dict__.update(update or {})
        return copy

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable: use model_copy(update={{{name!r}: ...}})")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.__dict__ == self.__dict__

    def __hash__(self) -> int:
        return hash((type(self), _frozen(self.__dict__)))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.__dict__.items())})"


def _dump(value: Any, exclude_none: bool) -> Any:
    if isinstance(value, Strict):
        return value.model_dump(exclude_none=exclude_none)
    if isinstance(value, list):
        return [_dump(v, exclude_none) for v in value]
    return value


def _frozen(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple((k, _frozen(v)) for k, v in value.items())
    if isinstance(value, list):
        return tuple(_frozen(v) for v in value)
    return value


# --- compiling field types into checkers ------------------------------------------------


def _make_plan(cls: type[Strict]) -> _Plan:
    hints = typing.get_type_hints(cls, include_extras=True)
    defaults = cls._Strict__defaults
    fields = {}
    for name, tp in hints.items():
        if name.startswith("_"):
            continue
        default = defaults.get(name, _MISSING)
        info = default if isinstance(default, FieldInfo) else None
        if info is not None:
            default = info.default
            tp = Annotated[tp, info]
        check = _checker(tp)
        if default is not _MISSING:  # defaults obey the field's rules too
            problems: list[Problem] = []
            default = check(default, (name,), problems, ValidationInfo(None))
            if problems:
                raise TypeError(f"{cls.__name__}.{name}: default is invalid: {problems[0].message}")
        fields[name] = (check, default, tp)
    after = tuple(
        method
        for klass in reversed(cls.__mro__)
        for method in vars(klass).values()
        if getattr(method, "__modelkin_after__", False)
    )
    return _Plan(fields, after)


def _checker(tp: Any) -> Checker:
    origin = get_origin(tp)
    if origin is Annotated:
        base, *meta = get_args(tp)
        infos = [m for m in meta if isinstance(m, FieldInfo)]
        if any(info.discriminator for info in infos):
            return _tagged_union(get_args(base), next(i.discriminator for i in infos if i.discriminator))
        check = _checker(base)
        for info in infos:  # Annotated flattens: PositiveInt = Field(le=…) holds two
            check = _bounded(check, info)
        return check
    if origin in (Union, types.UnionType):
        options = [a for a in get_args(tp) if a is not type(None)]
        if len(options) != 1:
            raise TypeError(f"unsupported union {tp} (tag it with Field(discriminator=...))")
        return _optional(_checker(options[0]))
    if origin is Literal:
        return _literal(get_args(tp))
    if origin is list:
        return _list_of(_checker(get_args(tp)[0]))
    if tp in _SCALARS:
        return _SCALARS[tp]
    if isinstance(tp, type) and issubclass(tp, Strict):
        return _model_checker(tp)
    raise TypeError(f"unsupported field type {tp!r}")


def _scalar(accepts: Callable[[Any], bool], what: str, convert: Callable = lambda v: v) -> Checker:
    def check(value, loc, problems, info):
        if accepts(value):
            return convert(value)
        problems.append(Problem(loc, f"Input should be {what}", "type"))
        return _INVALID

    return check


def _check_float(value, loc, problems, info):
    if type(value) not in (int, float):
        problems.append(Problem(loc, "Input should be a valid number", "type"))
        return _INVALID
    if not math.isfinite(value):
        problems.append(Problem(loc, f"must be a finite number, got {value}", "value"))
        return _INVALID
    return float(value)


_SCALARS: dict[Any, Checker] = {
    bool: _scalar(lambda v: type(v) is bool, "a valid boolean"),
    int: _scalar(lambda v: type(v) is int, "a valid integer"),
    str: _scalar(lambda v: type(v) is str, "a valid string"),
    float: _check_float,
}


def _bounded(inner: Checker, info: FieldInfo) -> Checker:
    tests = [
        (bound, test, words)
        for bound, test, words in (
            (info.gt, lambda v, b: v > b, "greater than"),
            (info.ge, lambda v, b: v >= b, "greater than or equal to"),
            (info.lt, lambda v, b: v < b, "less than"),
            (info.le, lambda v, b: v <= b, "less than or equal to"),
        )
        if bound is not None
    ]

    def check(value, loc, problems, ctx):
        value = inner(value, loc, problems, ctx)
        if value is _INVALID or value is None:  # None: an optional field's bounds bind its numbers only
            return value
        for bound, test, words in tests:
            if not test(value, bound):
                problems.append(Problem(loc, f"Input should be {words} {bound}", "value"))
                return _INVALID
        return value

    return check


def _optional(inner: Checker) -> Checker:
    def check(value, loc, problems, info):
        return None if value is None else inner(value, loc, problems, info)

    return check


def _literal(options: tuple) -> Checker:
    def check(value, loc, problems, info):
        if any(type(value) is type(o) and value == o for o in options):
            return value
        listed = ", ".join(repr(o) for o in options)
        problems.append(Problem(loc, f"{value!r} is not one of {listed}", "literal"))
        return _INVALID

    return check


def _list_of(inner: Checker) -> Checker:
    def check(value, loc, problems, info):
        if type(value) is not list:
            problems.append(Problem(loc, "Input should be a valid list", "type"))
            return _INVALID
        items = [inner(item, (*loc, i), problems, info) for i, item in enumerate(value)]
        return _INVALID if _INVALID in items else items

    return check


def _tagged_union(classes: tuple[type[Strict], ...], tag: str) -> Checker:
    by_tag = {_tag_of(cls, tag): cls for cls in classes}

    def check(value, loc, problems, info):
        if isinstance(value, classes):
            return value
        if not isinstance(value, dict):
            problems.append(Problem(loc, "Input should be an object", "type"))
            return _INVALID
        if tag not in value:
            problems.append(Problem(loc, f'no "{tag}" key: not a modelkin spec', "tag-missing"))
            return _INVALID
        cls = by_tag.get(value[tag]) if isinstance(value[tag], str) else None
        if cls is None:
            listed = ", ".join(repr(t) for t in by_tag)
            problems.append(Problem(loc, f"{tag} {value[tag]!r} is not one of {listed}", "tag-invalid"))
            return _INVALID
        return _model_checker(cls)(value, loc, problems, info)

    return check


def _tag_of(cls: type[Strict], tag: str) -> str:
    (value,) = get_args(typing.get_type_hints(cls)[tag])
    return value


def _model_checker(cls: type[Strict]) -> Checker:
    def check(value, loc, problems, info):
        if isinstance(value, cls):
            return value
        if not isinstance(value, dict):
            problems.append(Problem(loc, f"Input should be an object ({cls.__name__})", "type"))
            return _INVALID
        plan = cls._plan()
        before = len(problems)
        values = {}
        for name, (field_check, default, _tp) in plan.fields.items():
            if name in value:
                values[name] = field_check(value[name], (*loc, name), problems, info)
            elif default is _MISSING:
                problems.append(Problem((*loc, name), "missing", "missing"))
            else:
                values[name] = list(default) if type(default) is list else default
        for key in value:
            if key not in plan.fields:
                problems.append(Problem((*loc, key), "Extra inputs are not permitted", "extra"))
        if len(problems) > before:
            return _INVALID
        built = object.__new__(cls)
        built.__dict__.update(values)
        for method in plan.after:
            try:
                method(built, info) if method.__code__.co_argcount == 2 else method(built)
            except (ValueError, AssertionError) as exc:
                problems.append(Problem(loc, str(exc), "value"))
                return _INVALID
        return built

    return check


# --- JSON Schema -----------------------------------------------------------------------


def json_schema(cls: type[Strict]) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a section and everything it holds."""
    defs: dict[str, Any] = {}
    top = _model_schema(cls, defs)
    defs.pop(cls.__name__, None)
    return {**top, "$defs": dict(sorted(defs.items()))} if defs else top


def _model_schema(cls: type[Strict], defs: dict[str, Any]) -> dict[str, Any]:
    properties, required = {}, []
    for name, (_check, default, tp) in cls._plan().fields.items():
        prop = _type_schema(tp, defs)
        if default is _MISSING:
            required.append(name)
        else:
            prop["default"] = _dump(default, False)
        properties[name] = prop
    schema: dict[str, Any] = {"title": cls.__name__, "type": "object", "properties": properties}
    if cls.__doc__:
        schema["description"] = " ".join(cls.__doc__.split())
    if required:
        schema["required"] = required
    schema["additionalProperties"] = False
    return schema


def _ref(cls: type[Strict], defs: dict[str, Any]) -> dict[str, Any]:
    if cls.__name__ not in defs:
        defs[cls.__name__] = {}  # placeholder first: a section may hold itself
        defs[cls.__name__] = _model_schema(cls, defs)
    return {"$ref": f"#/$defs/{cls.__name__}"}


def _type_schema(tp: Any, defs: dict[str, Any]) -> dict[str, Any]:
    origin = get_origin(tp)
    if origin is Annotated:
        base, *meta = get_args(tp)
        infos = [m for m in meta if isinstance(m, FieldInfo)]
        tag = next((i.discriminator for i in infos if i.discriminator), None)
        if tag:
            classes = get_args(base)
            return {
                "oneOf": [_ref(c, defs) for c in classes],
                "discriminator": {
                    "propertyName": tag,
                    "mapping": {_tag_of(c, tag): f"#/$defs/{c.__name__}" for c in classes},
                },
            }
        schema = _type_schema(base, defs)
        for info in infos:
            for key, bound in (
                ("exclusiveMinimum", info.gt),
                ("minimum", info.ge),
                ("exclusiveMaximum", info.lt),
                ("maximum", info.le),
            ):
                if bound is not None:
                    schema[key] = bound
            if info.description:
                schema["description"] = info.description
        return schema
    if origin in (Union, types.UnionType):
        (inner,) = [a for a in get_args(tp) if a is not type(None)]
        return {"anyOf": [_type_schema(inner, defs), {"type": "null"}]}
    if origin is Literal:
        values = list(get_args(tp))
        kinds = {_JSON_TYPES.get(type(v)) for v in values}
        return {"enum": values, "type": kinds.pop()} if len(kinds) == 1 and None not in kinds else {"enum": values}
    if origin is list:
        return {"type": "array", "items": _type_schema(get_args(tp)[0], defs)}
    if isinstance(tp, type) and issubclass(tp, Strict):
        return _ref(tp, defs)
    return {"type": _JSON_TYPES[tp]}


_JSON_TYPES = {bool: "boolean", int: "integer", float: "number", str: "string"}
