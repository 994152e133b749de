"""Hostile and malformed inputs, one row each: a named refusal, no traceback, the project as it was.

Each case starts from a project whose environment already holds a good install
(``good==1.0``), then runs a command over a bad Pipfile, lock or wheel, and asserts
the exit code, that no traceback reached the user, that the message names the
culprit, and that not one file of the project (environment included) changed.
"""

from __future__ import annotations

import hashlib
import io
import json
import struct
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from micro_thoth.formats.pipfile import parse_pipfile
from tests.support.builder import Dist, build_wheel
from tests.support.index_server import LocalIndex

from .conftest import Run

GOOD = Dist("good", "1.0")


def _pipfile(index: LocalIndex, packages: str) -> str:
    return f'[[source]]\nname = "local"\nurl = "{index.url}"\nverify_ssl = false\n\n[packages]\n{packages}'


def _lock(pipfile_text: str, index: LocalIndex, entries: dict[str, dict[str, object]], *, meta: bool = True) -> str:
    data: dict[str, object] = {}
    if meta:
        data["_meta"] = {
            "hash": {"sha256": parse_pipfile(pipfile_text).hash},
            "pipfile-spec": 6,
            "requires": {},
            "sources": [{"name": "local", "url": index.url, "verify_ssl": False}],
        }
    data["default"] = entries
    data["develop"] = {}
    return json.dumps(data, indent=4) + "\n"


def _entry(index: LocalIndex, filename: str, version: str = "==1.0") -> dict[str, object]:
    return {"hashes": [f"sha256:{index.find(filename).sha256}"], "index": "local", "version": version}


@dataclass
class Project:
    root: Path
    index: LocalIndex

    def write(self, packages: str, entries: dict[str, dict[str, object]] | None = None, *, lock: str | None = None, meta: bool = True) -> None:
        text = _pipfile(self.index, packages)
        (self.root / "Pipfile").write_text(text)
        if lock is None:
            good = {"good": _entry(self.index, GOOD.wheel_filename)}
            lock = _lock(text, self.index, {**good, **(entries or {})}, meta=meta)
        (self.root / "Pipfile.lock").write_text(lock)


