"""ABI at lock and check time: a release whose wheel needs a symbol version the target lacks is refused."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path
from types import SimpleNamespace

import pytest
from packaging import tags

from micro_thoth.knowledge import abi
from tests.server.conftest import Backend, backend_factory, free_port, tls  # noqa: F401 - fixtures
from tests.support.builder import Dist
from tests.support.elf import ElfKit
from tests.support.index_server import LocalIndex

NEW = {"GLIBCXX_3.4": ["old_fn"], "GLIBCXX_3.4.30": ["new_fn"]}
TAG = str(next(iter(tags.sys_tags())))  # a platform tag this interpreter installs: the wheels must fit it


@pytest.fixture
def native(tmp_path: Path, index: LocalIndex) -> tuple[LocalIndex, Path]:
    """``native`` 1.0 needs GLIBCXX_3.4, 2.0 needs GLIBCXX_3.4.30; a target root whose libstdc++ has only the first."""
    kit = ElfKit(tmp_path / "elf")
    new = kit.library("libstdc++.so.6", NEW)
    index.add(Dist("native", "1.0", tag=TAG, files={"native/_ext.so": kit.user("old.so", new, ["old_fn"])}))
    index.add(Dist("native", "2.0", tag=TAG, files={"native/_ext.so": kit.user("new.so", new, ["new_fn"])}))
    root = tmp_path / "image"
    kit.library("libstdc++.so.6", {"GLIBCXX_3.4": ["old_fn"]}, subdir=str(root / "usr/lib64"))
    return index, root


def _project(tmp_path: Path, index: LocalIndex, thoth_yaml: str = "") -> Path:
    app = tmp_path / "app"
    app.mkdir()
    (app / "Pipfile").write_text(
        f'[[source]]\nurl = "{index.url}"\nverify_ssl = false\nname = "local"\n\n[packages]\nnative = "*"\n'
    )
    if thoth_yaml:
        (app / ".thoth.yaml").write_text(thoth_yaml)
    return app


def _locked(app: Path) -> str:
    return str(json.loads((app / "Pipfile.lock").read_text())["default"]["native"]["version"])


def test_lock_for_a_target_root_refuses_the_newest_and_says_why(native, tmp_path, thoth) -> None:
    index, root = native
    app = _project(tmp_path, index)
    result = thoth("lock", "-C", str(app), "--target-root", str(root))
    assert result.code == 0, result.err
    assert _locked(app) == "==1.0"
    assert "native 2.0: refused" in result.err and "GLIBCXX_3.4.30" in result.err
    assert "newest GLIBCXX is GLIBCXX_3.4" in result.err and TAG in result.err  # names the wheel and what the target has
    assert any("Range" in r or "GET /files" in r for r in index.requests)


def test_facts_are_read_once_by_digest(native, tmp_path, thoth) -> None:
    index, root = native
    app = _project(tmp_path, index)
    assert thoth("lock", "-C", str(app), "--target-root", str(root)).code == 0
    wheel = f"native-2.0-{TAG}.whl"
    first = len(index.requested(wheel))
    assert first > 0
    (app / "Pipfile.lock").unlink()
    assert thoth("lock", "-C", str(app), "--target-root", str(root), "--json").code == 0
    assert len(index.requested(wheel)) == first  # the second lock asked the store, not the index


def test_knowledge_export_carries_the_facts_to_another_machine(native, tmp_path, thoth, monkeypatch) -> None:
    index, root = native
    index.ranges = False  # whole downloads, verified against the page's digests: facts a bundle may carry
    app = _project(tmp_path, index)
    assert thoth("lock", "-C", str(app), "--target-root", str(root)).code == 0
    wheel = f"native-2.0-{TAG}.whl"
    def wheel_reads() -> int:  # the wheel itself (its ELF members), not its .metadata file
        return len([r for r in index.requested(wheel) if not r.endswith(".metadata")])

    read = wheel_reads()
    assert read > 0
    bundle = tmp_path / "knowledge.zip"
    exported = thoth("knowledge", "export", str(bundle), "--json")
    assert exported.code == 0 and exported.json()["wheel_abi"] == 2, exported.err  # 2.0 refused, 1.0 taken
    monkeypatch.setenv("THOTH_PIP_CACHE_DIR", str(tmp_path / "another-cache"))  # another machine
    monkeypatch.setenv("THOTH_PIP_KNOWLEDGE_DIR", str(tmp_path / "another-knowledge"))
    imported = thoth("knowledge", "import", str(bundle))
    assert imported.code == 0 and "ABI facts of 2 wheels" in imported.err, imported.err
    (app / "Pipfile.lock").unlink()
    result = thoth("lock", "-C", str(app), "--target-root", str(root))
    assert result.code == 0 and _locked(app) == "==1.0" and "GLIBCXX_3.4.30" in result.err, result.err
    assert wheel_reads() == read  # judged from the imported facts, not the wheel


def test_a_full_temporary_disk_is_an_error_naming_the_wheel(native, tmp_path, thoth, monkeypatch) -> None:
    """A member whose ELF tables lie past what the reader keeps is spooled to a temporary file: ENOSPC there
    is an error naming the wheel and the cause (not an internal error, not a wheel silently judged as
    running); no lock is written and no facts are kept, so the next lock reads the wheel again."""
    index, _root = native
    app = _project(tmp_path, index, "runtime_environments:\n- name: old-image\n  abi_symbols: [GLIBCXX_3.4, GLIBC_2.17]\n")

    def full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(abi, "KEEP_BYTES", 0)  # every ELF member goes through the spool
    monkeypatch.setattr(abi, "tempfile", SimpleNamespace(TemporaryFile=full))
    for args in ((), ("--json",)):
        result = thoth("lock", "-C", str(app), *args)
        assert result.code == 1, result.err
        said = result.json()["error"]["message"] if args else result.err
        assert f"native-2.0-{TAG}.whl" in said and os.strerror(errno.ENOSPC) in said, said
        assert "internal error" not in result.err + result.out and "Traceback" not in result.err
        assert not (app / "Pipfile.lock").exists()
    monkeypatch.undo()
    result = thoth("lock", "-C", str(app))
    assert result.code == 0 and _locked(app) == "==1.0", result.err  # 2.0's facts were not kept as "runs"


def test_facts_from_range_requests_are_kept_apart_until_read_from_verified_bytes(native, tmp_path, thoth) -> None:
    """Bytes fetched by range requests are not checked against the pin's digest (only a whole file can
    be): their facts serve this machine's locks, but are not kept under the digest as verified, so a
    bundle never carries them; once the wheel is downloaded (verified, cached), they are read again from it."""
    index, root = native
    app = _project(tmp_path, index)
    assert thoth("lock", "-C", str(app), "--target-root", str(root)).code == 0
    assert index.ranges and index.requested(f"native-2.0-{TAG}.whl")  # read by range requests
    assert thoth("knowledge", "export", str(tmp_path / "k1.zip"), "--json").json()["wheel_abi"] == 0
    requests = len(index.requests)
    (app / "Pipfile.lock").unlink()
    assert thoth("lock", "-C", str(app), "--target-root", str(root)).code == 0
    assert [r for r in index.requests[requests:] if ".whl" in r] == []  # still read once, by digest
    assert thoth("install", "--deploy", "-C", str(app)).code == 0  # 1.0 downloaded, verified, cached
    (app / "Pipfile.lock").unlink()
    result = thoth("lock", "-C", str(app), "--target-root", str(root))
    assert result.code == 0 and _locked(app) == "==1.0", result.err
    assert thoth("knowledge", "export", str(tmp_path / "k2.zip"), "--json").json()["wheel_abi"] == 1  # 1.0's


def test_a_bundle_with_bad_abi_facts_is_refused_naming_the_entry(tmp_path, thoth) -> None:
    import zipfile

    bundle = tmp_path / "bad.zip"
    with zipfile.ZipFile(bundle, "w") as zf:
        zf.writestr("knowledge.json", json.dumps({"format": "thoth-pip-knowledge", "version": 1, "wheel_abi": {"a" * 64: {"members": [1]}}}))
    result = thoth("knowledge", "import", str(bundle))
    assert result.code != 0 and f"wheel_abi.{'a' * 64}" in result.err and "Traceback" not in result.err, result.err


def test_thoth_yaml_states_the_symbols(native, tmp_path, thoth) -> None:
    index, _root = native
    app = _project(tmp_path, index, "runtime_environments:\n- name: old-image\n  abi_symbols: [GLIBCXX_3.4, GLIBC_2.17]\n")
    result = thoth("lock", "-C", str(app), "--json")
    assert result.code == 0, result.err
    assert _locked(app) == "==1.0"
    said = [j["message"] for j in result.json()["justifications"]]
    assert any("GLIBCXX_3.4.30" in m for m in said)


def test_a_target_with_the_symbols_gets_the_newest(native, tmp_path, thoth) -> None:
    index, _root = native
    app = _project(tmp_path, index, "runtime_environments:\n- name: new-image\n  abi_symbols: [GLIBCXX_3.4, GLIBCXX_3.4.30]\n")
    assert thoth("lock", "-C", str(app)).code == 0
    assert _locked(app) == "==2.0"


def test_only_the_release_tried_is_read(native, tmp_path, thoth) -> None:
    """Ordering the projects (how many candidates each has) reads no wheel: 1.0 is never tried."""
    index, _root = native
    index.add(Dist("pure", "1.0"))
    app = _project(tmp_path, index, "runtime_environments:\n- name: new-image\n  abi_symbols: [GLIBCXX_3.4, GLIBCXX_3.4.30]\n")
    (app / "Pipfile").write_text((app / "Pipfile").read_text() + 'pure = "*"\n')
    assert thoth("lock", "-C", str(app)).code == 0
    assert _locked(app) == "==2.0"
    assert index.requested(f"native-2.0-{TAG}.whl")
    assert not index.requested(f"native-1.0-{TAG}.whl")


def test_only_the_wheels_that_cannot_run_are_left_out(tmp_path, index, thoth) -> None:
    """As pip judges tags, file by file: 2.0's best wheel needs GLIBCXX_3.4.30, its next one does not,
    so 2.0 is locked without the first wheel's hash and installed from the second."""
    kit = ElfKit(tmp_path / "elf")
    new = kit.library("libstdc++.so.6", NEW)
    second = str(list(tags.sys_tags())[1])
    old_ext = kit.user("old.so", new, ["old_fn"])
    index.add(Dist("native", "1.0", tag=TAG, files={"native/_ext.so": old_ext}))
    (best,) = index.add(Dist("native", "2.0", tag=TAG, files={"native/_ext.so": kit.user("new.so", new, ["new_fn"])}))
    (runs,) = index.add(Dist("native", "2.0", tag=second, files={"native/_ext.so": old_ext}))
    app = _project(tmp_path, index, "runtime_environments:\n- name: old-image\n  abi_symbols: [GLIBCXX_3.4, GLIBC_2.17]\n")
    result = thoth("lock", "-C", str(app))
    assert result.code == 0, result.err
    entry = json.loads((app / "Pipfile.lock").read_text())["default"]["native"]
    assert entry["version"] == "==2.0"
    assert entry["hashes"] == [f"sha256:{runs.sha256}"]  # not best's
    assert "GLIBCXX_3.4.30" in result.err and f"leaves out {best.filename}" in result.err and runs.filename in result.err
    assert thoth("install", "--deploy", "-C", str(app)).code == 0
    wheel = next((app / ".venv").glob("lib/python*/site-packages/native-2.0.dist-info/WHEEL")).read_text()
    assert f"Tag: {second}" in wheel


