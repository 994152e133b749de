"""requirements.in / requirements.txt: read them as pip does, write them as pip-compile does.

Reading follows pip's requirements-file rules: ``\\`` continuations are joined,
``#`` starts a comment at the start of a line or after whitespace, options are
``-r``/``-c`` (nested files relative to the including file; the caller passes
``read(path) -> text`` so this module does no I/O), ``-i``/``--index-url``,
``--extra-index-url``, ``-f``/``--find-links``, ``--pre``, ``--no-index``,
``--require-hashes``, ``--trusted-host``; a requirement may carry several
``--hash=sha256:...``. ``${VAR}`` is kept as written (expanded where used).
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Optional

from packaging.markers import Marker
from packaging.utils import (
    canonicalize_name,
)

from micro_thoth.errors import InputFileError, NotLockedError
from micro_thoth.format_control import ANY_FORMAT, Formats
from micro_thoth.formats.requirement_line import (
    FILE_OPTIONS_WITH_VALUE,
    is_editable,
    option_name_value,
    parse_requirement_line,
    split_line,
    unknown_option,
)
from micro_thoth.models import (
    DEFAULT_CATEGORY,
    Dependency,
    DirectReference,
    Hash,
    Lock,
    Pin,
    Source,
)

Read = Callable[[str], str]
_COMMENT = re.compile(r"(^|\s+)#.*$")
_FLAGS = {
    "--pre": "pre",
    "--no-index": "no_index",
    "--require-hashes": "require_hashes",
    "--prefer-binary": "prefer_binary",
}


@dataclass(frozen=True)
class RequirementLine:
    """One requirement and where it was written (file, first physical line, logical text)."""

    dependency: Dependency
    path: Optional[str]
    lineno: int
    text: str

    @property
    def where(self) -> str:
        return f"line {self.lineno}"


@dataclass(frozen=True)
class RequirementsFile:
    """A requirements file with everything it includes, as one value."""

    requirements: tuple[RequirementLine, ...] = ()
    constraint_lines: tuple[RequirementLine, ...] = ()
    index_url: Optional[str] = None
    extra_index_urls: tuple[str, ...] = ()
    find_links: tuple[str, ...] = ()
    trusted_hosts: tuple[str, ...] = ()
    pre: bool = False
    no_index: bool = False
    require_hashes: bool = False
    path: Optional[str] = None
    binary_options: tuple[tuple[str, str], ...] = ()  # (--no-binary|--only-binary, value), in order
    prefer_binary: bool = False

    def formats_after(self, base: Formats = ANY_FORMAT) -> Formats:
        """The binary options of ``base`` (flags, environment) then this file's, in pip's order."""
        formats = base
        for option, value in self.binary_options:
            formats = formats.with_option(option, value)
        return replace(formats, prefer_binary=formats.prefer_binary or self.prefer_binary)

    @property
    def dependencies(self) -> tuple[Dependency, ...]:
        return tuple(line.dependency for line in self.requirements)

    @property
    def constraints(self) -> tuple[Dependency, ...]:
        return tuple(line.dependency for line in self.constraint_lines)

    @property
    def index_urls(self) -> tuple[str, ...]:
        """``-i`` then every ``--extra-index-url``, without duplicates."""
        first = (self.index_url,) if self.index_url else ()
        return tuple(dict.fromkeys((*first, *self.extra_index_urls)))

    @property
    def sources(self) -> tuple[Source, ...]:
        """The index URLs as sources named ``index-0``, ``index-1``, ... (URLs kept as written)."""
        return tuple(Source(f"index-{i}", url) for i, url in enumerate(self.index_urls))


@dataclass
class _Collector:
    """What the files read so far said; ``read`` fetches included files."""

    read: Optional[Read]
    requirements: list[RequirementLine] = field(default_factory=list)
    constraints: list[RequirementLine] = field(default_factory=list)
    options: dict[str, list[str]] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)
    binary: list[tuple[str, str]] = field(default_factory=list)

    def freeze(self, path: Optional[str]) -> RequirementsFile:
        opts = self.options
        return RequirementsFile(
            requirements=tuple(self.requirements),
            constraint_lines=tuple(self.constraints),
            index_url=opts["index_url"][-1] if opts.get("index_url") else None,
            extra_index_urls=tuple(dict.fromkeys(opts.get("extra_index_url", []))),
            find_links=tuple(dict.fromkeys(opts.get("find_links", []))),
            trusted_hosts=tuple(dict.fromkeys(opts.get("trusted_host", []))),
            pre="pre" in self.flags,
            no_index="no_index" in self.flags,
            require_hashes="require_hashes" in self.flags,
            path=path,
            binary_options=tuple(self.binary),
            prefer_binary="prefer_binary" in self.flags,
        )


@dataclass(frozen=True)
class _Frame:
    """The file being read: its path, whether it holds constraints, and the chain of -r above it."""

    path: Optional[str]
    constraint: bool
    stack: tuple[str, ...]


def parse_requirements(
    text: str, path: Optional[str] = None, *, read: Optional[Read] = None
) -> RequirementsFile:
    """Parse a requirements file; ``read`` fetches the text of ``-r``/``-c`` files."""
    collector = _Collector(read)
    _parse_into(collector, text, _Frame(path, False, (path or "<input>",)))
    return collector.freeze(path)


def _parse_into(collector: _Collector, text: str, frame: _Frame) -> None:
    for lineno, line in logical_lines(text):
        where = f"line {lineno}"
        if line.startswith("-") and not is_editable(line):
            _option_line(collector, line, frame, where)
        else:
            entry = RequirementLine(
                parse_requirement_line(line, frame.path, where), frame.path, lineno, line
            )
            (collector.constraints if frame.constraint else collector.requirements).append(entry)


def logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """(first physical line number, text) of each non-empty line, continuations joined, comments removed."""
    for lineno, line in _joined(text):
        line = _COMMENT.sub("", line).strip()
        if line:
            yield lineno, line


def _joined(text: str) -> Iterator[tuple[int, str]]:
    pending: list[str] = []
    start = 0
    for lineno, line in enumerate(text.splitlines(), start=1):
        if line.endswith("\\") and not _COMMENT.match(line):
            start = start if pending else lineno
            pending.append(line[:-1])
            continue
        if pending:
            yield start, "".join(pending) + (" " + line if _COMMENT.match(line) else line)
            pending = []
        else:
            yield lineno, line
    if pending:
        yield start, "".join(pending)


def _option_line(collector: _Collector, line: str, frame: _Frame, where: str) -> None:
    for option, value in _options(split_line(line, frame.path, where), frame.path, where):
        if option in ("requirement", "constraint") and value is not None:
            _include(
                collector,
                value,
                frame,
                where,
                constraint=frame.constraint or option == "constraint",
            )
        elif value is None:
            collector.flags.add(option)
        elif option in ("--no-binary", "--only-binary"):
            _check_binary_value(value, frame.path, where)
            collector.binary.append((option, value))
        else:
            collector.options.setdefault(option, []).append(value)


def _options(
    tokens: list[str], path: Optional[str], where: str
) -> Iterator[tuple[str, Optional[str]]]:
    """(destination, value) of each option; flags have value None."""
    tokens = list(tokens)
    while tokens:
        token = tokens.pop(0)
        name, value = option_name_value(token)
        if name in _FLAGS and value is None:
            yield _FLAGS[name], None
        elif name in FILE_OPTIONS_WITH_VALUE:
            if value is None:
                if not tokens:
                    raise InputFileError(f"{name} needs a value", path=path, key_path=where)
                value = tokens.pop(0)
            yield FILE_OPTIONS_WITH_VALUE[name], value
        else:
            raise unknown_option(name, token, path, where)


def _check_binary_value(value: str, path: Optional[str], where: str) -> None:
    if value.startswith("-") or not value.strip():
        raise InputFileError(f"--no-binary/--only-binary needs project names, :all: or :none:, not {value!r}",
                             path=path, key_path=where)


def _include(
    collector: _Collector, target: str, frame: _Frame, where: str, *, constraint: bool
) -> None:
    location = nested_path(frame.path, target)
    if collector.read is None:
        raise InputFileError(
            f"cannot follow {target!r}: no reader given", path=frame.path, key_path=where
        )
    if location in frame.stack:
        raise InputFileError(f"{target!r} includes itself", path=frame.path, key_path=where)
    try:
        text = collector.read(location)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise InputFileError(
            f"cannot read {location}: {reason}", path=frame.path, key_path=where
        ) from exc
    _parse_into(collector, text, _Frame(location, constraint, (*frame.stack, location)))


def nested_path(parent: Optional[str], target: str) -> str:
    """Where ``-r target`` written in ``parent`` points: relative to the parent's directory."""
    if parent is None or "://" in target or target.startswith("/"):
        return target
    if "://" in parent:
        return parent.rsplit("/", 1)[0] + "/" + target
    return posixpath.normpath(posixpath.join(posixpath.dirname(parent), target))


