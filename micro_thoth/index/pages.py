"""Project pages as indexes serve them (PEP 691 JSON, PEP 503 HTML, flat directories) turned into Artifacts."""

from __future__ import annotations

import functools
import html
import json
import os
import re
import threading
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from micro_thoth.artifacts import Artifact, ProjectPage, version_or_none
from micro_thoth.digests import file_digests
from micro_thoth.models import Hash, Source
from micro_thoth.timestamps import parse_upload_time

JSON_TYPE = "application/vnd.pypi.simple.v1+json"
HTML_TYPE = "application/vnd.pypi.simple.v1+html"
ACCEPT = f"{JSON_TYPE}, {HTML_TYPE};q=0.2, text/html;q=0.01"
ARCHIVE_SUFFIXES = (".whl", ".tar.gz", ".zip", ".tar.bz2", ".tgz", ".tar")


class InvalidPage(ValueError):
    """A project page we cannot read (bad JSON, wrong shape)."""


def parse_page(
    body: bytes, content_type: str, page_url: str, source: Source, *, sha256s: Optional[frozenset[str]] = None
) -> tuple[Artifact, ...]:
    """The files a page lists, whatever its format (decided by the Content-Type).

    ``sha256s``: only the files with one of these digests, or with no sha256 at all (an
    install looks for the locked files only; the rest of a JSON page is never built)."""
    if is_json(content_type):
        return parse_json(body, page_url, source, sha256s=sha256s)
    found = parse_html(body, page_url, source)
    return found if sha256s is None else tuple(a for a in found if a.sha256 is None or a.sha256 in sha256s)


# -- PEP 691 ---------------------------------------------------------------

def is_json(content_type: str) -> bool:
    """Is this a PEP 691 page's Content-Type?"""
    return content_type.split(";")[0].strip().lower() == JSON_TYPE


def parse_json(
    body: bytes, page_url: str, source: Source, *, sha256s: Optional[frozenset[str]] = None
) -> tuple[Artifact, ...]:
    files = _json_files(body)
    if sha256s is not None:
        files = [item for item in files if _json_sha256(item) in sha256s or _json_sha256(item) is None]
    try:
        return tuple(_json_artifact(item, page_url, source) for item in files)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InvalidPage(f"not a PEP 691 project page: {exc}") from exc


def _json_files(body: bytes) -> list[Mapping[str, object]]:
    try:
        data = json.loads(body)
        files = data["files"]
        version = str((data.get("meta") or {}).get("api-version", "1.0"))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InvalidPage(f"not a PEP 691 project page: {exc}") from exc
    if version.split(".")[0] != "1":
        raise InvalidPage(f"simple API version {version} is not supported (1.x is)")
    return files  # type: ignore[no-any-return]


def _json_sha256(item: object) -> Optional[str]:
    hashes = item.get("hashes") if isinstance(item, Mapping) else None
    value = hashes.get("sha256") if isinstance(hashes, Mapping) else None
    return str(value).lower() if value else None


def _json_artifact(item: Mapping[str, object], page_url: str, source: Source) -> Artifact:
    return _from_row(_json_row(item, page_url), source)


def _json_row(item: Mapping[str, object], page_url: Optional[str]) -> list[object]:
    """One file of a PEP 691 page as a stored row (``artifacts_to_rows``' shape), nothing built.
    ``page_url`` None: the item's URL is absolute already (a file kept by ``json_groups``)."""
    hashes = item.get("hashes") or {}
    if not isinstance(hashes, dict):  # a decoded JSON object is a dict (no ABC check: thousands of files a page)
        raise TypeError(f"hashes is not an object: {hashes!r}")
    metadata = item["core-metadata"] if "core-metadata" in item else item.get("dist-info-metadata")
    size = item.get("size")
    return [
        str(item["filename"]),
        str(item["url"]) if page_url is None else resolve_url(page_url, str(item["url"])),
        [f"{str(alg).lower()}:{str(value).lower()}" for alg, value in hashes.items()],
        (str(item.get("requires-python") or "").strip() or None),
        _json_yanked(item.get("yanked")),
        _json_metadata_texts(metadata),
        str(item["upload-time"]) if item.get("upload-time") else None,
        size if isinstance(size, int) else None,
    ]


def _json_yanked(value: object) -> Optional[str]:
    if value is None or value is False:
        return None
    return value if isinstance(value, str) else ""


