"""The Pipfile: parse into a ``models.Pipfile`` and compute pipenv's ``_meta`` hash (``pipfile_edit`` edits it).

The hash is the one pipenv writes into ``Pipfile.lock``: sha256 of the compact,
key-sorted JSON of ``{"_meta": {"sources", "requires"}, "default", "develop",
<custom categories>}``. pipenv >= 2026.4 canonicalises package names (PEP 503)
before hashing; older pipenv, plette and micropipenv hash names as written. A
Pipfile without ``[[source]]`` is hashed with the default index as pipenv adds
it, so the caller passes that URL (read from pip at run time).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Optional, Union

from packaging.markers import InvalidMarker, Marker
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name

from micro_thoth import values
from micro_thoth.closest import closest
from micro_thoth.errors import InputFileError
from micro_thoth.models import (
    DEFAULT_CATEGORY,
    DEVELOP_CATEGORY,
    Dependency,
    DirectReference,
    Pipfile,
    Source,
)

if TYPE_CHECKING:
    import tomlkit

try:  # Python 3.11+: the standard library's parser reads plain data ~10 times faster than tomlkit
    import tomllib as _fast_toml
except ImportError:  # pragma: no cover - Python < 3.11
    _fast_toml = None  # type: ignore[assignment]

DEFAULT_SOURCE_NAME = "pypi"
VCS_KEYS = ("git", "hg", "svn", "bzr")
# Sections that are not package categories (pipenv's NON_CATEGORY_SECTIONS, plus plette's "pipfile").
NON_CATEGORY_SECTIONS = frozenset(
    {"source", "requires", "pipenv", "scripts", "build-system", "pipfile", "thoth"}
)
# Sections pipenv leaves out of the hash as custom categories (they are hashed elsewhere or not at all).
_HASH_SKIP = frozenset(
    {
        "source",
        "packages",
        "dev-packages",
        "requires",
        "scripts",
        "pipfile",
        "pipenv",
        "default",
        "develop",
    }
)
# Keys of a package table that pipenv folds into ``markers`` (packaging's default_environment()).
MARKER_KEYS = (
    "implementation_name",
    "implementation_version",
    "os_name",
    "platform_machine",
    "platform_python_implementation",
    "platform_release",
    "platform_system",
    "platform_version",
    "python_full_version",
    "python_version",
    "sys_platform",
)
# Every key pipenv accepts in a package table (plette's KNOWN_PACKAGE_KEYS); any other is a typo
# that would silently change what is installed (``indx = "private"`` drops the index pin).
PACKAGE_KEYS = frozenset({
    *VCS_KEYS, *MARKER_KEYS, "ref", "subdirectory", "name", "version", "extras", "editable", "markers",
    "os_markers", "hashes", "index", "no_binary", "skip_resolver", "path", "file",
})  # fmt: skip
_SECTION_OF = {DEFAULT_CATEGORY: "packages", DEVELOP_CATEGORY: "dev-packages"}
_CATEGORY_OF = {section: category for category, section in _SECTION_OF.items()}

Spec = Union[str, Mapping[str, Any]]


def section_name(category: str) -> str:
    """The Pipfile table of a lock category: ``default`` -> ``packages``."""
    return _SECTION_OF.get(category, category)


def category_name(section: str) -> str:
    """The lock category of a Pipfile table: ``dev-packages`` -> ``develop``."""
    return _CATEGORY_OF.get(section, section)


def parse_pipfile(
    text: str, path: Optional[str] = None, *, default_index_url: Optional[str] = None
) -> Pipfile:
    """Parse a Pipfile; ``default_index_url`` stands in for a missing ``[[source]]`` as in pipenv."""
    return pipfile_from_data(parse_toml(text, path), path, default_index_url=default_index_url)


def pipfile_from_data(
    data: Mapping[str, Any], path: Optional[str] = None, *, default_index_url: Optional[str] = None
) -> Pipfile:
    """A Pipfile from its parsed TOML data (checked as ``parse_pipfile`` checks it)."""
    sources = _sources(data, path, default_index_url)
    return Pipfile(
        categories=_categories(data, path),
        sources=sources,
        requires=_requires(data, path),
        allow_prereleases=_allow_prereleases(data, path),
        hashes=pipfile_hashes(data, default_index_url=default_index_url),
        path=path,
    )


def pipfile_hashes(
    data: Mapping[str, Any], *, default_index_url: Optional[str] = None
) -> tuple[str, ...]:
    """(current pipenv hash, legacy hash, hash without [thoth]) of plain Pipfile data, deduplicated."""
    current = _digest(_hash_payload(data, default_index_url, canonical=True))
    legacy = _digest(_hash_payload(data, default_index_url, canonical=False))
    # thamos writes Thoth's own [thoth] table; Thoth and micropipenv hash the Pipfile without it
    thoth = {k: v for k, v in data.items() if k != "thoth"}
    without = _digest(_hash_payload(thoth, default_index_url, canonical=True)) if "thoth" in data else current
    return tuple(dict.fromkeys((current, legacy, without)))


def hash_text(
    text: str, path: Optional[str] = None, *, default_index_url: Optional[str] = None
) -> tuple[str, ...]:
    """The ``_meta`` hashes of a Pipfile's text (see ``pipfile_hashes``)."""
    return pipfile_hashes(parse_toml(text, path), default_index_url=default_index_url)


