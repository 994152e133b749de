"""Frozen values that flow between the stages, and the vocabulary they share.

Everything here is parsed once at a boundary (formats/, index/) and then passed around as
immutable data. An index's files and a release's METADATA: artifacts.py. What the resolver
consumes (PackageSource, CandidatePolicy): resolve/protocols.py.
"""

from __future__ import annotations

import os
import re
import urllib.parse
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import PurePath
from typing import Literal, Optional

from packaging.tags import Tag, parse_tag
from packaging.utils import (
    NormalizedName,
    canonicalize_name,
)

from .cached import cached_property
from .categories import (
    DEFAULT_CATEGORY as DEFAULT_CATEGORY,  # re-exported: the vocabulary of every stage
)
from .categories import DEVELOP_CATEGORY as DEVELOP_CATEGORY
from .format_control import ANY_FORMAT, Formats

RECOMMENDATION_TYPES = ("latest", "stable", "security", "performance", "testing")
DEFAULT_RECOMMENDATION_TYPE = "stable"  # what a lock uses when nothing names a type
REQUIREMENTS_FORMATS = ("pipenv", "pip", "pip-tools")
REQUIREMENTS_FORMAT_ALIASES = {"pip-compile": "pip-tools"}  # pip-tools by its command's name, as Thamos accepts

_VAR = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^}]*))?\}")


def expand_vars(text: str, environ: Mapping[str, str]) -> str:
    """Expand ``${VAR}`` and ``${VAR:-default}`` as pipenv does for source URLs."""

    def repl(match: re.Match[str]) -> str:
        value = environ.get(match.group("name"))
        if value is None or (value == "" and match.group("default") is not None):
            default = match.group("default")
            return default if default is not None else match.group(0)
        return value

    return _VAR.sub(repl, text)


def redact_url(url: str) -> str:
    """Hide the password (or token) in a URL's userinfo: ``https://user:****@host/``."""
    parts = urllib.parse.urlsplit(url)
    if not parts.username and not parts.password:
        return url
    netloc = parts.hostname or ""
    if parts.port:
        netloc = f"{netloc}:{parts.port}"
    user = "****" if parts.password is None else f"{parts.username}:****"
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{user}@{netloc}"))


def strip_credentials(url: str) -> str:
    """Drop the userinfo of a URL entirely."""
    parts = urllib.parse.urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urllib.parse.urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


@dataclass(frozen=True)
class Hash:
    """A digest as locks write it: ``sha256:<hex>``."""

    algorithm: str
    value: str

    @classmethod
    def parse(cls, text: str) -> Hash:
        algorithm, sep, value = text.strip().partition(":")
        if not sep:
            algorithm, sep, value = text.strip().partition("=")
        if not sep or not algorithm or not re.fullmatch(r"[0-9a-fA-F]+", value):
            raise ValueError(f"not a hash: {text!r} (expected 'sha256:<hex>')")
        return cls(algorithm.lower(), value.lower())

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.value}"


@dataclass(frozen=True)
class Source:
    """A package index as a Pipfile or lock names it; the URL is kept as written."""

    name: str
    url: str
    verify_ssl: bool = True

    def expanded_url(self, environ: Mapping[str, str] | None = None) -> str:
        """The URL with ``${VAR}`` expanded (use it, never store it)."""
        return expand_vars(self.url, os.environ if environ is None else environ).rstrip("/") + "/"

    @property
    def redacted_url(self) -> str:
        return redact_url(self.url)

    def to_dict(self) -> dict[str, object]:
        return {"name": self.name, "url": self.url, "verify_ssl": self.verify_ssl}


