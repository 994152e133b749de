"""store.py: the SQLite knowledge store (metadata by digest, pages with validators, kv)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from micro_thoth.reporting import Reporter
from micro_thoth.store import SCHEMA_VERSION, CachedPage, KnowledgeStore, Store, open_default

SHA = "ab" * 32


class Recorder(Reporter):
    def __init__(self) -> None:
        self.messages: list[tuple[str, str]] = []

    def message(self, text: str, level: str = "info") -> None:
        self.messages.append((level, text))


def test_metadata_is_written_once(tmp_path: Path) -> None:
    with Store(tmp_path / "s.sqlite") as store:
        assert store.get_metadata(SHA) is None
        store.put_metadata(SHA, "Name: a\nVersion: 1\n")
        store.put_metadata(SHA.upper(), "Name: other\n")  # immutable: the first text stays
        assert store.get_metadata(SHA) == "Name: a\nVersion: 1\n"


def test_pages_round_trip_and_replace(tmp_path: Path) -> None:
    page = CachedPage("http://h/simple/a/", b"<html>", "text/html", '"e1"', "Mon, 01 Jan 2024 00:00:00 GMT", 100.0)
    with Store(tmp_path / "s.sqlite") as store:
        store.put_page(page)
        assert store.get_page(page.url) == page
        newer = CachedPage(page.url, b"{}", "application/json", '"e2"', None, 200.0, "http://h2/simple/a/")
        store.put_page(newer)
        assert store.get_page(page.url) == newer
        assert (newer.base, page.base) == ("http://h2/simple/a/", page.url)
        assert store.get_page("http://h/simple/b/") is None


def test_page_freshness_and_validators() -> None:
    page = CachedPage("u", b"", etag='"x"', last_modified="yesterday", fetched_at=1000.0)
    assert page.is_fresh(600, now=1500.0)
    assert not page.is_fresh(600, now=1700.0)
    assert not page.is_fresh(0, now=1000.0)
    assert page.validators() == {"If-None-Match": '"x"', "If-Modified-Since": "yesterday"}
    assert CachedPage("u", b"").validators() == {}


def test_kv_namespaces(tmp_path: Path) -> None:
    store: KnowledgeStore = Store(":memory:")
    store.put_value("advisories", "k", "1")
    store.put_value("jobs", "k", "2")
    store.put_value("jobs", "k", "3")
    assert (store.get_value("advisories", "k"), store.get_value("jobs", "k")) == ("1", "3")
    assert store.get_value("none", "k") is None


def test_persists_across_instances_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    with Store(path) as store:
        store.put_metadata(SHA, "text")
    with Store(path) as store:
        assert store.get_metadata(SHA) == "text"
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]


def test_corrupt_file_is_moved_aside_with_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    path.write_bytes(b"this is not a database, just garbage" * 100)
    recorder = Recorder()
    with Store(path, reporter=recorder) as store:
        store.put_metadata(SHA, "text")
        assert store.get_metadata(SHA) == "text"
    assert [level for level, _ in recorder.messages] == ["warning"]
    aside = list(tmp_path.glob("s.sqlite.corrupt-*"))
    assert len(aside) == 1 and aside[0].read_bytes().startswith(b"this is not")


def test_foreign_schema_is_moved_aside(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE schema_version (version INTEGER)")
        conn.execute("INSERT INTO schema_version VALUES (99)")
    recorder = Recorder()
    Store(path, reporter=recorder).close()
    assert recorder.messages and "99" in recorder.messages[0][1]
    assert list(tmp_path.glob("s.sqlite.corrupt-*"))


def test_several_processes_write_at_once(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    Store(path).close()
    script = textwrap.dedent(
        f"""
        import sys
        from micro_thoth.store import Store
        store = Store({str(path)!r})
        for i in range(200):
            store.put_value("p" + sys.argv[1], str(i), "v")
            store.put_metadata(f"{{int(sys.argv[1]):02x}}{{i:062x}}", "m")
        """
    )
    procs = [subprocess.Popen([sys.executable, "-c", script, str(n)]) for n in range(4)]
    assert [p.wait(timeout=60) for p in procs] == [0, 0, 0, 0]
    with Store(path) as store:
        assert all(store.get_value(f"p{n}", "199") == "v" for n in range(4))


def test_threads_share_one_store(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with Store(tmp_path / "s.sqlite") as store:
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda i: store.put_metadata(f"{i:064x}", str(i)), range(200)))
        assert store.get_metadata(f"{199:064x}") == "199"


def test_open_default_uses_the_cache_root(tmp_path: Path) -> None:
    with open_default({"THOTH_PIP_CACHE_DIR": str(tmp_path / "c")}) as store:
        assert store.path == str(tmp_path / "c" / "metadata-v1.sqlite")


def test_failing_reads_are_misses(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.sqlite")
    store.close()
    with pytest.raises(sqlite3.ProgrammingError):
        store._conn.execute("SELECT 1")
    assert store.get_metadata(SHA) is None  # closed connection: a miss, not a crash
    store.put_metadata(SHA, "x")


def test_parts_of_a_value_are_read_without_reading_it_whole(tmp_path: Path) -> None:
    """``get_value_parts``: character spans of an ASCII value; None when it is missing, not ASCII
    there, the store cannot read parts, or is closed."""
    value = "head\n" + "".join(f"row{i:05d}," for i in range(20000))
    with Store(tmp_path / "s.sqlite") as store:
        store.put_value("n", "k", value)
        store.put_value("n", "u", "h\u00e9llo")
        if not store.reads_parts:
            assert store.get_value_parts("n", "k", [(0, 5)]) is None
            pytest.skip("this sqlite3 module cannot read a part of a value (Python < 3.11)")
        spans = [(0, 5), (5, 14), (len(value) - 9, len(value)), (100_003, 100_012)]
        assert store.get_value_parts("n", "k", spans) == [value[a:b] for a, b in spans]
        assert store.get_value_parts("n", "missing", [(0, 1)]) is None
        assert store.get_value_parts("n", "u", [(0, 3)]) is None  # é is two bytes: not an ASCII value
    assert store.get_value_parts("n", "k", [(0, 5)]) is None  # closed: a miss, not a crash
