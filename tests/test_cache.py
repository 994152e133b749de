"""The on-disk cache: where it lives, atomic and race-safe writes, lookups by digest."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from micro_thoth.cache import Cache, default_root
from micro_thoth.models import Hash, Target


def _temp_with(cache: Cache, data: bytes) -> Path:
    """A file in the cache's tmp/ holding ``data`` (what a download leaves before publishing)."""
    with cache.temp_file() as path:
        path.write_bytes(data)
        kept = path.with_name(path.name + ".kept")
        os.replace(path, kept)
    return kept


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _tmp_entries(cache: Cache) -> list[str]:
    tmp = cache.root / "tmp"
    return sorted(p.name for p in tmp.iterdir()) if tmp.exists() else []


# -- where the cache lives ------------------------------------------------------
def test_cache_dir_flag_wins_over_the_environment(tmp_path: Path) -> None:
    environ = {"THOTH_PIP_CACHE_DIR": "/a", "PIPENV_CACHE_DIR": "/b"}
    assert default_root(environ, str(tmp_path / "flag")) == tmp_path / "flag"


def test_thoth_variable_wins_over_pipenv_variable() -> None:
    assert default_root({"THOTH_PIP_CACHE_DIR": "/a", "PIPENV_CACHE_DIR": "/b"}) == Path("/a")


def test_pipenv_cache_dir_gets_a_subdirectory_of_its_own() -> None:
    assert default_root({"PIPENV_CACHE_DIR": "/b"}) == Path("/b/thoth-pip")


def test_platform_default_follows_xdg_cache_home(isolated: Path) -> None:
    assert default_root({}) == isolated / ".cache" / "thoth-pip"


def test_default_reads_the_given_environment(tmp_path: Path) -> None:
    assert Cache.default({"THOTH_PIP_CACHE_DIR": str(tmp_path)}).root == tmp_path
    assert Cache.default(None).root == Path(os.environ["THOTH_PIP_CACHE_DIR"])


# -- artifacts ----------------------------------------------------------------
def test_added_artifact_is_found_by_any_of_its_allowed_hashes(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "c")
    data = b"wheel bytes"
    path = cache.add_artifact(_temp_with(cache, data), _sha(data), "a-1.0-py3-none-any.whl")
    assert (
        path == cache.root / "artifacts-v1" / _sha(data)[:2] / _sha(data) / "a-1.0-py3-none-any.whl"
    )
    assert path.read_bytes() == data
    allowed = [Hash("sha256", "0" * 64), Hash("md5", "ab" * 16), Hash("sha256", _sha(data))]
    assert cache.find_artifact(allowed) == path
    assert cache.find_artifact(allowed, filename="a-1.0.tar.gz") is None
    assert cache.find_artifact([Hash("sha256", "0" * 64)]) is None
    assert _tmp_entries(cache) == []
    assert (
        (cache.root / "CACHEDIR.TAG")
        .read_text()
        .startswith("Signature: 8a477f597d28d172789f06886806bc55")
    )


def test_second_writer_keeps_the_first_file(tmp_path: Path) -> None:
    cache = Cache(tmp_path)
    data = b"same"
    first = cache.add_artifact(_temp_with(cache, data), _sha(data), "f.whl")
    stamp = first.stat().st_ino
    second_temp = _temp_with(cache, data)
    assert cache.add_artifact(second_temp, _sha(data), "f.whl") == first
    assert first.stat().st_ino == stamp
    assert not second_temp.exists()


@pytest.mark.parametrize("name", ["../evil.whl", "a/b.whl", "..", ""])
def test_file_names_cannot_escape_the_bucket(tmp_path: Path, name: str) -> None:
    cache = Cache(tmp_path)
    with pytest.raises(ValueError):
        cache.add_artifact(_temp_with(cache, b"x"), _sha(b"x"), name)


def test_digest_must_be_sha256_hex(tmp_path: Path) -> None:
    cache = Cache(tmp_path)
    with pytest.raises(ValueError):
        cache.add_artifact(_temp_with(cache, b"x"), "../../etc", "x.whl")
    assert cache.find_artifact([Hash("sha256", "../..")]) is None


def test_threads_adding_the_same_artifact_all_get_one_complete_file(tmp_path: Path) -> None:
    cache = Cache(tmp_path)
    data = os.urandom(1 << 20)
    temps = [_temp_with(cache, data) for _ in range(8)]
    barrier = threading.Barrier(len(temps))
    results: list[Path] = []

    def add(temp: Path) -> None:
        barrier.wait()
        results.append(cache.add_artifact(temp, _sha(data), "big.whl"))

    threads = [threading.Thread(target=add, args=(t,)) for t in temps]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(results)) == 1 and results[0].read_bytes() == data
    assert _tmp_entries(cache) == []


_RACER = textwrap.dedent(
    """
    import hashlib, os, random, sys
    from micro_thoth.cache import Cache
    cache = Cache(sys.argv[1])
    order = list(range(40))
    random.shuffle(order)
    for i in order:
        data = (b"artifact %d " % i) * 5000
        with cache.temp_file() as temp:
            temp.write_bytes(data)
            path = cache.add_artifact(temp, hashlib.sha256(data).hexdigest(), f"p{i}-1.0.tar.gz")
        assert path.read_bytes() == data, path
    """
)


def test_processes_adding_the_same_artifacts_concurrently(tmp_path: Path) -> None:
    root = tmp_path / "shared"
    procs = [
        subprocess.Popen([sys.executable, "-c", _RACER, str(root)], env=dict(os.environ))
        for _ in range(4)
    ]
    assert [p.wait(timeout=60) for p in procs] == [0, 0, 0, 0]
    cache = Cache(root)
    for i in range(40):
        data = (b"artifact %d " % i) * 5000
        found = cache.find_artifact([Hash("sha256", _sha(data))])
        assert found is not None and found.read_bytes() == data
    assert _tmp_entries(cache) == []


