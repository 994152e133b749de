"""The SQLite knowledge store: core metadata by artifact digest, project pages with validators, a key-value table.

The index talks to a ``KnowledgeStore`` (the Protocol below), so a shared
PostgreSQL implementation can stand in for this file-backed one later. Tables::

    schema_version(version)                         one row: SCHEMA_VERSION
    metadata(sha256 PRIMARY KEY, text)              METADATA of an immutable file: written once, ever
    pages(url PRIMARY KEY, etag, last_modified,     project pages, revalidated with ETag /
          fetched_at, content_type, body,           Last-Modified once older than the caller's TTL;
          base_url)                                 base_url: where the body came from (redirects)
    kv(namespace, key, value, PRIMARY KEY(...))     anything small (advisory imports, job state ...)

WAL mode and a busy timeout make it safe for several processes at once. The
store is a cache: a file that is not a database (or of an unknown schema) is
moved aside and recreated with a warning, and a failing read is a miss, never a crash.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Protocol

from micro_thoth.cache import METADATA_DB, default_root
from micro_thoth.reporting import NULL_REPORTER, Reporter

SCHEMA_VERSION = 2  # 2: pages.base_url
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS metadata (sha256 TEXT PRIMARY KEY, text TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS pages (url TEXT PRIMARY KEY, etag TEXT, last_modified TEXT,"
    " fetched_at REAL NOT NULL, content_type TEXT, body BLOB NOT NULL, base_url TEXT)",
    "CREATE TABLE IF NOT EXISTS kv (namespace TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,"
    " PRIMARY KEY (namespace, key))",
)


@dataclass(frozen=True)
class CachedPage:
    """A project page as last fetched, with the validators to revalidate it."""

    url: str
    body: bytes
    content_type: str = ""
    etag: Optional[str] = None
    last_modified: Optional[str] = None
    fetched_at: float = 0.0
    base_url: Optional[str] = None  # the URL the body came from, after redirects (None: ``url``)

    @property
    def base(self) -> str:
        """The URL relative links in the body are resolved against."""
        return self.base_url or self.url

    def is_fresh(self, ttl: float, now: Optional[float] = None) -> bool:
        return ((time.time() if now is None else now) - self.fetched_at) < ttl

    def validators(self) -> dict[str, str]:
        """Conditional request headers (If-None-Match / If-Modified-Since)."""
        headers = {}
        if self.etag:
            headers["If-None-Match"] = self.etag
        if self.last_modified:
            headers["If-Modified-Since"] = self.last_modified
        return headers


class KnowledgeStore(Protocol):
    """What the index (and later guidance) needs from a store; SQLite now, PostgreSQL later."""

    def get_metadata(self, sha256: str) -> Optional[str]: ...

    def put_metadata(self, sha256: str, text: str) -> None: ...

    def get_page(self, url: str) -> Optional[CachedPage]: ...

    def get_page_info(self, url: str) -> Optional[CachedPage]: ...

    def put_page(self, page: CachedPage) -> None: ...

    def get_value(self, namespace: str, key: str) -> Optional[str]: ...

    def put_value(self, namespace: str, key: str, value: str) -> None: ...

    # True when ``get_value_parts`` can answer (it reads parts of a value without reading it whole)
    reads_parts: bool

    def get_value_parts(self, namespace: str, key: str, spans: Sequence[tuple[int, int]]) -> Optional[list[str]]: ...


class UnknownSchema(sqlite3.DatabaseError):
    """The file is a database, but not one of ours (or of a newer schema)."""


class Store:
    """The SQLite implementation of KnowledgeStore (``:memory:`` works for tests)."""

    def __init__(self, path: str | Path, *, reporter: Reporter = NULL_REPORTER, timeout: float = 30.0) -> None:
        self.path = str(path)
        self._reporter = reporter
        self._timeout = timeout
        self._lock = threading.RLock()
        self._conn = self._open_or_recreate()

    # -- lifecycle -------------------------------------------------------------
    def _open_or_recreate(self) -> sqlite3.Connection:
        try:
            return self._open()
        except sqlite3.DatabaseError as exc:
            if self.path == ":memory:" or _is_busy(exc):
                raise
            aside = self._move_aside()
            self._reporter.message(
                f"the metadata store {self.path} was unusable ({exc}); moved it to {aside} and started afresh",
                level="warning",
            )
            return self._open()

    def _open(self) -> sqlite3.Connection:
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=self._timeout, isolation_level=None, check_same_thread=False)
        try:
            _initialise(conn, self._timeout)
        except BaseException:
            conn.close()
            raise
        return conn

    def _move_aside(self) -> str:
        aside = f"{self.path}.corrupt-{int(time.time())}-{os.getpid()}"
        os.replace(self.path, aside)
        for suffix in ("-wal", "-shm"):
            if os.path.exists(self.path + suffix):
                os.replace(self.path + suffix, aside + suffix)
        return aside

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- queries ---------------------------------------------------------------
    @contextmanager
    def _cursor(self) -> Iterator[sqlite3.Cursor]:
        with self._lock:
            yield self._conn.cursor()

    def _read(self, sql: str, args: tuple[object, ...]) -> Optional[tuple[object, ...]]:
        try:
            with self._cursor() as cur:
                row = cur.execute(sql, args).fetchone()
        except sqlite3.DatabaseError as exc:
            self._reporter.message(f"metadata store read failed ({exc}); treated as a miss", level="debug")
            return None
        return tuple(row) if row is not None else None

    def _write(self, sql: str, args: tuple[object, ...]) -> None:
        try:
            with self._cursor() as cur:
                cur.execute(sql, args)
        except sqlite3.DatabaseError as exc:
            self._reporter.message(f"metadata store write failed ({exc}); not cached", level="debug")

    def get_metadata(self, sha256: str) -> Optional[str]:
        row = self._read("SELECT text FROM metadata WHERE sha256 = ?", (sha256.lower(),))
        return str(row[0]) if row else None

    def put_metadata(self, sha256: str, text: str) -> None:
        self._write("INSERT OR IGNORE INTO metadata (sha256, text) VALUES (?, ?)", (sha256.lower(), text))

    def get_page(self, url: str) -> Optional[CachedPage]:
        row = self._read(
            "SELECT url, body, content_type, etag, last_modified, fetched_at, base_url FROM pages WHERE url = ?",
            (url,),
        )
        return _page_from_row(row) if row else None

    def get_page_info(self, url: str) -> Optional[CachedPage]:
        """The page's validators and fetch time without its body (which may be megabytes)."""
        row = self._read(
            "SELECT url, x'', content_type, etag, last_modified, fetched_at, base_url FROM pages WHERE url = ?",
            (url,),
        )
        return _page_from_row(row) if row else None

    def put_page(self, page: CachedPage) -> None:
        self._write(
            "INSERT OR REPLACE INTO pages (url, etag, last_modified, fetched_at, content_type, body, base_url)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (page.url, page.etag, page.last_modified, page.fetched_at, page.content_type, page.body, page.base_url),
        )

    def get_value(self, namespace: str, key: str) -> Optional[str]:
        row = self._read("SELECT value FROM kv WHERE namespace = ? AND key = ?", (namespace, key))
        return str(row[0]) if row else None

    def put_value(self, namespace: str, key: str, value: str) -> None:
        self._write("INSERT OR REPLACE INTO kv (namespace, key, value) VALUES (?, ?, ?)", (namespace, key, value))

    reads_parts = hasattr(sqlite3.Connection, "blobopen")  # Python 3.11+

    def get_value_parts(self, namespace: str, key: str, spans: Sequence[tuple[int, int]]) -> Optional[list[str]]:
        """The (start, end) character spans of an ASCII value, read without reading it whole (a
        page's value is megabytes; one version's rows are a few hundred bytes); None if it is not
        there (or not ASCII there) or cannot be read so."""
        try:
            with self._cursor() as cur:
                row = cur.execute("SELECT rowid FROM kv WHERE namespace = ? AND key = ?", (namespace, key)).fetchone()
                if row is None or not self.reads_parts:
                    return None
                with self._conn.blobopen("kv", "value", row[0], readonly=True) as blob:
                    return [_part(blob, start, end) for start, end in spans]
        except (sqlite3.Error, UnicodeDecodeError, ValueError) as exc:
            self._reporter.message(f"metadata store read failed ({exc}); treated as a miss", level="debug")
            return None

    def values(self, namespace: str) -> dict[str, str]:
        """Every key of ``namespace`` and its value (what a knowledge export carries of it)."""
        with self._cursor() as cur:
            rows = cur.execute("SELECT key, value FROM kv WHERE namespace = ? ORDER BY key", (namespace,)).fetchall()
        return {str(key): str(value) for key, value in rows}


