"""Prescriptions: YAML units in Thoth's schema, parsed into frozen values and matched (pure).

A file holds ``units:`` with ``boots``, ``pseudonyms``, ``sieves``, ``steps``,
``strides``, ``wraps`` and our own ``dependency_overrides``. Parsing is strict:
an unknown key, a wrong type or an invalid specifier raises
``InputFileError`` naming the file, the unit and the key path
(``units.sieves[0].match.package_version.nme``). A user's own incompatibility
becomes a unit file in ``incompatibility.py``. Reading files, directories
and synced stores is ``micro_thoth.knowledge``'s; the values are in
``units.py``, which units apply to a machine in ``selection.py`` (both
re-exported here). docs/prescriptions.md is the reference.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Optional, TypeVar, cast

from packaging.specifiers import SpecifierSet

from ..errors import InputFileError
from ..models import RECOMMENDATION_TYPES, Justification
from .reading import (
    At,
    bool_at,
    int_at,
    list_at,
    mapping_at,
    name_at,
    selector_at,
    specifier_at,
    string_at,
)
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
    "RuntimeCondition", "Selector", "ShouldInclude", "Unit", "UnitContext",
    "normalize_index_url", "parse_units", "runtime_matches", "select_units", "should_include",
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


def _messages(at: At, value: Any, *, extra: Sequence[str] = ()) -> tuple[Justification, ...]:
    keys = ("type", "message", "link", *extra)
    out = []
    for i, entry in enumerate(list_at(at, value, allow_single=True)):
        where = at.item(i)
        out.append(_message(where, mapping_at(where, entry, keys, ("type", "message"))))
    return tuple(out)


def _message(at: At, data: dict[str, Any]) -> Justification:
    level = string_at(at, data["type"], "type").upper()
    if level not in _LEVELS:
        at.key("type").fail(f"'{data['type']}' is not one of INFO, WARNING, ERROR")
    link = string_at(at, data["link"], "link") if data.get("link") is not None else None
    package = name_at(at, data["package_name"], "package_name") if data.get("package_name") else None
    return Justification(level, string_at(at, data["message"], "message"), link=link, package=package)  # type: ignore[arg-type]


_JUSTIFICATION_EXTRA = ("package_name", "advisory", "cve_id", "cve_name", "version_range")


def parse_package(at: At, value: Any, *, name_required: bool = False) -> PackageMatch:
    data = mapping_at(at, value, ("name", "version", "index_url", "develop"), ("name",) if name_required else ())
    index_url, negate = None, False
    if data.get("index_url") is not None:
        raw = data["index_url"]
        if isinstance(raw, dict):
            raw, negate = mapping_at(at.key("index_url"), raw, ("not",), ("not",))["not"], True
        index_url = normalize_index_url(string_at(at.key("index_url"), raw))
    return PackageMatch(
        name=name_at(at.key("name"), data["name"]) if data.get("name") is not None else None,
        version=specifier_at(at.key("version"), data["version"]) if "version" in data else None,
        index_url=index_url,
        index_negate=negate,
        develop=bool_at(at.key("develop"), data["develop"]) if "develop" in data else None,
    )


def _state(at: At, value: Any, key: str = "resolved_dependencies") -> tuple[PackageMatch, ...]:
    data = mapping_at(at, value, (key,), (key,))
    at = at.key(key)
    entries = list_at(at, data[key], allow_single=True)
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


def _match_entry(at: At, kind: str, value: Any) -> MatchEntry:
    data = mapping_at(at, value, _MATCH_KEYS[kind])
    package = None
    if "package_version" in data:
        package = parse_package(at.key("package_version"), data["package_version"], name_required=kind != "sieve" and kind != "step")
    name = name_at(at.key("package_name"), data["package_name"]) if data.get("package_name") else None
    skip = kind == "skip_package"  # its state names who introduces the package: package_version_from
    state = _state(at.key("state"), data["state"], "package_version_from" if skip else "resolved_dependencies") if "state" in data else ()
    entry = MatchEntry(package=package, package_name=name, resolved=() if skip else state, introduced_by=state if skip else ())
    _check_entry(at, kind, entry, data)
    return entry


def _check_entry(at: At, kind: str, entry: MatchEntry, data: Mapping[str, Any]) -> None:
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


def _matches(at: At, kind: str, value: Any) -> tuple[MatchEntry, ...]:
    if value is None:
        return ()
    entries = list_at(at, value, allow_single=True)
    return tuple(_match_entry(at if isinstance(value, dict) else at.item(i), kind, e) for i, e in enumerate(entries))


def _group_matches(at: At, value: Any) -> tuple[MatchEntry, ...]:
    """``step.Group``: each member matches when all the other members are in the resolved state."""
    if value is None:
        at.fail("this key is required")
    out: list[MatchEntry] = []
    for i, entry in enumerate(list_at(at, value, allow_single=True)):
        where = at if isinstance(value, dict) else at.item(i)
        group = where.key("group")
        members = list_at(group, mapping_at(where, entry, ("group",), ("group",))["group"])
        if len(members) < 2:
            group.fail("a group names at least two packages")
        packages = [
            parse_package(group.item(j).key("package_version"), mapping_at(group.item(j), m, ("package_version",), ("package_version",))["package_version"], name_required=True)
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


def _run(at: At, kind: str, value: Any) -> Run:
    data = mapping_at(at, {} if value is None else value, (*_RUN_KEYS[kind], "stack_info", "log"))
    if kind == "pseudonym" and "yield" not in data:
        at.key("yield").fail("this key is required")
    if kind == "dependency_override" and "override" not in data:
        at.key("override").fail("this key is required")
    return Run(  # a key's place is named (``at.key``) only when it is there: a lock parses hundreds of wraps
        not_acceptable=_opt_text(at, data, "not_acceptable"),
        eager_stop_pipeline=_opt_text(at, data, "eager_stop_pipeline"),
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


def _release_notes(at: At, value: Any) -> ReleaseNotes:
    data = mapping_at(at, value, ("organization", "repository", "tag_version_prefix"), ("organization", "repository"))
    prefix = _opt_text(at, data, "tag_version_prefix") or ""
    return ReleaseNotes(string_at(at.key("organization"), data["organization"]), string_at(at.key("repository"), data["repository"]), prefix)


def _opt_text(at: At, data: Mapping[str, Any], key: str) -> Optional[str]:
    value = data.get(key)
    return None if value is None else string_at(at, value, key)


def _score(at: At, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not -1.0 <= value <= 1.0:
        at.fail(f"a score is a number from -1 to 1, got {value!r}")
    return float(value)


def _log(at: At, value: Any) -> Justification:
    return _message(at, mapping_at(at, value, ("type", "message"), ("type", "message")))


def _alternative(at: At, value: Any) -> Alternative:
    data = mapping_at(at, value, ("yield_matched_version", "package_version"), ("package_version",))
    pat = at.key("package_version")
    pkg = mapping_at(pat, data["package_version"], ("name", "locked_version", "index_url"), ("name",))
    locked = _opt_text(pat, pkg, "locked_version")
    if locked is not None and not locked.startswith("=="):
        pat.key("locked_version").fail(f"'{locked}' is not a locked version (example: '==1.0.0')")
    index = _opt_text(pat, pkg, "index_url")
    return Alternative(
        name=name_at(pat.key("name"), pkg["name"]),
        locked_version=locked,
        index_url=normalize_index_url(index) if index else None,
        yield_matched_version=bool_at(at.key("yield_matched_version"), data.get("yield_matched_version", False)),
    )


def _overrides(at: At, value: Any) -> tuple[Override, ...]:
    entries = list_at(at, value, allow_single=True)
    out = []
    for i, entry in enumerate(entries):
        where = at if isinstance(value, dict) else at.item(i)
        data = mapping_at(where, entry, ("name", "specifier", "drop"), ("name",))
        drop = bool_at(where.key("drop"), data.get("drop", False))
        if drop == ("specifier" in data):
            where.fail("an override has either a specifier or drop: true")
        spec = data.get("specifier")
        specifier = SpecifierSet() if spec in ("", "*") else specifier_at(where.key("specifier"), spec) if spec is not None else None
        out.append(Override(name_at(where.key("name"), data["name"]), specifier, drop))
    return tuple(out)


_SHOULD_INCLUDE_KEYS = (
    "times", "adviser_pipeline", "dependency_monkey_pipeline", "labels", "dependencies",
    "recommendation_types", "decision_types", "runtime_environments", "library_usage", "authenticated",
)


def _should_include(at: At, value: Any) -> ShouldInclude:
    data = mapping_at(at, {} if value is None else value, _SHOULD_INCLUDE_KEYS)
    times = int_at(at.key("times"), data.get("times", 1))
    if times not in (0, 1):
        at.key("times").fail("times is 0 or 1")
    return ShouldInclude(
        times=times,
        adviser_pipeline=bool_at(at.key("adviser_pipeline"), data["adviser_pipeline"]) if "adviser_pipeline" in data else None,
        dependency_monkey_pipeline=bool_at(at.key("dependency_monkey_pipeline"), data["dependency_monkey_pipeline"])
        if "dependency_monkey_pipeline" in data
        else None,
        recommendation_types=selector_at(at.key("recommendation_types"), data["recommendation_types"], _recommendation_type)
        if "recommendation_types" in data
        else None,
        runtime=_runtime(at.key("runtime_environments"), data.get("runtime_environments")),
        labels=_labels(at.key("labels"), data.get("labels")),
        dependencies=_dependencies(at.key("dependencies"), data.get("dependencies")),
        library_usage=bool(data.get("library_usage")),
        authenticated=bool_at(at.key("authenticated"), data["authenticated"]) if "authenticated" in data else None,
    )


def _recommendation_type(at: At, value: Any) -> str:
    text = string_at(at, value).lower()
    if text not in RECOMMENDATION_TYPES:
        at.fail(f"'{value}' is not a recommendation type ({', '.join(RECOMMENDATION_TYPES)})")
    return text


def _labels(at: At, value: Any) -> dict[str, str]:
    if value is None:
        return {}
    data = mapping_at(at, value, tuple(str(k) for k in value) if isinstance(value, dict) else ())
    return {str(k): string_at(at.key(k), v) for k, v in data.items()}


def _dependencies(at: At, value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    data = mapping_at(at, value, tuple(_SECTIONS))
    return tuple(string_at(at.key(k).item(i), n) for k, names in data.items() for i, n in enumerate(list_at(at.key(k), names)))


_RUNTIME_VERSIONS = ("python_version", "cuda_version", "cudnn_version", "mkl_version", "openblas_version", "openmpi_version")
_RUNTIME_KEYS = (*_RUNTIME_VERSIONS, "operating_systems", "hardware", "platforms", "base_images", "abi", "rpm_packages", "python_packages")


def _runtime(at: At, value: Any) -> RuntimeCondition:
    data = mapping_at(at, {} if value is None else value, _RUNTIME_KEYS)
    versions = {k: specifier_at(at.key(k), data[k]) for k in _RUNTIME_VERSIONS if data.get(k) is not None}
    return RuntimeCondition(
        operating_systems=selector_at(at.key("operating_systems"), data["operating_systems"], _os_entry)
        if "operating_systems" in data
        else None,
        hardware=_hardware_list(at.key("hardware"), data["hardware"]) if "hardware" in data else (),
        versions=versions,
        platforms=selector_at(at.key("platforms"), data["platforms"], string_at) if "platforms" in data else None,
        base_images=selector_at(at.key("base_images"), data["base_images"], string_at) if "base_images" in data else None,
        needs_image_analysis=any(k in data for k in ("abi", "rpm_packages", "python_packages")),
    )


def _os_entry(at: At, value: Any) -> tuple[Optional[str], Optional[str]]:
    data = mapping_at(at, value, ("name", "version"))
    name = string_at(at.key("name"), data["name"]).lower() if data.get("name") is not None else None
    version = string_at(at.key("version"), data["version"]) if data.get("version") is not None else None
    return (name, version)


def _hardware_list(at: At, value: Any) -> tuple[Hardware, ...]:
    entries = list_at(at, value, allow_single=True)
    return tuple(_hardware(at if isinstance(value, dict) else at.item(i), e) for i, e in enumerate(entries))


def _hardware(at: At, value: Any) -> Hardware:
    data = mapping_at(at, value, ("cpu_families", "cpu_models", "cpu_flags", "gpu_models"))
    sel = {k: selector_at(at.key(k), data[k], int_at if k.startswith("cpu_") and k != "cpu_flags" else string_at) for k in data}
    return Hardware(**sel)


def _unit(at: At, section: str, value: Any, origin: str) -> Unit:
    if isinstance(value, dict) and isinstance(value.get("name"), str):
        at = at.about(value["name"])
    keys = ("name", "type", "should_include", "match", "run", "metadata")  # metadata: free-form, unused
    data = mapping_at(at, value, keys, ("name", "type"))
    kind = _SECTIONS[section].get(str(data["type"]))
    if kind is None:
        at.key("type").fail(f"type '{data['type']}' is not supported in {section} (use {', '.join(_SECTIONS[section])})")
    if data["type"] == "step.Group":
        match = _group_matches(at.key("match"), data.get("match"))
    else:
        match = _once(("match", kind), data.get("match"), lambda: _matches(at.key("match"), kind, data.get("match")))
    if not match and kind not in ("boot", "wrap"):
        at.key("match").fail("this key is required")
    return Unit(
        name=string_at(at, data["name"], "name"),
        kind=kind,
        type=str(data["type"]),
        should_include=_once(("should_include",), data.get("should_include"), lambda: _should_include(at.key("should_include"), data.get("should_include"))),
        match=match,
        run=_run(at.key("run"), kind, data.get("run")),
        origin=origin,
        path=at.path,
    )


T = TypeVar("T")
_PARSED: dict[tuple[Any, ...], Any] = {}  # (what, repr of the raw value) -> the value it parsed to (immutable, shared)


def _once(what: tuple[str, ...], raw: Any, parse: Callable[[], T]) -> T:
    """``parse()``, or what the same raw value parsed to before: a compiled store's wraps repeat their
    ``should_include`` and ``match`` (every scorecard unit of a package); only values that parsed are kept."""
    key = (*what, repr(raw))
    if key in _PARSED:
        return cast(T, _PARSED[key])
    value = parse()
    if len(_PARSED) < 4096:
        _PARSED[key] = value
    return value


def parse_units(text: str, *, path: str, origin: str = "path") -> tuple[Unit, ...]:
    """Parse one prescription file's text; raises InputFileError with the unit and key path."""
    # imported here: a lock whose units come compiled (the bundled ones, knowledge/compiled.py) or
    # from the knowledge store parses no YAML, and pyyaml's import is ≈ 10 ms
    import yaml

    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InputFileError(f"invalid YAML: {exc}", path=path) from exc
    return parse_document(document, path=path, origin=origin)