def _snapshot(root: Path) -> dict[str, str]:
    """Every path under ``root`` with its content digest (or 'dir' / the link target)."""
    found = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if path.is_symlink():
            found[rel] = "-> " + str(path.readlink())
        elif path.is_dir():
            found[rel] = "dir"
        else:
            found[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def _add(index: LocalIndex, dist: Dist, data: bytes) -> None:
    index.add_file(dist, dist.wheel_filename, data)


def _bad_crc(dist: Dist) -> bytes:
    data = build_wheel(dist)
    content = f'__version__ = "{dist.version}"'.encode()
    return data.replace(content, content.replace(b"__", b"_!"), 1)  # stored member: the CRC no longer matches


def _record_edited(dist: Dist, edit: Callable[[str], str]) -> bytes:
    """A wheel whose files are as built, with its RECORD rewritten by ``edit``."""
    with zipfile.ZipFile(io.BytesIO(build_wheel(dist))) as source:
        members = [(info, source.read(info)) for info in source.infolist()]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as target:
        for info, body in members:
            target.writestr(info, edit(body.decode()).encode() if info.filename.endswith(".dist-info/RECORD") else body)
    return buffer.getvalue()


def _crc_lies(dist: Dist) -> bytes:
    """A wheel whose module's bytes match RECORD but not the CRC-32 the zip gives them."""
    data = build_wheel(dist)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        crc = struct.pack("<I", archive.getinfo(f"{dist.module}/__init__.py").CRC)
    assert data.count(crc) == 2  # its local header and its central directory entry
    return data.replace(crc, struct.pack("<I", struct.unpack("<I", crc)[0] ^ 1))


def _before_start(dist: Dist) -> bytes:
    """A wheel whose end record puts the directory 1 MB on: zipfile moves every member back by that;
    all but the first (bzip2, so it streams through zipfile) are said to be 1 MB on as well."""
    with zipfile.ZipFile(io.BytesIO(build_wheel(dist))) as source:
        members = [(info, source.read(info)) for info in source.infolist()]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as target:
        for info, body in members:
            info.compress_type = zipfile.ZIP_BZIP2
            target.writestr(info, body)
    data = bytearray(buffer.getvalue())
    end = data.rfind(b"PK\x05\x06")
    entry = directory = struct.unpack_from("<I", data, end + 16)[0]
    for info, _ in members:
        if info is not members[0][0]:
            struct.pack_into("<I", data, entry + 42, struct.unpack_from("<I", data, entry + 42)[0] + (1 << 20))
        entry += 46 + sum(struct.unpack_from("<HHH", data, entry + 28))
    struct.pack_into("<I", data, end + 16, directory + (1 << 20))
    return bytes(data)


@dataclass
class Case:
    """One hostile input: how to set it up, what to run, what must be said."""

    id: str
    setup: Callable[[Project], None]
    command: tuple[str, ...] = ("sync",)
    says: tuple[str, ...] = ()
    code: int = 1
    no_download: bool = False


def _with_wheel(dist: Dist, data: bytes | None = None, version: str = "==1.0") -> Callable[[Project], None]:
    def setup(project: Project) -> None:
        _add(project.index, dist, data if data is not None else build_wheel(dist))
        project.write(f'good = "*"\n{dist.name} = "*"\n', {dist.name: _entry(project.index, dist.wheel_filename, version)})

    return setup


def _metadata(name: str, version: str) -> dict[str, bytes]:
    return {"liar-1.0.dist-info/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\n".encode()}


def _version_only(version: str) -> Callable[[Project], None]:
    def setup(project: Project) -> None:
        dist = Dist("loose", "1.0")
        _add(project.index, dist, build_wheel(dist))
        project.write('good = "*"\nloose = "*"\n', {"loose": _entry(project.index, dist.wheel_filename, version)})

    return setup


def _lock_text(text: str) -> Callable[[Project], None]:
    def setup(project: Project) -> None:
        project.write('good = "*"\n', lock=text)

    return setup


def _no_meta(project: Project) -> None:
    project.write('good = "*"\n', meta=False)


def _tampered(project: Project) -> None:
    one, two = Dist("one", "1.0"), Dist("two", "1.0")
    _add(project.index, one, build_wheel(one))
    _add(project.index, two, build_wheel(two))
    project.write('good = "*"\none = "*"\ntwo = "*"\n', {"one": _entry(project.index, one.wheel_filename), "two": _entry(project.index, two.wheel_filename)})
    project.index.tamper(one.wheel_filename)
    project.index.tamper(two.wheel_filename)


def _unknown_key(project: Project) -> None:
    (project.root / "Pipfile").write_text(_pipfile(project.index, 'good = {version = "*", indx = "local"}\n'))


CASES = [
    Case("pipfile-unknown-key", _unknown_key, ("install",), ("packages.good.indx", "unknown key 'indx'", "did you mean 'index'")),
    Case("lock-version-without-==", _version_only("1.0"), says=("default.loose.version", "'1.0'", "loose"), no_download=True),
    Case("lock-version-garbage", _version_only("~~>>garbage!!"), says=("default.loose.version", "loose"), no_download=True),
    Case(
        "lock-version-garbage-deploy", _version_only("==1.0; rm -rf"), ("install", "--deploy"), ("default.loose.version", "loose"), no_download=True
    ),
    Case(
        "metadata-name-differs",
        _with_wheel(Dist("liar", "1.0"), build_wheel(Dist("liar", "1.0"), extra_members=_metadata("someone-else", "1.0"))),
        says=("liar-1.0-py3-none-any.whl", "Name: someone-else", "liar"),
    ),
    Case(
        "metadata-version-differs",
        _with_wheel(Dist("liar", "1.0"), build_wheel(Dist("liar", "1.0"), extra_members=_metadata("liar", "6.6.6"))),
        says=("liar-1.0-py3-none-any.whl", "Version: 6.6.6", "liar==1.0"),
    ),
    Case(
        "invalid-console-script",
        _with_wheel(Dist("scripted", "1.0", console_scripts={"tool": "not a valid target!"})),
        says=("scripted-1.0-py3-none-any.whl", "scripted==1.0", "tool = not a valid target!"),
    ),
    Case(
        "console-script-escapes",
        _with_wheel(Dist("escaper", "1.0", console_scripts={"../x": "escaper:main"})),
        says=("escaper-1.0-py3-none-any.whl", "escaper==1.0", "../x"),
    ),
    Case(
        "console-script-absolute",
        _with_wheel(Dist("escaper", "1.0", console_scripts={"/tmp/x": "escaper:main"})),
        says=("escaper-1.0-py3-none-any.whl", "escaper==1.0", "/tmp/x"),
    ),
    Case("whl-not-a-zip", _with_wheel(Dist("fake", "1.0"), b"this is not a zip archive"), says=("fake-1.0-py3-none-any.whl", "not a readable zip")),
    Case("whl-bad-crc", _with_wheel(Dist("crc", "1.0"), _bad_crc(Dist("crc", "1.0"))), says=("crc-1.0-py3-none-any.whl", "crc/__init__.py")),
    Case(  # its bytes hold RECORD's hash: refused all the same, as every reader of the wheel refuses it
        "whl-crc-lies-record-holds",
        _with_wheel(Dist("crclie", "1.0"), _crc_lies(Dist("crclie", "1.0"))),
        says=("crclie-1.0-py3-none-any.whl", "crclie/__init__.py"),
    ),
    Case(  # a file and a directory of one name: the second cannot be written
        "whl-file-and-directory",
        _with_wheel(Dist("clash", "1.0"), build_wheel(Dist("clash", "1.0"), extra_members={"clash/x": b"1", "clash/x/y.py": b"2"})),
        says=("clash-1.0-py3-none-any.whl", "clash/x"),
    ),
    Case(
        "whl-record-beyond-csv-limit",
        _with_wheel(Dist("huge", "1.0"), _record_edited(Dist("huge", "1.0"), lambda text: text + "x" * (1 << 18) + ",,\n")),
        says=("huge-1.0-py3-none-any.whl", "RECORD"),
    ),
    Case(
        "whl-record-shake-hash",
        _with_wheel(Dist("shaky", "1.0"), _record_edited(Dist("shaky", "1.0"), lambda text: text.replace(",sha256=", ",shake_128=", 1))),
        says=("shaky-1.0-py3-none-any.whl", "shake_128"),
    ),
    Case(
        "whl-member-escapes",
        _with_wheel(Dist("evil", "1.0"), build_wheel(Dist("evil", "1.0"), extra_members={"../../evil.py": b"x"})),
        says=("evil-1.0-py3-none-any.whl", "../../evil.py"),
    ),
    Case(  # deeper than Python's recursion limit: once reported as "not a readable zip archive"
        "whl-member-too-deep",
        _with_wheel(Dist("deep", "1.0"), build_wheel(Dist("deep", "1.0"), extra_members={"deep/" + "a/" * 1200 + "x.py": b"x"})),
        says=("deep-1.0-py3-none-any.whl", "too deep", "deep/a/a/"),
    ),
    Case(
        "whl-member-before-start",
        _with_wheel(Dist("early", "1.0"), _before_start(Dist("early", "1.0"))),
        says=("early-1.0-py3-none-any.whl", "not a readable"),
    ),
    Case("hash-mismatch", _tampered, says=("one-1.0-py3-none-any.whl", "two-1.0-py3-none-any.whl", "hash mismatch for 2 files")),
    Case("lock-not-json", _lock_text("{ this is not json"), ("install",), ("Pipfile.lock", "not valid JSON", "thoth-pip lock")),
    Case("lock-not-json-sync", _lock_text("[]"), ("sync",), ("Pipfile.lock",)),
    Case("lock-without-meta", _no_meta, ("install",), ("Pipfile.lock", "_meta", "thoth-pip lock")),
    Case("lock-without-meta-deploy", _no_meta, ("install", "--deploy"), ("Pipfile.lock", "no _meta hash")),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_hostile_input_is_a_named_refusal(case: Case, thoth: Callable[..., Run], index: LocalIndex, tmp_path: Path) -> None:
    _add(index, GOOD, build_wheel(GOOD))
    project = Project(tmp_path / "project", index)
    project.root.mkdir()
    project.write('good = "*"\n')
    assert thoth("sync", "-C", str(project.root)).code == 0
    case.setup(project)
    before = _snapshot(project.root)
    downloads = len(index.requested("/files/"))

    run = thoth(*case.command, "-C", str(project.root))

    said = run.err + run.out
    assert run.code == case.code, said
    assert "Traceback" not in said and "internal error" not in said, said
    assert said.count("error:") == 1, said
    for culprit in case.says:
        assert culprit in said, said
    assert _snapshot(project.root) == before
    if case.no_download:
        assert len(index.requested("/files/")) == downloads


@pytest.mark.parametrize("case", [c for c in CASES if c.id in ("lock-version-garbage", "whl-not-a-zip", "lock-not-json")], ids=lambda c: c.id)
def test_hostile_input_under_json(case: Case, thoth: Callable[..., Run], index: LocalIndex, tmp_path: Path) -> None:
    _add(index, GOOD, build_wheel(GOOD))
    project = Project(tmp_path / "project", index)
    project.root.mkdir()
    case.setup(project)
    run = thoth(*case.command, "--json", "-C", str(project.root))
    assert run.code == case.code
    error = run.json()["error"]  # type: ignore[index]
    assert error["kind"] and error["message"] and "Traceback" not in run.err


_ON_SYNC = {"whl-not-a-zip": "fake", "whl-bad-crc": "crc", "whl-member-escapes": "evil", "metadata-name-differs": "liar"}


@pytest.mark.parametrize("case", [c for c in CASES if c.id in _ON_SYNC], ids=lambda c: c.id)
def test_bad_wheel_on_sync_names_package_version_and_url(case: Case, thoth: Callable[..., Run], tmp_path: Path) -> None:
    index = LocalIndex(username="alice", password="s3cret")
    try:
        _add(index, GOOD, build_wheel(GOOD))
        project = Project(tmp_path / "project", index)
        project.root.mkdir()
        case.setup(project)
        for path in (project.root / "Pipfile", project.root / "Pipfile.lock"):  # the index wants credentials
            path.write_text(path.read_text().replace(index.url, index.url_with_auth()))
        run = thoth("sync", "-C", str(project.root))
        said = run.err + run.out
        assert run.code == 1, said
        name = _ON_SYNC[case.id]
        assert f"{name}==1.0" in said and f"{index.root}/files/{name}-1.0-py3-none-any.whl" in said, said
        assert "s3cret" not in said and said.count("error:") == 1, said
    finally:
        index.close()


def test_bad_wheel_from_a_direct_url_names_it_without_the_secret(thoth: Callable[..., Run], index: LocalIndex, tmp_path: Path) -> None:
    _add(index, GOOD, build_wheel(GOOD))
    fake = Dist("fake", "1.0")
    _add(index, fake, b"this is not a zip archive")
    project = Project(tmp_path / "project", index)
    project.root.mkdir()
    url = index.root.replace("http://", "http://alice:s3cret@") + f"/files/{fake.wheel_filename}"
    entry = {"file": url, "hashes": [f"sha256:{index.find(fake.wheel_filename).sha256}"]}
    project.write(f'good = "*"\nfake = {{file = "{url}"}}\n', {"fake": entry})
    run = thoth("sync", "-C", str(project.root))
    said = run.err + run.out
    assert run.code == 1 and "not a readable zip" in said, said
    assert f"(fake from {url.replace('s3cret', '****')})" in said and "s3cret" not in said, said