# -- to a lock ------------------------------------------------------------------------------


def to_lock(reqs: RequirementsFile) -> Lock:
    """A requirements.txt whose every entry is ``==``-pinned (or a URL) with hashes, as a Lock."""
    pins = tuple(_pin(line) for line in reqs.requirements)
    return Lock(
        categories={DEFAULT_CATEGORY: pins},
        sources=reqs.sources,
        kind="requirements",
        path=reqs.path,
        formats=reqs.formats_after(),
    )


def _pin(line: RequirementLine) -> Pin:
    dep = line.dependency
    version = dep.pinned_version()
    archive = (
        dep.direct is not None and dep.direct.kind in ("file", "path") and not dep.direct.editable
    )
    missing = [
        what
        for what, lacking in (
            ("a project name", not dep.name), ("an == pin", version is None and not archive), ("a --hash", not dep.hashes),
        )
        if lacking
    ]
    if missing:
        raise NotLockedError(
            f"{line.text!r} has no {' and no '.join(missing)}; a locked line needs an == pin and a --hash",
            path=line.path,
            key_path=line.where,
            hint="compile it first: `thoth-pip lock -r requirements.in -o requirements.txt`",
        )
    return Pin(
        dep.name, version, dep.hashes, markers=dep.markers, extras=dep.extras, direct=dep.direct
    )


