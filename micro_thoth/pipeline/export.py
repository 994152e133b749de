"""``thoth-pip requirements``: a lock as a requirements.txt, in pipenv's or micropipenv's shape.

``pipenv`` style is ``pipenv requirements`` line for line (``-i`` first, a
package per line, ``--hash`` options on the same line, later categories
overriding earlier ones in place); ``micropipenv`` style is ``micropipenv
requirements`` (``--index-url``/``--trusted-host``, section comments, hashes on
continuation lines, the first category to name a package wins).
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Optional

from packaging.utils import canonicalize_name

from ..errors import InputFileError, UsageError
from ..formats import pipfile as pipfile_format
from ..formats import pipfile_lock
from ..models import (
    DEFAULT_CATEGORY,
    DEVELOP_CATEGORY,
    Dependency,
    Lock,
    Pin,
    Pipfile,
    Source,
    expand_vars,
)
from ..settings import Settings
from .project import ProjectFiles, discover, read_text

Style = Literal["pipenv", "micropipenv"]


@dataclass(frozen=True)
class ExportOptions:
    """What to write; ``categories`` are lock sections in the order the style merges them."""

    categories: tuple[str, ...] = (DEFAULT_CATEGORY,)
    style: Style = "pipenv"
    hashes: bool = False
    markers: bool = True
    indexes: bool = True
    versions: bool = True
    comments: bool = True
    from_pipfile: bool = False  # only the Pipfile's own packages, at their locked versions
    no_lock: bool = False  # the Pipfile's specifiers, not the lock's pins


def pipenv_categories(dev: bool, dev_only: bool, categories: Sequence[str]) -> tuple[str, ...]:
    """The sections ``pipenv requirements`` merges, in its order (dev first, then default)."""
    if categories:
        return tuple(_lock_section(c) for c in categories)
    if dev_only:
        return (DEVELOP_CATEGORY,)
    return (DEVELOP_CATEGORY, DEFAULT_CATEGORY) if dev else (DEFAULT_CATEGORY,)


def micropipenv_categories(no_default: bool, no_dev: bool) -> tuple[str, ...]:
    if no_default and no_dev:
        raise UsageError("Cannot produce requirements as both, default and dev were asked to be discarded")
    return tuple(c for c, off in ((DEFAULT_CATEGORY, no_default), (DEVELOP_CATEGORY, no_dev)) if not off)


def _lock_section(category: str) -> str:
    return {"packages": DEFAULT_CATEGORY, "dev-packages": DEVELOP_CATEGORY}.get(category, category)


# --- the action ------------------------------------------------------------------------------


def requirements(settings: Settings, options: ExportOptions, environ: Mapping[str, str]) -> str:
    """The requirements text for the project's lock (or Pipfile, with ``no_lock``)."""
    files = discover(settings)
    if options.no_lock:
        pipfile = _pipfile(files)
        return render(_pipfile_as_lock(pipfile), options, environ)
    lock = _lock(files)
    if options.from_pipfile:
        lock = _only_declared(lock, _pipfile(files))
    return render(lock, options, environ)


def _lock(files: ProjectFiles) -> Lock:
    if files.pipfile_lock is not None:
        return pipfile_lock.parse_lock(read_text(files.pipfile_lock), str(files.pipfile_lock))
    if files.poetry_lock is not None:
        from ..formats import poetry_lock

        return poetry_lock.parse_poetry_lock(read_text(files.poetry_lock), str(files.poetry_lock))
    raise InputFileError(
        "no Pipfile.lock (or poetry.lock) to export",
        path=str(files.directory),
        hint="run `thoth-pip lock` first, or pass --no-lock to export the Pipfile's specifiers",
    )


def _pipfile(files: ProjectFiles) -> Pipfile:
    if files.pipfile is None:
        raise InputFileError("No Pipfile present at project home.", path=str(files.directory))
    return pipfile_format.parse_pipfile(read_text(files.pipfile), str(files.pipfile))


def _only_declared(lock: Lock, pipfile: Pipfile) -> Lock:
    """Each section keeps the packages its Pipfile section names (pipenv's --from-pipfile)."""
    declared = {c: {d.key for d in deps} for c, deps in pipfile.categories.items()}
    categories = {c: tuple(p for p in pins if p.key in declared.get(c, set())) for c, pins in lock.categories.items()}
    return Lock(categories, lock.sources, lock.requires, lock.pipfile_hash, lock.kind, lock.path)


def _pipfile_as_lock(pipfile: Pipfile) -> Lock:
    categories = {c: tuple(_dependency_pin(d) for d in deps) for c, deps in pipfile.categories.items()}
    return Lock(categories, pipfile.sources, pipfile.requires, None, "pipfile", pipfile.path)


def _dependency_pin(dep: Dependency) -> Pin:
    return Pin(dep.name, dep.specifier or "*", dep.hashes, dep.index, dep.markers, dep.extras, dep.direct)


# --- rendering (pure) ------------------------------------------------------------------------


def render(lock: Lock, options: ExportOptions, environ: Mapping[str, str]) -> str:
    """The requirements text of ``lock`` in the chosen style."""
    if options.style == "micropipenv":
        return _render_micropipenv(lock, options, environ)
    lines = _pipenv_index_lines(lock.sources) if options.indexes else []
    lines += [_pipenv_line(pin, options) for pin in _pipenv_merged(lock, options.categories).values()]
    return "".join(f"{line}\n" for line in lines)