@dataclass(frozen=True)
class DirectReference:
    """A requirement or pin that is not looked up on an index: a URL, a path or a VCS."""

    kind: Literal["file", "path", "git", "hg", "svn", "bzr"]
    location: str
    ref: Optional[str] = None
    subdirectory: Optional[str] = None
    editable: bool = False

    @property
    def is_vcs(self) -> bool:
        return self.kind in ("git", "hg", "svn", "bzr")

    def anchored(self, base: str) -> DirectReference:
        """This reference with a relative local path made relative to ``base`` (a Pipfile's directory).

        URLs, VCS locations, absolute and ``~`` paths are returned as they are.
        """
        local = self.kind == "path" or (self.kind == "file" and "://" not in self.location)
        if not local or self.location.startswith(("file:", "/", "~")):
            return self
        return replace(self, location=os.path.normpath(os.path.join(base, self.location)))

    def local_path(self) -> Optional[str]:
        """The local path a ``path`` / ``file`` reference names (a ``file:`` URL's decoded), None for a
        remote URL or a VCS; relative paths stay relative (anchor first: see ``anchored``)."""
        if self.is_vcs:
            return None
        location = self.location.partition("#")[0]
        if location.startswith("file:"):
            return urllib.parse.unquote(urllib.parse.urlsplit(location).path)
        return None if "://" in location else os.path.expanduser(location)

    def url(self) -> str:
        """The location as a URL: a local path (anchored first: see ``anchored``) as a ``file:`` URL."""
        if "://" in self.location or self.location.startswith("file:"):
            return self.location
        path, sep, fragment = self.location.partition("#")
        return PurePath(os.path.abspath(os.path.expanduser(path))).as_uri() + sep + fragment

    def pip_url(self) -> str:
        """The location as pip takes it (``git+https://...@ref#subdirectory=...``)."""
        if self.kind == "file" or self.kind == "path":
            url = self.location
        else:
            url = self.location if self.location.startswith(f"{self.kind}+") else f"{self.kind}+{self.location}"
            if self.ref:
                url = f"{url}@{self.ref}"
        if self.subdirectory:
            url = f"{url}{'&' if '#' in url else '#'}subdirectory={self.subdirectory}"
        return url


@dataclass(frozen=True)
class Dependency:
    """One requested package: an entry of a Pipfile or a line of a requirements file."""

    name: str
    specifier: str = ""
    extras: tuple[str, ...] = ()
    markers: Optional[str] = None
    index: Optional[str] = None
    direct: Optional[DirectReference] = None
    hashes: tuple[Hash, ...] = ()
    allow_prereleases: bool = False

    @property
    def key(self) -> NormalizedName:
        return canonicalize_name(self.name)

    def pinned_version(self) -> Optional[str]:
        """The version if the specifier is exactly ``==X`` (no wildcard), else None."""
        match = re.fullmatch(r"\s*===?\s*([^\s,*]+)\s*", self.specifier or "")
        return match.group(1) if match else None

    def to_pep508(self) -> str:
        """A PEP 508 string (direct references as ``name @ url``)."""
        text = self.name + (f"[{','.join(self.extras)}]" if self.extras else "")
        if self.direct is not None and self.direct.kind != "path":
            text += f" @ {self.direct.pip_url()}"
        elif self.specifier and self.specifier != "*":
            text += self.specifier
        if self.markers:
            text += f"; {self.markers}"
        return text


@dataclass(frozen=True)
class Pin:
    """One locked package: exact version, allowed hashes, index, markers."""

    name: str
    version: Optional[str]
    hashes: tuple[Hash, ...] = ()
    index: Optional[str] = None
    markers: Optional[str] = None
    extras: tuple[str, ...] = ()
    direct: Optional[DirectReference] = None

    @property
    def key(self) -> NormalizedName:
        return canonicalize_name(self.name)

    def allows(self, digest: Hash) -> bool:
        return digest in self.hashes

    def describe(self) -> str:
        if self.direct is not None:
            return f"{self.name} @ {redact_url(self.direct.pip_url())}"
        return f"{self.name}=={self.version}"


@dataclass(frozen=True)
class Lock:
    """A lock file of any supported format, as one value.

    ``categories`` maps a pipenv category (``default``, ``develop``, custom) to
    its pins, in file order. ``kind`` says which file format it came from.
    """

    categories: Mapping[str, tuple[Pin, ...]]
    sources: tuple[Source, ...] = ()
    requires: Mapping[str, str] = field(default_factory=dict)
    pipfile_hash: Optional[str] = None
    kind: Literal["pipfile", "requirements", "poetry"] = "pipfile"
    path: Optional[str] = None
    formats: Formats = field(default_factory=lambda: Formats())  # a requirements file's binary options

    def source(self, name: str) -> Optional[Source]:
        for source in self.sources:
            if source.name == name:
                return source
        return None

    def anchored(self, base: str) -> Lock:
        """This lock with relative local paths made relative to ``base`` (see DirectReference.anchored)."""
        categories = {
            category: tuple(
                replace(pin, direct=pin.direct.anchored(base)) if pin.direct is not None else pin for pin in pins
            )
            for category, pins in self.categories.items()
        }
        return replace(self, categories=categories)

    def select(self, categories: Sequence[str]) -> list[tuple[str, Pin]]:
        """Pins of the given categories; a package in several keeps its first entry."""
        seen: set[str] = set()
        chosen: list[tuple[str, Pin]] = []
        for category in categories:
            for pin in self.categories.get(category, ()):
                if pin.key not in seen:
                    seen.add(pin.key)
                    chosen.append((category, pin))
        return chosen