def _part(blob: sqlite3.Blob, start: int, end: int) -> str:
    blob.seek(start)
    return bytes(blob.read(end - start)).decode("ascii")


def _is_busy(exc: sqlite3.DatabaseError) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc)


def _initialise(conn: sqlite3.Connection, timeout: float) -> None:
    """WAL, busy timeout, tables; raises DatabaseError if the file is not (one of) ours."""
    conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("BEGIN IMMEDIATE")
    try:
        for statement in _SCHEMA:
            conn.execute(statement)
        _check_version(conn)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _check_version(conn: sqlite3.Connection) -> None:
    rows = conn.execute("SELECT version FROM schema_version").fetchall()
    if not rows:
        conn.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))
    elif len(rows) != 1 or rows[0][0] != SCHEMA_VERSION:
        raise UnknownSchema(f"schema version {[r[0] for r in rows]}, expected {SCHEMA_VERSION}")


def _page_from_row(row: tuple[object, ...]) -> CachedPage:
    url, body, content_type, etag, last_modified, fetched_at, base_url = row
    return CachedPage(
        url=str(url),
        body=bytes(body) if isinstance(body, (bytes, bytearray, memoryview)) else str(body).encode(),
        content_type=str(content_type or ""),
        etag=str(etag) if etag is not None else None,
        last_modified=str(last_modified) if last_modified is not None else None,
        fetched_at=float(fetched_at),  # type: ignore[arg-type]
        base_url=str(base_url) if base_url is not None else None,
    )


def open_default(
    environ: Mapping[str, str], *, cache_dir: Optional[str] = None, reporter: Reporter = NULL_REPORTER
) -> Store:
    """The store in the cache root (``metadata-v1.sqlite``, see cache.py's layout)."""
    return Store(default_root(environ, cache_dir) / METADATA_DB, reporter=reporter)
