"""Pipfile.lock (pipfile-spec 6): parse into a ``models.Lock`` and write it byte for byte as pipenv does.

pipenv writes ``json.dumps(lock, indent=4, separators=(",", ": "), sort_keys=True)``
plus a final newline (ASCII-escaped, keys sorted at every level), always with
``default`` and ``develop``; an entry has ``version`` (``==X``), sorted
``hashes``, ``index``, ``markers``, sorted ``extras`` and, for direct
references, ``git``/``hg``/``svn``/``bzr`` with ``ref`` and ``subdirectory``,
or ``path``/``file``, with ``editable``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Optional

from packaging.markers import InvalidMarker, Marker
from packaging.version import InvalidVersion, Version

from micro_thoth import values
from micro_thoth.errors import InputFileError, StaleLockError
from micro_thoth.models import (
    DEFAULT_CATEGORY,
    DEVELOP_CATEGORY,
    DirectReference,
    Hash,
    Lock,
    Pin,
    Pipfile,
    Source,
)

PIPFILE_SPEC = 6
VCS_KEYS = ("git", "hg", "svn", "bzr")
DIRECT_KEYS = (*VCS_KEYS, "path", "file")
_HEX_LENGTH = {"sha256": 64, "sha384": 96, "sha512": 128}


def parse_lock(text: str, path: Optional[str] = None) -> Lock:
    """Parse a Pipfile.lock; errors name the key path (``default.requests.hashes[2]``)."""
    data = _load_json(text, path)
    meta = _object(data.get("_meta", {}), path, "_meta")
    _check_spec(meta, path)
    return Lock(
        categories=_categories(data, path),
        sources=_sources(meta.get("sources", []), path),
        requires=_requires(meta.get("requires", {}), path),
        pipfile_hash=_meta_hash(meta, path),
        kind="pipfile",
        path=path,
    )


def lock_for(
    pipfile: Pipfile, categories: Mapping[str, Sequence[Pin]], path: Optional[str] = None
) -> Lock:
    """A new lock of ``pipfile``: its sources, requires and current hash, with the given pins."""
    return Lock(
        categories={name: tuple(pins) for name, pins in categories.items()},
        sources=pipfile.sources,
        requires=dict(pipfile.requires),
        pipfile_hash=pipfile.hash if pipfile.hashes else None,
        kind="pipfile",
        path=path,
    )


def dump_lock(lock: Lock) -> str:
    """The lock as pipenv writes it."""
    return json.dumps(lock_to_dict(lock), indent=4, separators=(",", ": "), sort_keys=True) + "\n"


def lock_to_dict(lock: Lock) -> dict[str, Any]:
    """The JSON document of a lock (pipenv's shape)."""
    data: dict[str, Any] = {
        "_meta": {
            "hash": {"sha256": lock.pipfile_hash or ""},
            "pipfile-spec": PIPFILE_SPEC,
            "requires": dict(lock.requires),
            "sources": [source.to_dict() for source in lock.sources],
        },
        DEFAULT_CATEGORY: {},
        DEVELOP_CATEGORY: {},
    }
    for category, pins in lock.categories.items():
        data[category] = {pin.name: pin_to_dict(pin) for pin in pins}
    return data


def pin_to_dict(pin: Pin) -> dict[str, Any]:
    """One lock entry as pipenv writes it."""
    entry: dict[str, Any] = {}
    if pin.direct is not None:
        entry.update(_direct_to_dict(pin.direct))
    elif pin.version is not None:
        entry["version"] = _written_version(pin.version)
    if pin.hashes:
        entry["hashes"] = sorted(str(h) for h in pin.hashes)
    if pin.index:
        entry["index"] = pin.index
    if pin.markers:
        entry["markers"] = lock_marker(pin.markers)
    if pin.extras:
        entry["extras"] = sorted(pin.extras)
    return entry


def lock_marker(text: str) -> str:
    """A marker as pipenv writes it in a lock: packaging's normal form with single quotes."""
    try:
        return str(Marker(text)).replace('"', "'")
    except InvalidMarker:
        return text


def _direct_to_dict(direct: DirectReference) -> dict[str, Any]:
    entry: dict[str, Any] = {direct.kind: direct.location}
    if direct.is_vcs and direct.ref is not None:
        entry["ref"] = direct.ref
    if direct.subdirectory:
        entry["subdirectory"] = direct.subdirectory
    if direct.editable:
        entry["editable"] = True
    return entry


def _written_version(version: str) -> str:
    if version == "*" or version[:1] in "=<>!~":
        return version
    return f"=={version}"


# -- checks against the Pipfile and the target ------------------------------------------------


def check_lock_current(lock: Lock, pipfile: Pipfile) -> None:
    """Raise ``StaleLockError`` unless the lock's ``_meta`` hash is one the Pipfile may carry."""
    if lock.pipfile_hash and lock.pipfile_hash in pipfile.hashes:
        return
    if not lock.pipfile_hash:
        raise StaleLockError(
            "the lock has no _meta hash (_meta.hash.sha256), so nothing says which Pipfile it was made from",
            path=lock.path,
            expected=pipfile.hash,
            actual="",
            hint="re-create the lock with `thoth-pip lock`",
        )
    old = lock.pipfile_hash
    raise StaleLockError(
        f"Pipfile.lock ({old[-6:]}) out of date: run `thoth-pip lock`, hash of Pipfile is {pipfile.hash[-6:]}",
        path=lock.path,
        expected=pipfile.hash,
        actual=old,
        hint="the Pipfile changed since the lock was made: re-lock with `thoth-pip lock`, or drop --deploy to let install re-lock",
    )


def check_python_version(
    requires: Mapping[str, str], python_full_version: str, *, path: Optional[str] = None
) -> None:
    """Raise ``StaleLockError`` if ``[requires]`` asks for another Python than the target's."""
    full = requires.get("python_full_version")
    if full and full != python_full_version:
        _python_mismatch("python_full_version", full, python_full_version, path)
    wanted = requires.get("python_version")
    if wanted and not full and wanted != ".".join(python_full_version.split(".")[:2]):
        _python_mismatch("python_version", wanted, python_full_version, path)


def _python_mismatch(key: str, wanted: str, actual: str, path: Optional[str]) -> None:
    raise StaleLockError(
        f"requires {key} {wanted}, but the target Python is {actual}",
        path=path,
        expected=wanted,
        actual=actual,
        hint="use --python to pick a matching interpreter, or re-lock for this one",
    )


# -- parsing ---------------------------------------------------------------------------------


def _load_json(text: str, path: Optional[str]) -> dict[str, Any]:
    try:
        data = json.loads(text.lstrip("\ufeff"))
    except json.JSONDecodeError as exc:
        raise InputFileError(
            f"not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}", path=path
        ) from exc
    return _object(data, path, None)


def _check_spec(meta: Mapping[str, Any], path: Optional[str]) -> None:
    spec = meta.get("pipfile-spec", PIPFILE_SPEC)
    if not isinstance(spec, int) or isinstance(spec, bool) or spec > PIPFILE_SPEC:
        raise InputFileError(
            f"unsupported pipfile-spec {spec!r} (this reads up to {PIPFILE_SPEC})",
            path=path,
            key_path="_meta.pipfile-spec",
        )


def _meta_hash(meta: Mapping[str, Any], path: Optional[str]) -> Optional[str]:
    digest = _object(meta.get("hash", {}), path, "_meta.hash").get("sha256")
    if digest is None or digest == "":
        return None
    return _string(digest, path, "_meta.hash.sha256")


def _sources(raw: Any, path: Optional[str]) -> tuple[Source, ...]:
    if not isinstance(raw, list):
        raise InputFileError("expected a list of sources", path=path, key_path="_meta.sources")
    return tuple(_source(item, path, f"_meta.sources[{i}]") for i, item in enumerate(raw))


def _source(raw: Any, path: Optional[str], key_path: str) -> Source:
    item = _object(raw, path, key_path)
    verify = item.get("verify_ssl", True)
    if not isinstance(verify, bool):
        raise InputFileError("expected true or false", path=path, key_path=f"{key_path}.verify_ssl")
    return Source(
        name=_string(item.get("name"), path, f"{key_path}.name"),
        url=_string(item.get("url"), path, f"{key_path}.url"),
        verify_ssl=verify,
    )


def _requires(raw: Any, path: Optional[str]) -> dict[str, str]:
    item = _object(raw, path, "_meta.requires")
    return {key: _string(value, path, f"_meta.requires.{key}") for key, value in item.items()}


def _categories(data: Mapping[str, Any], path: Optional[str]) -> dict[str, tuple[Pin, ...]]:
    categories: dict[str, tuple[Pin, ...]] = {DEFAULT_CATEGORY: (), DEVELOP_CATEGORY: ()}
    for category, raw in data.items():
        if category == "_meta":
            continue
        entries = _object(raw, path, category)
        categories[category] = tuple(
            _pin(name, entry, path, f"{category}.{name}") for name, entry in entries.items()
        )
    return categories


def _pin(name: str, raw: Any, path: Optional[str], key_path: str) -> Pin:
    entry = _object(raw, path, key_path)
    direct = _direct(entry, path, key_path)
    return Pin(
        name=name,
        version=None
        if direct is not None
        else _version(name, entry.get("version"), path, f"{key_path}.version"),
        hashes=_hashes(entry.get("hashes", []), path, f"{key_path}.hashes"),
        index=_optional_string(entry.get("index"), path, f"{key_path}.index"),
        markers=_markers(entry.get("markers"), path, f"{key_path}.markers"),
        extras=_extras(entry.get("extras", []), path, f"{key_path}.extras"),
        direct=direct,
    )


def _version(name: str, raw: Any, path: Optional[str], key_path: str) -> Optional[str]:
    """``==X`` with X a PEP 440 version (or pipenv's ``*`` for a package its markers leave out):
    anything else would install what nobody locked."""
    if raw is None:
        return None
    text = _string(raw, path, key_path).strip()
    if text == "*":
        return text
    version = text[2:].strip() if text.startswith("==") and not text.startswith("===") else ""
    try:
        Version(version)
    except InvalidVersion:
        raise InputFileError(
            f"version {text!r} of {name} is not a pin: a lock entry's version is '==' and a PEP 440 version",
            path=path,
            key_path=key_path,
            hint="re-create the lock with `thoth-pip lock`",
        ) from None
    return version


def _hashes(raw: Any, path: Optional[str], key_path: str) -> tuple[Hash, ...]:
    if not isinstance(raw, list):
        raise InputFileError("expected a list of hashes", path=path, key_path=key_path)
    return tuple(_hash(item, path, f"{key_path}[{i}]") for i, item in enumerate(raw))


def _hash(raw: Any, path: Optional[str], key_path: str) -> Hash:
    text = _string(raw, path, key_path)
    try:
        digest = Hash.parse(text)
    except ValueError as exc:
        raise InputFileError(
            f"not a hash: {text!r} (expected 'sha256:<hex>')", path=path, key_path=key_path
        ) from exc
    if ":" not in text or _HEX_LENGTH.get(digest.algorithm) != len(digest.value):
        raise InputFileError(
            f"not a hash: {text!r} (expected 'sha256:<64 hex digits>')",
            path=path,
            key_path=key_path,
        )
    return digest


def _markers(raw: Any, path: Optional[str], key_path: str) -> Optional[str]:
    if raw is None or raw == "":
        return None
    text = _string(raw, path, key_path)
    try:
        Marker(text)
    except InvalidMarker as exc:
        raise InputFileError(f"not a valid marker: {text!r}", path=path, key_path=key_path) from exc
    return text


def _extras(raw: Any, path: Optional[str], key_path: str) -> tuple[str, ...]:
    if not isinstance(raw, list):
        raise InputFileError("expected a list of extras", path=path, key_path=key_path)
    return tuple(_string(item, path, f"{key_path}[{i}]") for i, item in enumerate(raw))


def _direct(
    entry: Mapping[str, Any], path: Optional[str], key_path: str
) -> Optional[DirectReference]:
    kind = next((key for key in DIRECT_KEYS if key in entry), None)
    if kind is None:
        return None
    editable = entry.get("editable", False)
    if not isinstance(editable, bool):
        raise InputFileError("expected true or false", path=path, key_path=f"{key_path}.editable")
    return DirectReference(
        kind=kind,  # type: ignore[arg-type]
        location=_string(entry[kind], path, f"{key_path}.{kind}"),
        ref=_optional_string(entry.get("ref"), path, f"{key_path}.ref")
        if kind in VCS_KEYS
        else None,
        subdirectory=_optional_string(entry.get("subdirectory"), path, f"{key_path}.subdirectory"),
        editable=editable,
    )


_object = values.mapping_of
_string = values.string
_optional_string = values.optional_string
_kind = values.kind
