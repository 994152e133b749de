"""poetry.lock (read only): lock format 1.x (``[metadata.files]``) and 2.x (per-package ``files``) as a Lock.

Categories: ``category = "main"`` or ``"main"`` in ``groups`` -> ``default``;
``dev`` or any other group -> ``develop`` (a package in both is in both). A
lock 2.0 package without category or groups is ``default``. ``[package.source]``
of type ``legacy`` pins the package to that index (named by ``reference``);
``git``, ``directory``, ``file`` and ``url`` become direct references.
Optional packages (pulled in by the root's extras) are left out unless asked for.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any, Optional

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from micro_thoth import models, values
from micro_thoth.errors import InputFileError
from micro_thoth.formats.pipfile import parse_toml
from micro_thoth.models import (
    DirectReference,
    Hash,
    Lock,
    Pin,
    Source,
)

MAIN_GROUP = "main"
SUPPORTED_MAJOR = (1, 2)


def parse_poetry_lock(
    text: str, path: Optional[str] = None, *, include_optional: bool = False
) -> Lock:
    """Parse a poetry.lock; errors name the key path (``package[3].files[0].hash``)."""
    data = parse_toml(text, path)
    metadata = _table(data.get("metadata", {}), path, "metadata")
    _check_version(metadata, path)
    packages = data.get("package", [])
    if not isinstance(packages, list):
        raise InputFileError(
            "expected an array of tables ([[package]])", path=path, key_path="package"
        )
    shared_files = _table(metadata.get("files", metadata.get("hashes", {})), path, "metadata.files")
    categories: dict[str, list[Pin]] = {models.DEFAULT_CATEGORY: [], models.DEVELOP_CATEGORY: []}
    sources: dict[str, Source] = {}
    for i, raw in enumerate(packages):
        package = _table(raw, path, f"package[{i}]")
        if package.get("optional") is True and not include_optional:
            continue
        _add_package(categories, sources, package, shared_files, path, f"package[{i}]")
    frozen = {name: tuple(pins) for name, pins in categories.items()}
    return Lock(categories=frozen, sources=tuple(sources.values()), kind="poetry", path=path)


def _check_version(metadata: Mapping[str, Any], path: Optional[str]) -> None:
    version = str(metadata.get("lock-version", "1.0"))
    try:
        major = Version(version).major
    except InvalidVersion:
        major = -1
    if major not in SUPPORTED_MAJOR:
        raise InputFileError(
            f"unsupported lock-version {version!r} (this reads 1.x and 2.x)",
            path=path,
            key_path="metadata.lock-version",
        )


def _add_package(
    categories: dict[str, list[Pin]],
    sources: dict[str, Source],
    package: Mapping[str, Any],
    shared_files: Mapping[str, Any],
    path: Optional[str],
    key_path: str,
) -> None:
    name = _string(package.get("name"), path, f"{key_path}.name")
    version = _string(package.get("version"), path, f"{key_path}.version")
    direct, index = _source(package.get("source"), sources, path, f"{key_path}.source")
    if direct is not None and package.get("develop") is True:
        direct = replace(direct, editable=True)
    hashes = _hashes(package, shared_files, name, version, path, key_path)
    for category, markers in _placements(package, path, key_path):
        pin = Pin(name, version, hashes, index=index, markers=markers, direct=direct)
        categories.setdefault(category, []).append(pin)


def _placements(
    package: Mapping[str, Any], path: Optional[str], key_path: str
) -> list[tuple[str, Optional[str]]]:
    """(category, markers) for each category the package belongs to."""
    groups = _groups(package, path, key_path)
    markers = package.get("markers")
    placed: list[tuple[str, Optional[str]]] = []
    if MAIN_GROUP in groups:
        placed.append((models.DEFAULT_CATEGORY, _markers_for(markers, [MAIN_GROUP], path, key_path)))
    others = [group for group in groups if group != MAIN_GROUP]
    if others:
        placed.append((models.DEVELOP_CATEGORY, _markers_for(markers, others, path, key_path)))
    return placed


def _groups(package: Mapping[str, Any], path: Optional[str], key_path: str) -> list[str]:
    if "groups" in package:
        groups = package["groups"]
        if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
            raise InputFileError(
                "expected a list of group names", path=path, key_path=f"{key_path}.groups"
            )
        return groups or [MAIN_GROUP]
    category = package.get("category", MAIN_GROUP)
    return [_string(category, path, f"{key_path}.category")]


def _markers_for(
    markers: Any, groups: list[str], path: Optional[str], key_path: str
) -> Optional[str]:
    """A package's markers for some of its groups (poetry 2 writes a table per group)."""
    if markers is None or isinstance(markers, str):
        return markers or None
    if not isinstance(markers, Mapping):
        raise InputFileError(
            "expected a string or a table of markers", path=path, key_path=f"{key_path}.markers"
        )
    chosen = [_string(markers[g], path, f"{key_path}.markers.{g}") for g in groups if g in markers]
    if len(chosen) < len(groups) or not chosen:
        return None  # some group needs it unconditionally
    unique = list(dict.fromkeys(chosen))
    return unique[0] if len(unique) == 1 else " or ".join(f"({m})" for m in unique)