def parse_document(document: Any, *, path: str, origin: str = "path") -> tuple[Unit, ...]:
    """The units of a prescription file's loaded YAML document, checked as ``parse_units`` checks them."""
    units = [parse_unit(section, raw, path=path, origin=origin, index=i) for section, i, raw in unit_entries(document, path=path)]
    _check_unique(At(path), units)
    return tuple(units)


def unit_entries(document: Any, *, path: str) -> list[tuple[str, int, Any]]:
    """(section, index, raw unit) of every unit in a loaded YAML document; InputFileError if it holds no ``units:``."""
    at = At(path)
    if document is None:
        return []
    data = mapping_at(at, document, ("units",), ("units",))
    sections = mapping_at(at.key("units"), data["units"] or {}, tuple(_SECTIONS))
    return [(section, i, raw) for section, entries in sections.items() for i, raw in enumerate(list_at(at.key("units").key(section), entries))]


def parse_unit(section: str, raw: Any, *, path: str, origin: str = "path", index: int = 0) -> Unit:
    """One unit of a file's ``units.<section>`` list (its raw mapping), checked as ``parse_units`` checks it."""
    return _unit(At(path).key("units").key(section).item(index), section, raw, origin)


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


def _check_unique(at: At, units: Sequence[Unit]) -> None:
    seen: set[str] = set()
    for unit in units:
        if unit.name in seen:
            at.about(unit.name).fail("two units in one file have this name")
        seen.add(unit.name)
