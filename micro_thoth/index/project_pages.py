"""Project pages of the configured indexes: fetched (HTTP or file://), kept fresh across runs, parsed once.

Across runs the knowledge store keeps each HTTP page with its validators
(ETag / Last-Modified) and its parsed files (not its body: the rows stand for it):
within ``ttl`` seconds of the last fetch neither the body nor a parse is needed;
after it the page is revalidated (a 304 costs no parse), and ``refresh`` always
asks the index again.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Optional, Union

from packaging.utils import NormalizedName

from micro_thoth import allocator
from micro_thoth.artifacts import Artifact, ProjectPage
from micro_thoth.errors import IndexUnreachable, PackageIndexError
from micro_thoth.memory import Kept, keeping
from micro_thoth.models import Source, redact_url, strip_credentials
from micro_thoth.reporting import Reporter
from micro_thoth.store import CachedPage, KnowledgeStore

from . import budget, fetch, page_scan, pages, prefetch

if TYPE_CHECKING:
    import httpx

Files = Union[tuple[Artifact, ...], pages.StoredGroups]  # files built, or the stored rows not yet built
StoredRows = tuple[str, str, int, str]  # a stored page: its body's digest, the stored value, where its rows start, its namespace

# store namespace: page URL -> body digest, fetch time, files grouped by version (v4: a PEP 691 page's
# files as the page's own JSON objects, ``page_scan``; v3, compact rows only, is still read)
PARSED_PAGES = "parsed-pages-v4"
_EARLIER_PARSED_PAGES = ("parsed-pages-v3",)
# (store, page URL) -> fetch time, parsed rows: what a resolver process keeps across jobs (memory.py);
# used only while the store still holds that fetch, so a page another process re-fetched is read again
_REMEMBERED: Kept[tuple[str, str], tuple[float, pages.StoredGroups]] = Kept(2048)
_PARSING = threading.Semaphore(1)
_BODIES = budget.Budget(budget.PAGE_BODIES)  # page bodies fetched and not yet stored, all threads


class ProjectPages:
    """Loads one project's page from one index (no memo: the IndexClient keeps one per run)."""

    def __init__(
        self,
        *,
        client: httpx.Client,
        store: Optional[KnowledgeStore],
        environ: Mapping[str, str],
        ttl: float,
        refresh: bool,
        exclude_newer: Optional[datetime],
        reporter: Reporter,
        register: Callable[[str], str],
        offline: bool = False,
    ) -> None:
        self._client = client
        self._store = store
        self._environ = environ
        self._ttl = ttl
        self._refresh = refresh
        self._exclude_newer = exclude_newer
        self._reporter = reporter
        self._register = register
        self._offline = offline

    def load(self, source: Source, name: NormalizedName, sha256s: Optional[frozenset[str]] = None) -> Optional[ProjectPage]:
        """The project's files on ``source`` (only files of that name), or None if it has none.

        ``sha256s``: only the files with one of these digests (or none at all): what an install
        of a lock looks for. Such a partial page is never kept as the page's parsed files."""
        base = strip_credentials(source.expanded_url(self._environ))
        found: Optional[Files]
        if base.startswith("file:"):
            found = self._file_page(base, name, source)
        else:
            found = self._http_page(base + f"{name}/", source, sha256s)
        if found is None:
            return None
        if isinstance(found, pages.StoredGroups):  # rows from the store, grouped by version
            if sha256s is None and self._exclude_newer is None:
                return pages.StoredPage(name, source, found, self._clean)
            found = tuple(a for _name, _version, rows in found.rows() for a in pages.artifacts_from_rows(rows, source))
        if sha256s is not None:
            found = tuple(a for a in found if a.sha256 is None or a.sha256 in sha256s)
        artifacts = tuple(self._clean(a) for a in found if a.name == name)
        if self._exclude_newer is not None:
            artifacts = pages.uploaded_by(artifacts, self._exclude_newer)
        return ProjectPage(name=name, index=source, artifacts=artifacts)

    def _clean(self, artifact: Artifact) -> Artifact:
        if "@" not in artifact.url or "@" not in urllib.parse.urlsplit(artifact.url).netloc:
            return artifact
        return replace(artifact, url=self._register(artifact.url))

    def _file_page(self, base: str, name: NormalizedName, source: Source) -> Optional[tuple[Artifact, ...]]:
        root = pages.file_url_path(base)
        project_dir = os.path.join(root, name)
        index_html = os.path.join(project_dir, "index.html")
        if os.path.isfile(index_html):
            with open(index_html, "rb") as handle:
                body = handle.read()
            return pages.parse_html(body, base + f"{name}/", source)
        if os.path.isdir(project_dir):
            return pages.directory_artifacts(project_dir, name, source)
        if not os.path.isdir(root):
            raise IndexUnreachable(redact_url(base), "no such directory")
        found = pages.directory_artifacts(root, name, source)
        return found or None

    def _http_page(self, url: str, source: Source, sha256s: Optional[frozenset[str]] = None) -> Optional[Files]:
        info = self._store.get_page_info(url) if self._store is not None else None
        fresh = info is not None and not self._refresh and info.is_fresh(self._ttl)
        remembered = _REMEMBERED.get(self._remembered_key(url)) if fresh and info is not None else None
        if remembered is not None and info is not None and remembered[0] == info.fetched_at:
            return remembered[1]  # a resolver process's warm path: the rows of this very fetch, parsed before
        kept = self._kept_rows(url, info)
        if kept is not None and info is not None and fresh:  # the warm path: neither the body nor a parse is needed
            return self._groups(kept[3], url, kept[1], kept[2], info.fetched_at)
        if self._offline:
            return self._offline_page(url, info, kept, source)
        cached = self._store.get_page(url) if self._store is not None and info is not None else None
        if cached is not None and not cached.body and kept is None:
            cached = None  # neither its body nor its rows are kept: ask for it whole
        if cached is not None and cached.body and not self._refresh and cached.is_fresh(self._ttl):
            return self._parse_page(cached, source, sha256s)
        self._reporter.message(f"GET {redact_url(url)}" + (" (revalidating)" if cached is not None else ""),
                               level="debug")
        # the body's bytes are held from the first read until its rows are stored; the resolver's own
        # fetch (on the main thread, or a server job's thread) is not queued behind the prefetch threads' speculation
        with _BODIES.holding(urgent=not prefetch.running_a_hint()) as hold:
            return self._fetched(url, source, sha256s, cached, kept, hold)

    def _fetched(self, url: str, source: Source, sha256s: Optional[frozenset[str]], cached: Optional[CachedPage],
                 kept: Optional[StoredRows], hold: budget.Hold) -> Optional[Files]:
        """The page asked of the index (revalidated if ``cached``), its body's bytes counted in ``hold``."""
        headers = {"Accept": pages.ACCEPT, **(cached.validators() if cached is not None else {})}
        response, body = _get(self._client, url, headers, hold)  # [the body]: the parse takes it out
        if response.status_code == 304 and cached is not None:
            page = replace(cached, fetched_at=time.time())
            if kept is not None and not cached.body:  # the rows stand for the unchanged body
                return self._keep(page, _head(kept[0], page.fetched_at) + kept[1][kept[2]:])
        elif response.status_code in (404, 410):
            return None
        elif response.status_code == 200:
            page = _cached_page(url, response, b"")
        else:
            raise IndexUnreachable(redact_url(url), f"HTTP {response.status_code} {response.reason_phrase}")
        return self._parse_page(page, source, sha256s, fetched=True, body=body)  # a page we cannot read is not kept

    def _offline_page(self, url: str, info: Optional[CachedPage], kept: Optional[StoredRows], source: Source) -> Files:
        """The page as last fetched, however old; an error naming it when it never was."""
        if kept is not None:
            return self._groups(kept[3], url, kept[1], kept[2])
        cached = self._store.get_page(url) if info is not None and self._store is not None else None
        if cached is not None and cached.body:
            return self._parse_page(cached, source)
        raise IndexUnreachable(
            redact_url(url), "this project page is not in the cache, and --offline forbids asking the index",
            hint="run once without --offline (the page is kept for the next offline run)",
        )

    def _kept_rows(self, url: str, info: Optional[CachedPage]) -> Optional[StoredRows]:
        """(body digest, the stored value, where its rows start) of the page as fetched at ``info.fetched_at``,
        if kept: the rows are not copied out of the value (megabytes for a large page)."""
        if info is None or self._store is None:
            return None
        for namespace in (PARSED_PAGES, *_EARLIER_PARSED_PAGES):  # an earlier version's rows of this very fetch
            value = self._store.get_value(namespace, url)
            if value is not None:
                digest, stamp, start = _stored_head(value)
                if stamp == repr(info.fetched_at):
                    return digest, value, start, namespace
        return None

    def _keep(self, page: CachedPage, value: str, spans: Optional[list[pages.Span]] = None) -> pages.StoredGroups:
        """Keeps the page's value (``_head`` then its rows: its body's digest and fetch time) and its
        validators, not its body, which the rows stand for (a 304 or an identical body keeps them);
        the page's groups (``_groups``)."""
        if self._store is not None:
            self._store.put_value(PARSED_PAGES, page.url, value)
            self._store.put_page(replace(page, body=b""))
        return self._groups(PARSED_PAGES, page.url, value, _stored_head(value)[2], page.fetched_at, spans)

    def _groups(self, namespace: str, url: str, value: str, start: int, fetched_at: Optional[float] = None,
                spans: Optional[list[pages.Span]] = None) -> pages.StoredGroups:
        """The groups of a page's stored ``value`` (rows from ``start``): each read back from the store
        when the resolver reaches its version (``_StoredValue``) if the store can read a part of a
        value, else (and in a process that keeps pages: ``memory.py``) sliced out of ``value``.
        ``fetched_at``: remembered for such a process. A value the store does not give back as
        written (a write that failed: the store is a cache) is held in memory too."""
        stored = _StoredValue(self._store, namespace, url, value[:start]) if self._store is not None else None
        if stored is not None and not keeping() and value.isascii() and stored.readable():
            spans = pages.group_spans(value, start) if spans is None else spans
            groups = pages.StoredGroups(spans, stored.rows)
        else:
            groups = pages.StoredGroups.of(value, start, spans)
        if fetched_at is not None:
            self._remember(url, fetched_at, groups)
        return groups

    def _parse_page(self, page: CachedPage, source: Source, sha256s: Optional[frozenset[str]] = None,
                    fetched: bool = False, body: Optional[list[bytes]] = None) -> Files:
        """The page's files; its rows kept in the store (``_keep``), so the next run reads neither the
        body nor parses it, and a re-fetched identical page is not parsed again. With ``sha256s`` only
        those files are built, and a ``fetched`` page is kept whole (a later lock parses it without
        asking the index). ``body``: the page's body in a list (``page`` has none), so that a JSON
        page's parse lets go of it, megabytes, as soon as it is decoded; no name here holds it."""
        if body is None:
            body = [page.body]
            page = replace(page, body=b"")
        digest = hashlib.sha1(body[0]).hexdigest()
        head = _head(digest, page.fetched_at)
        stored = self._store.get_value(PARSED_PAGES, page.url) if self._store is not None else None
        kept = _stored_head(stored) if stored is not None else None
        if stored is not None and kept is not None and kept[0] == digest:  # the same body: its rows, nothing parsed
            return self._keep(page, head + stored[kept[2]:])
        if sha256s is not None:
            page = replace(page, body=body[0])
            found = _parse_fresh(page, source, sha256s)
            if fetched and self._store is not None:
                self._store.put_page(page)
            return found
        if pages.is_json(page.content_type):  # straight to rows by version: the resolver builds the versions it reaches
            with _PARSING:  # one page's parse and write at a time: each holds megabytes for a moment
                return self._keep(page, *_parse_fresh_value(page, body, source, head))
        artifacts = _parse_fresh(replace(page, body=body[0]), source)
        self._keep(page, head + pages.artifacts_to_groups(artifacts))
        return artifacts

    def fresh_in_memory(self, source: Source, name: NormalizedName) -> bool:
        """True when this process parsed the project's page from a fetch still within the freshness
        window (memory.py): ``load`` then fetches nothing (another process may have fetched it since:
        then it reads that fetch from the store)."""
        if self._refresh:
            return False
        url = strip_credentials(source.expanded_url(self._environ)) + f"{name}/"
        remembered = _REMEMBERED.get(self._remembered_key(url)) if not url.startswith("file:") else None
        return remembered is not None and time.time() - remembered[0] < self._ttl

    def _remembered_key(self, url: str) -> Optional[tuple[str, str]]:
        path = getattr(self._store, "path", None)
        return (str(path), url) if path is not None else None

    def _remember(self, url: str, fetched_at: float, groups: pages.StoredGroups) -> None:
        _REMEMBERED.put(self._remembered_key(url), (fetched_at, groups))


