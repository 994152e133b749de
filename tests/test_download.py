"""Choosing the file to install, and parallel verified downloads into the cache."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from packaging.markers import default_environment
from packaging.tags import sys_tags

from micro_thoth import net
from micro_thoth.artifacts import Artifact
from micro_thoth.cache import Cache
from micro_thoth.credentials import IndexAuth, deferred_client
from micro_thoth.download import (
    DownloadRequest,
    cached_artifacts,
    check_hashes,
    choose_artifact,
    download_all,
)
from micro_thoth.errors import (
    DigestMismatch,
    IndexUnreachable,
    MissingHashError,
    NoCompatibleArtifact,
)
from micro_thoth.models import DirectReference, Hash, Pin, Source, Target
from micro_thoth.reporting import Reporter
from tests.support.builder import Dist, build_sdist, build_wheel
from tests.support.index_server import IndexFile, LocalIndex

HERE = Target(markers=dict(default_environment()), tags=tuple(sys_tags()))
ELSEWHERE = Target(
    markers={
        "python_version": "2.7",
        "python_full_version": "2.7.18",
        "sys_platform": "win32",
        "platform_machine": "x86",
    },
    tags=Target.parse_tags(["cp27-cp27m-win32"]),
)


def _artifact(index: LocalIndex, entry: IndexFile, *, url: str | None = None) -> Artifact:
    return Artifact(
        filename=entry.filename,
        url=url or f"{index.root}/files/{entry.filename}",
        hashes=(Hash("sha256", entry.sha256),),
        size=len(entry.data),
        index=Source("local", index.url),
    )


def _pin(name: str, *entries: IndexFile, version: str = "1.0") -> Pin:
    return Pin(name=name, version=version, hashes=tuple(Hash("sha256", e.sha256) for e in entries))


def _request(index: LocalIndex, entry: IndexFile, **kwargs: str) -> DownloadRequest:
    return DownloadRequest(
        entry.project, _artifact(index, entry, **kwargs), (Hash("sha256", entry.sha256),)
    )


def _artifacts_in(cache: Cache) -> list[str]:
    root = cache.root / "artifacts-v1"
    return sorted(p.name for p in root.rglob("*") if p.is_file()) if root.exists() else []


def _leftovers(cache: Cache) -> list[str]:
    tmp = cache.root / "tmp"
    return sorted(p.name for p in tmp.iterdir()) if tmp.exists() else []


@pytest.fixture
def cache(tmp_path: Path) -> Cache:
    return Cache(tmp_path / "cache")


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with net.make_client(timeout=10) as client:
        yield client


@pytest.fixture
def release(index: LocalIndex) -> dict[str, IndexFile]:
    """alpha 1.0 as a pure wheel, a wheel for this interpreter, and an sdist; alpha 2.0 too."""
    native = str(next(iter(sys_tags())))
    pure, sdist = index.add(Dist("alpha", "1.0"), sdist=True)
    (specific,) = index.add(Dist("alpha", "1.0", tag=native))
    (newer,) = index.add(Dist("alpha", "2.0"))
    return {"pure": pure, "sdist": sdist, "native": specific, "newer": newer}


def _offered(index: LocalIndex, release: dict[str, IndexFile]) -> list[Artifact]:
    return [_artifact(index, entry) for entry in release.values()]


# -- choosing a file ------------------------------------------------------------
def test_the_wheel_with_the_best_tag_is_chosen(
    index: LocalIndex, release: dict[str, IndexFile]
) -> None:
    pin = _pin("alpha", release["pure"], release["sdist"], release["native"])
    assert (
        choose_artifact(pin, _offered(index, release), HERE).filename == release["native"].filename
    )


def test_only_files_whose_hash_is_locked_count(
    index: LocalIndex, release: dict[str, IndexFile]
) -> None:
    pin = _pin("alpha", release["pure"], release["sdist"])
    assert choose_artifact(pin, _offered(index, release), HERE).filename == release["pure"].filename


def test_files_of_other_versions_are_ignored(
    index: LocalIndex, release: dict[str, IndexFile]
) -> None:
    pin = _pin("alpha", release["sdist"], release["newer"])
    assert (
        choose_artifact(pin, _offered(index, release), HERE).filename == release["sdist"].filename
    )


def test_sdist_when_no_locked_wheel_fits_the_target(
    index: LocalIndex, release: dict[str, IndexFile]
) -> None:
    pin = _pin("alpha", release["pure"], release["sdist"], release["native"])
    assert (
        choose_artifact(pin, _offered(index, release), ELSEWHERE).filename
        == release["sdist"].filename
    )


def test_no_compatible_file_names_target_and_wheel_tags(
    index: LocalIndex, release: dict[str, IndexFile]
) -> None:
    pin = _pin("alpha", release["pure"], release["native"])
    with pytest.raises(NoCompatibleArtifact) as caught:
        choose_artifact(pin, _offered(index, release), ELSEWHERE)
    error = caught.value
    assert (error.name, error.version, error.index) == ("alpha", "1.0", index.url)
    assert "Python 2.7.18 on win32 x86" in str(error)
    assert "py3-none-any" in (error.hint or "") and str(next(iter(sys_tags()))) in (
        error.hint or ""
    )


def test_no_locked_file_at_all_says_so(index: LocalIndex, release: dict[str, IndexFile]) -> None:
    pin = Pin("alpha", "1.0", hashes=(Hash("sha256", "0" * 64),))
    with pytest.raises(NoCompatibleArtifact) as caught:
        choose_artifact(pin, _offered(index, release), HERE)
    assert "none of the 3 files offered for alpha==1.0" in (caught.value.hint or "")  # 2.0's file is not offered for 1.0


def test_files_without_a_comparable_digest_are_a_last_resort(
    index: LocalIndex, release: dict[str, IndexFile]
) -> None:
    md5_only = Artifact(
        release["pure"].filename, "http://x/a.whl", hashes=(Hash("md5", "ab" * 16),)
    )
    pin = _pin("alpha", release["pure"])
    assert choose_artifact(pin, [md5_only], HERE) is md5_only
    assert choose_artifact(pin, [md5_only, *_offered(index, release)], HERE).url.startswith(
        index.root
    )


def test_check_hashes_refuses_entries_without_hashes() -> None:
    vcs = Pin(
        "gamma", None, direct=DirectReference("git", "https://example.invalid/g.git", ref="abc")
    )
    check_hashes([Pin("alpha", "1.0", hashes=(Hash("sha256", "0" * 64),)), vcs])
    with pytest.raises(MissingHashError) as caught:
        check_hashes([vcs, Pin("beta", "2.0")], path="Pipfile.lock")
    assert caught.value.package == "beta" and "Pipfile.lock" in str(caught.value)


# -- downloading ------------------------------------------------------------------
class Recorder(Reporter):
    def __init__(self) -> None:
        self.events: list[tuple[str, ...]] = []
        self.lock = threading.Lock()

    def task_started(self, kind: str, total: int, unit: str = "items") -> None:
        self.events.append(("started", kind, str(total), unit))

    def task_advanced(self, kind: str, amount: int, label: str = "") -> None:
        with self.lock:
            self.events.append(("advanced", kind, str(amount), label))

    def task_grown(self, kind: str, amount: int) -> None:
        self.events.append(("grown", kind, str(amount)))

    def task_finished(self, kind: str) -> None:
        self.events.append(("finished", kind))

    def advanced(self) -> int:
        return sum(int(e[2]) for e in self.events if e[0] == "advanced")


def _several(index: LocalIndex, count: int = 6) -> list[IndexFile]:
    files = []
    for i in range(count):
        blob = os.urandom(200_000 + i)
        files += index.add(Dist(f"pkg{i}", "1.0", files={f"pkg{i}/blob.bin": blob}))
    return files


def test_parallel_download_of_several_files(
    index: LocalIndex, cache: Cache, client: httpx.Client
) -> None:
    entries = _several(index)
    requests = [_request(index, e) for e in entries]
    recorder = Recorder()
    paths = download_all(requests, client=client, cache=cache, reporter=recorder, workers=4)
    assert list(paths) == requests
    for request, entry in zip(requests, entries):
        assert paths[request].read_bytes() == entry.data
        assert paths[request].parent.name == entry.sha256
    total = sum(len(e.data) for e in entries)
    assert recorder.events[0] == ("started", "Downloading", str(total), "bytes")
    assert recorder.advanced() == total and recorder.events[-1] == ("finished", "Downloading")
    assert len(index.requested("/files/")) == len(entries)
    assert _leftovers(cache) == []


def test_each_file_starts_as_soon_as_it_is_known(index: LocalIndex, cache: Cache, client: httpx.Client) -> None:
    """A generator of requests: the first file is downloaded and handed on while the generator
    still waits to produce the second (as an install reads the next page), and the total grows."""
    entries = _several(index, 3)
    requests = [_request(index, e) for e in entries]
    first_ready = threading.Event()
    waited: list[bool] = []

    def produce() -> Iterator[DownloadRequest]:
        yield requests[0]
        waited.append(first_ready.wait(timeout=30))  # never set if downloads waited for the generator
        yield from requests[1:]

    recorder = Recorder()
    paths = download_all(produce(), client=client, cache=cache, reporter=recorder, workers=2,
                         on_ready=lambda path: first_ready.set())
    assert waited == [True] and list(paths) == requests
    assert all(paths[r].read_bytes() == e.data for r, e in zip(requests, entries))
    started = [e for e in recorder.events if e[0] in ("started", "grown")]
    assert started[0] == ("started", "Downloading", str(len(entries[0].data)), "bytes")
    assert sum(int(e[2]) for e in started) == sum(len(e.data) for e in entries) == recorder.advanced()


def test_a_failing_generator_stops_the_downloads_and_leaves_nothing(
    index: LocalIndex, cache: Cache, client: httpx.Client
) -> None:
    entries = _several(index, 2)
    requests = [_request(index, e) for e in entries]

    def produce() -> Iterator[DownloadRequest]:
        yield requests[0]
        raise NoCompatibleArtifact("pkg1", "1.0", index="i", target="t", hint="h")

    recorder = Recorder()
    with pytest.raises(NoCompatibleArtifact):
        download_all(produce(), client=client, cache=cache, reporter=recorder)
    assert recorder.events[-1] == ("finished", "Downloading") and _leftovers(cache) == []


def test_cache_hit_makes_no_request(index: LocalIndex, cache: Cache, client: httpx.Client) -> None:
    entries = _several(index, 3)
    requests = [_request(index, e) for e in entries]
    first = download_all(requests, client=client, cache=cache)
    before = list(index.requests)
    recorder = Recorder()
    again = download_all(requests, client=client, cache=cache, reporter=recorder)
    assert again == first and index.requests == before and recorder.events == []


def test_a_client_factory_is_called_only_for_a_download(index: LocalIndex, cache: Cache, client: httpx.Client) -> None:
    """A warm install passes how to make the client: with every file cached, no client (and no TLS
    context) is made; with a miss, it is made once it is needed."""
    entries = _several(index, 2)
    requests = [_request(index, e) for e in entries]
    made: list[httpx.Client] = []

    def factory() -> httpx.Client:
        made.append(client)
        return client

    first = download_all(requests[:1], client=deferred_client(factory, IndexAuth()), cache=cache)
    assert made and first[requests[0]].read_bytes() == entries[0].data
    made.clear()
    again = download_all(requests[:1], client=deferred_client(factory, IndexAuth()), cache=cache)
    assert again == first and made == []
    both = download_all(requests, client=deferred_client(factory, IndexAuth()), cache=cache)
    assert made and both[requests[1]].read_bytes() == entries[1].data


def test_unknown_sizes_are_reported_as_items(
    index: LocalIndex, cache: Cache, client: httpx.Client
) -> None:
    (entry,) = index.add(Dist("alpha", "1.0"))
    artifact = Artifact(entry.filename, f"{index.root}/files/{entry.filename}", hashes=())
    recorder = Recorder()
    download_all(
        [DownloadRequest("alpha", artifact, (Hash("sha256", entry.sha256),))],
        client=client,
        cache=cache,
        reporter=recorder,
    )
    assert recorder.events == [
        ("started", "Downloading", "1", "items"),
        ("advanced", "Downloading", "1", entry.filename),
        ("finished", "Downloading"),
    ]


def test_tampered_file_is_refused_and_not_cached(
    index: LocalIndex, cache: Cache, client: httpx.Client
) -> None:
    (entry,) = index.add(Dist("alpha", "1.0"))
    request = _request(index, entry)
    expected = f"sha256:{entry.sha256}"
    index.tamper(entry.filename)
    with pytest.raises(DigestMismatch) as caught:
        download_all([request], client=client, cache=cache)
    error = caught.value
    assert (error.package, error.filename, error.index) == ("alpha", entry.filename, index.url)
    assert error.expected == (expected,) and error.actual == f"sha256:{entry.sha256}"
    assert entry.sha256 != expected.split(":")[1]
    assert _artifacts_in(cache) == [] and _leftovers(cache) == []


def test_one_bad_file_cancels_the_rest_and_leaves_no_partial_file(
    index: LocalIndex, cache: Cache, client: httpx.Client
) -> None:
    entries = _several(index, 8)
    requests = [_request(index, e) for e in entries]
    index.tamper(entries[0].filename)
    with pytest.raises(DigestMismatch):
        download_all(requests, client=client, cache=cache, workers=2)
    assert _leftovers(cache) == []
    for path in (cache.root / "artifacts-v1").rglob("*.whl"):
        assert path.parent.name in {e.sha256 for e in entries[1:]}


def test_503_then_success(index: LocalIndex, cache: Cache, client: httpx.Client) -> None:
    (entry,) = index.add(Dist("alpha", "1.0"))
    index.fail_next[f"/files/{entry.filename}"] = 2
    paths = download_all([_request(index, entry)], client=client, cache=cache, backoff=0.01)
    assert next(iter(paths.values())).read_bytes() == entry.data
    assert len(index.requested(f"/files/{entry.filename}")) == 3


def test_missing_file_is_an_unreachable_index(
    index: LocalIndex, cache: Cache, client: httpx.Client
) -> None:
    (entry,) = index.add(Dist("alpha", "1.0"))
    request = _request(index, entry, url=f"{index.root}/files/nope.whl")
    with pytest.raises(IndexUnreachable) as caught:
        download_all([request], client=client, cache=cache)
    assert "404" in caught.value.reason and _leftovers(cache) == []


def test_credentials_never_appear_in_errors(
    index_factory: type[LocalIndex], cache: Cache, client: httpx.Client
) -> None:
    index = index_factory(username="user", password="s3cret")
    (entry,) = index.add(Dist("alpha", "1.0"))
    authed = index.url_with_auth()
    artifact = Artifact(
        entry.filename,
        f"{authed.removesuffix('/simple/')}/files/{entry.filename}",
        hashes=(Hash("sha256", entry.sha256),),
        index=Source("private", authed),
    )
    request = DownloadRequest("alpha", artifact, (Hash("sha256", entry.sha256),))
    index.tamper(entry.filename)
    with pytest.raises(DigestMismatch) as caught:
        download_all([request], client=client, cache=cache)
    assert "s3cret" not in str(caught.value) and "****" in (caught.value.index or "")
    missing = DownloadRequest(
        "alpha", Artifact("a-1.0.tar.gz", artifact.url + "x", index=artifact.index), request.allowed
    )
    with pytest.raises(IndexUnreachable) as unreachable:
        download_all([missing], client=client, cache=cache)
    assert "s3cret" not in str(unreachable.value) and "s3cret" not in repr(unreachable.value.args)


def test_file_urls_are_copied_and_verified(
    tmp_path: Path, cache: Cache, client: httpx.Client
) -> None:
    dist = Dist("alpha", "1.0")
    data = build_wheel(dist)
    local = tmp_path / dist.wheel_filename
    local.write_bytes(data)
    entry = IndexFile("alpha", dist.wheel_filename, data)
    request = DownloadRequest(
        "alpha", Artifact(local.name, local.as_uri()), (Hash("sha256", entry.sha256),)
    )
    (path,) = download_all([request], client=client, cache=cache).values()
    assert path.read_bytes() == data and path != local
    local.write_bytes(data + b"x")
    other = Cache(tmp_path / "other")
    with pytest.raises(DigestMismatch):
        download_all([request], client=client, cache=other)
    assert _artifacts_in(other) == [] and _leftovers(other) == []
    gone = DownloadRequest(
        "alpha", Artifact("x.whl", (tmp_path / "x.whl").as_uri()), request.allowed
    )
    with pytest.raises(IndexUnreachable):
        download_all([gone], client=client, cache=other)


def test_requests_without_hashes_are_refused_before_any_download(
    index: LocalIndex, cache: Cache, client: httpx.Client
) -> None:
    entries = _several(index, 2)
    unhashed = DownloadRequest("pkg1", _artifact(index, entries[1]), ())
    with pytest.raises(MissingHashError):
        download_all([_request(index, entries[0]), unhashed], client=client, cache=cache)
    assert index.requests == [] and _artifacts_in(cache) == []


def test_warm_install_chooses_from_the_cache_alone(
    index: LocalIndex, release: dict[str, IndexFile], cache: Cache, client: httpx.Client
) -> None:
    pin = _pin("alpha", release["pure"], release["sdist"], release["native"])
    chosen = choose_artifact(pin, _offered(index, release), HERE)
    download_all([DownloadRequest("alpha", chosen, pin.hashes)], client=client, cache=cache)
    index.close()
    offline = choose_artifact(pin, cached_artifacts(cache, pin), HERE)
    assert offline.filename == chosen.filename and offline.url.startswith("file:")
    (path,) = download_all(
        [DownloadRequest("alpha", offline, pin.hashes)], client=client, cache=cache
    ).values()
    assert path.read_bytes() == release["native"].data


# -- servers that misbehave mid-body --------------------------------------------------
class FileServer:
    """Serves files by name; cuts the first ``drops`` responses off after half the bytes,
    and holds the second half of every file back until ``gate`` is set."""

    def __init__(
        self, files: dict[str, bytes], *, drops: int = 0, headers: dict[str, str] | None = None
    ) -> None:
        self.files, self.drops, self.hits = files, drops, 0
        self.headers = headers or {}
        self.gate = threading.Event()
        self.gate.set()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                outer.hits += 1
                data = outer.files[self.path.rsplit("/", 1)[1]]
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                for key, value in outer.headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data[: len(data) // 2])
                self.wfile.flush()
                if outer.hits <= outer.drops:
                    self.close_connection = True
                    return
                outer.gate.wait(10)
                self.wfile.write(data[len(data) // 2 :])

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, filename: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/files/{filename}"

    def request(self, filename: str) -> DownloadRequest:
        data = self.files[filename]
        digest = Hash("sha256", IndexFile("x", filename, data).sha256)
        return DownloadRequest(
            filename.split("-")[0],
            Artifact(filename, self.url(filename), size=len(data)),
            (digest,),
        )

    def close(self) -> None:
        self.gate.set()
        self.server.shutdown()
        self.server.server_close()


def _big_wheel(name: str) -> tuple[str, bytes]:
    dist = Dist(name, "1.0", files={f"{name}/blob.bin": os.urandom(300_000)})
    return dist.wheel_filename, build_wheel(dist)


@pytest.mark.parametrize(("drops", "succeeds"), [(1, True), (10, False)])
def test_connection_dropped_mid_body(
    cache: Cache, client: httpx.Client, drops: int, succeeds: bool
) -> None:
    filename, data = _big_wheel("alpha")
    server = FileServer({filename: data}, drops=drops)
    recorder = Recorder()
    try:
        if succeeds:
            (path,) = download_all(
                [server.request(filename)],
                client=client,
                cache=cache,
                reporter=recorder,
                backoff=0.01,
            ).values()
            assert path.read_bytes() == data and server.hits == 2
            assert recorder.advanced() == len(data)  # the restarted half is not counted twice
        else:
            with pytest.raises(IndexUnreachable):
                download_all(
                    [server.request(filename)], client=client, cache=cache, retries=2, backoff=0.01
                )
            assert server.hits == 3
    finally:
        server.close()
    assert _artifacts_in(cache) == [] if not succeeds else len(_artifacts_in(cache)) == 1
    assert _leftovers(cache) == []


class Interrupting(Recorder):
    """Ctrl-C arrives while ``victim`` streams; the other downloads are stalled mid-body
    until shortly after, so they are in flight when the interrupt lands."""

    def __init__(self, victim: str, gate: threading.Event) -> None:
        super().__init__()
        self.victim, self.gate = victim, gate

    def task_advanced(self, kind: str, amount: int, label: str = "") -> None:
        super().task_advanced(kind, amount, label)
        if label == self.victim:
            threading.Timer(0.5, self.gate.set).start()
            raise KeyboardInterrupt


def test_interrupted_download_stops_the_others_and_leaves_no_partial_file(
    cache: Cache, client: httpx.Client
) -> None:
    files = dict(_big_wheel(name) for name in ("alpha", "beta", "gamma", "delta"))
    server = FileServer(files)
    server.gate.clear()
    victim = next(iter(files))
    try:
        with pytest.raises(KeyboardInterrupt):
            download_all(
                [server.request(name) for name in files],
                client=client,
                cache=cache,
                reporter=Interrupting(victim, server.gate),
                workers=4,
            )
    finally:
        server.close()
    assert _artifacts_in(cache) == [] and _leftovers(cache) == []


def test_bytes_are_hashed_as_stored_even_when_labelled_gzip(
    cache: Cache, client: httpx.Client
) -> None:
    dist = Dist("alpha", "1.0")
    data = build_sdist(dist)
    server = FileServer({dist.sdist_filename: data}, headers={"Content-Encoding": "gzip"})
    try:
        (path,) = download_all(
            [server.request(dist.sdist_filename)], client=client, cache=cache
        ).values()
    finally:
        server.close()
    assert path.read_bytes() == data
