"""One requirements line: a name with extras, markers and ``--hash`` options, ``-e``, a URL or a path.

The reading is pip's (``break_args_options``, ``#egg=``/``#subdirectory=``
fragments, archive and VCS URLs); a bad line raises ``InputFileError`` naming
the file and line. How pip splits a line into option tokens is here too;
``requirements.py`` reads whole files with both.
"""

from __future__ import annotations

import re
import shlex
from typing import Optional

from packaging.markers import InvalidMarker, Marker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    parse_sdist_filename,
    parse_wheel_filename,
)

from micro_thoth.errors import InputFileError
from micro_thoth.models import Dependency, DirectReference, Hash

VCS_SCHEMES = ("git", "hg", "svn", "bzr")
FILE_OPTIONS_WITH_VALUE = {
    "-r": "requirement", "--requirement": "requirement",
    "-c": "constraint", "--constraint": "constraint",
    "-i": "index_url", "--index-url": "index_url",
    "--extra-index-url": "extra_index_url",
    "-f": "find_links", "--find-links": "find_links",
    "--trusted-host": "trusted_host",
    "--no-binary": "--no-binary", "--only-binary": "--only-binary",
}  # fmt: skip
_REQ_OPTIONS_WITH_VALUE = ("--hash", "--config-settings", "-C", "--global-option", "--install-option")
# pip's requirements-file options thoth-pip does not implement: refused by name, never ignored
UNSUPPORTED_OPTIONS = {
    "--use-feature": "thoth-pip has no pip features to switch on",
    "--config-settings": "build backends get no config settings from thoth-pip",
    "-C": "build backends get no config settings from thoth-pip",
    "--global-option": "setup.py options are not passed on (pip deprecated them)",
    "--install-option": "setup.py options are not passed on (pip removed them)",
}


def split_line(line: str, path: Optional[str], where: str) -> list[str]:
    try:
        return shlex.split(line)
    except ValueError as exc:
        raise InputFileError(f"cannot split options: {exc}", path=path, key_path=where) from exc


def unknown_option(name: str, token: str, path: Optional[str], where: Optional[str]) -> InputFileError:
    """An option we do not take: pip's own (named, with why) or none at all."""
    if name in UNSUPPORTED_OPTIONS:
        return InputFileError(
            f"pip's option {name} is not supported: {UNSUPPORTED_OPTIONS[name]}",
            path=path, key_path=where, hint="remove it from the file (thoth-pip never ignores an option silently)",
        )
    return InputFileError(f"unknown option {token!r}", path=path, key_path=where)


def option_name_value(token: str) -> tuple[str, Optional[str]]:
    if token.startswith("--"):
        name, sep, value = token.partition("=")
        return name, value if sep else None
    if len(token) > 2 and token[:2] in FILE_OPTIONS_WITH_VALUE:
        return token[:2], token[2:].lstrip("=")
    return token, None


def is_editable(line: str) -> bool:
    return line.startswith(("-e", "--editable"))


def parse_requirement_line(
    line: str, path: Optional[str] = None, where: Optional[str] = None
) -> Dependency:
    """A requirement line (``name[x]==1 ; markers --hash=...``, ``-e url``, a URL or a path)."""
    editable = is_editable(line)
    if editable:
        line = re.sub(r"^(-e|--editable)(=|\s+)?", "", line, count=1)
    args, options = _args_and_options(line)
    if not args:
        raise InputFileError("-e needs a URL or a path", path=path, key_path=where)
    hashes = _hashes(options, path, where)
    try:
        dependency = _dependency(args, editable)
    except (InvalidRequirement, InvalidMarker, ValueError) as exc:
        raise InputFileError(
            f"not a valid requirement: {args!r} ({exc})", path=path, key_path=where
        ) from exc
    if hashes:
        dependency = _with_hashes(dependency, hashes)
    return dependency


def _args_and_options(line: str) -> tuple[str, list[str]]:
    """Split off the per-requirement options, as pip's break_args_options does."""
    tokens = line.split(" ")
    for i, token in enumerate(tokens):
        if token.startswith("-"):
            return " ".join(tokens[:i]).strip(), tokens[i:]
    return line.strip(), []


def _hashes(tokens: list[str], path: Optional[str], where: Optional[str]) -> tuple[Hash, ...]:
    words = split_line(" ".join(tokens), path, where or "") if tokens else []
    found: list[Hash] = []
    while words:
        name, value = option_name_value(words.pop(0))
        if name not in _REQ_OPTIONS_WITH_VALUE or name in UNSUPPORTED_OPTIONS:
            raise unknown_option(name, name, path, where)
        value = value if value is not None else (words.pop(0) if words else None)
        if value is None:
            raise InputFileError(f"{name} needs a value", path=path, key_path=where)
        if name == "--hash":
            found.append(_hash(value, path, where))
    return tuple(found)


def _hash(text: str, path: Optional[str], where: Optional[str]) -> Hash:
    try:
        digest = Hash.parse(text)
    except ValueError as exc:
        raise InputFileError(
            f"not a hash: {text!r} (expected 'sha256:<hex>')", path=path, key_path=where
        ) from exc
    if ":" not in text or digest.algorithm not in ("sha256", "sha384", "sha512"):
        raise InputFileError(
            f"not a hash: {text!r} (expected 'sha256:<hex>')", path=path, key_path=where
        )
    return digest