def _pipenv_merged(lock: Lock, categories: Sequence[str]) -> dict[str, Pin]:
    """``dict.update`` per section, as pipenv does: position of the first, value of the last."""
    merged: dict[str, Pin] = {}
    for category in categories:
        merged.update({pin.name: pin for pin in lock.categories.get(category, ())})
    return merged


def _pipenv_index_lines(sources: Sequence[Source]) -> list[str]:
    braced = [re.sub(r"\$([A-Za-z_][A-Za-z0-9_]*)", r"${\1}", s.url) for s in sources]
    return [f"{'-i' if i == 0 else '--extra-index-url'} {url}" for i, url in enumerate(braced)]


def _version_text(pin: Pin) -> str:
    version = pin.version
    if not version or version == "*":
        return ""
    return version if version[:1] in "=<>!~" else f"=={version}"


def _extras_text(pin: Pin) -> str:
    return f"[{','.join(pin.extras)}]" if pin.extras else ""


def _pipenv_line(pin: Pin, options: ExportOptions) -> str:
    markers = f"; {pin.markers}" if options.markers and pin.markers else ""
    if pin.direct is not None and pin.direct.is_vcs:
        return _pipenv_vcs_line(pin)
    if pin.direct is not None:
        parts = ["-e"] if pin.direct.editable else []
        return " ".join([*parts, pin.direct.location, *([markers] if markers else [])])
    if not options.versions:
        return f"{pin.name}{_extras_text(pin)}{markers}"
    hashes = "".join(f" --hash={h}" for h in pin.hashes) if options.hashes else ""
    return f"{pin.name}{_extras_text(pin)}{_version_text(pin)}{markers}{hashes}"


def _vcs_url(pin: Pin) -> str:
    direct = pin.direct
    assert direct is not None
    prefix = "" if f"{direct.kind}+" in direct.location else f"{direct.kind}+"
    ref = f"@{direct.ref}" if direct.ref and f"@{direct.ref}" not in direct.location else ""
    return f"{prefix}{direct.location}{ref}"


def _pipenv_vcs_line(pin: Pin) -> str:
    direct = pin.direct
    assert direct is not None
    if direct.editable or "file://" in direct.location:
        line = f"-e {_vcs_url(pin)}#egg={pin.name}"
        line += f"&subdirectory={direct.subdirectory}" if direct.subdirectory else ""
        return line + _extras_text(pin)
    line = f"{pin.name}{_extras_text(pin)} @ {_vcs_url(pin)}"
    return line + (f"#subdirectory={direct.subdirectory}" if direct.subdirectory else "")


_SECTION_TITLES = {DEFAULT_CATEGORY: "Default", DEVELOP_CATEGORY: "Dev"}


def _render_micropipenv(lock: Lock, options: ExportOptions, environ: Mapping[str, str]) -> str:
    text = _micropipenv_index_lines(lock.sources, environ) if options.indexes else ""
    seen: set[str] = set()
    for category in options.categories:
        pins = [p for p in lock.categories.get(category, ()) if canonicalize_name(p.name) not in seen]
        if options.comments and lock.categories.get(category):
            text += f"#\n# {_SECTION_TITLES.get(category, category)} dependencies\n#\n"
        for pin in pins:
            seen.add(canonicalize_name(pin.name))
            text += _micropipenv_entry(pin, options) + "\n"
    return text


def _micropipenv_index_lines(sources: Sequence[Source], environ: Mapping[str, str]) -> str:
    text = ""
    for i, source in enumerate(sources):
        url = expand_vars(source.url, environ)
        text += f"{'--index-url' if i == 0 else '--extra-index-url'} {url}\n"
        if not source.verify_ssl:
            text += f"--trusted-host {urllib.parse.urlsplit(url).netloc}\n"
    return text


def _micropipenv_entry(pin: Pin, options: ExportOptions) -> str:
    direct = pin.direct
    if direct is not None and direct.is_vcs:
        line = f"{'--editable ' if direct.editable else ''}{_vcs_url(pin)}#egg={pin.name}"
        return line + (f"&subdirectory={direct.subdirectory}" if direct.subdirectory else "")
    line = _micropipenv_head(pin) + _extras_text(pin)
    if options.versions and direct is None:
        line += _version_text(pin)
    if options.markers and pin.markers:
        line += f"; {pin.markers}"
    if options.hashes and options.versions and not (direct is not None and direct.editable):
        line += "".join(f" \\\n    --hash={h}" for h in pin.hashes)
    return line


def _micropipenv_head(pin: Pin) -> str:
    direct = pin.direct
    if direct is None:
        return pin.name
    if direct.kind == "file":
        return f"{direct.location}#egg={pin.name}"
    path = direct.location
    if "/" not in path and not path.startswith("."):
        path = f"./{path}"
    return f"--editable {path}" if direct.editable else path


def lock_names(lock: Lock) -> set[str]:
    """Canonical names of every package in every section of ``lock``."""
    return {canonicalize_name(p.name) for pins in lock.categories.values() for p in pins}


def load_any_lock(files: ProjectFiles) -> Optional[Lock]:
    """The project's Pipfile.lock or poetry.lock, parsed; None when there is neither."""
    if files.pipfile_lock is None and files.poetry_lock is None:
        return None
    return _lock(files)
