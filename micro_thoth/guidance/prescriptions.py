"""Prescriptions: YAML units in Thoth's schema, parsed into frozen values and matched (pure).

A file holds ``units:`` with ``boots``, ``pseudonyms``, ``sieves``, ``steps``,
``strides``, ``wraps`` and our own ``dependency_overrides``. Parsing is strict:
an unknown key, a wrong type or an invalid specifier raises
``InputFileError`` naming the file, the unit and the key path
(``units.sieves[0].match.package_version.nme``). A user's own incompatibility
becomes a unit file with ``incompatibility_file``. Reading files, directories
and synced stores is ``micro_thoth.knowledge``'s; the values are in
``units.py``, which units apply to a machine in ``selection.py`` (both
re-exported here). docs/prescriptions.md is the reference.
"""

from __future__ import annotations

import difflib
import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, NoReturn, Optional

import yaml
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import NormalizedName, canonicalize_name

from .. import values as read
from ..errors import InputFileError, UsageError
from ..models import RECOMMENDATION_TYPES, Justification
from .selection import MachineFacts, UnitContext, runtime_matches, select_units, should_include
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
    normalize_index_url,
)

__all__ = [
    "Alternative", "Hardware", "MachineFacts", "MatchEntry", "Override", "PackageMatch", "ReleaseNotes", "Run",
    "RuntimeCondition", "Selector", "ShouldInclude", "Unit", "UnitContext", "incompatibility_file",
    "incompatibility_units", "normalize_index_url", "parse_units", "runtime_matches", "select_units", "should_include",
]

ORIGINS = ("bundled", "backend", "user", "project", "path")
_SECTIONS = {
    "boots": {"boot": "boot"},
    "pseudonyms": {"pseudonym": "pseudonym"},
    "sieves": {"sieve": "sieve", "sieve.SkipPackage": "skip_package"},
    "steps": {"step": "step", "step.Group": "step", "step.SkipPackage": "skip_package"},
    "strides": {"stride": "stride"},
    "wraps": {"wrap": "wrap", "wrap.GHReleaseNotes": "wrap"},
    "dependency_overrides": {"dependency_override": "dependency_override", "DependencyOverride": "dependency_override"},
}
_LEVELS = ("INFO", "WARNING", "ERROR")


# -- parsing --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _At:
    """Where in which file the parser is, to name it in errors."""

    path: str
    keys: str = ""
    unit: Optional[str] = None

    def key(self, name: object) -> _At:  # _At(...) rather than replace(): a sync builds a million of these
        return _At(self.path, read.join(self.keys, name), self.unit)

    def item(self, index: int) -> _At:
        return _At(self.path, f"{self.keys}[{index}]", self.unit)

    def fail(self, message: str) -> NoReturn:
        text = f"prescription unit '{self.unit}': {message}" if self.unit else message
        raise read.fail(text, self.path, self.keys)


def _mapping(at: _At, value: Any, allowed: Sequence[str], required: Sequence[str] = ()) -> dict[str, Any]:
    if not isinstance(value, dict):
        at.fail(f"expected a mapping, got {_kind(value)}")
    for key in value:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, n=1)
            at.key(key).fail(f"unknown key '{key}'" + (f" (did you mean '{close[0]}'?)" if close else ""))
    for key in required:
        if key not in value:
            at.key(key).fail("this key is required")
    return value


def _kind(value: Any) -> str:
    return read.kind(value, mapping="a mapping")


def _list(at: _At, value: Any, *, allow_single: bool = False) -> list[Any]:
    if isinstance(value, list) and value:
        return value
    if allow_single and isinstance(value, dict):
        return [value]
    at.fail(f"expected a non-empty list, got {_kind(value)}")


def _string(at: _At, value: Any) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        at.fail(f"expected a non-empty string, got {_kind(value)}")
    return value.strip()


def _bool(at: _At, value: Any) -> bool:
    if not isinstance(value, bool):
        at.fail(f"expected true or false, got {_kind(value)}")
    return value


def _name(at: _At, value: Any) -> NormalizedName:
    text = _string(at, value)
    if not re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?", text):
        at.fail(f"'{text}' is not a valid package name")
    return canonicalize_name(text)