@dataclass(frozen=True)
class Pipfile:
    """A parsed Pipfile. ``hashes`` are the ``_meta`` hashes a lock of it may carry.

    The first hash is the one current pipenv writes (canonicalised names); the
    others are accepted when verifying (names as written: older pipenv, plette,
    micropipenv).
    """

    categories: Mapping[str, tuple[Dependency, ...]]
    sources: tuple[Source, ...] = ()
    requires: Mapping[str, str] = field(default_factory=dict)
    allow_prereleases: bool = False
    hashes: tuple[str, ...] = ()
    path: Optional[str] = None

    @property
    def hash(self) -> str:
        return self.hashes[0]


# each tags tuple's rank of every tag, by the tuple's identity (the tuple held, so its id stays its own):
# a target built again for the same environment (every job of a resolver process) shares the tuple
_PRIORITIES: dict[int, tuple[tuple[Tag, ...], dict[Tag, int]]] = {}


def _priority_of(tags: tuple[Tag, ...]) -> dict[Tag, int]:
    """``{tag: rank}`` of ``tags`` (most preferred first); computed once per tuple (hundreds of tags)."""
    found = _PRIORITIES.get(id(tags))
    if found is not None and found[0] is tags:
        return found[1]
    priority = {tag: i for i, tag in enumerate(tags)}
    if len(_PRIORITIES) >= 16:  # a few environments at a time in practice
        _PRIORITIES.clear()
    _PRIORITIES[id(tags)] = (tags, priority)
    return priority


@dataclass(frozen=True)
class Target:
    """The environment a lock or an install is for: marker values, wheel tags, and the kinds of
    file each project may use (``formats``: pip's binary options).

    ``tags`` are ordered most preferred first, as ``packaging.tags.sys_tags()``.
    ``abi_symbols``: the symbol versions its system libraries define (empty: unknown).
    """

    markers: Mapping[str, str]
    tags: tuple[Tag, ...]
    formats: Formats = ANY_FORMAT
    abi_symbols: frozenset[str] = frozenset()

    @property
    def python_version(self) -> str:
        return self.markers["python_version"]

    @property
    def python_full_version(self) -> str:
        return self.markers["python_full_version"]

    @cached_property
    def _priority(self) -> dict[Tag, int]:
        return _priority_of(self.tags)

    def tag_rank(self, tags: Iterable[Tag]) -> Optional[int]:
        """The best (lowest) rank among ``tags``, or None if none is supported."""
        ranks = [self._priority[t] for t in tags if t in self._priority]
        return min(ranks) if ranks else None

    @staticmethod
    def parse_tags(texts: Iterable[str]) -> tuple[Tag, ...]:
        out: list[Tag] = []
        for text in texts:
            out.extend(parse_tag(text))
        return tuple(out)


@dataclass(frozen=True)
class Justification:
    """One reason in a report, in the shape of Thoth's advise justifications."""

    type: Literal["INFO", "WARNING", "ERROR"]
    message: str
    link: Optional[str] = None
    package: Optional[str] = None
    version: Optional[str] = None

    def to_dict(self) -> dict[str, str]:
        out = {"type": self.type, "message": self.message}
        for key in ("link", "package", "version"):
            value = getattr(self, key)
            if value:
                out[key if key == "link" else f"{key}_name" if key == "package" else "version"] = value
        return out


@dataclass(frozen=True)
class Verdict:
    """What guidance says of one candidate: may it be used, how good is it, and why."""

    acceptable: bool = True
    score: float = 0.0
    justifications: tuple[Justification, ...] = ()


@dataclass(frozen=True)
class Substitute:
    """A release another package (or another index's build) may stand in for: a pseudonym's offer.

    ``specifier`` limits the stand-in's versions (``""``: any); ``index`` is a
    source *name* (None: wherever the name is found); ``reason`` says who
    offered it (``prescription IntelTensorflow``), ``link`` where to read more.
    """

    name: str
    specifier: str = ""
    index: Optional[str] = None
    reason: str = ""
    link: Optional[str] = None