# -- temporary files ------------------------------------------------------------
@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_temp_file_is_removed_when_the_writer_is_interrupted(
    tmp_path: Path, error: type[BaseException]
) -> None:
    cache = Cache(tmp_path)
    with pytest.raises(error), cache.temp_file(suffix=".part") as temp:
        temp.write_bytes(b"half a wheel")
        raise error()
    assert not temp.exists()
    assert _tmp_entries(cache) == []


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_temp_dir_is_removed_with_its_contents(tmp_path: Path, error: type[BaseException]) -> None:
    cache = Cache(tmp_path)
    with pytest.raises(error), cache.temp_dir() as temp:
        (temp / "pkg").mkdir()
        (temp / "pkg" / "mod.py").write_text("x = 1\n")
        raise error()
    assert _tmp_entries(cache) == []


def test_leftovers_of_dead_processes_are_swept_once_stale(tmp_path: Path) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    old = os.path.getmtime(tmp) - 2 * 86400
    for name, age in [
        (f"{dead.pid}-old.part", old),
        (f"{dead.pid}-new.part", None),
        (f"{os.getpid()}-mine", old),
    ]:
        (tmp / name).write_bytes(b"x")
        if age is not None:
            os.utime(tmp / name, (age, age))
    (tmp / f"{dead.pid}-olddir").mkdir()
    os.utime(tmp / f"{dead.pid}-olddir", (old, old))
    with Cache(tmp_path).temp_file() as current:
        assert current.exists()
        assert sorted(p.name for p in tmp.iterdir()) == sorted(
            [f"{dead.pid}-new.part", f"{os.getpid()}-mine", current.name]
        )


# -- built and unpacked wheels ----------------------------------------------------
def _target(*tags: str) -> Target:
    return Target(markers={"python_version": "3.11"}, tags=Target.parse_tags(tags))


def test_built_wheel_is_chosen_for_the_target(tmp_path: Path) -> None:
    cache = Cache(tmp_path)
    sdist = _sha(b"sdist")
    for name in ("c-1.0-cp39-cp39-linux_x86_64.whl", "c-1.0-cp311-cp311-linux_x86_64.whl"):
        wheel = tmp_path / name
        wheel.write_bytes(name.encode())
        assert cache.add_built_wheel(sdist, wheel).read_bytes() == name.encode()
        assert not wheel.exists()
    best = cache.built_wheel(sdist, _target("cp311-cp311-linux_x86_64", "cp39-cp39-linux_x86_64"))
    assert best is not None and best.name == "c-1.0-cp311-cp311-linux_x86_64.whl"
    assert cache.built_wheel(sdist, _target("cp312-cp312-linux_x86_64")) is None
    assert cache.built_wheel(sdist) is not None
    assert cache.built_wheel(_sha(b"other")) is None


def test_unpacked_tree_appears_at_once_and_the_first_writer_wins(tmp_path: Path) -> None:
    cache = Cache(tmp_path)
    wheel_sha = _sha(b"wheel")

    def fill(text: str):
        def write(directory: Path) -> None:
            (directory / "pkg").mkdir()
            (directory / "pkg" / "__init__.py").write_text(text)

        return write

    def racing(directory: Path) -> None:
        cache.add_unpacked(wheel_sha, fill("first"))  # another process finishes meanwhile
        fill("second")(directory)

    winner = cache.add_unpacked(wheel_sha, racing)
    assert cache.unpacked(wheel_sha) == winner
    assert (winner / "pkg" / "__init__.py").read_text() == "first"
    assert cache.add_unpacked(wheel_sha, fill("third")) == winner
    assert (winner / "pkg" / "__init__.py").read_text() == "first"
    assert _tmp_entries(cache) == []


def test_failed_unpack_leaves_nothing(tmp_path: Path) -> None:
    cache = Cache(tmp_path)

    def broken(directory: Path) -> None:
        (directory / "half").write_text("x")
        raise OSError("disk full")

    with pytest.raises(OSError):
        cache.add_unpacked(_sha(b"w"), broken)
    assert cache.unpacked(_sha(b"w")) is None
    assert _tmp_entries(cache) == []


# -- maintenance ------------------------------------------------------------------
def test_clear_removes_our_buckets_and_keeps_foreign_files(tmp_path: Path) -> None:
    cache = Cache(tmp_path)
    cache.add_artifact(_temp_with(cache, b"a"), _sha(b"a"), "a.whl")
    cache.metadata_db.write_bytes(b"sqlite")
    (tmp_path / "metadata-v1.sqlite-wal").write_bytes(b"wal")
    (tmp_path / "pip-default-index-v1.json").write_text("{}")
    (tmp_path / "interpreters-v1").mkdir()
    (cache.bucket("pages-v1") / "x").write_text("page")
    (tmp_path / "http").mkdir()
    (tmp_path / "notes.txt").write_text("mine")
    assert cache.size() > 0
    cache.clear()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["http", "notes.txt"]
    assert cache.find_artifact([Hash("sha256", _sha(b"a"))]) is None
    Cache(tmp_path / "missing").clear()


def test_size_counts_the_bytes_of_every_file(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "c")
    assert cache.size() == 0
    cache.add_artifact(_temp_with(cache, b"x" * 1000), _sha(b"x" * 1000), "x.whl")
    cache.add_artifact(_temp_with(cache, b"y" * 500), _sha(b"y" * 500), "y.whl")
    tag = len((cache.root / "CACHEDIR.TAG").read_bytes())
    assert cache.size() == 1500 + tag


def test_bucket_names_must_be_versioned(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        Cache(tmp_path).bucket("pages")