def _head(digest: str, fetched_at: float) -> str:
    """What a stored page's value starts with: its body's digest and its fetch time, a line each."""
    return f"{digest}\n{fetched_at!r}\n"


def _stored_head(value: str) -> tuple[str, str, int]:
    """(body digest, fetch time text, where the rows start) of a stored value (``_keep``'s head)."""
    first = value.index("\n")
    start = value.index("\n", first + 1) + 1
    return value[:first], value[first + 1 : start - 1], start


def _parse_fresh(page: CachedPage, source: Source, sha256s: Optional[frozenset[str]] = None) -> tuple[Artifact, ...]:
    with _invalid_page(page, source):
        return pages.parse_page(page.body, page.content_type, page.base, source, sha256s=sha256s)


def _parse_fresh_value(page: CachedPage, body: list[bytes], source: Source, head: str) -> tuple[str, list[pages.Span]]:
    """A PEP 691 page's value for the store (``head``, then its rows by version) and where each group's
    rows are; its ``body`` is taken out of the list."""
    with _invalid_page(page, source):
        return page_scan.json_value(body, page.base, head)


@contextmanager
def _invalid_page(page: CachedPage, source: Source) -> Iterator[None]:
    try:
        yield
    except pages.InvalidPage as exc:
        raise PackageIndexError(
            f"{redact_url(page.url)} is not a valid project page: {exc}", index=source.redacted_url
        ) from exc