def _digest(payload: Mapping[str, Any]) -> str:
    content = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(content.encode("utf-8")).hexdigest()


def _hash_payload(
    data: Mapping[str, Any], default_index_url: Optional[str], *, canonical: bool
) -> dict[str, Any]:
    def names(section: Any) -> Any:
        if not canonical or not isinstance(section, Mapping):
            return section
        return {canonicalize_name(key): value for key, value in section.items()}

    payload: dict[str, Any] = {
        "_meta": {
            "sources": _hash_sources(data, default_index_url),
            "requires": data.get("requires", {}),
        },
        "default": names(data.get("packages", {})),
        "develop": names(data.get("dev-packages", {})),
    }
    for key, value in data.items():
        if key not in _HASH_SKIP:
            payload[key] = names(value)
    return payload


def _hash_sources(data: Mapping[str, Any], default_index_url: Optional[str]) -> Any:
    if "source" in data:
        return data["source"]
    if default_index_url is None:
        return []
    return [{"name": DEFAULT_SOURCE_NAME, "url": default_index_url, "verify_ssl": True}]


def parse_toml(text: str, path: Optional[str] = None) -> dict[str, Any]:
    """Any TOML text as plain Python data (this module and ``pipfile_edit`` are the tomlkit adapters): read by the
    standard library's parser where there is one (the same data, faster), else, and for text it
    refuses, by tomlkit (whose error names the line and column)."""
    if _fast_toml is not None:
        try:
            return _fast_toml.loads(text)
        except _fast_toml.TOMLDecodeError:
            pass
    return load_document(text, path).unwrap()


def load_document(text: str, path: Optional[str]) -> tomlkit.TOMLDocument:
    """The TOML text as tomlkit's document (comments and layout kept); not TOML: ``InputFileError``."""
    # imported here: a lock reads a valid Pipfile with tomllib (Python 3.11+) and never needs tomlkit
    import tomlkit
    import tomlkit.exceptions

    try:
        return tomlkit.parse(text)
    except tomlkit.exceptions.ParseError as exc:
        raise InputFileError(
            f"not valid TOML at line {exc.line}, column {exc.col}: {exc}", path=path
        ) from exc


def _sources(
    data: Mapping[str, Any], path: Optional[str], default_index_url: Optional[str]
) -> tuple[Source, ...]:
    raw = data.get("source")
    if raw is None or raw == []:  # thamos writes ``source = []`` for "the default index"
        if default_index_url is None:
            return ()
        return (Source(DEFAULT_SOURCE_NAME, default_index_url, True),)
    if not isinstance(raw, list):
        raise InputFileError(
            "expected an array of tables ([[source]])", path=path, key_path="source"
        )
    return tuple(_source(item, path, f"source[{i}]") for i, item in enumerate(raw))


def _source(item: Any, path: Optional[str], key_path: str) -> Source:
    if not isinstance(item, Mapping):
        raise InputFileError("expected a table", path=path, key_path=key_path)
    url = _string(item.get("url"), path, f"{key_path}.url")
    if not url:
        raise InputFileError("a source needs a url", path=path, key_path=f"{key_path}.url")
    name = item.get("name")
    name = _string(name, path, f"{key_path}.name") if name is not None else _url_name(url)
    verify = item.get("verify_ssl", "https://" in url)
    if not isinstance(verify, bool):
        verify = str(verify).lower() == "true"
    return Source(name, url, verify)


def _url_name(url: str) -> str:
    host = url.split("://", 1)[-1].split("/", 1)[0].rsplit("@", 1)[-1]
    return host.split(":", 1)[0] or url


def _requires(data: Mapping[str, Any], path: Optional[str]) -> dict[str, str]:
    raw = data.get("requires", {})
    if not isinstance(raw, Mapping):
        raise InputFileError("expected a table", path=path, key_path="requires")
    return {str(k): _string(v, path, f"requires.{k}") for k, v in raw.items()}


def _allow_prereleases(data: Mapping[str, Any], path: Optional[str]) -> bool:
    raw = data.get("pipenv", {})
    if not isinstance(raw, Mapping):
        raise InputFileError("expected a table", path=path, key_path="pipenv")
    value = raw.get("allow_prereleases", False)
    if not isinstance(value, bool):
        raise InputFileError(
            "expected true or false", path=path, key_path="pipenv.allow_prereleases"
        )
    return value