def _json_metadata_texts(value: object) -> Optional[list[str]]:
    """A file's ``core-metadata`` as the stored row has it: ``alg:digest`` texts, ``[]`` for a bare
    true (metadata served, digest unknown), None when absent or false."""
    if isinstance(value, dict):
        return [f"{str(alg).lower()}:{str(digest).lower()}" for alg, digest in value.items()]
    return [] if value is True else None


# -- PEP 503 ---------------------------------------------------------------

# Start tags of <a> and <base>; quoted attribute values may contain ">" (unescaped requires-python).
_TAG = re.compile(r"""<(a|base)(?=[\s>/])((?:[^>"']|"[^"]*"|'[^']*')*)>""", re.IGNORECASE)
_ATTR = re.compile(r"""([^\s=/>"']+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>"']+)))?""")
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_DOT_PREFIX = re.compile(r"(?:\.\.?/)*")


def _attributes(text: str) -> dict[str, Optional[str]]:
    """Attributes of one tag, names lower-cased, values HTML-unescaped (None: no value); first wins."""
    found: dict[str, Optional[str]] = {}
    for match in _ATTR.finditer(text):
        name = match.group(1).lower()
        raw = next((g for g in match.groups()[1:] if g is not None), None)
        if name not in found:
            found[name] = html.unescape(raw) if raw is not None and "&" in raw else raw
    return found


def parse_html(body: bytes, page_url: str, source: Source) -> tuple[Artifact, ...]:
    text = body.decode("utf-8", errors="replace")
    if "<!--" in text:
        text = _COMMENT.sub("", text)
    base, anchors = page_url, []
    seen_base = False
    for match in _TAG.finditer(text):
        attrs = _attributes(match.group(2))
        if match.group(1).lower() == "a":
            anchors.append(attrs)
        elif not seen_base and attrs.get("href"):
            base, seen_base = resolve_url(page_url, attrs["href"] or ""), True
    found = (_html_artifact(attrs, base, source) for attrs in anchors if attrs.get("href"))
    return tuple(artifact for artifact in found if artifact is not None)


def resolve_url(base: str, link: str) -> str:
    """``link`` made absolute against ``base``.

    urljoin costs tens of microseconds and a page may list thousands of files:
    absolute links are taken as they are, and a plain relative path (``../../x/y``)
    joins only its ``./``/``../`` prefix, once per page and prefix.
    """
    if link.startswith(("https://", "http://", "file:")):
        return link
    prefix = _DOT_PREFIX.match(link).group(0)  # type: ignore[union-attr]
    rest = link[len(prefix) :]
    if rest and rest[0] not in "/?#" and "/." not in rest and ":" not in rest.split("/", 1)[0]:
        return _join_prefix(base, prefix or "./") + rest
    return urllib.parse.urljoin(base, link)


@functools.lru_cache(maxsize=256)
def _join_prefix(base: str, prefix: str) -> str:
    return urllib.parse.urljoin(base, prefix)


def _filename_of(url: str) -> str:
    name = url.split("?", 1)[0].rsplit("/", 1)[-1]
    return urllib.parse.unquote(name) if "%" in name else name


def _html_artifact(attrs: Mapping[str, Optional[str]], base: str, source: Source) -> Optional[Artifact]:
    url, _, fragment = resolve_url(base, (attrs["href"] or "").strip()).partition("#")
    filename = _filename_of(url)
    if not filename.endswith(ARCHIVE_SUFFIXES):
        return None
    return Artifact(
        filename=filename,
        url=url,
        hashes=fragment_hashes(fragment),
        requires_python=(attrs.get("data-requires-python") or "").strip() or None,
        yanked=(attrs.get("data-yanked") or "") if "data-yanked" in attrs else None,
        metadata_hashes=_html_metadata(attrs.get("data-core-metadata", attrs.get("data-dist-info-metadata"))),
        index=source,
    )


def fragment_hashes(fragment: str) -> tuple[Hash, ...]:
    hashes = []
    for part in fragment.split("&"):
        algorithm, sep, value = part.partition("=")
        if sep and algorithm in ("sha256", "sha384", "sha512", "sha224", "sha1", "md5") and value:
            hashes.append(Hash(algorithm, value.lower()))
    return tuple(hashes)


def _html_metadata(value: Optional[str]) -> Optional[tuple[Hash, ...]]:
    if value is None or value.strip().lower() == "false":
        return None
    if value.strip().lower() == "true" or "=" not in value:
        return ()
    algorithm, _, digest = value.strip().partition("=")
    return (Hash(algorithm.lower(), digest.lower()),)


# -- flat directories (find-links style) -----------------------------------

