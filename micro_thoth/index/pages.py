"""Project pages as indexes serve them (PEP 691 JSON, PEP 503 HTML, flat directories) turned into Artifacts."""

from __future__ import annotations

import html.parser
import json
import os
import re
import urllib.parse
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Optional

from packaging.utils import canonicalize_name

from micro_thoth.digests import file_digests
from micro_thoth.models import Artifact, Hash, Source

JSON_TYPE = "application/vnd.pypi.simple.v1+json"
HTML_TYPE = "application/vnd.pypi.simple.v1+html"
ACCEPT = f"{JSON_TYPE}, {HTML_TYPE};q=0.2, text/html;q=0.01"
_ISO = re.compile(
    r"(?P<date>\d{4}-\d\d-\d\d)[T ](?P<time>\d\d:\d\d(?::\d\d)?)(?:\.(?P<frac>\d+))?"
    r"(?:(?P<utc>Z)|(?P<sign>[+-])(?P<hh>\d\d):?(?P<mm>\d\d))?$"
)
ARCHIVE_SUFFIXES = (".whl", ".tar.gz", ".zip", ".tar.bz2", ".tgz", ".tar")


class InvalidPage(ValueError):
    """A project page we cannot read (bad JSON, wrong shape)."""


def parse_page(body: bytes, content_type: str, page_url: str, source: Source) -> tuple[Artifact, ...]:
    """The files a page lists, whatever its format (decided by the Content-Type)."""
    if content_type.split(";")[0].strip().lower() == JSON_TYPE:
        return parse_json(body, page_url, source)
    return parse_html(body, page_url, source)


# -- PEP 691 ---------------------------------------------------------------

def parse_json(body: bytes, page_url: str, source: Source) -> tuple[Artifact, ...]:
    try:
        data = json.loads(body)
        files = data["files"]
        return tuple(_json_artifact(item, page_url, source) for item in files)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InvalidPage(f"not a PEP 691 project page: {exc}") from exc


def _json_artifact(item: Mapping[str, object], page_url: str, source: Source) -> Artifact:
    hashes = item.get("hashes") or {}
    assert isinstance(hashes, Mapping)
    metadata = item.get("core-metadata", item.get("dist-info-metadata"))
    size = item.get("size")
    return Artifact(
        filename=str(item["filename"]),
        url=urllib.parse.urljoin(page_url, str(item["url"])),
        hashes=tuple(Hash(str(alg).lower(), str(value).lower()) for alg, value in hashes.items()),
        requires_python=(str(item.get("requires-python") or "").strip() or None),
        yanked=_json_yanked(item.get("yanked")),
        metadata_hashes=_json_metadata(metadata),
        upload_time=str(item["upload-time"]) if item.get("upload-time") else None,
        size=size if isinstance(size, int) else None,
        index=source,
    )


def _json_yanked(value: object) -> Optional[str]:
    if value is None or value is False:
        return None
    return value if isinstance(value, str) else ""


def _json_metadata(value: object) -> Optional[tuple[Hash, ...]]:
    if isinstance(value, Mapping):
        return tuple(Hash(str(alg).lower(), str(digest).lower()) for alg, digest in value.items())
    return () if value is True else None


# -- PEP 503 ---------------------------------------------------------------

class _AnchorCollector(html.parser.HTMLParser):
    """Collects ``<a>`` attributes and the first ``<base href>`` (attribute values come unescaped)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.anchors: list[dict[str, Optional[str]]] = []
        self.base: Optional[str] = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, Optional[str]]]) -> None:
        if tag == "a":
            self.anchors.append(dict(attrs))
        elif tag == "base" and self.base is None:
            self.base = dict(attrs).get("href")


def parse_html(body: bytes, page_url: str, source: Source) -> tuple[Artifact, ...]:
    collector = _AnchorCollector()
    collector.feed(body.decode("utf-8", errors="replace"))
    collector.close()
    base = urllib.parse.urljoin(page_url, collector.base) if collector.base else page_url
    found = (_html_artifact(attrs, base, source) for attrs in collector.anchors if attrs.get("href"))
    return tuple(artifact for artifact in found if artifact is not None)


def _html_artifact(attrs: Mapping[str, Optional[str]], base: str, source: Source) -> Optional[Artifact]:
    url, _, fragment = urllib.parse.urljoin(base, attrs["href"] or "").partition("#")
    filename = urllib.parse.unquote(urllib.parse.urlsplit(url).path.rsplit("/", 1)[-1])
    if not filename.endswith(ARCHIVE_SUFFIXES):
        return None
    return Artifact(
        filename=filename,
        url=url,
        hashes=_fragment_hashes(fragment),
        requires_python=(attrs.get("data-requires-python") or "").strip() or None,
        yanked=(attrs.get("data-yanked") or "") if "data-yanked" in attrs else None,
        metadata_hashes=_html_metadata(attrs.get("data-core-metadata", attrs.get("data-dist-info-metadata"))),
        index=source,
    )


def _fragment_hashes(fragment: str) -> tuple[Hash, ...]:
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

def parse_upload_time(text: Optional[str]) -> Optional[datetime]:
    """An ISO 8601 upload time as an aware datetime (UTC when no zone is given); None if unreadable."""
    match = _ISO.match(text.strip()) if text else None
    if match is None:
        return None
    clock = match["time"] if match["time"].count(":") == 2 else match["time"] + ":00"
    micro = int(((match["frac"] or "") + "000000")[:6])
    zone = timezone.utc
    if match["sign"]:
        offset = timedelta(hours=int(match["hh"]), minutes=int(match["mm"]))
        zone = timezone(offset if match["sign"] == "+" else -offset)
    try:
        naive = datetime.strptime(f"{match['date']}T{clock}", "%Y-%m-%dT%H:%M:%S")
    except ValueError:
        return None
    return naive.replace(microsecond=micro, tzinfo=zone)


def uploaded_by(artifacts: Iterable[Artifact], cutoff: datetime) -> tuple[Artifact, ...]:
    """Artifacts uploaded at or before ``cutoff``; those without an upload time are dropped (as uv does)."""
    limit = cutoff if cutoff.tzinfo else cutoff.replace(tzinfo=timezone.utc)
    kept = []
    for artifact in artifacts:
        when = parse_upload_time(artifact.upload_time)
        if when is not None and when <= limit:
            kept.append(artifact)
    return tuple(kept)