def _with_hashes(dependency: Dependency, hashes: tuple[Hash, ...]) -> Dependency:
    return Dependency(
        name=dependency.name,
        specifier=dependency.specifier,
        extras=dependency.extras,
        markers=dependency.markers,
        index=dependency.index,
        direct=dependency.direct,
        hashes=tuple(dict.fromkeys((*dependency.hashes, *hashes))),
    )


def _dependency(args: str, editable: bool) -> Dependency:
    if editable or _is_url(args) or looks_like_path(args):
        return _direct_dependency(args, editable)
    requirement = Requirement(args)
    markers = str(requirement.marker) if requirement.marker else None
    extras = tuple(sorted(requirement.extras))
    if requirement.url and not _is_url(requirement.url):
        reference = _path_reference(requirement.url, editable=False)[0]
        return Dependency(requirement.name, "", extras, markers, direct=reference)
    if requirement.url:
        reference, _name, hashes = _reference(requirement.url, editable=False)
        return Dependency(requirement.name, "", extras, markers, direct=reference, hashes=hashes)
    return Dependency(requirement.name, str(requirement.specifier), extras, markers)


def _is_url(text: str) -> bool:
    scheme = text.split("://", 1)[0] if "://" in text else ""
    return bool(scheme) and re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*", scheme) is not None


def looks_like_path(text: str) -> bool:
    """Whether a requirement is a local path (``./pkg``, ``../x.whl``, ``/abs``), as pip tells one."""
    head = text.split(";", 1)[0].strip()
    if head.startswith((".", "/", "~")):
        return True
    return (
        ("/" in head or "\\" in head)
        and "@" not in head
        and not re.match(r"^[A-Za-z0-9._-]+\s*[\[(<>=!~]", head)
    )


def _direct_dependency(args: str, editable: bool) -> Dependency:
    separator = "; " if _is_url(args) else ";"
    target, _sep, marker_text = args.partition(separator)
    markers = str(Marker(marker_text.strip())) if marker_text.strip() else None
    target, extras = _split_extras(target.strip())
    if _is_url(target):
        reference, name, hashes = _reference(target, editable)
    else:
        reference, name = _path_reference(target, editable)
        hashes = ()
    name, egg_extras = _split_extras(name or "")
    return Dependency(name, "", extras or egg_extras, markers, direct=reference, hashes=hashes)


def _path_reference(target: str, editable: bool) -> tuple[DirectReference, str]:
    """A local path (``./pkg#egg=name``) and its name if the ``egg=`` or the file name tells it."""
    location, _sep, fragment = target.partition("#")
    params = _fragment_params(fragment)
    reference = DirectReference(
        "path", location, None, params.get("subdirectory") or None, editable
    )
    return reference, params.get("egg") or _path_name(location)


def _fragment_params(fragment: str) -> dict[str, str]:
    return dict(part.partition("=")[::2] for part in fragment.split("&") if part)


def _split_extras(text: str) -> tuple[str, tuple[str, ...]]:
    match = re.fullmatch(r"(.*?)\[([^\]]*)\]", text)
    if not match or "://" in match.group(2):
        return text, ()
    extras = tuple(sorted(e.strip() for e in match.group(2).split(",") if e.strip()))
    return match.group(1), extras


def _reference(url: str, editable: bool) -> tuple[DirectReference, Optional[str], tuple[Hash, ...]]:
    """A URL as a DirectReference, the ``egg=`` (or file) name, and any ``#sha256=`` hash."""
    base, _sep, fragment = url.partition("#")
    params = _fragment_params(fragment)
    hashes = tuple(
        Hash(a, params[a].lower()) for a in ("sha256", "sha384", "sha512") if a in params
    )
    subdirectory = params.get("subdirectory") or None
    scheme = base.split("+", 1)[0] if "+" in base.split("://", 1)[0] else ""
    if scheme in VCS_SCHEMES:
        location, ref = _vcs_location_ref(base.split("+", 1)[1])
        reference = DirectReference(scheme, location, ref, subdirectory, editable)  # type: ignore[arg-type]
        return reference, params.get("egg"), hashes
    if base.startswith("file:") and not _archive_name(base):
        return (
            DirectReference("path", base, None, subdirectory, editable),
            params.get("egg"),
            hashes,
        )
    return (
        DirectReference("file", base, None, subdirectory, editable),
        params.get("egg") or _archive_name(base),
        hashes,
    )


def _vcs_location_ref(url: str) -> tuple[str, Optional[str]]:
    scheme, _sep, rest = url.partition("://")
    netloc, slash, path = rest.partition("/")
    if "@" in path:
        path, ref = path.rsplit("@", 1)
        return f"{scheme}://{netloc}{slash}{path}", ref or None
    return url, None


def _archive_name(url: str) -> Optional[str]:
    filename = url.rstrip("/").rsplit("/", 1)[-1]
    try:
        if filename.endswith(".whl"):
            return parse_wheel_filename(filename)[0]
        return parse_sdist_filename(filename)[0]
    except (InvalidWheelFilename, InvalidSdistFilename, ValueError):
        return None


def _path_name(path: str) -> str:
    """A path's project name when its file name tells it; else "" (known only after a build)."""
    return _archive_name(path) or ""