# -- writing, as pip-compile does ------------------------------------------------------------


@dataclass(frozen=True)
class ResolvedEntry:
    """One pinned package to write, with what required it (``-r requirements.in`` or a parent)."""

    name: str
    version: Optional[str]
    hashes: tuple[Hash, ...] = ()
    markers: Optional[str] = None
    via: tuple[str, ...] = ()
    extras: tuple[str, ...] = ()
    direct: Optional[DirectReference] = None

    @property
    def editable(self) -> bool:
        return self.direct is not None and self.direct.editable


def dump_requirements(
    entries: Sequence[ResolvedEntry],
    *,
    header: Optional[str] = None,
    python_version: Optional[str] = None,
    annotate: bool = True,
    index_url: Optional[str] = None,
    extra_index_urls: Sequence[str] = (),
    find_links: Sequence[str] = (),
    hashes: bool = True,
    trusted_hosts: Sequence[str] = (),
    formats: Formats = ANY_FORMAT,
) -> str:
    """A requirements.txt in pip-compile's layout; ``header`` is the command that made it."""
    options = [*_flag_lines(index_url, extra_index_urls, find_links), *(f"--trusted-host {h}" for h in dict.fromkeys(trusted_hosts))]
    options += formats.option_lines()
    lines = [*_header_lines(header, python_version), *options, *([""] if options else [])]
    ordered = sorted(entries, key=lambda e: (not e.editable, canonicalize_name(e.name)))
    lines.extend(_entry_text(entry, annotate, hashes) for entry in ordered)
    return "\n".join(lines or [""]) + "\n"


def _header_lines(command: Optional[str], python_version: Optional[str]) -> list[str]:
    if command is None:
        return []
    made = "# This file is autogenerated by thoth-pip" + (
        f" with Python {python_version}" if python_version else ""
    )
    return ["#", made, "# by the following command:", "#", f"#    {command}", "#"]


def _flag_lines(
    index_url: Optional[str], extra: Sequence[str], find_links: Sequence[str]
) -> list[str]:
    lines = [f"--index-url {index_url}"] if index_url else []
    lines += [f"--extra-index-url {url}" for url in dict.fromkeys(extra)]
    lines += [f"--find-links {link}" for link in dict.fromkeys(find_links)]
    return lines


def _entry_text(entry: ResolvedEntry, annotate: bool, with_hashes: bool) -> str:
    line = _requirement_text(entry)
    if entry.markers:
        line = f"{line} ; {Marker(entry.markers)}"
    if with_hashes:
        line += "".join(
            f" \\\n    --hash={digest}" for digest in sorted({str(h) for h in entry.hashes})
        )
    if annotate and entry.via:
        line += "\n    " + _annotation(entry.via)
    return line


def _requirement_text(entry: ResolvedEntry) -> str:
    extras = f"[{','.join(sorted(entry.extras))}]" if entry.extras else ""
    name = canonicalize_name(entry.name) + extras
    direct = entry.direct
    if direct is None:
        return f"{name}=={entry.version}"
    if direct.editable:
        return f"-e {direct.pip_url()}"
    if direct.kind == "path":
        return direct.pip_url()
    return f"{name} @ {direct.pip_url()}"


def _annotation(via: Sequence[str]) -> str:
    sources = sorted(set(via))
    if len(sources) == 1:
        return f"# via {sources[0]}"
    return "\n    ".join(["# via", *(f"#   {source}" for source in sources)])