def _source(
    raw: Any, sources: dict[str, Source], path: Optional[str], key_path: str
) -> tuple[Optional[DirectReference], Optional[str]]:
    """(direct reference, index name) from ``[package.source]``."""
    if raw is None:
        return None, None
    source = _table(raw, path, key_path)
    kind = _string(source.get("type"), path, f"{key_path}.type")
    url = _string(source.get("url"), path, f"{key_path}.url")
    if kind == "legacy":
        name = _string(source.get("reference"), path, f"{key_path}.reference")
        sources.setdefault(name, Source(name, url))
        return None, name
    return _direct(kind, url, source, path, key_path), None


def _direct(
    kind: str, url: str, source: Mapping[str, Any], path: Optional[str], key_path: str
) -> DirectReference:
    subdirectory = source.get("subdirectory")
    if subdirectory is not None:
        subdirectory = _string(subdirectory, path, f"{key_path}.subdirectory")
    if kind in ("git", "hg", "svn", "bzr"):
        ref = source.get("resolved_reference") or source.get("reference")
        ref = _string(ref, path, f"{key_path}.resolved_reference") if ref is not None else None
        return DirectReference(kind, url, ref, subdirectory)  # type: ignore[arg-type]
    if kind in ("directory", "file"):
        return DirectReference("path", url, None, subdirectory)
    if kind == "url":
        return DirectReference("file", url, None, subdirectory)
    raise InputFileError(f"unknown source type {kind!r}", path=path, key_path=f"{key_path}.type")


def _hashes(
    package: Mapping[str, Any],
    shared_files: Mapping[str, Any],
    name: str,
    version: str,
    path: Optional[str],
    key_path: str,
) -> tuple[Hash, ...]:
    if "files" in package:
        return _file_hashes(package["files"], None, path, f"{key_path}.files")
    key = next((k for k in shared_files if canonicalize_name(k) == canonicalize_name(name)), None)
    if key is None:
        return ()
    return _file_hashes(shared_files[key], version, path, f"metadata.files.{key}")


def _file_hashes(
    raw: Any, version: Optional[str], path: Optional[str], key_path: str
) -> tuple[Hash, ...]:
    """Hashes of the listed files; with ``version``, only that version's files (1.x shares one list)."""
    if not isinstance(raw, list):
        raise InputFileError("expected a list of files", path=path, key_path=key_path)
    hashes: list[Hash] = []
    for i, item in enumerate(raw):
        where = f"{key_path}[{i}]"
        if isinstance(item, str):  # lock 1.0 [metadata.hashes]: bare digests
            hashes.append(_hash(item, path, where))
            continue
        entry = _table(item, path, where)
        if version is None or _file_version(entry.get("file")) in (None, Version(version)):
            hashes.append(_hash(entry.get("hash"), path, f"{where}.hash"))
    return tuple(dict.fromkeys(hashes))


def _file_version(filename: Any) -> Optional[Version]:
    if not isinstance(filename, str):
        return None
    try:
        if filename.endswith(".whl"):
            return parse_wheel_filename(filename)[1]
        return parse_sdist_filename(filename)[1]
    except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
        return None


def _hash(raw: Any, path: Optional[str], key_path: str) -> Hash:
    text = _string(raw, path, key_path)
    if ":" not in text:
        text = f"sha256:{text}"  # lock 1.0 wrote bare sha256 digests
    try:
        return Hash.parse(text)
    except ValueError as exc:
        raise InputFileError(
            f"not a hash: {text!r} (expected 'sha256:<hex>')", path=path, key_path=key_path
        ) from exc


def _table(raw: Any, path: Optional[str], key_path: str) -> dict[str, Any]:
    return values.mapping_of(raw, path, key_path, mapping="a table")


def _string(raw: Any, path: Optional[str], key_path: str) -> str:
    return values.string(raw, path, key_path, mapping="a table")