def file_url_path(url: str) -> str:
    """The local path of a ``file://`` URL."""
    return urllib.request.url2pathname(urllib.parse.urlsplit(url).path)


def directory_artifacts(directory: str, name: str, source: Source) -> tuple[Artifact, ...]:
    """The files of project ``name`` in a flat directory, with their sha256 computed."""
    wanted = canonicalize_name(name)
    found = []
    for entry in sorted(os.scandir(directory), key=lambda e: e.name):
        if entry.is_file() and entry.name.endswith(ARCHIVE_SUFFIXES):
            artifact = Artifact(filename=entry.name, url=_path_url(entry.path), index=source)
            if artifact.name == wanted:
                found.append(artifact)
    return tuple(_with_digest(a) for a in found)


def _path_url(path: str) -> str:
    return urllib.parse.urljoin("file:", urllib.request.pathname2url(os.path.abspath(path)))


def _with_digest(artifact: Artifact) -> Artifact:
    return replace(artifact, hashes=file_digests(Path(file_url_path(artifact.url))))


# -- filters ---------------------------------------------------------------

def uploaded_by(artifacts: Iterable[Artifact], cutoff: datetime) -> tuple[Artifact, ...]:
    """Artifacts uploaded at or before ``cutoff``; those without an upload time are dropped (as uv does)."""
    limit = cutoff if cutoff.tzinfo else cutoff.replace(tzinfo=timezone.utc)
    kept = []
    for artifact in artifacts:
        when = parse_upload_time(artifact.upload_time)
        if when is not None and when <= limit:
            kept.append(artifact)
    return tuple(kept)


# -- compact rows (parsed pages kept in the store) ----------------------------

def artifacts_to_rows(artifacts: Sequence[Artifact]) -> str:
    """Artifacts as compact JSON rows (their index is not stored: it is given back on load)."""
    rows = [
        [
            a.filename,
            a.url,
            [str(h) for h in a.hashes],
            a.requires_python,
            a.yanked,
            None if a.metadata_hashes is None else [str(h) for h in a.metadata_hashes],
            a.upload_time,
            a.size,
        ]
        for a in artifacts
    ]
    return json.dumps(rows, separators=(",", ":"))


def artifacts_from_rows(text: str, source: Source) -> tuple[Artifact, ...]:
    """The files of stored rows: compact rows (``artifacts_to_rows``) or a PEP 691 page's own
    file objects (``json_groups``), told apart by their first item."""
    rows = json.loads(text)
    if rows and type(rows[0]) is dict:
        return tuple(_from_row(_json_row(item, None), source) for item in rows)
    return tuple(_from_row(row, source) for row in rows)


def _from_row(row: Sequence, source: Source) -> Artifact:  # type: ignore[type-arg]
    filename, url, hashes, requires_python, yanked, metadata, upload_time, size = row
    return Artifact(
        filename=filename,
        url=url,
        hashes=tuple(_hash(h) for h in hashes),
        requires_python=requires_python,
        yanked=yanked,
        metadata_hashes=None if metadata is None else tuple(_hash(h) for h in metadata),
        upload_time=upload_time,
        size=size,
        index=source,
    )


def artifacts_to_groups(artifacts: Sequence[Artifact]) -> str:
    """Artifacts as compact rows grouped by (project, version), groups in order of first
    appearance: a warm run builds the files of a version only when the resolver reaches it.
    One line per group: ``name<TAB>version<TAB>json rows`` (version empty when unparsable)."""
    groups: dict[tuple[str, str], list[Artifact]] = {}
    for artifact in artifacts:
        version = artifact.version
        groups.setdefault((artifact.name, "" if version is None else str(version)), []).append(artifact)
    return "\n".join(f"{name}\t{version}\t{artifacts_to_rows(group)}" for (name, version), group in groups.items())


def groups_from_text(text: str, start: int = 0) -> list[tuple[str, str, str]]:
    """``artifacts_to_groups``' lines from ``start`` as (name, version text, json rows), nothing decoded
    yet; each piece sliced once out of ``text`` (no copy of each line on the way: a page may be megabytes)."""
    return [(name, version, text[begin:end]) for name, version, begin, end in group_spans(text, start)]


def group_spans(text: str, start: int = 0) -> list[tuple[str, str, int, int]]:
    """``artifacts_to_groups``' lines from ``start`` as (name, version text, where the rows start and end)."""
    groups, find, end = [], text.find, len(text)
    while start < end:
        name = find("\t", start)
        version = find("\t", name + 1)
        line = find("\n", version + 1)
        line = end if line < 0 else line
        if name < 0 or version < 0:
            raise ValueError(f"not a stored group: {text[start:line][:80]!r}")
        groups.append((text[start:name], text[name + 1 : version], version + 1, line))
        start = line + 1
    return groups