def test_check_flags_an_installed_wheel_needing_a_missing_symbol(native, tmp_path, thoth) -> None:
    index, _root = native
    app = _project(tmp_path, index, "runtime_environments:\n- name: new-image\n  abi_symbols: [GLIBCXX_3.4, GLIBCXX_3.4.30]\n")
    assert thoth("install", "-C", str(app)).code == 0
    assert thoth("check", "-C", str(app)).code == 0
    (app / ".thoth.yaml").write_text("runtime_environments:\n- name: old-image\n  abi_symbols: [GLIBCXX_3.4]\n")
    result = thoth("check", "-C", str(app), "--json")
    assert result.code == 1
    (problem,) = [p for p in result.json()["problems"] if p["kind"] == "abi"]
    assert "native/_ext.so" in problem["message"] and "GLIBCXX_3.4.30" in problem["message"]


@pytest.fixture
def backend(backend_factory) -> Backend:  # noqa: F811 - the imported fixture
    return backend_factory("--resolver", "micro_thoth.pipeline.advise:advise_request")  # type: ignore[no-any-return]


def test_a_backend_judges_with_the_clients_symbols(native, backend, tmp_path, thoth) -> None:
    index, _root = native
    app = _project(tmp_path, index, "runtime_environments:\n- name: old-image\n  abi_symbols: [GLIBCXX_3.4]\n")
    result = thoth("lock", "--backend", backend.url, "-C", str(app))
    assert result.code == 0, result.err
    assert _locked(app) == "==1.0"  # the backend's own libstdc++ would have allowed 2.0