class _StoredValue:
    """A page's value in the store, from which a version's rows are read when the resolver reaches it."""

    def __init__(self, store: KnowledgeStore, namespace: str, key: str, head: str) -> None:
        self._store, self._namespace, self._key, self._head = store, namespace, key, head
        # a replacing value's head and spans, set at once (threads read it): None while the value is the first
        self._moved: Optional[tuple[str, dict[tuple[str, str], tuple[int, int]]]] = None

    def readable(self) -> bool:
        """Can parts of the value be read back, and is it the one this object stands for?"""
        if not self._store.reads_parts:
            return False
        return self._store.get_value_parts(self._namespace, self._key, ((0, len(self._head)),)) == [self._head]

    def rows(self, name: str, version: str, start: int, end: int) -> str:
        """The rows of (``name``, ``version``) at [start, end) of the value; if the value has been
        replaced since (another process fetched the page again), that version's rows in the new one
        (none if it lists no such version any more), which is read whole once and by offset after."""
        head, moved = (self._head, None) if self._moved is None else self._moved
        if moved is not None:
            if (name, version) not in moved:
                return "[]"
            start, end = moved[name, version]
        parts = self._store.get_value_parts(self._namespace, self._key, ((0, len(head)), (start, end)))
        if parts is not None and parts[0] == head:
            return parts[1]
        value = self._store.get_value(self._namespace, self._key)
        if value is None:
            raise PackageIndexError(
                f"the files of {name} {version} could not be read back from the store (was it closed or emptied"
                " during the run?)", hint="run the command again",
            )
        rows_start = _stored_head(value)[2]
        spans = pages.group_spans(value, rows_start)
        if value.isascii():  # the new value's rows by offset from now on
            self._moved = value[:rows_start], {(n, v): (a, b) for n, v, a, b in reversed(spans)}
        found = [value[a:b] for n, v, a, b in spans if n == name and v == version]
        return found[0] if found else "[]"