def package_sections(data: Mapping[str, Any]) -> list[str]:
    """Pipfile tables holding packages: packages, dev-packages, then custom ones in file order."""
    custom = [key for key in data if key not in NON_CATEGORY_SECTIONS and key not in _CATEGORY_OF]
    return ["packages", "dev-packages", *custom]


def _categories(data: Mapping[str, Any], path: Optional[str]) -> dict[str, tuple[Dependency, ...]]:
    categories: dict[str, tuple[Dependency, ...]] = {}
    for section in package_sections(data):
        raw = data.get(section, {})
        if not isinstance(raw, Mapping):
            raise InputFileError("expected a table of packages", path=path, key_path=section)
        categories[category_name(section)] = tuple(
            _dependency(name, value, path, f"{section}.{name}") for name, value in raw.items()
        )
    return categories


def _dependency(name: str, value: Any, path: Optional[str], key_path: str) -> Dependency:
    if isinstance(value, str):
        return Dependency(name=name, specifier=_specifier(value, path, key_path))
    if not isinstance(value, Mapping):
        raise InputFileError("expected a version string or a table", path=path, key_path=key_path)
    _known_keys(name, value, path, key_path)
    version = value.get("version", "*")
    return Dependency(
        name=name,
        specifier=_specifier(
            _string(version, path, f"{key_path}.version"), path, f"{key_path}.version"
        ),
        extras=_extras(value.get("extras", []), path, f"{key_path}.extras"),
        markers=_markers(value, path, key_path),
        index=_optional_string(value.get("index"), path, f"{key_path}.index"),
        direct=_direct(value, path, key_path),
    )


def _known_keys(name: str, table: Mapping[str, Any], path: Optional[str], key_path: str) -> None:
    """Refuse a key pipenv does not know, with the closest known one."""
    for key in table:
        if key not in PACKAGE_KEYS:
            close = closest(str(key), sorted(PACKAGE_KEYS))
            raise InputFileError(
                f"unknown key {key!r} in the entry of {name}",
                path=path,
                key_path=f"{key_path}.{key}",
                hint=(f"did you mean {close[0]!r}? " if close else "")
                + "a package table takes version, index, extras, markers, editable, path, file, git/hg/svn/bzr, "
                "ref, subdirectory or a PEP 508 marker name",
            )


def _specifier(text: str, path: Optional[str], key_path: str) -> str:
    text = text.strip()
    if text in ("", "*"):
        return ""
    if text[0].isdigit():
        text = f"=={text}"
    try:
        SpecifierSet(text)
    except InvalidSpecifier as exc:
        raise InputFileError(
            f"not a version specifier: {text!r}", path=path, key_path=key_path
        ) from exc
    return text


def _extras(value: Any, path: Optional[str], key_path: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise InputFileError("expected a list of extras", path=path, key_path=key_path)
    return tuple(_string(item, path, f"{key_path}[{i}]") for i, item in enumerate(value))


def _markers(table: Mapping[str, Any], path: Optional[str], key_path: str) -> Optional[str]:
    """``markers`` and the marker keys (``sys_platform = "== 'linux'"``) folded into one marker."""
    parts: list[str] = []
    for key in ("markers", *MARKER_KEYS):
        if key in table:
            raw = _string(table[key], path, f"{key_path}.{key}")
            if raw.strip():
                parts.append(
                    _marker(raw if key == "markers" else f"{key} {raw}", path, f"{key_path}.{key}")
                )
    if not parts:
        return None
    if len(parts) > 1:
        parts = [f"({part})" if " or " in part else part for part in sorted(set(parts))]
    return str(Marker(" and ".join(parts))).replace('"', "'")


def _marker(text: str, path: Optional[str], key_path: str) -> str:
    try:
        return str(Marker(text))
    except InvalidMarker as exc:
        raise InputFileError(f"not a valid marker: {text!r}", path=path, key_path=key_path) from exc


def _direct(
    table: Mapping[str, Any], path: Optional[str], key_path: str
) -> Optional[DirectReference]:
    editable = table.get("editable", False)
    if not isinstance(editable, bool):
        raise InputFileError("expected true or false", path=path, key_path=f"{key_path}.editable")
    for kind in (*VCS_KEYS, "path", "file"):
        if kind in table:
            return DirectReference(
                kind=kind,  # type: ignore[arg-type]
                location=_string(table[kind], path, f"{key_path}.{kind}"),
                ref=_optional_string(table.get("ref"), path, f"{key_path}.ref")
                if kind in VCS_KEYS
                else None,
                subdirectory=_optional_string(
                    table.get("subdirectory"), path, f"{key_path}.subdirectory"
                ),
                editable=editable,
            )
    return None


def _string(value: Any, path: Optional[str], key_path: str) -> str:
    return values.string(value, path, key_path, mapping="a table")


def _optional_string(value: Any, path: Optional[str], key_path: str) -> Optional[str]:
    return values.optional_string(value, path, key_path, mapping="a table")


def _kind(value: Any) -> str:
    return values.kind(value, mapping="a table")