def artifacts_from_group(name: NormalizedName, version: Optional[Version], rows: str, source: Source) -> tuple[Artifact, ...]:
    """The files of one stored group, their name and version known (no file name is parsed)."""
    artifacts = artifacts_from_rows(rows, source)
    for artifact in artifacts:
        artifact.__dict__["_parts"] = (name, version)  # Artifact._parts, a cached_property
    return artifacts


def _hash(text: str) -> Hash:
    algorithm, _, value = text.partition(":")
    return Hash(algorithm, value)


Span = tuple[str, str, int, int]  # (project, version text, start, end): where a group's rows are in a stored value


@dataclass(frozen=True)
class StoredGroups:
    """A stored page's groups (``artifacts_to_groups``) as spans, and what reads a group's rows:
    sliced out of the value held in memory, or read back from the store (a lock's pages are tens
    of MB; a few hundred of their files are built)."""

    spans: Sequence[Span]
    read: Callable[[str, str, int, int], str]  # (project, version text, start, end) -> json rows

    @classmethod
    def of(cls, value: str, start: int = 0, spans: Optional[Sequence[Span]] = None) -> StoredGroups:
        """The groups of a value held in memory (rows from ``start``; ``spans`` if known)."""
        return cls(group_spans(value, start) if spans is None else spans, functools.partial(_slice, value))

    def rows(self) -> Iterator[tuple[str, str, str]]:
        """(project, version text, json rows) of every group, read one by one."""
        read = self.read
        return ((name, version, read(name, version, start, end)) for name, version, start, end in self.spans)


def _slice(value: str, _name: str, _version: str, start: int, end: int) -> str:
    return value[start:end]


class StoredPage(ProjectPage):
    """A page read back from the store: each version's files are built when first asked
    (``version_files``), all of them only when ``artifacts`` is read; once, whichever threads
    ask at once (the resolver's, and a prefetch thread guessing its next pin)."""

    _groups: StoredGroups
    _clean: Callable[[Artifact], Artifact]
    _lock: threading.Lock

    def __init__(self, name: NormalizedName, index: Source, groups: StoredGroups,
                 clean: Callable[[Artifact], Artifact]) -> None:
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "index", index)
        object.__setattr__(self, "_groups", groups)
        object.__setattr__(self, "_clean", clean)
        object.__setattr__(self, "_lock", threading.Lock())

    @functools.cached_property
    def artifacts(self) -> tuple[Artifact, ...]:
        return tuple(a for _version, load in self._loaders for a in load())

    def version_files(self) -> list[tuple[Version, Callable[[], tuple[Artifact, ...]]]]:
        return [(version, load) for version, load in self._loaders if version is not None]

    @property
    def _loaders(self) -> list[tuple[Optional[Version], Callable[[], tuple[Artifact, ...]]]]:
        with self._lock:
            loaders = self.__dict__.get("_built_loaders")
            if loaders is None:
                loaders = self._build_loaders()
                object.__setattr__(self, "_built_loaders", loaders)
            return loaders

    def _build_loaders(self) -> list[tuple[Optional[Version], Callable[[], tuple[Artifact, ...]]]]:
        merged: dict[Optional[Version], list[Span]] = {}  # "1.0" and "1.0.0" are one version
        name = self.name
        for span in self._groups.spans:
            if span[0] == name:
                merged.setdefault(version_or_none(span[1]), []).append(span)
        read = self._groups.read
        object.__setattr__(self, "_groups", None)  # the loaders hold what they need now
        return [(version, _Loader(self, version, spans, read)) for version, spans in merged.items()]


class _Loader:
    """Builds (once) the files of one version of a StoredPage."""

    def __init__(self, page: StoredPage, version: Optional[Version], spans: list[Span],
                 read: Callable[[str, str, int, int], str]) -> None:
        self._page, self._version, self._spans, self._read = page, version, spans, read
        self._built: Optional[tuple[Artifact, ...]] = None

    def __call__(self) -> tuple[Artifact, ...]:
        built = self._built
        if built is not None:
            return built
        page = self._page
        with page._lock:
            if self._built is None:
                self._built = tuple(
                    page._clean(a)
                    for span in self._spans
                    for a in artifacts_from_group(page.name, self._version, self._read(*span), page.index)
                )
                self._spans = []
            return self._built
