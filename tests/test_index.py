"""index/: IndexClient against a real local index, page parsing, wheel range reads, suggestions."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import io
import json
import queue
import socket
import threading
import time
import zipfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
from packaging.version import Version

from micro_thoth import zips
from micro_thoth.artifacts import Artifact
from micro_thoth.cache import Cache
from micro_thoth.errors import (
    DigestMismatch,
    IndexUnreachable,
    PackageIndexError,
    PackageNotFound,
    UsageError,
)
from micro_thoth.index import (
    IndexClient,
    pages,
    parse_html,
    parse_json,
    project_pages,
    suggest,
    wheelzip,
)
from micro_thoth.index import metadata as metadata_module
from micro_thoth.index.budget import Budget
from micro_thoth.index.page_scan import json_groups, json_value
from micro_thoth.index.pages import (
    InvalidPage,
    artifacts_from_rows,
    artifacts_to_groups,
    directory_artifacts,
    groups_from_text,
)
from micro_thoth.index.project_pages import PARSED_PAGES
from micro_thoth.index.wheelzip import NotAWheel, RangeFile, read_metadata
from micro_thoth.models import DirectReference, Hash, Source
from micro_thoth.net import make_client
from micro_thoth.store import Store
from micro_thoth.timestamps import parse_upload_time
from tests.support.builder import Dist, build_sdist, build_wheel
from tests.support.index_server import LocalIndex

BIG = bytes(range(256)) * 800  # 200 KiB, so METADATA is not in a wheel's last 64 KiB


@pytest.fixture
def http() -> Any:
    with make_client(timeout=5) as client:
        yield client


def _client(sources: list[Source], http: httpx.Client, **kwargs: Any) -> IndexClient:
    return IndexClient(sources, client=http, environ={}, **kwargs)


def _big_wheel(index: LocalIndex, dist: Dist) -> str:
    data = build_wheel(dist, extra_members={f"{dist.module}/big.bin": BIG})
    index.add_file(dist, dist.wheel_filename, data)
    return dist.wheel_filename


# -- pages --------------------------------------------------------------------------

@pytest.mark.parametrize("json_api", [True, False], ids=["json", "html"])
def test_project_page_json_and_html(index_factory: type[LocalIndex], http: httpx.Client, json_api: bool) -> None:
    index = index_factory(json_api=json_api)
    index.add(Dist("alpha", "1.0", requires_python=">=3.8,<4"), sdist=True)
    index.add(Dist("alpha", "2.0"), yanked="broken build")
    source = Source("main", index.url)
    page = _client([source], http).project("alpha")
    assert page.name == "alpha" and page.index == source
    by_name = {a.filename: a for a in page.artifacts}
    assert set(by_name) == {"alpha-1.0-py3-none-any.whl", "alpha-1.0.tar.gz", "alpha-2.0-py3-none-any.whl"}
    wheel = by_name["alpha-1.0-py3-none-any.whl"]
    assert wheel.hashes == (Hash("sha256", index.find(wheel.filename).sha256),)
    assert wheel.requires_python == ">=3.8,<4"
    assert wheel.url == f"{index.root}/files/{wheel.filename}"
    assert wheel.index == source and wheel.metadata_hashes
    assert by_name["alpha-1.0.tar.gz"].metadata_hashes is None
    assert by_name["alpha-2.0-py3-none-any.whl"].yanked == "broken build"
    assert wheel.yanked is None
    assert (wheel.upload_time is not None) is json_api
    assert index.requests == ["GET /simple/alpha/"]


def test_accept_header_prefers_json(index: LocalIndex, http: httpx.Client) -> None:
    index.add(Dist("alpha", "1.0"))
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["Accept"])
        return httpx.Response(404)

    with httpx.Client(transport=httpx.MockTransport(handler)) as mock, pytest.raises(PackageNotFound):
        IndexClient([Source("m", "http://mock.test/simple")], client=mock, environ={}).project("zzzz-nothing")
    assert seen[0].startswith("application/vnd.pypi.simple.v1+json")
    assert "text/html;q=0.01" in seen[0]


def test_parse_html_edge_cases() -> None:
    body = b"""<!DOCTYPE html><html><head><base href="https://files.example/pkgs/"></head><body>
    <a href="a-1.0.tar.gz#sha256=ABCDEF" data-requires-python="&gt;=3.7" data-yanked="">a-1.0.tar.gz</a>
    <a href="../other/a-1.1-py3-none-any.whl#md5=00ff" data-dist-info-metadata="true">x</a>
    <A HREF="a-1.2-py3-none-any.whl" data-core-metadata="sha256=AA11" data-dist-info-metadata="sha256=BB">y</A>
    <a href="a-1.3-py3-none-any.whl" data-core-metadata="false">z</a>
    <a href="../">parent</a><a>no href</a>
    </body></html>"""
    source = Source("s", "https://index.example/simple/")
    found = parse_html(body, "https://index.example/simple/a/", source)
    assert [a.filename for a in found] == [
        "a-1.0.tar.gz", "a-1.1-py3-none-any.whl", "a-1.2-py3-none-any.whl", "a-1.3-py3-none-any.whl",
    ]
    first, second, third, fourth = found
    assert first.url == "https://files.example/pkgs/a-1.0.tar.gz"
    assert first.hashes == (Hash("sha256", "abcdef"),)
    assert first.requires_python == ">=3.7"
    assert first.yanked == ""
    assert second.url == "https://files.example/other/a-1.1-py3-none-any.whl"
    assert second.hashes == (Hash("md5", "00ff"),) and second.metadata_hashes == ()
    assert third.metadata_hashes == (Hash("sha256", "aa11"),)
    assert fourth.metadata_hashes is None


def test_parse_html_tolerates_real_world_markup() -> None:
    body = b"""<html><body>
    <!-- <a href="commented-1.0.tar.gz">old</a> -->
    <a href='b-1.0.tar.gz' data-requires-python='>=3.6, <4'>single quotes, raw &gt;</a>
    <a data-yanked href=b-2.0.tar.gz#sha256=FF>unquoted, yanked without a value</a>
    <a href="b-3.0-py3-none-any.whl?token=1#sha256=aa&amp;md5=bb">query string</a>
    <a href="b%2B4.0.tar.gz">percent-escaped name</a>
    <abbr href="not-an-anchor-1.0.tar.gz">abbr</abbr>
    </body></html>"""
    found = parse_html(body, "https://i.example/simple/b/", Source("s", "https://i.example/simple/"))
    assert [a.filename for a in found] == ["b-1.0.tar.gz", "b-2.0.tar.gz", "b-3.0-py3-none-any.whl", "b+4.0.tar.gz"]
    assert found[0].requires_python == ">=3.6, <4"
    assert (found[1].yanked, found[1].hashes) == ("", (Hash("sha256", "ff"),))
    assert found[2].url == "https://i.example/simple/b/b-3.0-py3-none-any.whl?token=1"
    assert found[2].hashes == (Hash("sha256", "aa"), Hash("md5", "bb"))


def test_resolve_url_matches_urljoin() -> None:
    from urllib.parse import urljoin

    from micro_thoth.index.pages import resolve_url

    links = ["../../p/a.whl", "./a.whl", "a.whl", "sub/a.whl", "../../../../x.whl", "/abs/a.whl", "//h/a.whl",
             "?q", "a/../b.whl", "https://x/a.whl", "../a%20b.whl", "..//x.whl", "mailto:x", ""]
    for base in ("https://i.example/simple/n/", "https://i.example/simple/n/index.html", "https://i.example/n"):
        for link in links:
            assert resolve_url(base, link) == urljoin(base, link), (base, link)


def test_parse_json_shapes() -> None:
    body = b"""{"meta": {"api-version": "1.1"}, "name": "a", "files": [
      {"filename": "a-1.0.tar.gz", "url": "https://f.example/a-1.0.tar.gz", "hashes": {"SHA256": "AB"},
       "yanked": true, "dist-info-metadata": true, "size": 10, "upload-time": "2024-01-01T00:00:00Z"},
      {"filename": "a-2.0-py3-none-any.whl", "url": "../../f/a-2.0-py3-none-any.whl", "hashes": {},
       "yanked": false, "core-metadata": {"sha256": "cd"}, "requires-python": ""}
    ]}"""
    first, second = parse_json(body, "https://i.example/simple/a/", Source("s", "https://i.example/simple"))
    assert (first.yanked, first.metadata_hashes, first.size) == ("", (), 10)
    assert first.hashes == (Hash("sha256", "ab"),)
    assert second.url == "https://i.example/f/a-2.0-py3-none-any.whl"
    assert (second.yanked, second.metadata_hashes, second.requires_python) == (None, (Hash("sha256", "cd"),), None)
    with pytest.raises(ValueError, match="PEP 691"):
        parse_json(b'{"files": 3}', "https://i/", Source("s", "https://i/"))
    with pytest.raises(ValueError, match=r"version 2\.0"):
        parse_json(b'{"meta": {"api-version": "2.0"}, "files": []}', "https://i/", Source("s", "https://i/"))


def test_invalid_page_is_a_package_index_error_and_not_kept() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"{not json", headers={"Content-Type": "application/vnd.pypi.simple.v1+json"})

    store = Store(":memory:")
    with httpx.Client(transport=httpx.MockTransport(handler)) as mock, pytest.raises(
        PackageIndexError, match="not a valid project page"
    ):
        IndexClient([Source("m", "http://mock.test/simple")], client=mock, environ={}, store=store).project("a")
    assert store.get_page("http://mock.test/simple/a/") is None


def test_upload_times() -> None:
    utc = timezone.utc
    assert parse_upload_time("2024-01-02T03:04:05.123Z") == datetime(2024, 1, 2, 3, 4, 5, 123000, tzinfo=utc)
    assert parse_upload_time("2024-01-02T03:04:05+02:00") == datetime(2024, 1, 2, 1, 4, 5, tzinfo=utc)
    assert parse_upload_time("2024-01-02T03:04:05") == datetime(2024, 1, 2, 3, 4, 5, tzinfo=utc)
    assert parse_upload_time("2024-05-20T19:01:02.12Z") == datetime(2024, 5, 20, 19, 1, 2, 120000, tzinfo=utc)
    assert parse_upload_time("yesterday") is None
    assert parse_upload_time("2024-13-40T00:00:00Z") is None
    assert parse_upload_time(None) is None


# -- index selection ----------------------------------------------------------------

def test_index_pinning_never_contacts_other_indexes(index_factory: type[LocalIndex], http: httpx.Client) -> None:
    a, b = index_factory(), index_factory()
    a.add(Dist("shared", "1.0"))
    b.add(Dist("shared", "9.0"))
    client = _client([Source("B", b.url), Source("A", a.url)], http)
    page = client.project("shared", index="A")
    assert [str(v) for v in page.versions()] == ["1.0"]
    assert page.index.name == "A"
    assert b.requests == []


def test_pinned_mapping_applies_to_project_and_prefetch(
    index_factory: type[LocalIndex], http: httpx.Client
) -> None:
    a, b = index_factory(), index_factory()
    a.add(Dist("private-pkg", "1.0"))
    b.add(Dist("private-pkg", "9.0"))
    with IndexClient([Source("B", b.url), Source("A", a.url)], client=http, environ={},
                     pinned={"Private_Pkg": "A"}) as client:
        client.prefetch(["private-pkg"])
        assert [str(v) for v in client.project("private-pkg").versions()] == ["1.0"]
    assert b.requests == [] and a.requests == ["GET /simple/private-pkg/"]
    with pytest.raises(UsageError, match="unknown index 'C'"):
        IndexClient([Source("A", a.url)], client=http, pinned={"x": "C"})


def test_first_index_wins_and_files_are_never_merged(index_factory: type[LocalIndex], http: httpx.Client) -> None:
    a, b = index_factory(), index_factory()
    a.add(Dist("only-b", "1.0"))
    a.requests.clear()
    b.add(Dist("shared", "9.0"))
    b.add(Dist("only-b", "2.0"))
    a.add(Dist("shared", "1.0"))
    client = _client([Source("A", a.url), Source("B", b.url)], http)
    assert [str(v) for v in client.project("shared").versions()] == ["1.0"]
    assert b.requests == []
    page = client.project("Only_B")
    assert page.index.name == "A" and [str(v) for v in page.versions()] == ["1.0"]


def test_404_moves_to_next_index(index_factory: type[LocalIndex], http: httpx.Client) -> None:
    a, b = index_factory(), index_factory()
    b.add(Dist("beta", "2.0"))
    page = _client([Source("A", a.url), Source("B", b.url)], http).project("beta")
    assert page.index.name == "B"
    assert a.requests == ["GET /simple/beta/"]


def test_not_found_suggests_popular_names(index: LocalIndex, http: httpx.Client) -> None:
    client = _client([Source("main", index.url)], http)
    with pytest.raises(PackageNotFound) as info:
        client.project("reqests")
    assert info.value.suggestions[0] == "requests"
    assert info.value.hint and "'requests'" in info.value.hint
    with pytest.raises(PackageNotFound) as pinned:
        client.project("reqests", index="main")
    assert "main" in str(pinned.value)


def test_unknown_index_name_lists_known_ones(index: LocalIndex, http: httpx.Client) -> None:
    with pytest.raises(UsageError, match="'main'"):
        _client([Source("main", index.url)], http).project("a", index="nope")


def test_suggest() -> None:
    assert suggest("reqests")[0] == "requests"
    assert suggest("Djang0")[0] == "django"
    assert suggest("qqqqzzzzxxxx") == ()
    assert "requests" not in suggest("requests")


# -- caching --------------------------------------------------------------------------

def test_pages_are_cached_in_memory(index: LocalIndex, http: httpx.Client) -> None:
    index.add(Dist("alpha", "1.0"))
    client = _client([Source("main", index.url)], http)
    assert client.project("alpha") is client.project("Alpha")
    assert index.requests == ["GET /simple/alpha/"]


def test_store_ttl_and_etag_revalidation(index: LocalIndex, http: httpx.Client, tmp_path: Path) -> None:
    index.add(Dist("alpha", "1.0"))
    source = Source("main", index.url)
    with Store(tmp_path / "s.sqlite") as store:
        first = _client([source], http, store=store).project("alpha")
        fresh = _client([source], http, store=store, page_ttl=600).project("alpha")
        assert index.requests == ["GET /simple/alpha/"]  # fresh in the store: no request
        stale = _client([source], http, store=store, page_ttl=0)
        revalidated = stale.project("alpha")
        refreshed = _client([source], http, store=store, refresh=True).project("alpha")
        assert first.artifacts == fresh.artifacts == revalidated.artifacts == refreshed.artifacts
        assert len(index.requests) == 3


def test_stored_page_builds_a_versions_files_only_when_asked(index: LocalIndex, http: httpx.Client, tmp_path: Path) -> None:
    for version in ("1.0", "1.0.1", "2.0"):
        index.add(Dist("alpha", version), sdist=True)
    index.add(Dist("alpha", "3.0"), yanked="broken")
    source = Source("main", index.url)
    with Store(tmp_path / "s.sqlite") as store:
        parsed = _client([source], http, store=store).project("alpha")
        stored = _client([source], http, store=store, page_ttl=600).project("alpha")
        assert len(index.requests) == 1  # the second page came from the store
        files = dict(stored.version_files())
        assert sorted(str(v) for v in files) == ["1.0", "1.0.1", "2.0", "3.0"]
        assert [str(v) for v in files] == [str(v) for v in parsed.versions()]
        assert "artifacts" not in vars(stored)  # nothing built yet
        for version, artifacts in parsed.versions().items():
            built = files[version]()
            assert built == tuple(artifacts) and built is files[version]()  # built once, the same files
            assert all(a.name == "alpha" and a.version == version and a.index == source for a in built)
        assert sorted(stored.artifacts, key=lambda a: a.filename) == sorted(parsed.artifacts, key=lambda a: a.filename)


def test_stored_page_builds_a_versions_files_once_whichever_threads_ask(
    index: LocalIndex, http: httpx.Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The resolver's thread and a prefetch thread guessing its next pin may ask at once: one build, one answer."""
    index.add(Dist("alpha", "1.0"))
    source = Source("main", index.url)
    build = pages.artifacts_from_group

    def slow(*args: Any) -> Any:
        time.sleep(0.05)  # widens the window two unguarded builds would both enter
        return build(*args)

    monkeypatch.setattr(pages, "artifacts_from_group", slow)
    with Store(tmp_path / "s.sqlite") as store:
        _client([source], http, store=store).project("alpha")
        stored = _client([source], http, store=store, page_ttl=600).project("alpha")
        start = threading.Barrier(4)
        got: list[tuple[Artifact, ...]] = []

        def ask() -> None:
            start.wait()
            got.append(dict(stored.version_files())[Version("1.0")]())

        threads = [threading.Thread(target=ask) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert len(got) == 4 and got[0] and all(files is got[0] for files in got)


def test_a_json_page_goes_straight_to_its_files_json_by_version() -> None:
    """A fresh PEP 691 page is kept by version as its files' own JSON, nothing built or re-encoded
    but a relative URL (made absolute) or an object spread over lines: the same groups, and the
    same files once built, as parsing the page and grouping the files."""
    files = [
        {"filename": "Alpha-1.0.tar.gz", "url": "../../files/Alpha-1.0.tar.gz", "hashes": {"SHA256": "AB12"},
         "requires-python": " >=3.8 ", "upload-time": "2024-01-01T00:00:00Z", "size": 10},
        {"filename": "alpha-1.0-py3-none-any.whl", "url": "https://files.example.invalid/alpha-1.0-py3-none-any.whl",
         "hashes": {"sha256": "cd34", "md5": "ef"}, "core-metadata": {"sha256": "99"}, "yanked": "broken", "size": True},
        {"filename": "alpha-1.0.0-py3-none-any.whl", "url": "x/alpha-1.0.0-py3-none-any.whl", "hashes": {},
         "dist-info-metadata": True, "yanked": True},
        {"filename": "alpha-2.0rc1.zip", "url": "/f/alpha-2.0rc1.zip", "hashes": {"sha256": "00"}, "yanked": False},
        {"filename": "alpha-notaversion.tar.gz", "url": "/f/alpha-notaversion.tar.gz", "hashes": {}},
        {"filename": "beta-1.0.tar.gz", "url": "/f/beta-1.0.tar.gz", "hashes": {"sha256": "11"}},
        {"filename": "alpha-1.0-cp311-cp311-manylinux_2_17_x86_64.whl", "url": "https://f.example.invalid/a.whl",
         "hashes": {"sha256": "22"}, "data-dist-info-metadata": {"sha256": "33"}, "core-metadata": False},
    ]
    page_url = "https://index.example.invalid/simple/alpha/"
    source = Source("main", "https://index.example.invalid/simple")
    files[0]["yanked"] = "\ud800"  # a lone surrogate: json.loads takes it encoded, the store only escaped
    for body in (json.dumps({"meta": {"api-version": "1.1"}, "files": files, "versions": ["1.0"]}).encode(),
                 json.dumps({"files": files, "meta": {"api-version": "1.0"}}, indent=2).encode("utf-16"),
                 json.dumps({"files": files}, ensure_ascii=False).encode("utf-8", "surrogatepass")):
        groups = json_groups(body, page_url)
        store = Store(":memory:")
        value, spans = json_value(body, page_url, "head\n")
        store.put_value("pages", page_url, value)  # storable: one line a group, no lone surrogate
        assert groups_from_text(store.get_value("pages", page_url) or "", 5) == groups
        assert [(name, version, value[start:end]) for name, version, start, end in spans] == groups
        expected = groups_from_text(artifacts_to_groups(parse_json(body, page_url, source)))
        assert [(name, version) for name, version, _rows in groups] == [(name, version) for name, version, _rows in expected]
        assert [(name, version) for name, version, _rows in groups] == [
            ("alpha", "1.0"), ("alpha", "1.0.0"), ("alpha", "2.0rc1"), ("alpha-notaversion-tar-gz", ""), ("beta", "1.0")]
        for (_n, _v, rows), (_n2, _v2, expected_rows) in zip(groups, expected):
            assert artifacts_from_rows(rows, source) == artifacts_from_rows(expected_rows, source)
            assert rows.startswith("[{")  # the page's own objects, not rows
    whl = '{"filename":"alpha-1.0-py3-none-any.whl","url":"https://f.example.invalid/w.whl","hashes":{"sha256":"AA"}}'
    assert json_groups(('{"files": [' + whl + "]}").encode(), page_url) == [("alpha", "1.0", f"[{whl}]")]  # as it came
    assert json_groups(b'{"files": []}', page_url) == [] and json_value(b'{"files": []}', page_url, "h\n") == ("h\n", [])


def test_an_sdist_after_its_wheels_joins_their_group_only_when_its_name_reads_the_same() -> None:
    """An sdist whose ``project-version`` is a wheel's already read takes that wheel's group; one
    spelt otherwise (``a-b`` after ``a_b``), or after a wheel whose version is no version, is read
    on its own: the same groups as parsing the page and grouping its files."""
    names = ["alpha-1.0-py3-none-any.whl", "alpha-1.0.tar.gz", "Alpha-1.0.1-py3-none-any.whl", "Alpha-1.0.1.zip",
             "alpha-1.0.1.tar.gz", "a_b-2.0-py3-none-any.whl", "a-b-2.0.tar.gz", "alpha-nope-py3-none-any.whl",
             "alpha-nope.tar.gz", "alpha-2.0rc1-py3-none-any.whl", "alpha-2.0-rc1.tar.gz", "alpha-1.0.tar.gz"]
    files = [{"filename": n, "url": f"https://f.example.invalid/{n}", "hashes": {"sha256": f"{i:02x}"}}
             for i, n in enumerate(names)]
    body = json.dumps({"files": files}).encode()
    page_url = "https://index.example.invalid/simple/alpha/"
    source = Source("main", "https://index.example.invalid/simple")
    groups = json_groups(body, page_url)
    expected = groups_from_text(artifacts_to_groups(parse_json(body, page_url, source)))
    assert [(n, v) for n, v, _rows in groups] == [(n, v) for n, v, _rows in expected]
    for (_n, _v, rows), (_n2, _v2, expected_rows) in zip(groups, expected):
        assert artifacts_from_rows(rows, source) == artifacts_from_rows(expected_rows, source)
    assert [len(json.loads(rows)) for _n, _v, rows in groups] == [3, 3, 2, 2, 1, 1]


@pytest.mark.parametrize("body", [
    b"", b"[]", b'{"files": 3}', b'{"files": [3]}', b'{"files": [{"url": "https://x/a-1.0.tar.gz"}]}',
    b'{"files": [{"filename": "a-1.0.tar.gz"}]}', b'{"files": [{"filename": "a-1.0.tar.gz", "url": "u", "hashes": [1]}]}',
    b'{"files": []', b'{"files": []} x', b'{"files": [],}', b'{"files": [{"filename": "a-1.0.tar.gz", "url": "u"},]}',
    b'{"files" [] }', b'{"meta": {"api-version": "2.0"}, "files": []}', b'{"meta": 3, "files": []}', b'{"name": "a"}',
    b'{"files": [{"filename": "a-1.0.tar.gz", "url": "u"} {"filename": "a-2.0.tar.gz", "url": "u"}]}',
])
def test_json_groups_refuses_what_a_parse_refuses(body: bytes) -> None:
    """Every page a whole-page parse refuses is refused by the file-by-file read too (none is kept half read)."""
    source = Source("main", "https://i.example.invalid/simple")
    with pytest.raises(InvalidPage):
        parse_json(body, "https://i.example.invalid/simple/a/", source)
    with pytest.raises(InvalidPage):
        json_groups(body, "https://i.example.invalid/simple/a/")


def test_revalidation_gets_304(index: LocalIndex, tmp_path: Path) -> None:
    index.add(Dist("alpha", "1.0"))
    statuses: list[int] = []
    with make_client() as client, Store(tmp_path / "s.sqlite") as store:
        client.event_hooks["response"] = [lambda r: statuses.append(r.status_code)]
        _client([Source("main", index.url)], client, store=store, page_ttl=0).project("alpha")
        _client([Source("main", index.url)], client, store=store, page_ttl=0).project("alpha")
    assert statuses == [200, 304]


def test_a_page_is_kept_as_rows_not_as_its_body(index: LocalIndex, tmp_path: Path) -> None:
    """The store keeps a fetched page's rows and validators, not its body: a 304 and --offline
    answer from the rows; an install's partial read keeps the body for a later lock."""
    index.add(Dist("alpha", "1.0"), sdist=True)
    index.add(Dist("beta", "1.0"))
    source, statuses = Source("main", index.url), []
    url = index.url.rstrip("/") + "/alpha/"
    with make_client() as client, Store(tmp_path / "s.sqlite") as store:
        client.event_hooks["response"] = [lambda r: statuses.append(r.status_code)]
        first = _client([source], client, store=store, page_ttl=0).project("alpha")
        page = store.get_page(url)
        assert page is not None and page.body == b"" and page.etag  # validators kept, the body not
        again = _client([source], client, store=store, page_ttl=0).project("alpha")  # 304: the rows stand for it
        offline = _client([source], client, store=store, page_ttl=0, offline=True).project("alpha")
        wheel = _client([source], client).project("beta").artifacts[0]
        partial = _client([source], client, store=store).locked_files("beta", frozenset({wheel.sha256}))
        kept = store.get_page(index.url.rstrip("/") + "/beta/")
        assert kept is not None and kept.body  # filtered, not parsed whole: the body kept for a later lock
        assert statuses == [200, 304, 200, 200]
        assert sorted(a.filename for a in first.artifacts) == sorted(a.filename for a in again.artifacts)
        assert sorted(a.filename for a in offline.artifacts) == sorted(a.filename for a in first.artifacts)
        assert [a.filename for a in partial.artifacts] == [wheel.filename]


def test_a_store_of_the_previous_format_is_read_and_then_replaced(index: LocalIndex, tmp_path: Path) -> None:
    """Rows an earlier thoth-pip kept (``parsed-pages-v3``: compact rows) still answer for the fetch they
    were made from, --offline too; rows of another fetch are ignored, and a new fetch keeps the new format."""
    index.add(Dist("alpha", "1.0"), sdist=True)
    index.add(Dist("alpha", "2.0"))
    source, url, statuses = Source("main", index.url), index.url.rstrip("/") + "/alpha/", []
    with make_client() as client, Store(tmp_path / "s.sqlite") as store:
        client.event_hooks["response"] = [lambda r: statuses.append(r.status_code)]
        first = _client([source], client, store=store).project("alpha")
        value = store.get_value(PARSED_PAGES, url)
        assert value is not None and "\t[{" in value  # the page's own file objects
        digest, stamp, _rows = value.split("\n", 2)
        store.put_value("parsed-pages-v3", url, f"{digest}\n{stamp}\n{artifacts_to_groups(first.artifacts)}")
        store.put_value(PARSED_PAGES, url, f"{0:040}\n0.5\nalpha\t9.0\t[]")  # another fetch's: ignored
        earlier = _client([source], client, store=store).project("alpha")
        offline = _client([source], client, store=store, offline=True).project("alpha")
        assert statuses == [200]  # both answered from the earlier format's rows
        read = [sorted(page.artifacts, key=lambda a: a.filename) for page in (earlier, offline)]
        store.put_value("parsed-pages-v3", url, f"{digest}\n0.5\nalpha\t9.0\t[]")  # no rows of this fetch at all
        refetched = _client([source], client, store=store).project("alpha")
        assert statuses == [200, 200] and "\t[{" in (store.get_value(PARSED_PAGES, url) or "")
        for files in (*read, sorted(refetched.artifacts, key=lambda a: a.filename)):
            assert files == sorted(first.artifacts, key=lambda a: a.filename)


def test_a_version_is_read_back_from_the_store_when_reached(index: LocalIndex, http: httpx.Client, tmp_path: Path) -> None:
    """A fetched page's rows are not held in memory: each version's are read back from the stored
    value by offset when first built, the same files as a parse gives; a value replaced since (the
    page fetched again by another run) gives that version's rows in the new value (none when it no
    longer lists it); a store that no longer has the page says so."""
    for version in ("1.0", "2.0", "3.0"):
        index.add(Dist("alpha", version), sdist=True)
    source, url = Source("main", index.url), index.url.rstrip("/") + "/alpha/"

    def files(page: Any) -> dict[str, list[str]]:
        return {str(v): sorted(a.filename for a in load()) for v, load in page.version_files()}

    expected = files(_client([source], http).project("alpha"))
    with Store(tmp_path / "s.sqlite") as store:
        first = _client([source], http, store=store).project("alpha")
        warm, later, gone = (_client([source], http, store=store, page_ttl=600).project("alpha") for _ in range(3))
        groups = vars(first)["_groups"]
        assert len(groups.spans) == 3 and isinstance(groups.read, functools.partial) != store.reads_parts
        assert files(first) == files(warm) == expected
        index.add(Dist("alpha", "4.0"), sdist=True)
        newer = _client([source], http, store=store, refresh=True).project("alpha")  # the value is replaced
        assert files(later) == expected and sorted(files(newer)) == ["1.0", "2.0", "3.0", "4.0"]
        store.put_value(PARSED_PAGES, url, "0\n0.5\nalpha\t9.0\t[]")  # none of its versions any more
        assert files(gone) == ({"1.0": [], "2.0": [], "3.0": []} if store.reads_parts else expected)
        closed = _client([source], http, store=store, page_ttl=600, refresh=True).project("alpha")
    if store.reads_parts:
        with pytest.raises(PackageIndexError, match="could not be read back from the store"):
            files(closed)


def test_a_replaced_value_is_read_whole_once(index: LocalIndex, http: httpx.Client, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows of a page whose stored value another run replaced since: the new value is read whole
    once and its versions' rows found by offset from then on (not read whole for every version)."""
    for version in ("1.0", "2.0", "3.0"):
        index.add(Dist("alpha", version), sdist=True)
    source = Source("main", index.url)
    with Store(tmp_path / "s.sqlite") as store:
        if not store.reads_parts:
            pytest.skip("rows are held in memory where SQLite blobs cannot be read (Python < 3.11)")
        _client([source], http, store=store).project("alpha")
        page = _client([source], http, store=store, page_ttl=600).project("alpha")
        index.add(Dist("alpha", "4.0"), sdist=True)
        _client([source], http, store=store, refresh=True).project("alpha")  # the value is replaced
        whole = []
        get_value = store.get_value
        monkeypatch.setattr(store, "get_value", lambda *args: whole.append(args) or get_value(*args))
        built = {str(v): sorted(a.filename for a in load()) for v, load in page.version_files()}
        assert built == {v: [f"alpha-{v}-py3-none-any.whl", f"alpha-{v}.tar.gz"] for v in ("1.0", "2.0", "3.0")}
        assert len(whole) == 1


def test_changed_page_replaces_the_cached_one(index: LocalIndex, http: httpx.Client, tmp_path: Path) -> None:
    index.add(Dist("alpha", "1.0"))
    with Store(tmp_path / "s.sqlite") as store:
        _client([Source("main", index.url)], http, store=store).project("alpha")
        index.add(Dist("alpha", "2.0"))
        page = _client([Source("main", index.url)], http, store=store, page_ttl=0).project("alpha")
        assert sorted(str(v) for v in page.versions()) == ["1.0", "2.0"]


def test_exclude_newer(index: LocalIndex, http: httpx.Client) -> None:
    index.add(Dist("alpha", "1.0"), upload_time="2023-05-01T00:00:00.000000Z")
    index.add(Dist("alpha", "2.0"), upload_time="2024-05-01T00:00:00.000000Z")
    cutoff = datetime(2024, 1, 1, tzinfo=timezone.utc)
    page = _client([Source("main", index.url)], http, exclude_newer=cutoff).project("alpha")
    assert [str(v) for v in page.versions()] == ["1.0"]


def test_exclude_newer_drops_files_without_upload_time(index_factory: type[LocalIndex], http: httpx.Client) -> None:
    index = index_factory(json_api=False)
    index.add(Dist("alpha", "1.0"))
    page = _client([Source("m", index.url)], http, exclude_newer=datetime(2030, 1, 1)).project("alpha")
    assert page.artifacts == ()


# -- metadata -------------------------------------------------------------------------

def _only_wheel(client: IndexClient, name: str) -> Artifact:
    return next(a for a in client.project(name).artifacts if a.is_wheel)


def test_metadata_via_pep658(index: LocalIndex, http: httpx.Client) -> None:
    index.add(Dist("alpha", "1.0", requires_dist=["beta>=2", "gamma; extra == 'x'"], extras=["x"]))
    client = _client([Source("main", index.url)], http)
    metadata = client.metadata(_only_wheel(client, "alpha"))
    assert metadata.requires_dist == ("beta>=2", "gamma; extra == 'x'")
    assert metadata.provides_extras == ("x",)
    assert index.requested("/files/") == ["GET /files/alpha-1.0-py3-none-any.whl.metadata"]


def test_metadata_via_range_reads(index_factory: type[LocalIndex], http: httpx.Client) -> None:
    index = index_factory(metadata_files=False)
    filename = _big_wheel(index, Dist("alpha", "1.0", requires_dist=["beta"]))
    second = _big_wheel(index, Dist("alpha", "2.0"))
    client = _client([Source("main", index.url)], http)
    first_wheel, second_wheel = (a for a in client.project("alpha").artifacts if a.is_wheel)
    assert client.metadata(first_wheel).requires_dist == ("beta",)
    # one probe for an unadvertised .metadata (404: this host has none), the tail, the member
    assert index.requested("/files/") == [f"GET /files/{filename}.metadata"] + [f"GET /files/{filename}"] * 2
    index.requests.clear()
    assert client.metadata(second_wheel).version == "2.0"
    assert index.requested("/files/") == [f"GET /files/{second}"] * 2  # the host is known: no probe


def _ask_at_once(client: IndexClient, wheels: list[Artifact]) -> list[object]:
    """Each wheel's metadata asked for by a thread of its own, all let go at once: the names read,
    or the IndexUnreachable a thread met (all threads must finish: none waits for ever)."""
    start = threading.Barrier(len(wheels))
    found: list[object] = []

    def ask(wheel: Artifact) -> None:
        start.wait()
        try:
            found.append(client.metadata(wheel).name)
        except IndexUnreachable as exc:
            found.append(exc)

    threads = [threading.Thread(target=ask, args=(wheel,), daemon=True) for wheel in wheels]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    return found


def test_threads_wait_for_one_probe_of_an_unknown_host(index_factory: type[LocalIndex], http: httpx.Client,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Metadata asked for at once on a host not known to serve unadvertised ``.metadata`` files:
    one thread asks whether it does, the others wait for its answer (no 404 each)."""
    index = index_factory(metadata_files=False)
    names = [_big_wheel(index, Dist(name, "1.0")) for name in ("alpha", "beta", "gamma", "delta")]
    client = _client([Source("main", index.url)], http)
    wheels = [_only_wheel(client, name) for name in ("alpha", "beta", "gamma", "delta")]
    slow = metadata_module.MetadataFetcher._pep658

    def probe(self: metadata_module.MetadataFetcher, artifact: Artifact) -> bytes | None:
        time.sleep(0.2)  # the others reach the host's question meanwhile
        return slow(self, artifact)

    monkeypatch.setattr(metadata_module.MetadataFetcher, "_pep658", probe)
    found = _ask_at_once(client, wheels)
    assert sorted(found) == ["alpha", "beta", "delta", "gamma"]
    probes = [r for r in index.requested("/files/") if r.endswith(".metadata")]
    assert len(probes) == 1 and probes[0].split("/")[-1][: -len(".metadata")] in names


def test_a_failing_probe_leaves_the_host_unknown_and_the_others_go_on(
        index_factory: type[LocalIndex], http: httpx.Client, monkeypatch: pytest.MonkeyPatch) -> None:
    """The thread asking whether a host serves ``.metadata`` files fails (the host unreachable): its
    own read fails, nothing is learnt, and the threads waiting for its answer ask in turn (none waits
    for ever, none takes its failure for a "no")."""
    index = index_factory(metadata_files=False)
    for name in ("alpha", "beta", "gamma"):
        _big_wheel(index, Dist(name, "1.0"))
    client = _client([Source("main", index.url)], http)
    wheels = [_only_wheel(client, name) for name in ("alpha", "beta", "gamma")]
    real, failed = metadata_module.MetadataFetcher._pep658, threading.Event()

    def probe(self: metadata_module.MetadataFetcher, artifact: Artifact) -> bytes | None:
        if not failed.is_set():
            failed.set()
            time.sleep(0.2)  # the others reach the host's question meanwhile
            raise IndexUnreachable(index.url, "connection refused")
        return real(self, artifact)

    monkeypatch.setattr(metadata_module.MetadataFetcher, "_pep658", probe)
    found = _ask_at_once(client, wheels)
    assert sum(isinstance(f, IndexUnreachable) for f in found) == 1 and len(found) == 3
    assert len([r for r in index.requested("/files/") if r.endswith(".metadata")]) == 1  # the second asker's: "no"


class UnadvertisedMetadata(LocalIndex):
    """Serves ``.metadata`` files but its pages do not say so (as some proxies do)."""

    def project_json(self, project: str) -> bytes:
        data = json.loads(super().project_json(project))
        for item in data["files"]:
            item.pop("core-metadata", None)
            item.pop("dist-info-metadata", None)
        return json.dumps(data).encode()


def test_unadvertised_metadata_files_are_used_and_remembered(http: httpx.Client, tmp_path: Path) -> None:
    index = UnadvertisedMetadata()
    try:
        filename = _big_wheel(index, Dist("alpha", "1.0", requires_dist=["beta"]))
        with Store(tmp_path / "s.sqlite") as store:
            client = _client([Source("main", index.url)], http, store=store)
            artifact = _only_wheel(client, "alpha")
            assert artifact.metadata_hashes is None
            assert client.metadata(artifact).requires_dist == ("beta",)
            assert index.requested("/files/") == [f"GET /files/{filename}.metadata"]
            assert store.get_value("metadata-file-hosts", index.root.split("//")[1]) == "yes"
    finally:
        index.close()


def test_host_without_metadata_files_is_remembered_across_runs(
    index_factory: type[LocalIndex], http: httpx.Client, tmp_path: Path
) -> None:
    index = index_factory(metadata_files=False)
    one, two = _big_wheel(index, Dist("alpha", "1.0")), _big_wheel(index, Dist("beta", "1.0"))
    with Store(tmp_path / "s.sqlite") as store:
        _client([Source("main", index.url)], http, store=store).metadata(
            _only_wheel(_client([Source("main", index.url)], http), "alpha"))
        client = _client([Source("main", index.url)], http, store=store)
        client.metadata(_only_wheel(client, "beta"))
    assert len(index.requested(".metadata")) == 1 and f"GET /files/{one}.metadata" in index.requests
    assert index.requested(two) == [f"GET /files/{two}"] * 2


def test_small_wheel_needs_one_range_request(index_factory: type[LocalIndex], http: httpx.Client) -> None:
    index = index_factory(metadata_files=False, json_api=False)
    (wheel,) = index.add(Dist("alpha", "1.0", requires_python=">=3.9"))
    client = _client([Source("main", index.url)], http)
    assert client.metadata(_only_wheel(client, "alpha")).requires_python == ">=3.9"
    assert index.requested(wheel.filename) == [f"GET /files/{wheel.filename}.metadata", f"GET /files/{wheel.filename}"]


def test_metadata_via_full_download(index_factory: type[LocalIndex], http: httpx.Client) -> None:
    index = index_factory(metadata_files=False, ranges=False)
    filename = _big_wheel(index, Dist("alpha", "1.0", requires_dist=["beta"]))
    client = _client([Source("main", index.url)], http)
    assert client.metadata(_only_wheel(client, "alpha")).requires_dist == ("beta",)
    assert index.requested(f"/files/{filename}") == [f"GET /files/{filename}.metadata", f"GET /files/{filename}"]


def test_full_download_spills_to_disk(index_factory: type[LocalIndex], http: httpx.Client,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from micro_thoth.index import metadata as client_module

    monkeypatch.setattr(client_module, "SPOOL_BYTES", 50_000)
    index = index_factory(metadata_files=False, ranges=False)
    _big_wheel(index, Dist("alpha", "1.0", requires_dist=["beta"]))
    client = _client([Source("main", index.url)], http)
    assert client.metadata(_only_wheel(client, "alpha")).requires_dist == ("beta",)


def test_full_download_is_verified(index_factory: type[LocalIndex], http: httpx.Client) -> None:
    index = index_factory(metadata_files=False, ranges=False)
    (wheel,) = index.add(Dist("alpha", "1.0"))
    client = _client([Source("main", index.url)], http)
    artifact = _only_wheel(client, "alpha")
    index.tamper(wheel.filename)
    with pytest.raises(DigestMismatch):
        client.metadata(artifact)


def test_tampered_pep658_metadata_is_refused(index: LocalIndex, http: httpx.Client) -> None:
    (wheel,) = index.add(Dist("alpha", "1.0"))
    client = _client([Source("main", index.url)], http)
    artifact = _only_wheel(client, "alpha")
    wheel.metadata = b"Metadata-Version: 2.1\nName: alpha\nVersion: 1.0\nRequires-Dist: evil\n\n"
    with pytest.raises(DigestMismatch, match=r"\.metadata"):
        client.metadata(artifact)


def test_metadata_is_stored_by_digest(index: LocalIndex, http: httpx.Client, tmp_path: Path) -> None:
    index.add(Dist("alpha", "1.0", requires_dist=["beta"]))
    with Store(tmp_path / "s.sqlite") as store:
        client = _client([Source("main", index.url)], http, store=store)
        artifact = _only_wheel(client, "alpha")
        client.metadata(artifact)
        again = _client([Source("main", index.url)], http, store=store).metadata(artifact)
        assert store.get_metadata(artifact.sha256 or "") is not None
    assert again.requires_dist == ("beta",)
    assert len(index.requested(".metadata")) == 1


def test_metadata_name_mismatch_is_an_index_error(index: LocalIndex, http: httpx.Client) -> None:
    (wheel,) = index.add(Dist("alpha", "1.0"))
    liar = Artifact(filename="other-1.0-py3-none-any.whl", url=f"{index.root}/files/{wheel.filename}",
                    index=Source("main", index.url))
    with pytest.raises(PackageIndexError, match=r"says it is alpha 1\.0"):
        _client([Source("main", index.url)], http).metadata(liar)


def test_broken_wheel_is_an_index_error(index_factory: type[LocalIndex], http: httpx.Client) -> None:
    index = index_factory(metadata_files=False)
    index.add_file(Dist("alpha", "1.0"), "alpha-1.0-py3-none-any.whl", b"not a zip at all" * 10)
    client = _client([Source("main", index.url)], http)
    with pytest.raises(PackageIndexError, match=r"alpha-1\.0-py3-none-any\.whl"):
        client.metadata(_only_wheel(client, "alpha"))


def test_sdist_metadata_through_build(index: LocalIndex, http: httpx.Client) -> None:
    index.add(Dist("alpha", "1.0", requires_dist=["beta<3"]), wheel=False, sdist=True)
    client = _client([Source("main", index.url)], http)
    sdist = next(a for a in client.project("alpha").artifacts if a.is_sdist)
    assert client.metadata(sdist).requires_dist == ("beta<3",)


def test_sdist_for_metadata_lands_in_the_cache(index: LocalIndex, http: httpx.Client, tmp_path: Path) -> None:
    (sdist,) = index.add(Dist("alpha", "1.0", requires_dist=["beta<3"]), wheel=False, sdist=True)
    cache = Cache(tmp_path / "cache")
    client = _client([Source("main", index.url)], http, cache=cache)
    artifact = client.project("alpha").artifacts[0]
    assert client.metadata(artifact).requires_dist == ("beta<3",)
    cached = cache.find_artifact(artifact.hashes, filename=sdist.filename)
    assert cached is not None and cached.read_bytes() == sdist.data
    index.requests.clear()
    again = _client([Source("main", index.url)], http, cache=cache)
    assert again.metadata(artifact).requires_dist == ("beta<3",)
    assert index.requested("/files/") == []


# -- prefetch --------------------------------------------------------------------------

def test_prefetch_is_joined_not_repeated(index: LocalIndex, http: httpx.Client) -> None:
    for name in ("alpha", "beta", "gamma"):
        index.add(Dist(name, "1.0"))
    with _client([Source("main", index.url)], http) as client:
        client.prefetch(["alpha", "beta", "gamma"])
        pages = [client.project(n) for n in ("alpha", "beta", "gamma")]
        client.prefetch_metadata(p.artifacts[0] for p in pages)
        assert [client.metadata(p.artifacts[0]).name for p in pages] == ["alpha", "beta", "gamma"]
    assert sorted(index.requested("/simple/")) == ["GET /simple/alpha/", "GET /simple/beta/", "GET /simple/gamma/"]
    assert len(index.requested(".metadata")) == 3


def test_prefetch_hands_each_page_found_on_to_then(index: LocalIndex, http: httpx.Client) -> None:
    for name in ("alpha", "beta"):
        index.add(Dist(name, "1.0"))
    seen: queue.Queue[tuple[str, str]] = queue.Queue()
    with _client([Source("main", index.url)], http) as client:
        client.prefetch(["alpha", "beta", "missing"], then=lambda page: seen.put((page.name, threading.current_thread().name)))
        got = sorted(seen.get(timeout=30) for _ in range(2))
        assert [name for name, _ in got] == ["alpha", "beta"]  # not the project no index has
        assert all(thread != threading.current_thread().name for _, thread in got)  # on the fetching threads
        assert [str(v) for v in client.project("alpha").versions()] == ["1.0"]
    assert seen.empty()
    assert len(index.requested("/simple/alpha/")) == 1  # joined by project(), not fetched again


def test_pages_loaded_at_once_under_a_tiny_budget_all_arrive_and_let_go_of_their_bodies(
        index: LocalIndex, http: httpx.Client, monkeypatch: pytest.MonkeyPatch) -> None:
    """The page bodies' budget (index/budget.py) on the real path: with room for one byte, eight prefetch
    threads and the main thread still get every page (one at a time past the largest), a missing one says
    so, and no byte stays held once they are stored."""
    bodies = Budget(1)
    monkeypatch.setattr(project_pages, "_BODIES", bodies)
    names = [f"p{n}" for n in range(12)]
    for name in names:  # pages of ≈ 130 KB: each body read in several chunks
        for v in range(400):
            dist = Dist(name, f"1.{v}")
            index.add_file(dist, dist.wheel_filename, b"not read")
    seen: queue.Queue[str] = queue.Queue()
    with _client([Source("main", index.url)], http) as client:
        client.prefetch([*names, "missing"], then=lambda page: seen.put(page.name))
        assert sorted(seen.get(timeout=30) for _ in names) == sorted(names)
        assert len(client.project("p0").versions()) == 400
        with pytest.raises(PackageNotFound):
            client.project("missing")
    assert bodies.held == 0


def test_a_page_cut_off_mid_body_lets_go_of_its_bytes_retried_or_not(
        index: LocalIndex, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A body cut off mid-way (the connection closed) is read again from nothing: its first bytes are
    not counted twice, and a page cut off on every attempt lets go of them when its error is raised; a
    page revalidated (304) holds nothing after. Every thread finishes under a budget of one byte."""
    bodies = Budget(1)
    monkeypatch.setattr(project_pages, "_BODIES", bodies)
    names = [f"p{n}" for n in range(6)]
    for name in names:
        for v in range(300):
            dist = Dist(name, f"1.{v}")
            index.add_file(dist, dist.wheel_filename, b"not read")
    for name in names[:3]:
        index.cut_next[f"/simple/{name}/"] = 1  # once: the retry reads it whole
    index.cut_next["/simple/p5/"] = 100  # every attempt
    seen: queue.Queue[str] = queue.Queue()
    statuses: list[int] = []
    with make_client(timeout=5) as http, Store(tmp_path / "s.sqlite") as store:
        with _client([Source("main", index.url)], http, store=store, page_ttl=0) as client:
            client.prefetch(names, then=lambda page: seen.put(page.name))
            assert sorted(seen.get(timeout=60) for _ in names[:5]) == names[:5]
            with pytest.raises(IndexUnreachable):
                client.project("p5")
            assert bodies.held == 0
            assert len(client.project("p0").versions()) == 300
        assert [len(index.requested(f"/simple/{name}/")) for name in names[:4]] == [2, 2, 2, 1]
        http.event_hooks["response"] = [lambda r: statuses.append(r.status_code)]
        with _client([Source("main", index.url)], http, store=store, page_ttl=0) as client:
            assert len(client.project("p1").versions()) == 300
    assert statuses == [304]
    assert bodies.held == 0


def test_a_callers_own_fetch_on_any_thread_is_not_queued_behind_the_prefetches(
        index: LocalIndex, http: httpx.Client, monkeypatch: pytest.MonkeyPatch) -> None:
    """The budget's urgent load is the caller's own fetch, whatever its thread (a server job's resolver
    runs on a worker thread): only prefetches wait while others hold the budget."""
    bodies = Budget(1)
    monkeypatch.setattr(project_pages, "_BODIES", bodies)
    index.add(Dist("alpha", "1.0"))
    found: queue.Queue[object] = queue.Queue()
    with bodies.holding() as largest, bodies.holding() as other, _client([Source("main", index.url)], http) as client:
        largest.add(10)
        other.add(5)  # the others hold 5 > 1: a prefetch would wait
        thread = threading.Thread(target=lambda: found.put(list(client.project("alpha").versions())), daemon=True)
        thread.start()
        assert found.get(timeout=10) == [Version("1.0")]
        client.prefetch(["beta"])
        time.sleep(0.2)
        assert index.requested("/simple/beta/") == []  # the prefetch waits on the budget
    assert bodies.held == 0


def test_prefetched_metadata_is_handed_on_once_fetched(index: LocalIndex, http: httpx.Client) -> None:
    """``prefetch_metadata(..., then)``: ``then`` gets each file's metadata on the thread that fetched it,
    and the resolver's own ask later is joined, not repeated."""
    index.add(Dist("alpha", "1.0", requires_dist=["beta>=2"]))
    arrived = threading.Event()
    seen = []
    with _client([Source("main", index.url)], http) as client:
        artifact = client.project("alpha").artifacts[0]
        client.prefetch_metadata([artifact], lambda metadata: (seen.append(metadata.requires_dist), arrived.set()))
        assert arrived.wait(10)
        assert client.metadata(artifact).requires_dist == seen[0] == ("beta>=2",)
    assert len(index.requested(".metadata")) == 1


def test_concurrent_callers_share_one_fetch(index: LocalIndex, http: httpx.Client) -> None:
    index.add(Dist("alpha", "1.0"))
    client = _client([Source("main", index.url)], http)
    barrier = threading.Barrier(8)
    results = []

    def ask() -> None:
        barrier.wait()
        results.append(client.project("alpha"))

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 8 and all(r is results[0] for r in results)
    assert index.requests == ["GET /simple/alpha/"]


def test_failed_prefetch_is_retried_by_project(index: LocalIndex, http: httpx.Client) -> None:
    index.add(Dist("alpha", "1.0"))
    index.fail_next["/simple/alpha/"] = 100
    client = _client([Source("main", index.url)], http)
    with pytest.raises(IndexUnreachable):
        client.project("alpha")
    index.fail_next.clear()
    assert client.project("alpha").artifacts


# -- network and credentials ------------------------------------------------------------

def test_503_is_retried(index: LocalIndex, http: httpx.Client) -> None:
    index.add(Dist("alpha", "1.0"))
    index.fail_next["/simple/alpha/"] = 2
    assert _client([Source("main", index.url)], http).project("alpha").artifacts
    assert len(index.requested("/simple/alpha/")) == 3


def test_unreachable_index(http: httpx.Client) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    source = Source("dead", f"http://u:topsecret@127.0.0.1:{port}/simple")
    with pytest.raises(IndexUnreachable) as info:
        _client([source], http).project("alpha")
    assert f"127.0.0.1:{port}" in info.value.url and "topsecret" not in str(info.value)


def test_credentials_in_source_url_with_env_expansion(http: httpx.Client) -> None:
    index = LocalIndex(username="alice", password="s3cret")
    try:
        index.add(Dist("alpha", "1.0"))
        url = index.url.replace("http://", "http://${IDX_USER}:${IDX_PASS}@")
        source = Source("private", url)
        client = IndexClient([source], client=http, environ={"IDX_USER": "alice", "IDX_PASS": "s3cret"})
        page = client.project("alpha")
        assert page.index.url == url  # the expansion is never stored
        assert "s3cret" not in page.artifacts[0].url
        assert client.metadata(page.artifacts[0]).name == "alpha"
        with pytest.raises(PackageNotFound) as info:
            client.project("missing-thing")
        assert "s3cret" not in str(info.value) and "s3cret" not in (info.value.index or "")
    finally:
        index.close()


def test_credentials_from_netrc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    index = LocalIndex(username="bob", password="hunter2")
    try:
        index.add(Dist("alpha", "1.0"))
        netrc = tmp_path / ".netrc"
        netrc.write_text("machine 127.0.0.1\n  login bob\n  password hunter2\n")
        netrc.chmod(0o600)
        monkeypatch.setenv("NETRC", str(netrc))
        with make_client() as client:
            page = IndexClient([Source("private", index.url)], client=client, environ={}).project("alpha")
            assert page.artifacts
    finally:
        index.close()


def test_wrong_credentials_never_leak(http: httpx.Client) -> None:
    index = LocalIndex(username="alice", password="right")
    try:
        source = Source("private", index.url.replace("http://", "http://alice:wrongpass@"))
        with pytest.raises(IndexUnreachable) as info:
            _client([source], http).project("alpha")
        assert "401" in str(info.value) and "wrongpass" not in str(info.value)
    finally:
        index.close()


# -- file:// indexes --------------------------------------------------------------------

def _file_url(path: Path) -> str:
    return path.as_uri()


def test_file_index_with_simple_layout(tmp_path: Path, http: httpx.Client) -> None:
    dist = Dist("alpha", "1.0", requires_dist=["beta"])
    data = build_wheel(dist)
    files = tmp_path / "files"
    files.mkdir()
    (files / dist.wheel_filename).write_bytes(data)
    project = tmp_path / "simple" / "alpha"
    project.mkdir(parents=True)
    digest = hashlib.sha256(data).hexdigest()
    (project / "index.html").write_text(
        f'<html><body><a href="../../files/{dist.wheel_filename}#sha256={digest}">w</a></body></html>'
    )
    client = _client([Source("local", _file_url(tmp_path / "simple"))], http)
    (artifact,) = client.project("alpha").artifacts
    assert artifact.url == _file_url(files / dist.wheel_filename)
    assert artifact.sha256 == digest
    assert client.metadata(artifact).requires_dist == ("beta",)
    with pytest.raises(PackageNotFound):
        client.project("beta")


def test_file_index_flat_directory(tmp_path: Path, http: httpx.Client) -> None:
    for version in ("1.0", "2.0"):
        dist = Dist("alpha", version)
        (tmp_path / dist.wheel_filename).write_bytes(build_wheel(dist))
    (tmp_path / Dist("alphabet", "1.0").wheel_filename).write_bytes(build_wheel(Dist("alphabet", "1.0")))
    (tmp_path / "README.txt").write_text("not a package")
    client = _client([Source("flat", _file_url(tmp_path))], http)
    page = client.project("alpha")
    assert sorted(str(v) for v in page.versions()) == ["1.0", "2.0"]
    assert all(a.sha256 for a in page.artifacts)
    assert client.metadata(page.artifacts[0]).name == "alpha"
    assert len(directory_artifacts(str(tmp_path), "alphabet", Source("f", "file:///"))) == 1


def test_missing_file_index_is_unreachable(tmp_path: Path, http: httpx.Client) -> None:
    with pytest.raises(IndexUnreachable, match="no such directory"):
        _client([Source("gone", _file_url(tmp_path / "nope"))], http).project("alpha")


# -- direct references ------------------------------------------------------------------

def test_direct_wheel_url(index: LocalIndex, http: httpx.Client) -> None:
    """A URL's ``#sha256=`` is the lock's hash, as pipenv takes it (install checks it when it downloads)."""
    (wheel,) = index.add(Dist("alpha", "1.0", requires_dist=["beta"]))
    reference = DirectReference("file", f"{index.root}/files/{wheel.filename}#sha256={wheel.sha256}")
    metadata, locked, (file,) = _client([], http).direct("alpha", reference)
    assert metadata.requires_dist == ("beta",) and locked == reference
    assert file.sha256 == wheel.sha256 and file.url == f"{index.root}/files/{wheel.filename}"
    with pytest.raises(PackageIndexError, match="not other"):
        _client([], http).direct("other", reference)


def _bodies(index: LocalIndex, filename: str) -> list[str]:
    return [r for r in index.requested(filename) if r.startswith("GET") and not r.endswith(".metadata")]


def test_direct_url_without_digest_is_downloaded_once_into_the_cache(tmp_path: Path, index: LocalIndex, http: httpx.Client) -> None:
    dist = Dist("alpha", "1.0", requires_dist=["beta"])
    (wheel, sdist) = index.add(dist, sdist=True)
    cache = Cache(tmp_path / "cache")
    client = _client([], http, cache=cache)
    for entry in (wheel, sdist):
        reference = DirectReference("file", f"{index.root}/files/{entry.filename}")
        metadata, _locked, (file,) = client.direct("alpha", reference)
        assert metadata.requires_dist == ("beta",) and file.hashes == (Hash("sha256", entry.sha256),)
        assert len(_bodies(index, entry.filename)) == 1, index.requests  # hashed and read from one download
        assert cache.find_artifact(file.hashes, filename=entry.filename) is not None  # install finds it there


def test_direct_url_digest_is_checked_on_download(tmp_path: Path, index: LocalIndex, http: httpx.Client) -> None:
    (sdist,) = index.add(Dist("alpha", "1.0"), wheel=False, sdist=True)
    wrong = hashlib.sha256(b"other").hexdigest()
    reference = DirectReference("file", f"{index.root}/files/{sdist.filename}#sha256={wrong}")
    with pytest.raises(DigestMismatch):
        _client([], http, cache=Cache(tmp_path / "cache")).direct("alpha", reference)


def test_direct_local_wheel_and_sdist(tmp_path: Path, http: httpx.Client) -> None:
    dist = Dist("alpha", "1.0", requires_dist=["beta"])
    (tmp_path / dist.wheel_filename).write_bytes(build_wheel(dist))
    (tmp_path / dist.sdist_filename).write_bytes(build_sdist(dist))
    client = _client([], http)
    for filename in (dist.wheel_filename, dist.sdist_filename):
        reference = DirectReference("file", _file_url(tmp_path / filename))
        metadata, locked, (file,) = client.direct("alpha", reference)
        assert metadata.requires_dist == ("beta",) and locked == reference
        assert file.hashes == (Hash("sha256", hashlib.sha256((tmp_path / filename).read_bytes()).hexdigest()),)


def test_direct_local_file_checks_its_fragment_and_names_a_missing_file(tmp_path: Path, http: httpx.Client) -> None:
    dist = Dist("alpha", "1.0")
    (tmp_path / dist.wheel_filename).write_bytes(build_wheel(dist))
    wrong = hashlib.sha256(b"other").hexdigest()
    with pytest.raises(DigestMismatch):
        _client([], http).direct("alpha", DirectReference("file", f"{_file_url(tmp_path / dist.wheel_filename)}#sha256={wrong}"))
    with pytest.raises(PackageIndexError, match="cannot read"):
        _client([], http).direct("alpha", DirectReference("file", _file_url(tmp_path / "gone-1.0-py3-none-any.whl")))


# -- wheelzip ------------------------------------------------------------------------------

def test_range_file_reads_only_what_is_needed() -> None:
    data = build_wheel(Dist("alpha", "1.0"), extra_members={"alpha/big.bin": BIG})
    calls: list[tuple[int, int]] = []

    def fetch(first: int, last: int) -> bytes:
        calls.append((first, last))
        return data[first : last + 1]

    tail_start = len(data) - 65536
    remote = RangeFile(fetch, len(data), known=(tail_start, data[tail_start:]))
    assert read_metadata(remote, "alpha").startswith(b"Metadata-Version")  # type: ignore[arg-type]
    assert len(calls) == 1 and calls[0][0] < tail_start


def test_zip64_wheel() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        with zf.open("alpha-1.0.dist-info/METADATA", "w", force_zip64=True) as member:
            member.write(b"Metadata-Version: 2.1\nName: alpha\nVersion: 1.0\n\n")
        zf.writestr("alpha/__init__.py", b"")
    data = buf.getvalue()
    remote = RangeFile(lambda a, b: data[a : b + 1], len(data))
    assert b"Name: alpha" in read_metadata(remote, "alpha")  # type: ignore[arg-type]


def corrupt_deflate(member: str, content: bytes) -> bytes:
    """A zip whose ``member`` is deflated and its compressed bytes damaged (zlib fails, not the CRC)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(member, content)
    data = bytearray(buf.getvalue())
    start = 30 + len(member.encode())  # the member's data follows its local header
    data[start : start + 8] = b"\xff" * 8
    return bytes(data)


def test_a_corrupt_deflate_stream_is_not_a_wheel() -> None:
    data = corrupt_deflate("alpha-1.0.dist-info/METADATA", b"Metadata-Version: 2.1\nName: alpha\n" * 50)
    with pytest.raises(NotAWheel, match="not a readable wheel"):
        read_metadata(io.BytesIO(data), "alpha")


def test_a_member_before_the_start_of_the_file_is_not_a_wheel(tmp_path: Path) -> None:
    """A central directory offset past where it lies puts members before the file's start: zipfile
    would seek there (ValueError in memory, OSError on disk); it is an unreadable wheel, either way."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("alpha-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: alpha\n")
    data = bytearray(buf.getvalue())
    end = data.rfind(b"PK\x05\x06")
    data[end + 16 : end + 20] = (int.from_bytes(data[end + 16 : end + 20], "little") + 4096).to_bytes(4, "little")
    (tmp_path / "w.whl").write_bytes(data)
    with pytest.raises(NotAWheel, match="before the start"):
        read_metadata(io.BytesIO(bytes(data)), "alpha")
    with open(tmp_path / "w.whl", "rb") as handle, pytest.raises(NotAWheel, match="before the start"):
        read_metadata(handle, "alpha")


def _zipfile_metadata(data: bytes, project: str) -> bytes | type[NotAWheel]:
    """What zipfile alone reads as the archive's METADATA (or NotAWheel)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return archive.read(wheelzip.metadata_member(archive.namelist(), project))
    except (*zips.UNREADABLE, RuntimeError, KeyError, NotAWheel):  # RuntimeError: zipfile's "password required"
        return NotAWheel


@pytest.mark.parametrize("compression", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
def test_a_plain_wheels_metadata_is_read_from_its_central_directory(compression: int) -> None:
    """A plain archive's METADATA is read without zipfile listing every member: the same bytes, by
    the same range requests."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=compression) as zf:
        for i in range(300):
            zf.writestr(f"alpha/m{i}.py", f"x = {i}\n" * 20)
        zf.writestr("alpha-1.0.dist-info/METADATA", b"Metadata-Version: 2.1\nName: alpha\nVersion: 1.0\n\n" * 40)
        zf.writestr("alpha-1.0.dist-info/RECORD", b"")
    data = buf.getvalue()
    assert wheelzip._plain_metadata(io.BytesIO(data), "alpha") == _zipfile_metadata(data, "alpha")
    fetched: list[list[tuple[int, int]]] = []
    for plain in (True, False):
        calls: list[tuple[int, int]] = []
        fetched.append(calls)
        remote = RangeFile(lambda a, b, calls=calls: calls.append((a, b)) or data[a : b + 1], len(data),  # type: ignore[func-returns-value]
                           known=(len(data) - 4096, data[-4096:]))
        if plain:
            assert read_metadata(remote, "alpha") == _zipfile_metadata(data, "alpha")  # type: ignore[arg-type]
        else:
            with zipfile.ZipFile(remote) as archive:  # type: ignore[arg-type]
                archive.read("alpha-1.0.dist-info/METADATA")
    assert fetched[0] == fetched[1] and fetched[0]


def _irregular(kind: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("alpha/__init__.py", b"")
        zf.writestr("alpha-1.0.dist-info/METADATA", b"Metadata-Version: 2.1\nName: alpha\n" * 20)
        if kind == "comment":
            zf.comment = b"a comment"
        if kind == "nul":
            zf.writestr("beta-1.0.dist-info/METADATAx", b"Name: beta\n")  # a NUL for the "x" below (zipfile cuts names at one)
    data = bytearray(buf.getvalue())
    name = b"alpha-1.0.dist-info/METADATA"
    local = data.find(name) - 30  # the METADATA member's local header, then its central directory entry
    entry = data.find(name, data.find(b"PK\x01\x02")) - 46
    if kind == "nul":
        return bytes(data).replace(b"METADATAx", b"METADATA\0")
    if kind == "prefix":
        return b"#!/bin/sh\n" + bytes(data)  # zipfile reads past a prefix
    if kind == "crc":
        data[entry + 16] ^= 0xFF
    if kind == "local-name":
        data[local + 30] = ord("b")
    if kind == "encrypted":
        data[entry + 8] |= 0x01
    if kind == "method":
        data[entry + 10] = 99  # no method zipfile knows
    return bytes(data)


@pytest.mark.parametrize("kind", ["comment", "nul", "prefix", "crc", "local-name", "encrypted", "method"])
def test_an_irregular_wheel_is_left_to_zipfile(kind: str) -> None:
    """Anything but a plain archive is read (or refused) by zipfile, as before."""
    data = _irregular(kind)
    assert wheelzip._plain_metadata(io.BytesIO(data), "alpha") is None
    expected = _zipfile_metadata(data, "alpha")
    if expected is NotAWheel:
        with pytest.raises(NotAWheel):
            read_metadata(io.BytesIO(data), "alpha")
    else:
        assert read_metadata(io.BytesIO(data), "alpha") == expected
    assert kind not in ("crc", "local-name", "encrypted", "method") or expected is NotAWheel


def test_not_a_wheel() -> None:
    with pytest.raises(NotAWheel):
        read_metadata(io.BytesIO(b"garbage" * 100))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("a-1.dist-info/METADATA", "x")
        zf.writestr("b-1.dist-info/METADATA", "y")
    assert read_metadata(io.BytesIO(buf.getvalue()), "b") == b"y"
    with pytest.raises(NotAWheel, match="found 2"):
        read_metadata(io.BytesIO(buf.getvalue()), None)



# -- the default index (network) -------------------------------------------------------------

@pytest.mark.network
def test_default_index_pages_and_range_read_metadata(http: httpx.Client) -> None:
    from urllib.parse import urlsplit

    from micro_thoth.index.metadata import METADATA_HOSTS
    from micro_thoth.pipconf import default_index_url

    client = IndexClient([Source("default", default_index_url())], client=http, environ={})
    page = client.project("idna")
    wheel = next(a for a in page.artifacts if a.is_wheel and str(a.version) == "3.7")
    assert wheel.sha256 and wheel.url.startswith("https://")
    assert client.metadata(wheel).requires_python == ">=3.5"
    # a host known to serve no .metadata files: range reads of the wheel
    store = Store(":memory:")
    store.put_value(METADATA_HOSTS, urlsplit(wheel.url).netloc, "no")
    ranged = IndexClient([page.index], client=http, environ={}, store=store)
    metadata = ranged.metadata(dataclasses.replace(wheel, metadata_hashes=None))
    assert (metadata.name, metadata.version, metadata.requires_python) == ("idna", "3.7", ">=3.5")


# -- an install's look at a page: the locked files only -------------------------------

@pytest.mark.parametrize("json_api", [True, False], ids=["json", "html"])
def test_locked_files_builds_only_the_locked_files_and_keeps_no_partial_page(
    index_factory: type[LocalIndex], http: httpx.Client, json_api: bool
) -> None:
    index = index_factory(json_api=json_api)
    files = [f for version in ("1.0", "2.0", "3.0") for f in index.add(Dist("alpha", version), sdist=True)]
    wanted = [f for f in files if "2.0" in f.filename]
    digests = frozenset(hashlib.sha256(f.data).hexdigest() for f in wanted)
    store = Store(":memory:")
    client = _client([Source("main", index.url)], http, store=store)
    page = client.locked_files("alpha", digests)
    assert sorted(a.filename for a in page.artifacts) == sorted(f.filename for f in wanted)
    assert {a.sha256 for a in page.artifacts} == digests
    later = _client([Source("main", index.url)], http, store=store)  # a lock after the install
    assert len(later.project("alpha").artifacts) == len(files)  # the whole page, from the kept body
    assert index.requested("/simple/alpha/") == ["GET /simple/alpha/"]


def test_a_page_the_store_failed_to_keep_is_held_in_memory(index: LocalIndex, http: httpx.Client, tmp_path: Path) -> None:
    """The store is a cache: a page whose write failed is not read back from it (its rows stay in memory)."""
    index.add(Dist("alpha", "1.0"), sdist=True)
    source = Source("main", index.url)
    with Store(tmp_path / "s.sqlite") as store:
        store.put_value = lambda *args: None  # type: ignore[method-assign]  # every write lost
        page = _client([source], http, store=store).project("alpha")
        assert isinstance(vars(page)["_groups"].read, functools.partial)  # sliced from the value in memory
        assert sorted(a.filename for a in page.artifacts) == ["alpha-1.0-py3-none-any.whl", "alpha-1.0.tar.gz"]


def test_a_name_flagged_utf8_that_is_not_is_not_a_wheel() -> None:
    """A member name flagged UTF-8 (general purpose bit 11) whose bytes are not UTF-8 is an unreadable
    wheel, a refusal naming it, not a UnicodeDecodeError traceback (from the central directory
    reader, or from zipfile's: an archive comment sends the wheel there). Another member's name
    is not the central directory reader's concern: it reads METADATA alone."""
    for name, comment in ((b"alpha-1.0.dist-info/METADATA", b""), (b"alpha/__init__.py", b"to zipfile")):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            zf.writestr("alpha/__init__.py", b"")
            zf.writestr("alpha-1.0.dist-info/METADATA", b"Metadata-Version: 2.1\nName: alpha\n")
            zf.comment = comment
        data = bytearray(buf.getvalue())
        entry = data.find(name, data.find(b"PK\x01\x02")) - 46
        data[entry + 9] |= 0x08  # bit 11 of the flags: the name is UTF-8
        data[entry + 46] = 0xFF  # ... and its first byte is none
        with pytest.raises(NotAWheel, match="not a readable wheel"):
            read_metadata(io.BytesIO(bytes(data)), "alpha")


def test_a_metadata_member_claiming_a_huge_compressed_size_is_refused_before_it_is_fetched() -> None:
    """A central directory entry whose METADATA claims more compressed bytes than any METADATA the
    reader accepts (MAX_METADATA_BYTES, and deflate's few bytes more) is refused before those
    bytes are asked for: a hostile server does not make a lock download a gigabyte for one METADATA."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("alpha-1.0.dist-info/METADATA", b"Metadata-Version: 2.1\nName: alpha\nVersion: 1.0\n" * 20)
    data = buf.getvalue()
    directory = data.find(b"PK\x01\x02")
    members, central = data[:directory], bytearray(data[directory:])
    pad = 1 << 30  # a gigabyte of nothing between the members and the central directory
    central[20:24] = (pad + len(members)).to_bytes(4, "little")  # METADATA's compressed size: all of it
    end = central.rfind(b"PK\x05\x06")
    central[end + 16 : end + 20] = (len(members) + pad).to_bytes(4, "little")  # the directory's offset
    size = len(members) + pad + len(central)
    asked: list[int] = []

    def fetch(first: int, last: int) -> bytes:
        asked.append(last - first + 1)
        if sum(asked) > 64 << 20:
            raise AssertionError(f"fetched {sum(asked)} bytes")
        virtual = [(0, members), (len(members) + pad, bytes(central))]
        out = bytearray(last - first + 1)
        for at, chunk in virtual:
            lo, hi = max(first, at), min(last + 1, at + len(chunk))
            if lo < hi:
                out[lo - first : hi - first] = chunk[lo - at : hi - at]
        return bytes(out)

    remote = RangeFile(fetch, size, known=(size - len(central), bytes(central)))
    with pytest.raises(NotAWheel, match="compressed"):
        read_metadata(remote, "alpha")  # type: ignore[arg-type]
    assert sum(asked) < 1 << 20


@pytest.mark.parametrize("compression", [zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA])
def test_a_corrupt_bzip2_or_lzma_metadata_is_not_a_wheel(compression: int) -> None:
    """A METADATA compressed by bzip2 or LZMA whose stream is corrupt is an unreadable wheel, not
    the decompressor's OSError (bz2's 'Invalid data stream') or LZMAError traceback."""
    text = b"Metadata-Version: 2.1\nName: alpha\nVersion: 1.0\n" * 40
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=compression) as zf:
        zf.writestr("alpha-1.0.dist-info/METADATA", text)
    data = bytearray(buf.getvalue())
    start = data.find(b"alpha-1.0.dist-info/METADATA") + len("alpha-1.0.dist-info/METADATA")
    for at in range(start + 8, start + 40):  # past the stream's own header: its compressed blocks
        data[at] ^= 0x5A
    with pytest.raises(NotAWheel, match="not a readable wheel"):
        read_metadata(io.BytesIO(bytes(data)), "alpha")
