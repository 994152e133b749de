"""Editing a Pipfile with tomlkit, keeping its comments and layout: add or remove a package, write sources.

Apart from ``pipfile`` (which reads) so that a lock, which only reads, never imports tomlkit.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, MutableMapping, Sequence
from typing import Any, Optional

import tomlkit
from packaging.utils import canonicalize_name

from micro_thoth.errors import InputFileError
from micro_thoth.models import Source

from .pipfile import Spec, load_document, package_sections, section_name


def add_package(text: str, category: str, name: str, spec: Spec) -> str:
    """Add or replace ``name`` in ``category`` (``default``, ``develop`` or a custom one).

    An existing entry with the same canonical name keeps its key and position;
    the section is created at the end when missing. ``spec`` is a string
    (``"*"``, ``"==1.0"``) or a table (``{"version": "*", "extras": ["x"]}``).
    """
    doc = load_document(text if not text or text.endswith("\n") else text + "\n", None)
    table = _ensure_section(doc, section_name(category))
    value = _toml_value(spec)
    existing = _matching_keys(table, name)
    if existing:
        table[existing[0]] = value
    else:
        table.add(name, value)
    return _same_newlines(tomlkit.dumps(doc), text)


def remove_package(text: str, name: str, categories: Optional[Iterable[str]] = None) -> str:
    """Remove ``name`` (any spelling) from the given categories (all package sections if None)."""
    doc = load_document(text, None)
    sections = (
        [section_name(c) for c in categories] if categories is not None else package_sections(doc)
    )
    for section in sections:
        table = doc.get(section)
        if isinstance(table, MutableMapping):
            for key in _matching_keys(table, name):
                del table[key]
    return _same_newlines(tomlkit.dumps(doc), text)


def _same_newlines(out: str, original: str) -> str:
    """Keep a CRLF file CRLF (tomlkit writes new lines with LF)."""
    if "\r\n" not in original:
        return out
    return out.replace("\r\n", "\n").replace("\n", "\r\n")


def new_pipfile_text(python_version: Optional[str], sources: Sequence[Source] = ()) -> str:
    """A fresh Pipfile as ``pipenv install`` creates it."""
    doc = tomlkit.document()
    if sources:
        aot = tomlkit.aot()
        for source in sources:
            aot.append(
                tomlkit.table()
                .add("url", source.url)
                .add("verify_ssl", source.verify_ssl)
                .add("name", source.name)
            )
        doc.add("source", aot)
    doc.add("packages", tomlkit.table())
    doc.add("dev-packages", tomlkit.table())
    if python_version:
        doc.add("requires", tomlkit.table().add("python_version", python_version))
    return _tidy(tomlkit.dumps(doc))


def with_sources(text: str, sources: Sequence[Source], urls: Mapping[str, str]) -> str:
    """The Pipfile with its ``[[source]]`` URLs replaced by ``urls`` (old URL -> new), and ``sources``
    written first when it names none (the default index, for a reader that cannot ask pip)."""
    doc = load_document(text, None)
    if not isinstance(doc.get("source"), list):
        return _same_newlines(new_sources_text(sources, urls), text) + text
    for table in doc["source"]:
        if isinstance(table, MutableMapping) and table.get("url") in urls:
            table["url"] = urls[table["url"]]
    return _same_newlines(tomlkit.dumps(doc), text)


def new_sources_text(sources: Sequence[Source], urls: Mapping[str, str]) -> str:
    """``[[source]]`` tables (URLs mapped through ``urls``) and a blank line, to put before a Pipfile."""
    if not sources:
        return ""
    aot = tomlkit.aot()
    for source in sources:
        aot.append(
            tomlkit.table().add("url", urls.get(source.url, source.url)).add("verify_ssl", source.verify_ssl).add("name", source.name)
        )
    doc = tomlkit.document()
    doc.add("source", aot)
    return tomlkit.dumps(doc) + "\n"


def _ensure_section(doc: tomlkit.TOMLDocument, section: str) -> Any:
    table = doc.get(section)
    if table is None:
        table = tomlkit.table()
        doc.add(section, table)
        return doc[section]
    if not isinstance(table, Mapping):
        raise InputFileError("expected a table of packages", key_path=section)
    return table


def _matching_keys(table: Mapping[str, Any], name: str) -> list[str]:
    key = canonicalize_name(name)
    return [k for k in table if canonicalize_name(k) == key]


def _toml_value(spec: Spec) -> Any:
    if isinstance(spec, str):
        return spec
    table = tomlkit.inline_table()
    table.update(dict(spec))
    return table


def _tidy(text: str) -> str:
    """One blank line before each table header, none doubled, one newline at the end."""
    lines: list[str] = []
    for line in text.splitlines():
        if line.startswith("[") and lines and lines[-1].strip():
            lines.append("")
        if line.strip() or (lines and lines[-1].strip()):
            lines.append(line)
    return "\n".join(lines).strip("\n") + "\n"
