"""Local paths typed on the command line (``install ./sub``, ``install -e ./sub``) as Pipfile entries.

The path is the user's, relative to the directory they typed it in; the Pipfile gets it relative
to the Pipfile's own directory (``-C DIR``, ``PIPENV_PIPFILE``), as pipenv writes it, so the
Pipfile stays portable and reads the same from wherever it is used (see DirectReference.anchored).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Optional, Union

from .. import build
from ..artifacts import CoreMetadata
from ..errors import InputFileError, UsageError
from ..formats import requirement_line
from ..models import DirectReference

Entry = Union[str, dict[str, object]]


def is_local(spec: str) -> bool:
    """Whether a package argument is a local path (``./sub``, ``../x.whl``) or an editable (``-e ./sub``)."""
    return requirement_line.is_editable(spec) or requirement_line.looks_like_path(spec)


def pipfile_entry(
    spec: str, pipfile_dir: Path, *, index: Optional[str], environ: Mapping[str, str], index_urls: Sequence[str],
) -> tuple[str, Entry]:
    """The Pipfile key and table of a typed local path: named from its metadata when the path does not tell."""
    try:
        dep = requirement_line.parse_requirement_line(spec)
    except InputFileError as exc:
        raise UsageError(f"{spec!r}: {exc.message}") from None
    reference = dep.direct
    if reference is None or reference.kind != "path" or "://" in reference.location or reference.location.startswith("file:"):
        raise UsageError(f"{spec}: add URL and VCS requirements to the Pipfile by hand (file/git keys)")
    absolute = os.path.abspath(os.path.expanduser(reference.location))
    if not os.path.exists(absolute):
        raise UsageError(f"{reference.location}: no such file or directory (a path is read from the current directory)")
    name = dep.name or _metadata_name(DirectReference("path", absolute, subdirectory=reference.subdirectory),
                                      environ=environ, index_urls=index_urls)
    table: dict[str, object] = {"path": relative_to(absolute, pipfile_dir)}
    if dep.extras:
        table = {"extras": list(dep.extras), **table}
    if reference.editable:
        table["editable"] = True
    if reference.subdirectory:
        table["subdirectory"] = reference.subdirectory
    if dep.markers:
        table["markers"] = dep.markers
    if index:
        table["index"] = index
    return name, table


def relative_to(path: str, directory: Path) -> str:
    """``path`` as pipenv writes it in a Pipfile: relative to ``directory``, ``./`` in front unless it is
    ``.`` or climbs (``../x``)."""
    relative = Path(os.path.relpath(path, os.path.abspath(directory))).as_posix()
    return relative if relative == "." or relative.split("/")[0] == ".." else f"./{relative}"


def _metadata_name(reference: DirectReference, *, environ: Mapping[str, str], index_urls: Sequence[str]) -> str:
    """The project's name, from the metadata its build backend prepares (as the lock will read it)."""
    text, _ = build.prepare_metadata_for(reference, python=sys.executable, environ=environ, index_urls=index_urls)
    try:
        return CoreMetadata.from_text(text).name
    except ValueError as exc:
        raise UsageError(f"{reference.location}: its metadata names no project ({exc})") from None