@pytest.mark.parametrize("ranges", [True, False], ids=["range-reads", "whole-download"])
def test_an_unreadable_wheel_is_locked_unchecked_with_a_warning(native, tmp_path, thoth, ranges) -> None:
    """2.0's wheel on the index is not a readable zip (a truncated upload, its digest listed as served):
    its ABI is unknown, not "runs". The lock goes on as pip would lock it (a corrupt file on an index
    must not block every lock), but plain output and ``--json`` say so, naming the wheel, the package and
    why; nothing is kept, so the next lock reads the wheel again (and says so again)."""
    index, _root = native
    index.ranges = ranges
    wheel = f"native-2.0-{TAG}.whl"
    entry = index.find(wheel)
    entry.data = entry.data[: len(entry.data) // 2]  # the page lists this digest: the bytes verify
    app = _project(tmp_path, index, "runtime_environments:\n- name: old-image\n  abi_symbols: [GLIBCXX_3.4, GLIBC_2.17]\n")
    result = thoth("lock", "-C", str(app))
    assert result.code == 0 and _locked(app) == "==2.0", result.err  # tags say it fits: pip's choice
    assert f"warning: native 2.0: ABI not checked: {wheel}" in result.err and "not a readable wheel" in result.err, result.err
    reads = len(index.requested(wheel))
    (app / "Pipfile.lock").unlink()
    result = thoth("lock", "-C", str(app), "--json")
    assert result.code == 0 and _locked(app) == "==2.0", result.err
    (said,) = [j for j in result.json()["justifications"] if "ABI not checked" in j["message"]]
    assert said["type"] == "WARNING" and said["package_name"] == "native" and wheel in said["message"], said
    assert "not a readable wheel" in said["message"] and "thoth-pip check" in said["message"], said
    assert len(index.requested(wheel)) > reads  # read again: no facts were kept for it, verified or not
    if not ranges:  # the file itself is broken: install refuses it, naming it, as docs/abi.md says
        installed = thoth("install", "--deploy", "-C", str(app))
        assert installed.code != 0 and wheel in installed.err and "Traceback" not in installed.err, installed.err


@pytest.mark.parametrize("spool", ["memory", "disk"])
def test_a_wheel_whose_member_offset_lies_before_its_start_is_unreadable_not_a_machine_error(
    native, tmp_path, thoth, monkeypatch, spool
) -> None:
    """A hostile central directory (its offset past where it lies) puts a member before the file's start:
    zipfile seeks there (ValueError in memory, EINVAL on disk). That is the wheel's defect, as a corrupt zip
    is: the lock goes on with the "ABI not checked" warning, no internal error, no "cannot read" stop."""
    import struct

    from micro_thoth.index import metadata

    index, _root = native
    index.ranges = False
    if spool == "disk":
        monkeypatch.setattr(metadata, "SPOOL_BYTES", 0)  # the whole download spilled to a temporary file
    wheel = f"native-2.0-{TAG}.whl"
    entry = index.find(wheel)
    data = bytearray(entry.data)
    end = data.rfind(b"PK\x05\x06")
    (offset,) = struct.unpack("<I", data[end + 16 : end + 20])
    data[end + 16 : end + 20] = struct.pack("<I", offset + 1_000_000)
    entry.data = bytes(data)  # the page lists this digest: the bytes verify
    app = _project(tmp_path, index, "runtime_environments:\n- name: old-image\n  abi_symbols: [GLIBCXX_3.4, GLIBC_2.17]\n")
    result = thoth("lock", "-C", str(app))
    assert result.code == 0 and _locked(app) == "==2.0", result.err
    assert f"ABI not checked: {wheel}" in result.err and "not a readable wheel" in result.err, result.err


def test_offline_reads_no_wheel_for_its_facts_and_says_they_were_not_checked(native, tmp_path, thoth) -> None:
    """``--offline`` never asks the network: a wheel whose ELF facts are neither kept nor cached is not
    read by range requests; its ABI is unknown, and the lock says so, naming the wheel and --offline."""
    import sqlite3

    index, _root = native
    app = _project(tmp_path, index, "runtime_environments:\n- name: old-image\n  abi_symbols: [GLIBCXX_3.4, GLIBC_2.17]\n")
    assert thoth("lock", "-C", str(app)).code == 0  # pages and metadata kept for --offline
    with sqlite3.connect(Path(os.environ["THOTH_PIP_CACHE_DIR"]) / "metadata-v1.sqlite") as db:
        assert db.execute("DELETE FROM kv WHERE namespace LIKE 'wheel-abi%'").rowcount > 0  # the facts forgotten
    (app / "Pipfile.lock").unlink()
    requests = len(index.requests)
    wheel = f"native-2.0-{TAG}.whl"
    result = thoth("lock", "-C", str(app), "--offline")
    assert index.requests[requests:] == [], result.err
    assert result.code == 0 and _locked(app) == "==2.0", result.err
    assert f"ABI not checked: {wheel}" in result.err and "--offline" in result.err, result.err


def test_a_network_failure_reading_a_wheels_elf_members_stops_the_lock(native, tmp_path, thoth) -> None:
    """The index answers the page and the metadata but not the wheel's bytes (503 after every retry):
    that is the network's fault, not the wheel's, so the lock stops as on any other unreachable index,
    naming the wheel's URL, with no lock written, and ``--json`` carries the error object."""
    index, _root = native
    wheel = f"native-2.0-{TAG}.whl"
    index.fail_next[f"/files/{wheel}"] = 10_000
    app = _project(tmp_path, index, "runtime_environments:\n- name: old-image\n  abi_symbols: [GLIBCXX_3.4, GLIBC_2.17]\n")
    result = thoth("lock", "-C", str(app))
    assert result.code != 0 and not (app / "Pipfile.lock").exists(), result.err
    assert "error: " in result.err and wheel in result.err and "503" in result.err, result.err
    assert "ABI not checked" not in result.err and "Traceback" not in result.err, result.err
    result = thoth("lock", "-C", str(app), "--json")
    assert result.code != 0 and not (app / "Pipfile.lock").exists(), result.err
    error = result.json()["error"]
    assert error["kind"] and wheel in error["message"] and "Traceback" not in result.err, error
