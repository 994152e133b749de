"""Does a wheel hold what the lock wanted: METADATA's Name and Version, and entry points we can write.

Checked for every wheel of a plan before anything is installed, whether the wheel
is a file or a tree unpacked in the cache (a digest that matches the lock says the
bytes are the locked ones, not that whoever locked them looked inside).
"""

from __future__ import annotations

import configparser
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Optional

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from ..errors import UnsafeWheel
from .planning import WantedPackage

SCRIPT_SECTIONS = ("console_scripts", "gui_scripts")


def check_contents(wanted: WantedPackage, source: Path) -> None:
    """UnsafeWheel unless ``source`` (a .whl or an unpacked tree) is ``wanted`` with writable scripts."""
    wheel, metadata, entry_points = _read(source)
    _check_identity(wanted, wheel, metadata)
    if entry_points is not None:
        for section, name, value in _entries(wanted, wheel, entry_points):
            _check_entry(wanted, wheel, section, name, value)


def _read(source: Path) -> tuple[str, str, Optional[str]]:
    """(wheel name, METADATA text, entry_points.txt text or None)."""
    if source.is_dir():
        infos = sorted(p for p in source.iterdir() if p.name.endswith(".dist-info"))
        info = infos[0]
        tags = [line.split(":", 1)[1].strip() for line in (info / "WHEEL").read_text("utf-8").splitlines() if line.startswith("Tag:")]
        wheel = f"{info.name[: -len('.dist-info')]}-{tags[0] if tags else 'py3-none-any'}.whl"
        scripts = info / "entry_points.txt"
        text = scripts.read_text("utf-8", errors="replace") if scripts.exists() else None
        return wheel, (info / "METADATA").read_text("utf-8", errors="replace"), text
    with zipfile.ZipFile(source) as archive:
        names = archive.namelist()
        top = next(n.split("/", 1)[0] for n in names if n.split("/", 1)[0].endswith(".dist-info"))
        text = archive.read(f"{top}/entry_points.txt").decode("utf-8", "replace") if f"{top}/entry_points.txt" in names else None
        return source.name, archive.read(f"{top}/METADATA").decode("utf-8", "replace"), text


def _check_identity(wanted: WantedPackage, wheel: str, metadata: str) -> None:
    head = metadata.split("\n\n", 1)[0]
    fields = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in head.splitlines()) if k and not k[:1].isspace()}
    name, version = fields.get("name", ""), fields.get("version", "")
    if canonicalize_name(name) != wanted.key:
        _refuse(wanted, wheel, f"its METADATA says Name: {name or '(none)'}, the lock wants {wanted.name}")
    if wanted.direct is None and wanted.version and wanted.version != "*" and not _same(version, wanted.version):
        _refuse(wanted, wheel, f"its METADATA says Version: {version or '(none)'}, the lock pins {wanted.name}=={wanted.version}")


def _same(found: str, pinned: str) -> bool:
    try:
        return Version(found) == Version(pinned)
    except InvalidVersion:
        return found == pinned


def _entries(wanted: WantedPackage, wheel: str, text: str) -> Iterator[tuple[str, str, str]]:
    parser = configparser.ConfigParser(delimiters=("=",), interpolation=None, strict=False)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    try:
        parser.read_string(text)
    except configparser.Error as exc:
        _refuse(wanted, wheel, f"has an unreadable entry_points.txt: {exc.message.splitlines()[0]}")
    for section in SCRIPT_SECTIONS:
        if parser.has_section(section):
            for name, value in parser.items(section):
                yield section, name, value


def _check_entry(wanted: WantedPackage, wheel: str, section: str, name: str, value: str) -> None:
    line = f"[{section}] {name} = {value}"
    if not name or name in (".", "..") or "/" in name or "\\" in name or "\0" in name:
        _refuse(wanted, wheel, f"has an entry point whose script would be written outside the scripts directory: {line!r}")
    target = value.split("[", 1)[0].strip()
    module, colon, attrs = target.partition(":")
    dotted = (module.strip(), attrs.strip())
    if not colon or not dotted[1] or not all(part.isidentifier() for text in dotted for part in text.split(".")):
        _refuse(wanted, wheel, f"has an invalid entry point (not 'module:function'): {line!r}")


def _refuse(wanted: WantedPackage, wheel: str, reason: str) -> None:
    raise UnsafeWheel(f"refusing {wheel} for {wanted.describe()}: {reason}", distribution=wanted.name)