def _get(client: httpx.Client, url: str, headers: Mapping[str, str], hold: budget.Hold
         ) -> tuple[httpx.Response, list[bytes]]:
    """The answer to a GET of a page and its body (in a list: the parse takes it out), read here: the
    response, in a reference cycle with its stream until the garbage collector runs, never holds the
    body, so megabytes of page are freed as soon as the page is decoded (not when a collection happens to run).
    The body's bytes are counted in ``hold`` as they arrive."""
    allocator.return_big_buffers()  # a page body of megabytes is about to be read
    body = [b""]

    def read(response: httpx.Response) -> None:
        hold.reset()  # from the start again on a retried attempt
        chunks = []
        for chunk in response.iter_bytes():
            hold.add(len(chunk))
            chunks.append(chunk)
        body[0] = b"".join(chunks)

    response = fetch.request(client, "GET", url, headers=headers, stream=True, read=read)
    return response, body


def _cached_page(url: str, response: httpx.Response, body: bytes) -> CachedPage:
    final = strip_credentials(str(response.url))
    return CachedPage(
        url=url,
        body=body,
        content_type=response.headers.get("Content-Type", ""),
        etag=response.headers.get("ETag"),
        last_modified=response.headers.get("Last-Modified"),
        fetched_at=time.time(),
        base_url=final if final != url else None,
    )
