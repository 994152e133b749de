"""The compiled form of a parsed Unit: JSON a compiled store keeps, turned back into the same Unit without re-checking.

A sync checks every unit once (``prescriptions.parse_unit``); a lock would check
the same few hundred wraps again on every run. ``unit_form`` writes a checked
unit's parts as JSON (``should_include``, ``match``, ``run``: frozen values as
``{"@Class": [fields...]}`` (trailing ones at their defaults left out), mappings as ``{"@": [[key, value]...]}``,
specifiers as ``{"@spec": "text"}``, tuples as lists) and ``form_unit`` builds
the equal ``Unit`` from it. Many units of a package share their
``should_include`` and ``match`` word for word: those are decoded once per run.
``LAYOUT`` names the fields of every class written; a compiled form is read
only by the same layout (the store's compiler version says when to recompile).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any, NamedTuple, Optional, TypeVar

from packaging.specifiers import SpecifierSet

from ..models import Justification
from .units import (
    Alternative,
    Hardware,
    MatchEntry,
    Override,
    PackageMatch,
    ReleaseNotes,
    Run,
    RuntimeCondition,
    Selector,
    ShouldInclude,
    Unit,
)

_CLASSES: dict[str, type] = {
    cls.__name__: cls
    for cls in (Alternative, Hardware, Justification, MatchEntry, Override, PackageMatch, ReleaseNotes, Run, RuntimeCondition, Selector, ShouldInclude)
}
_FIELDS = {cls: tuple(f.name for f in dataclasses.fields(cls)) for cls in (*_CLASSES.values(), Unit)}
_REQUIRED = object()  # a field without a default: never left out
_DEFAULTS = {
    cls: tuple(f.default if f.default is not dataclasses.MISSING else f.default_factory() if f.default_factory is not dataclasses.MISSING else _REQUIRED
               for f in dataclasses.fields(cls))
    for cls in _FIELDS
}
_ENCODING = 1  # bump when how values are written changes (the fields of the classes count by themselves)
LAYOUT = hashlib.sha256(f"{_ENCODING};".encode() + ";".join(f"{name}:{','.join(_FIELDS[cls])}" for name, cls in sorted(_CLASSES.items())).encode()).hexdigest()[:12]


T = TypeVar("T")


class UnitForm(NamedTuple):
    """A unit's compiled parts (JSON texts) and what names it."""

    kind: str
    type: str
    should_include: str
    match: str
    run: str


def unit_form(unit: Unit) -> UnitForm:
    """The compiled form of a checked ``unit``."""
    return UnitForm(unit.kind, unit.type, _dumps(unit.should_include), _dumps(unit.match), _dumps(unit.run))


def form_unit(name: str, form: UnitForm, *, origin: str, path: str) -> Unit:
    """The ``Unit`` that ``form`` was written from (ValueError/TypeError/KeyError when it is not a form of this layout)."""
    return _unit(name, form, _decode(form.run), origin, path)


def form_units(named: Sequence[tuple[str, UnitForm, str]], *, origin: str) -> list[Optional[Unit]]:
    """``form_unit`` of each (name, form, path), their runs decoded in one go; None for a form that does not decode."""
    try:
        runs = _DECODER.decode("[" + ",".join(form.run for _name, form, _path in named) + "]")
        if len(runs) != len(named):
            raise ValueError("a run holds more than one value")
        return [_unit(name, form, run, origin, path) for (name, form, path), run in zip(named, runs)]
    except (ValueError, TypeError, KeyError):
        return [_tried(name, form, origin, path) for name, form, path in named]


def _tried(name: str, form: UnitForm, origin: str, path: str) -> Optional[Unit]:
    try:
        return form_unit(name, form, origin=origin, path=path)
    except (ValueError, TypeError, KeyError):
        return None


def _unit(name: str, form: UnitForm, run: Run, origin: str, path: str) -> Unit:
    if type(run) is not Run:
        raise TypeError(f"a unit's run is {type(run).__name__}")
    fields = {"name": name, "kind": form.kind, "type": form.type, "should_include": _shared(form.should_include),
              "match": _shared(form.match), "run": run, "origin": origin, "path": path}
    return _made(Unit, fields)


def _made(cls: type[T], fields: dict[str, Any]) -> T:
    """An instance of ``cls`` with these fields (the rest at their defaults), made as ``copy`` and ``pickle`` make one:
    without ``__init__``, which sets each field of a frozen class through ``object.__setattr__`` (a lock makes
    thousands; these classes check nothing in ``__init__``)."""
    made = object.__new__(cls)
    made.__dict__.update(_DEFAULT_FIELDS[cls], **fields)
    return made


def _dumps(value: Any) -> str:
    return json.dumps(_encode(value), separators=(",", ":"), ensure_ascii=False)


def _encode(value: Any, nested: bool = False) -> Any:
    """``value`` as JSON data: a tuple that is a field's value is a list, one inside another ``{"@t": [...]}``."""
    if isinstance(value, SpecifierSet):
        return {"@spec": str(value)}
    if dataclasses.is_dataclass(value) and type(value) in _FIELDS:
        values = [getattr(value, f) for f in _FIELDS[type(value)]]
        defaults = _DEFAULTS[type(value)]
        while values and values[-1] == defaults[len(values) - 1]:  # trailing fields at their defaults are left out
            values.pop()
        return {f"@{type(value).__name__}": [_encode(v) for v in values]}
    if isinstance(value, tuple):
        items = [_encode(v, nested=True) for v in value]
        return {"@t": items} if nested else items
    if isinstance(value, Mapping):
        return {"@": [[k, _encode(v, nested=True)] for k, v in value.items()]}
    if value is None or isinstance(value, (str, int, float)):
        return value
    raise TypeError(f"a unit holds {type(value).__name__}, which has no compiled form")


@lru_cache(maxsize=4096)  # a package's units share these word for word: decoded once, the (frozen) value shared
def _shared(text: str) -> Any:
    return _decode(text)


def _decode(text: str) -> Any:
    value = _DECODER.decode(text)
    return tuple(value) if type(value) is list else value


def _object(data: dict[str, Any]) -> Any:
    """One JSON object of a form, as what it was written from (the scanner calls this innermost first)."""
    key, value = next(iter(data.items()))
    if key == "@t":
        return tuple(value)
    if key == "@spec":
        return _specifier(value)
    if key == "@":
        return dict(value)
    cls, fields, defaults = _TAGGED[key]  # as ``_made`` makes one, its steps inline: a lock decodes thousands
    made: Any = object.__new__(cls)
    attributes = made.__dict__
    attributes.update(defaults)
    attributes.update(zip(fields, [tuple(v) if type(v) is list else v for v in value]))
    return made


_DECODER = json.JSONDecoder(object_hook=_object)  # one decoder for the run: json.loads(text, object_hook=...) makes one per call
_DEFAULT_FIELDS = {  # a default_factory's value is made once and shared: these values are never changed
    cls: {f: d for f, d in zip(_FIELDS[cls], _DEFAULTS[cls]) if d is not _REQUIRED} for cls in (*_CLASSES.values(), Unit)
}
_TAGGED = {f"@{name}": (cls, _FIELDS[cls], _DEFAULT_FIELDS[cls]) for name, cls in _CLASSES.items()}  # a form's key -> what makes its object


@lru_cache(maxsize=1024)
def _specifier(text: str) -> SpecifierSet:
    return SpecifierSet(text)