def _specifier(at: _At, value: Any) -> SpecifierSet:
    text = _string(at, value)
    try:
        return SpecifierSet(text)
    except InvalidSpecifier as exc:
        at.fail(f"'{text}' is not a version specifier (example: '>=1.0,<2')")
        raise AssertionError from exc  # unreachable; keeps the chain for type checkers


def _selector(at: _At, value: Any, item: Any) -> Selector:
    negate = isinstance(value, dict)
    if negate:
        value = _mapping(at, value, ("not",), ("not",))["not"]
        at = at.key("not")
    items = _list(at, value)
    return Selector(tuple(None if v is None else item(at.item(i), v) for i, v in enumerate(items)), negate)


def _int_value(at: _At, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        at.fail(f"expected an integer, got {_kind(value)}")
    return value


def _messages(at: _At, value: Any, *, extra: Sequence[str] = ()) -> tuple[Justification, ...]:
    keys = ("type", "message", "link", *extra)
    out = []
    for i, entry in enumerate(_list(at, value, allow_single=True)):
        out.append(_message(at.item(i), _mapping(at.item(i), entry, keys, ("type", "message"))))
    return tuple(out)


def _message(at: _At, data: dict[str, Any]) -> Justification:
    level = _string(at.key("type"), data["type"]).upper()
    if level not in _LEVELS:
        at.key("type").fail(f"'{data['type']}' is not one of INFO, WARNING, ERROR")
    link = _string(at.key("link"), data["link"]) if data.get("link") is not None else None
    package = _name(at.key("package_name"), data["package_name"]) if data.get("package_name") else None
    return Justification(level, _string(at.key("message"), data["message"]), link=link, package=package)  # type: ignore[arg-type]


_JUSTIFICATION_EXTRA = ("package_name", "advisory", "cve_id", "cve_name", "version_range")


def parse_package(at: _At, value: Any, *, name_required: bool = False) -> PackageMatch:
    data = _mapping(at, value, ("name", "version", "index_url", "develop"), ("name",) if name_required else ())
    index_url, negate = None, False
    if data.get("index_url") is not None:
        raw = data["index_url"]
        if isinstance(raw, dict):
            raw, negate = _mapping(at.key("index_url"), raw, ("not",), ("not",))["not"], True
        index_url = normalize_index_url(_string(at.key("index_url"), raw))
    return PackageMatch(
        name=_name(at.key("name"), data["name"]) if data.get("name") is not None else None,
        version=_specifier(at.key("version"), data["version"]) if "version" in data else None,
        index_url=index_url,
        index_negate=negate,
        develop=_bool(at.key("develop"), data["develop"]) if "develop" in data else None,
    )


def _state(at: _At, value: Any, key: str = "resolved_dependencies") -> tuple[PackageMatch, ...]:
    data = _mapping(at, value, (key,), (key,))
    at = at.key(key)
    entries = _list(at, data[key], allow_single=True)
    return tuple(parse_package(at.item(i), e, name_required=True) for i, e in enumerate(entries))


_MATCH_KEYS = {
    "boot": ("package_name",),
    "pseudonym": ("package_version",),
    "sieve": ("package_version",),
    "skip_package": ("package_name", "package_version", "state"),
    "step": ("package_version", "state"),
    "stride": ("state",),
    "wrap": ("state",),
    "dependency_override": ("package_version",),
}


def _match_entry(at: _At, kind: str, value: Any) -> MatchEntry:
    data = _mapping(at, value, _MATCH_KEYS[kind])
    package = None
    if "package_version" in data:
        package = parse_package(at.key("package_version"), data["package_version"], name_required=kind != "sieve" and kind != "step")
    name = _name(at.key("package_name"), data["package_name"]) if data.get("package_name") else None
    skip = kind == "skip_package"  # its state names who introduces the package: package_version_from
    state = _state(at.key("state"), data["state"], "package_version_from" if skip else "resolved_dependencies") if "state" in data else ()
    entry = MatchEntry(package=package, package_name=name, resolved=() if skip else state, introduced_by=state if skip else ())
    _check_entry(at, kind, entry, data)
    return entry


def _check_entry(at: _At, kind: str, entry: MatchEntry, data: Mapping[str, Any]) -> None:
    if kind in ("sieve", "step", "pseudonym", "dependency_override") and entry.package is None:
        at.key("package_version").fail("this key is required")
    if kind == "stride" and not entry.resolved:
        at.key("state").fail("this key is required")
    if kind == "skip_package":
        pkg = entry.package
        if entry.package_name is None and (pkg is None or pkg.name is None):
            at.fail("a skip-package unit needs package_name (or package_version.name)")
        if entry.resolved or (pkg is not None and (pkg.version or pkg.index_url or pkg.develop is not None)):
            at.fail("thoth-pip skips a package by name only; drop version, index_url and develop (state names who introduces it)")


def _matches(at: _At, kind: str, value: Any) -> tuple[MatchEntry, ...]:
    if value is None:
        return ()
    entries = _list(at, value, allow_single=True)
    return tuple(_match_entry(at if isinstance(value, dict) else at.item(i), kind, e) for i, e in enumerate(entries))


def _group_matches(at: _At, value: Any) -> tuple[MatchEntry, ...]:
    """``step.Group``: each member matches when all the other members are in the resolved state."""
    if value is None:
        at.fail("this key is required")
    out: list[MatchEntry] = []
    for i, entry in enumerate(_list(at, value, allow_single=True)):
        where = at if isinstance(value, dict) else at.item(i)
        group = where.key("group")
        members = _list(group, _mapping(where, entry, ("group",), ("group",))["group"])
        if len(members) < 2:
            group.fail("a group names at least two packages")
        packages = [
            parse_package(group.item(j).key("package_version"), _mapping(group.item(j), m, ("package_version",), ("package_version",))["package_version"], name_required=True)
            for j, m in enumerate(members)
        ]
        out += [MatchEntry(package=p, resolved=tuple(o for o in packages if o is not p)) for p in packages]
    return tuple(out)


_RUN_KEYS = {
    "boot": ("not_acceptable", "eager_stop_pipeline"),
    "pseudonym": ("yield",),
    "sieve": (),
    "skip_package": ("multi_package_resolution",),
    "step": ("score", "justification", "not_acceptable", "eager_stop_pipeline", "multi_package_resolution"),
    "stride": ("not_acceptable", "eager_stop_pipeline"),
    "wrap": ("justification", "advised_manifest_changes", "release_notes"),
    "dependency_override": ("override", "justification"),
}


def _run(at: _At, kind: str, value: Any) -> Run:
    data = _mapping(at, {} if value is None else value, (*_RUN_KEYS[kind], "stack_info", "log"))
    if kind == "pseudonym" and "yield" not in data:
        at.key("yield").fail("this key is required")
    if kind == "dependency_override" and "override" not in data:
        at.key("override").fail("this key is required")
    return Run(
        not_acceptable=_opt_text(at.key("not_acceptable"), data.get("not_acceptable")),
        eager_stop_pipeline=_opt_text(at.key("eager_stop_pipeline"), data.get("eager_stop_pipeline")),
        score=_score(at.key("score"), data["score"]) if data.get("score") is not None else None,
        justification=_messages(at.key("justification"), data["justification"], extra=_JUSTIFICATION_EXTRA)
        if "justification" in data
        else (),
        stack_info=_messages(at.key("stack_info"), data["stack_info"]) if "stack_info" in data else (),
        log=_log(at.key("log"), data["log"]) if "log" in data else None,
        alternative=_alternative(at.key("yield"), data["yield"]) if "yield" in data else None,
        overrides=_overrides(at.key("override"), data["override"]) if "override" in data else (),
        release_notes=_release_notes(at.key("release_notes"), data["release_notes"]) if "release_notes" in data else None,
        multi_package_resolution=bool(data.get("multi_package_resolution", False)),
    )


def _release_notes(at: _At, value: Any) -> ReleaseNotes:
    data = _mapping(at, value, ("organization", "repository", "tag_version_prefix"), ("organization", "repository"))
    prefix = _opt_text(at.key("tag_version_prefix"), data.get("tag_version_prefix")) or ""
    return ReleaseNotes(_string(at.key("organization"), data["organization"]), _string(at.key("repository"), data["repository"]), prefix)


def _opt_text(at: _At, value: Any) -> Optional[str]:
    return None if value is None else _string(at, value)


def _score(at: _At, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not -1.0 <= value <= 1.0:
        at.fail(f"a score is a number from -1 to 1, got {value!r}")
    return float(value)


def _log(at: _At, value: Any) -> Justification:
    return _message(at, _mapping(at, value, ("type", "message"), ("type", "message")))


def _alternative(at: _At, value: Any) -> Alternative:
    data = _mapping(at, value, ("yield_matched_version", "package_version"), ("package_version",))
    pat = at.key("package_version")
    pkg = _mapping(pat, data["package_version"], ("name", "locked_version", "index_url"), ("name",))
    locked = _opt_text(pat.key("locked_version"), pkg.get("locked_version"))
    if locked is not None and not locked.startswith("=="):
        pat.key("locked_version").fail(f"'{locked}' is not a locked version (example: '==1.0.0')")
    index = _opt_text(pat.key("index_url"), pkg.get("index_url"))
    return Alternative(
        name=_name(pat.key("name"), pkg["name"]),
        locked_version=locked,
        index_url=normalize_index_url(index) if index else None,
        yield_matched_version=_bool(at.key("yield_matched_version"), data.get("yield_matched_version", False)),
    )


def _overrides(at: _At, value: Any) -> tuple[Override, ...]:
    entries = _list(at, value, allow_single=True)
    out = []
    for i, entry in enumerate(entries):
        where = at if isinstance(value, dict) else at.item(i)
        data = _mapping(where, entry, ("name", "specifier", "drop"), ("name",))
        drop = _bool(where.key("drop"), data.get("drop", False))
        if drop == ("specifier" in data):
            where.fail("an override has either a specifier or drop: true")
        spec = data.get("specifier")
        specifier = SpecifierSet() if spec in ("", "*") else _specifier(where.key("specifier"), spec) if spec is not None else None
        out.append(Override(_name(where.key("name"), data["name"]), specifier, drop))
    return tuple(out)


_SHOULD_INCLUDE_KEYS = (
    "times", "adviser_pipeline", "dependency_monkey_pipeline", "labels", "dependencies",
    "recommendation_types", "decision_types", "runtime_environments", "library_usage", "authenticated",
)


def _should_include(at: _At, value: Any) -> ShouldInclude:
    data = _mapping(at, {} if value is None else value, _SHOULD_INCLUDE_KEYS)
    times = _int_value(at.key("times"), data.get("times", 1))
    if times not in (0, 1):
        at.key("times").fail("times is 0 or 1")
    return ShouldInclude(
        times=times,
        adviser_pipeline=_bool(at.key("adviser_pipeline"), data["adviser_pipeline"]) if "adviser_pipeline" in data else None,
        dependency_monkey_pipeline=_bool(at.key("dependency_monkey_pipeline"), data["dependency_monkey_pipeline"])
        if "dependency_monkey_pipeline" in data
        else None,
        recommendation_types=_selector(at.key("recommendation_types"), data["recommendation_types"], _recommendation_type)
        if "recommendation_types" in data
        else None,
        runtime=_runtime(at.key("runtime_environments"), data.get("runtime_environments")),
        labels=_labels(at.key("labels"), data.get("labels")),
        dependencies=_dependencies(at.key("dependencies"), data.get("dependencies")),
        library_usage=bool(data.get("library_usage")),
        authenticated=_bool(at.key("authenticated"), data["authenticated"]) if "authenticated" in data else None,
    )


def _recommendation_type(at: _At, value: Any) -> str:
    text = _string(at, value).lower()
    if text not in RECOMMENDATION_TYPES:
        at.fail(f"'{value}' is not a recommendation type ({', '.join(RECOMMENDATION_TYPES)})")
    return text


def _labels(at: _At, value: Any) -> dict[str, str]:
    if value is None:
        return {}
    data = _mapping(at, value, tuple(str(k) for k in value) if isinstance(value, dict) else ())
    return {str(k): _string(at.key(k), v) for k, v in data.items()}


def _dependencies(at: _At, value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    data = _mapping(at, value, tuple(_SECTIONS))
    return tuple(_string(at.key(k).item(i), n) for k, names in data.items() for i, n in enumerate(_list(at.key(k), names)))


_RUNTIME_VERSIONS = ("python_version", "cuda_version", "cudnn_version", "mkl_version", "openblas_version", "openmpi_version")
_RUNTIME_KEYS = (*_RUNTIME_VERSIONS, "operating_systems", "hardware", "platforms", "base_images", "abi", "rpm_packages", "python_packages")


def _runtime(at: _At, value: Any) -> RuntimeCondition:
    data = _mapping(at, {} if value is None else value, _RUNTIME_KEYS)
    versions = {k: _specifier(at.key(k), data[k]) for k in _RUNTIME_VERSIONS if data.get(k) is not None}
    return RuntimeCondition(
        operating_systems=_selector(at.key("operating_systems"), data["operating_systems"], _os_entry)
        if "operating_systems" in data
        else None,
        hardware=_hardware_list(at.key("hardware"), data["hardware"]) if "hardware" in data else (),
        versions=versions,
        platforms=_selector(at.key("platforms"), data["platforms"], _string) if "platforms" in data else None,
        base_images=_selector(at.key("base_images"), data["base_images"], _string) if "base_images" in data else None,
        needs_image_analysis=any(k in data for k in ("abi", "rpm_packages", "python_packages")),
    )


def _os_entry(at: _At, value: Any) -> tuple[Optional[str], Optional[str]]:
    data = _mapping(at, value, ("name", "version"))
    name = _string(at.key("name"), data["name"]).lower() if data.get("name") is not None else None
    version = _string(at.key("version"), data["version"]) if data.get("version") is not None else None
    return (name, version)


def _hardware_list(at: _At, value: Any) -> tuple[Hardware, ...]:
    entries = _list(at, value, allow_single=True)
    return tuple(_hardware(at if isinstance(value, dict) else at.item(i), e) for i, e in enumerate(entries))


def _hardware(at: _At, value: Any) -> Hardware:
    data = _mapping(at, value, ("cpu_families", "cpu_models", "cpu_flags", "gpu_models"))
    sel = {k: _selector(at.key(k), data[k], _int_value if k.startswith("cpu_") and k != "cpu_flags" else _string) for k in data}
    return Hardware(**sel)


def _unit(at: _At, section: str, value: Any, origin: str) -> Unit:
    if isinstance(value, dict) and isinstance(value.get("name"), str):
        at = replace(at, unit=value["name"])
    keys = ("name", "type", "should_include", "match", "run", "metadata")  # metadata: free-form, unused
    data = _mapping(at, value, keys, ("name", "type"))
    kind = _SECTIONS[section].get(str(data["type"]))
    if kind is None:
        at.key("type").fail(f"type '{data['type']}' is not supported in {section} (use {', '.join(_SECTIONS[section])})")
    if data["type"] == "step.Group":
        match = _group_matches(at.key("match"), data.get("match"))
    else:
        match = _matches(at.key("match"), kind, data.get("match"))
    if not match and kind not in ("boot", "wrap"):
        at.key("match").fail("this key is required")
    return Unit(
        name=_string(at.key("name"), data["name"]),
        kind=kind,
        type=str(data["type"]),
        should_include=_should_include(at.key("should_include"), data.get("should_include")),
        match=match,
        run=_run(at.key("run"), kind, data.get("run")),
        origin=origin,
        path=at.path,
    )


def parse_units(text: str, *, path: str, origin: str = "path") -> tuple[Unit, ...]:
    """Parse one prescription file's text; raises InputFileError with the unit and key path."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InputFileError(f"invalid YAML: {exc}", path=path) from exc
    units = [parse_unit(section, raw, path=path, origin=origin, index=i) for section, i, raw in unit_entries(document, path=path)]
    _check_unique(_At(path), units)
    return tuple(units)


def unit_entries(document: Any, *, path: str) -> list[tuple[str, int, Any]]:
    """(section, index, raw unit) of every unit in a loaded YAML document; InputFileError if it holds no ``units:``."""
    at = _At(path)
    if document is None:
        return []
    data = _mapping(at, document, ("units",), ("units",))
    sections = _mapping(at.key("units"), data["units"] or {}, tuple(_SECTIONS))
    return [(section, i, raw) for section, entries in sections.items() for i, raw in enumerate(_list(at.key("units").key(section), entries))]


def parse_unit(section: str, raw: Any, *, path: str, origin: str = "path", index: int = 0) -> Unit:
    """One unit of a file's ``units.<section>`` list (its raw mapping), checked as ``parse_units`` checks it."""
    return _unit(_At(path).key("units").key(section).item(index), section, raw, origin)


def unit_name(raw: Any) -> Optional[str]:
    """The name a raw unit gives itself, if any (to name it in a warning before it parses)."""
    return raw["name"] if isinstance(raw, dict) and isinstance(raw.get("name"), str) else None


def package_names(unit: Unit) -> frozenset[str]:
    """Every package name ``unit`` can speak about; empty when it may apply to any package (package-independent)."""
    names: set[str] = set()
    for entry in unit.match:
        named = (entry.package.name if entry.package else None, entry.package_name, *(w.name for w in (*entry.resolved, *entry.introduced_by)))
        found = {n for n in named if n}
        if not found:
            return frozenset()
        names |= found
    return frozenset(names)


def _check_unique(at: _At, units: Sequence[Unit]) -> None:
    seen: set[str] = set()
    for unit in units:
        if unit.name in seen:
            replace(at, unit=unit.name).fail("two units in one file have this name")
        seen.add(unit.name)


# -- user-recorded incompatibilities --------------------------------------------------------


def _requirement(text: str) -> Requirement:
    try:
        req = Requirement(text)
    except InvalidRequirement as exc:
        raise UsageError(f"not a requirement: '{text}'", hint="write it like 'numpy==1.26.0' or 'scipy>=1.11'") from exc
    if req.url or req.marker or req.extras:
        raise UsageError(f"'{text}': an incompatibility names a package and a version range only")
    return req


def incompatibility_units(a: str, b: str, reason: str) -> dict[str, Any]:
    """The YAML document (as data) for "``a`` does not work with ``b``": one ``step.Group`` unit.

    A group refuses each member when the others are in the resolved state, so the
    refusal holds whichever of the two the resolver pins first (Thoth's own form
    for such findings).
    """
    first, second = _requirement(a), _requirement(b)
    if canonicalize_name(first.name) == canonicalize_name(second.name):
        raise UsageError("an incompatibility is between two different packages")
    if not reason.strip():
        raise UsageError("say why the two are incompatible (--reason)")
    digest = hashlib.sha256(f"{first}|{second}".encode()).hexdigest()[:8]
    message = f"{first} is incompatible with {second}: {reason.strip()}"
    unit = {
        "name": f"UserIncompatibility-{_slug(f'{first}-{second}')}-{digest}",
        "type": "step.Group",
        "should_include": {"adviser_pipeline": True},
        "match": {"group": [{"package_version": _package_dict(first)}, {"package_version": _package_dict(second)}]},
        "run": {"not_acceptable": message, "justification": [{"type": "ERROR", "message": message}]},
    }
    return {"units": {"steps": [unit]}}


def _package_dict(req: Requirement) -> dict[str, str]:
    out = {"name": str(canonicalize_name(req.name))}
    if str(req.specifier):
        out["version"] = str(req.specifier)
    return out


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.]+", "-", text).strip("-").lower()


def incompatibility_file(a: str, b: str, reason: str) -> tuple[str, str]:
    """(file name, YAML text) of the unit file recording "``a`` does not work with ``b``"; the text is checked to load."""
    document = incompatibility_units(a, b, reason)
    text = "# recorded with `thoth-pip prescription add --incompatible A B`\n" + yaml.safe_dump(
        document, sort_keys=False, allow_unicode=True
    )
    name = document["units"]["steps"][0]["name"]
    parse_units(text, path=name, origin="user")  # what we write must load
    return f"{name.lower()}.yaml", text
