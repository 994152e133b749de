"""install.py against real venvs: plan, execute, rollback, refusal of hostile wheels, the lock."""

from __future__ import annotations

import base64
import csv
import functools
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name

from micro_thoth import install
from micro_thoth.errors import EnvironmentBusy, InstallError, UnsafeWheel
from micro_thoth.install import (
    TargetEnvironment,
    WantedPackage,
    actions,
    bytecode,
    check_wheel,
    ensure_venv,
    execute,
    installed_distributions,
    linking,
    plan,
    safety,
    transaction,
    trees,
    uninstall,
)
from micro_thoth.models import DirectReference
from micro_thoth.reporting import Reporter
from tests.support.builder import Dist, build_wheel


@pytest.fixture(scope="module")
def base_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("venvs") / "base"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    return path


@pytest.fixture
def env(tmp_path: Path) -> TargetEnvironment:
    return ensure_venv(tmp_path / "venv", sys.executable)


def _wheel(tmp_path: Path, dist: Dist, **kwargs: object) -> Path:
    path = tmp_path / "wheels" / dist.wheel_filename
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(build_wheel(dist, **kwargs))  # type: ignore[arg-type]
    return path


def _sync(env: TargetEnvironment, tmp_path: Path, *dists: Dist, **kwargs: object) -> install.InstallResult:
    wanted = [WantedPackage(d.name, d.version, requested=True) for d in dists]
    wheels = {canonicalize_name(d.name): _wheel(tmp_path, d) for d in dists}
    return execute(plan(wanted, env), wheels, env, **kwargs)  # type: ignore[arg-type]


def _run(env: TargetEnvironment, code: str) -> str:
    proc = subprocess.run([env.python, "-c", code], capture_output=True, text=True, check=True)
    return proc.stdout.strip()


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def test_ensure_venv_creates_once(tmp_path: Path) -> None:
    env = ensure_venv(tmp_path / "venv", sys.executable)
    assert env.interpreter.is_venv and (tmp_path / "venv" / "pyvenv.cfg").exists()
    assert not list(Path(env.paths["purelib"]).glob("pip*"))
    marker = tmp_path / "venv" / "keep"
    marker.write_text("x")
    assert ensure_venv(tmp_path / "venv", sys.executable).prefix == env.prefix and marker.exists()


def test_install_import_and_metadata(env: TargetEnvironment, tmp_path: Path) -> None:
    dist = Dist("Demo-Pkg", "1.0", files={"demo_pkg/util.py": "X = 42\n"})
    result = _sync(env, tmp_path, dist)
    assert result.installed == ("Demo-Pkg==1.0",)
    assert _run(env, "import demo_pkg, demo_pkg.util; print(demo_pkg.__version__, demo_pkg.util.X)") == "1.0 42"
    info = Path(env.paths["purelib"]) / "demo_pkg-1.0.dist-info"
    assert (info / "INSTALLER").read_text() == "thoth-pip\n"
    assert (info / "REQUESTED").exists()
    installed = installed_distributions(env)[canonicalize_name("demo-pkg")]
    assert installed.version == "1.0" and installed.installer == "thoth-pip"
    assert list(Path(env.paths["purelib"], "demo_pkg", "__pycache__").glob("util.cpython-*.pyc"))


def test_record_is_correct(env: TargetEnvironment, tmp_path: Path) -> None:
    _sync(env, tmp_path, Dist("recorded", "1.0", console_scripts={"rec": "recorded:main"}))
    site = Path(env.paths["purelib"])
    rows = list(csv.reader((site / "recorded-1.0.dist-info" / "RECORD").read_text().splitlines()))
    listed = {row[0] for row in rows}
    assert "recorded-1.0.dist-info/INSTALLER" in listed and "recorded-1.0.dist-info/RECORD" in listed
    assert any(row[0].endswith("bin/rec") for row in rows)
    for path, digest, size in rows:
        target = (site / path).resolve()
        assert target.exists(), path
        if digest:
            data = target.read_bytes()
            assert digest == _record_hash(data) and int(size) == len(data), path


def test_console_script_runs_with_venv_python(env: TargetEnvironment, tmp_path: Path) -> None:
    dist = Dist("hello", "1.0", files={"hello/cli.py": "import sys\ndef main():\n    print('hi from', sys.prefix)\n"},
                console_scripts={"hello-cli": "hello.cli:main"})
    _sync(env, tmp_path, dist)
    script = Path(env.paths["scripts"]) / "hello-cli"
    assert script.read_text().splitlines()[0] == f"#!{env.python}"
    out = subprocess.run([str(script)], capture_output=True, text=True, check=True).stdout
    assert out.strip() == f"hi from {env.prefix}"


def test_second_plan_is_all_unchanged(env: TargetEnvironment, tmp_path: Path) -> None:
    dists = [Dist("alpha", "1.0"), Dist("beta", "2.0")]
    _sync(env, tmp_path, *dists)
    again = plan([WantedPackage(d.name, d.version) for d in dists], env)
    assert again.is_empty and len(again.unchanged) == 2
    assert execute(again, {}, env).installed == ()
    assert plan([WantedPackage("alpha", "1.0")], env, reinstall=True).to_replace


def test_replace_removes_old_files(env: TargetEnvironment, tmp_path: Path) -> None:
    _sync(env, tmp_path, Dist("moving", "1.0", files={"moving/old.py": "OLD = 1\n"}, console_scripts={"mv-old": "moving:x"}))
    site = Path(env.paths["purelib"])
    assert (site / "moving" / "old.py").exists()
    step = plan([WantedPackage("moving", "2.0")], env)
    assert [old.version for _, old in step.to_replace] == ["1.0"]
    result = execute(step, {"moving": _wheel(tmp_path, Dist("moving", "2.0", files={"moving/new.py": ""}))}, env)
    assert result.removed == ("moving==1.0",)
    assert not (site / "moving" / "old.py").exists()
    assert not list(site.glob("moving/__pycache__/old.*"))
    assert not (site / "moving-1.0.dist-info").exists()
    assert not (Path(env.paths["scripts"]) / "mv-old").exists()
    assert _run(env, "import moving; print(moving.__version__)") == "2.0"
    assert not list(site.glob(".thoth-pip-backup-*"))


def test_extraneous_reported_and_cleaned(env: TargetEnvironment, tmp_path: Path) -> None:
    _sync(env, tmp_path, Dist("keep", "1.0"), Dist("stray", "1.0"))
    report = plan([WantedPackage("keep", "1.0")], env)
    assert [d.name for d in report.extraneous] == ["stray"]
    assert any("extraneous" in line for line in report.describe())
    execute(report, {}, env)
    assert "stray" in installed_distributions(env)
    execute(plan([WantedPackage("keep", "1.0")], env, clean=True), {}, env)
    assert "stray" not in installed_distributions(env)


def test_rollback_when_third_wheel_is_hostile(env: TargetEnvironment, tmp_path: Path) -> None:
    _sync(env, tmp_path, Dist("first", "1.0"))
    hostile = _wheel(tmp_path, Dist("third", "1.0"), extra_members={"../../evil.py": b"x"})
    wheels = {"first": _wheel(tmp_path, Dist("first", "2.0")), "second": _wheel(tmp_path, Dist("second", "1.0")),
              "third": hostile}
    step = plan([WantedPackage("first", "2.0"), WantedPackage("second", "1.0"), WantedPackage("third", "1.0")], env)
    with pytest.raises(UnsafeWheel, match="third"):
        execute(step, wheels, env)
    assert {k: d.version for k, d in installed_distributions(env).items()} == {"first": "1.0"}


def test_rollback_after_a_failure_during_install(env: TargetEnvironment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _sync(env, tmp_path, Dist("first", "1.0", files={"first/data.py": "A = 1\n"}))
    site = Path(env.paths["purelib"])
    before = sorted(str(p.relative_to(env.prefix)) for p in env.prefix.rglob("*") if "__pycache__" not in p.parts)
    real = actions._install_one

    def flaky(wanted: WantedPackage, wheel: Path, env_: TargetEnvironment, tx: transaction.Transaction, bytecode: bool, *rest: object) -> None:
        real(wanted, wheel, env_, tx, bytecode, *rest)  # type: ignore[arg-type]
        if wanted.name == "third":
            raise InstallError("disk full", distribution="third")

    monkeypatch.setattr(actions, "_install_one", flaky)
    step = plan([WantedPackage(n, v) for n, v in (("first", "2.0"), ("second", "1.0"), ("third", "1.0"))], env)
    wheels = {n: _wheel(tmp_path, Dist(n, v)) for n, v in (("first", "2.0"), ("second", "1.0"), ("third", "1.0"))}
    with pytest.raises(InstallError, match="disk full"):
        execute(step, wheels, env, workers=1)
    after = sorted(str(p.relative_to(env.prefix)) for p in env.prefix.rglob("*") if "__pycache__" not in p.parts)
    assert after == before
    assert (site / "first" / "data.py").read_text() == "A = 1\n"


def _zip(tmp_path: Path, name: str, members: list[tuple[str, bytes]]) -> Path:
    path = tmp_path / name
    with zipfile.ZipFile(path, "w") as zf:
        for member, data in members:
            zf.writestr(member, data)
    return path


def test_refuses_parent_directory_paths(tmp_path: Path) -> None:
    wheel = _wheel(tmp_path, Dist("bad", "1.0"), extra_members={"bad/../../escape.py": b""})
    with pytest.raises(UnsafeWheel, match="escaping"):
        check_wheel(wheel)


def test_refuses_absolute_paths(tmp_path: Path) -> None:
    wheel = _wheel(tmp_path, Dist("bad", "1.0"), extra_members={"/etc/evil": b""})
    with pytest.raises(UnsafeWheel, match="absolute"):
        check_wheel(wheel)


def test_refuses_duplicate_entries(tmp_path: Path) -> None:
    good = build_wheel(Dist("dup", "1.0"))
    buf = io.BytesIO(good)
    with zipfile.ZipFile(buf, "a") as zf, pytest.warns(UserWarning):
        zf.writestr("dup/__init__.py", b"import os; os.system('evil')\n")
    path = tmp_path / "dup-1.0-py3-none-any.whl"
    path.write_bytes(buf.getvalue())
    with pytest.raises(UnsafeWheel, match="duplicate"):
        check_wheel(path)


@pytest.mark.parametrize("members", [("clash/x", "clash/x/y.py"), ("clash/x/y/z.py", "clash/x")])
def test_refuses_a_name_both_file_and_directory(tmp_path: Path, members: tuple[str, str]) -> None:
    wheel = _wheel(tmp_path, Dist("clash", "1.0"), extra_members=dict.fromkeys(members, b""))
    with pytest.raises(UnsafeWheel, match="'clash/x' both as a file and as a directory"):
        check_wheel(wheel)
    with pytest.raises(UnsafeWheel, match="'clash/x' both as a file and as a directory"):
        install.unpack_wheel(wheel, tmp_path / "tree")


@pytest.mark.parametrize("twin", ["./dup/__init__.py", "dup//__init__.py", "dup/./__init__.py"])
def test_refuses_two_members_naming_one_file(tmp_path: Path, twin: str) -> None:
    """Both are in RECORD, each with its own hash: the later one would replace the file the earlier
    one wrote (and a check reading the earlier one would not see what is installed)."""
    wheel = _wheel(tmp_path, Dist("dup", "1.0"), extra_members={twin: b"import os; os.system('evil')\n"})
    for check in (check_wheel, lambda path: install.unpack_wheel(path, tmp_path / "tree")):
        with pytest.raises(UnsafeWheel, match=r"duplicate entries for 'dup/__init__\.py'"):
            check(wheel)


def test_refuses_a_lying_record(tmp_path: Path) -> None:
    dist = Dist("liar", "1.0")
    members = {name: data for name, data in _members(build_wheel(dist)).items()}
    members["liar/__init__.py"] = b"print('not what RECORD says')\n"
    path = _zip(tmp_path, dist.wheel_filename, list(members.items()))
    with pytest.raises(UnsafeWheel, match="RECORD"):
        check_wheel(path)
    unlisted = _wheel(tmp_path, Dist("liar", "1.0"), record=False)
    with pytest.raises(UnsafeWheel, match="RECORD"):
        check_wheel(unlisted)


def _members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def test_refuses_unknown_data_scheme(tmp_path: Path) -> None:
    for member in ("odd-1.0.data/etc/passwd", "odd-1.0.data/loose-file"):
        wheel = _wheel(tmp_path, Dist("odd", "1.0"), extra_members={member: b""})
        with pytest.raises(UnsafeWheel, match="schemes"):
            check_wheel(wheel)
    check_wheel(_wheel(tmp_path, Dist("odd", "1.0"), extra_members={"other.data/etc/x": b""}))


def test_refuses_zip_bomb(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(safety, "BOMB_FLOOR", 1 << 20)  # the ratio is what matters; keep the test small
    dist = Dist("bomb", "1.0")
    path = tmp_path / dist.wheel_filename
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in _members(build_wheel(dist, extra_members={"bomb/zeros.bin": b"\0" * (8 << 20)})).items():
            zf.writestr(name, data)
    with pytest.raises(UnsafeWheel, match="zip bomb"):
        check_wheel(path)


def test_refuses_garbage(tmp_path: Path) -> None:
    path = tmp_path / "junk-1.0-py3-none-any.whl"
    path.write_bytes(b"not a zip")
    with pytest.raises(UnsafeWheel):
        check_wheel(path)


def test_valid_wheel_passes(tmp_path: Path) -> None:
    check_wheel(_wheel(tmp_path, Dist("fine", "1.0", console_scripts={"f": "fine:main"})))


def test_lock_timeout(env: TargetEnvironment) -> None:
    held = threading.Event()
    release = threading.Event()

    def holder() -> None:
        with install.environment_lock(env, timeout=1):
            held.set()
            release.wait(10)

    thread = threading.Thread(target=holder)
    thread.start()
    held.wait(5)
    messages: list[str] = []

    class Recorder(Reporter):
        def message(self, text: str, level: str = "info") -> None:
            messages.append(text)

    started = time.monotonic()
    try:
        with pytest.raises(EnvironmentBusy), install.environment_lock(env, timeout=0.3, reporter=Recorder()):
            pass
    finally:
        release.set()
        thread.join()
    assert 0.25 < time.monotonic() - started < 5
    assert messages and "waiting" in messages[0]
    with install.environment_lock(env, timeout=1):
        pass


def test_lock_held_by_another_process(env: TargetEnvironment) -> None:
    code = (
        "import fcntl, sys, time; f = open(sys.argv[1], 'a+b'); fcntl.flock(f, fcntl.LOCK_EX);"
        " print('locked', flush=True); time.sleep(3)"
    )
    env.lock_path.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen([sys.executable, "-c", code, str(env.lock_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
        with pytest.raises(EnvironmentBusy):
            execute(plan([], env), {}, env, lock_timeout=0.2)
    finally:
        proc.kill()
        proc.wait()


def test_uninstall(env: TargetEnvironment, tmp_path: Path) -> None:
    _sync(env, tmp_path, Dist("gone", "1.0", console_scripts={"gone": "gone:main"}), Dist("stays", "1.0"))
    assert uninstall(["Gone", "not-there"], env) == ("gone==1.0",)
    assert set(installed_distributions(env)) == {"stays"}
    assert not (Path(env.paths["purelib"]) / "gone").exists()
    assert not (Path(env.paths["scripts"]) / "gone").exists()


def test_direct_reference_recorded_and_compared(env: TargetEnvironment, tmp_path: Path) -> None:
    ref = DirectReference("git", "https://user:secret@example.invalid/repo.git", ref="a" * 40)
    wanted = WantedPackage("vcspkg", "1.0", direct=ref)
    execute(plan([wanted], env), {"vcspkg": _wheel(tmp_path, Dist("vcspkg", "1.0"))}, env)
    data = json.loads((Path(env.paths["purelib"]) / "vcspkg-1.0.dist-info" / "direct_url.json").read_text())
    assert data == {"url": "https://example.invalid/repo.git", "vcs_info": {"vcs": "git", "commit_id": "a" * 40}}
    assert plan([wanted], env).is_empty
    moved = WantedPackage("vcspkg", "1.0", direct=DirectReference("git", ref.location, ref="b" * 40))
    assert plan([moved], env).to_replace
    assert plan([WantedPackage("vcspkg", "1.0")], env).to_replace  # an index pin replaces a checkout


def test_no_compile(env: TargetEnvironment, tmp_path: Path) -> None:
    result = _sync(env, tmp_path, Dist("nocomp", "1.0"), compile_bytecode=False)
    assert result.compiled == 0
    assert not list(Path(env.paths["purelib"]).glob("nocomp/__pycache__/*"))


def test_bytecode_targets_the_target_interpreter(tmp_path: Path) -> None:
    mine = f"{sys.version_info[0]}.{sys.version_info[1]}"
    other = next((v for v in ("3.12", "3.10", "3.9", "3.13") if v != mine and _has_python(v)), None)
    if other is None:
        pytest.skip("no second Python version")
    from micro_thoth.environment.interpreter import find_python

    env = ensure_venv(tmp_path / "venv", str(find_python(other)))
    _sync(env, tmp_path, Dist("cross", "1.0"))
    tag = "cpython-" + other.replace(".", "")
    assert list(Path(env.paths["purelib"]).glob(f"cross/__pycache__/__init__.{tag}.pyc"))
    assert _run(env, "import cross; print(cross.__version__)") == "1.0"


def _has_python(version: str) -> bool:
    from micro_thoth.environment.interpreter import find_python
    from micro_thoth.errors import TargetInterpreterError

    try:
        path = find_python(version)
    except TargetInterpreterError:
        return False
    return subprocess.run([str(path), "-c", "pass"], capture_output=True, check=False).returncode == 0


def test_describe_lines(env: TargetEnvironment, tmp_path: Path) -> None:
    _sync(env, tmp_path, Dist("old", "1.0"))
    lines = plan([WantedPackage("old", "2.0"), WantedPackage("fresh", "1.0")], env).describe()
    assert lines == ["install fresh==1.0", "replace old==1.0 by old==2.0", "0 already installed"]


def _tree(tmp_path: Path, dist: Dist, **kwargs: object) -> Path:
    tree = tmp_path / "unpacked" / f"{dist.dist_name}-{dist.version}"
    tree.mkdir(parents=True)
    install.unpack_wheel(_wheel(tmp_path, dist, **kwargs), tree)
    return tree


def test_install_from_unpacked_tree_links_files(env: TargetEnvironment, tmp_path: Path) -> None:
    dist = Dist("linked", "1.0", files={"linked/core.py": "Z = 3\n", "linked-1.0.data/scripts/linked-tool": "#!python\nprint('tool')\n"},
                console_scripts={"linked-cli": "linked:main"})
    tree = _tree(tmp_path, dist)
    result = execute(plan([WantedPackage("linked", "1.0")], env), {"linked": tree}, env, link_mode="hardlink")
    assert result.installed == ("linked==1.0",)
    site = Path(env.paths["purelib"])
    assert (site / "linked" / "core.py").stat().st_ino == (tree / "linked" / "core.py").stat().st_ino
    assert _run(env, "import linked.core; print(linked.core.Z)") == "3"
    tool = Path(env.paths["scripts"]) / "linked-tool"
    assert tool.read_text().splitlines()[0] == f"#!{env.python}"
    assert (tree / "linked-1.0.data" / "scripts" / "linked-tool").read_text().startswith("#!python")
    assert subprocess.run([str(tool)], capture_output=True, text=True, check=True).stdout == "tool\n"
    assert (Path(env.paths["scripts"]) / "linked-cli").exists()
    info = site / "linked-1.0.dist-info"
    assert (info / "INSTALLER").read_text() == "thoth-pip\n"
    rows = list(csv.reader((info / "RECORD").read_text().splitlines()))
    for path, digest, _size in rows:
        target = (site / path).resolve()
        assert target.exists(), path
        if digest:
            assert digest == _record_hash(target.read_bytes()), path
    assert {row[0] for row in rows} >= {"linked/core.py", "linked-1.0.dist-info/INSTALLER", "../../../bin/linked-tool"}


def test_tree_install_is_equivalent_to_wheel_install(tmp_path: Path) -> None:
    dist = Dist("same", "2.0", files={"same/a.py": "", "same-2.0.data/data/share/same.txt": "x"},
                console_scripts={"same": "same:main"})
    trees = ensure_venv(tmp_path / "one", sys.executable)
    files = ensure_venv(tmp_path / "two", sys.executable)
    execute(plan([WantedPackage("same", "2.0")], trees), {"same": _tree(tmp_path, dist)}, trees)
    execute(plan([WantedPackage("same", "2.0")], files), {"same": _wheel(tmp_path, dist)}, files)

    def listing(env: TargetEnvironment) -> list[str]:
        return sorted(str(p.relative_to(env.prefix)) for p in env.prefix.rglob("*")
                      if p.is_file() and "__pycache__" not in p.parts and p.name != "pyvenv.cfg")

    assert listing(trees) == listing(files)
    record = "lib/python{}.{}/site-packages/same-2.0.dist-info/RECORD".format(*sys.version_info)
    def rows(env: TargetEnvironment) -> list[str]:  # the launcher names its own venv's python
        return [r for r in (env.prefix / record).read_text().splitlines() if not r.startswith("../../../bin/")]

    assert rows(trees) == rows(files)


def test_unpack_refuses_hostile_wheel(tmp_path: Path) -> None:
    into = tmp_path / "tree"
    into.mkdir()
    with pytest.raises(UnsafeWheel):
        install.unpack_wheel(_wheel(tmp_path, Dist("evil", "1.0"), extra_members={"../x.py": b""}), into)
    assert not list(into.iterdir())


def test_unpack_refuses_a_lying_record(tmp_path: Path) -> None:
    dist = Dist("liar", "1.0", files={"liar/big.py": "A = 1\n" * 1000})
    members = _members(build_wheel(dist))
    members["liar/big.py"] = b"A = 2\n" * 1000
    path = _zip(tmp_path, dist.wheel_filename, list(members.items()))
    with pytest.raises(UnsafeWheel, match=r"liar/big\.py"):
        install.unpack_wheel(path, tmp_path / "tree")
    unlisted = _wheel(tmp_path, Dist("liar", "1.0"), extra_members={"liar/extra.py": b""}, record=False)
    with pytest.raises(UnsafeWheel, match="RECORD"):
        install.unpack_wheel(unlisted, tmp_path / "tree2")


def test_unpack_refuses_a_record_beyond_the_csv_field_limit(tmp_path: Path) -> None:
    """csv's "field larger than field limit" is a refusal naming the wheel, as installer's parse made it."""
    dist = Dist("huge", "1.0")
    members = _members(build_wheel(dist))
    record = f"{dist.dist_name}-1.0.dist-info/RECORD"
    members[record] += b"x" * (csv.field_size_limit() + 1) + b",,\n"
    path = _zip(tmp_path, dist.wheel_filename, list(members.items()))
    with pytest.raises(UnsafeWheel, match=r"huge-1\.0-py3-none-any\.whl.*RECORD"):
        install.unpack_wheel(path, tmp_path / "tree")
    with pytest.raises(UnsafeWheel, match="RECORD"):
        check_wheel(path)


def _with_record(tmp_path: Path, dist: Dist, edit: Callable[[str], str]) -> Path:
    members = _members(build_wheel(dist))
    record = f"{dist.dist_name}-{dist.version}.dist-info/RECORD"
    members[record] = edit(members[record].decode()).encode()
    return _zip(tmp_path, dist.wheel_filename, list(members.items()))


def test_a_record_hash_without_a_fixed_digest_is_refused_not_a_traceback(tmp_path: Path) -> None:
    """shake_128 is among hashlib's algorithms (installer accepts its name) but has no digest of its own."""
    path = _with_record(tmp_path, Dist("shaky", "1.0"), lambda text: text.replace("shaky/__init__.py,sha256=", "shaky/__init__.py,shake_128=", 1))
    with pytest.raises(UnsafeWheel, match=r"shaky/__init__\.py.*shake_128"):
        install.unpack_wheel(path, tmp_path / "tree")
    with pytest.raises(UnsafeWheel, match="shake_128"):
        check_wheel(path)


def test_a_record_row_naming_another_dist_info_s_record_is_no_traceback(tmp_path: Path) -> None:
    """RECORD may name a file the wheel lacks; the tree's own RECORD is the one made newest."""
    path = _with_record(tmp_path, Dist("decoy", "1.0"), lambda text: "other-1.0.dist-info/RECORD,,\n" + text)
    install.unpack_wheel(path, tmp_path / "tree")
    record = tmp_path / "tree" / "decoy-1.0.dist-info" / "RECORD"
    assert all(p.stat().st_mtime <= record.stat().st_mtime for p in (tmp_path / "tree").rglob("*") if p.is_file())


_MODULE_ROW = "rec/__init__.py,sha256="
_RECORD_LIES = {
    "record-with-hash": lambda text: text.replace("rec-1.0.dist-info/RECORD,,", "rec-1.0.dist-info/RECORD,sha256=AAAA,4"),
    "hash-without-size": lambda text: re.sub(r"^(rec/__init__\.py,sha256=[^,]+),\d+$", r"\1,", text, flags=re.M),
    "size-without-hash": lambda text: re.sub(r"^rec/__init__\.py,sha256=[^,]+,", "rec/__init__.py,,", text, flags=re.M),
    "size-wrong": lambda text: re.sub(r"^(rec/__init__\.py,sha256=[^,]+),(\d+)$", lambda m: f"{m[1]},{int(m[2]) + 1}", text, flags=re.M),
    "hash-malformed": lambda text: text.replace(_MODULE_ROW, "rec/__init__.py,sha256", 1),
    "hash-unknown-algorithm": lambda text: text.replace(_MODULE_ROW, "rec/__init__.py,nope=", 1),
    "row-of-four": lambda text: text.replace("rec-1.0.dist-info/RECORD,,", "rec-1.0.dist-info/RECORD,,,"),
    "unlisted": lambda text: re.sub(r"^rec/__init__\.py,.*\n", "", text, flags=re.M),
}


@pytest.mark.parametrize("lie", sorted(_RECORD_LIES))
def test_unpacking_refuses_a_record_as_installer_s_check_does(tmp_path: Path, lie: str) -> None:
    """RECORD's name-level checks are made while unpacking (installer's validate_record, made again in
    one pass): each lie is refused there as check_wheel, through installer, refuses it."""
    path = _with_record(tmp_path, Dist("rec", "1.0"), _RECORD_LIES[lie])
    with pytest.raises(UnsafeWheel, match="RECORD"):
        check_wheel(path)
    with pytest.raises(UnsafeWheel, match="RECORD"):
        install.unpack_wheel(path, tmp_path / "tree")


def test_record_signatures_are_unlisted_and_wheel_version_one(tmp_path: Path) -> None:
    dist = Dist("sig", "1.0")
    signed = _members(build_wheel(dist))
    signed["sig-1.0.dist-info/RECORD.jws"] = b"{}"
    path = _zip(tmp_path, dist.wheel_filename, list(signed.items()))
    check_wheel(path)
    install.unpack_wheel(path, tmp_path / "tree")  # a signature RECORD does not list: as installer
    listed = _with_record(tmp_path, dist, lambda text: text + "sig-1.0.dist-info/RECORD.jws,,\n")
    members = {**_members(listed.read_bytes()), "sig-1.0.dist-info/RECORD.jws": b"{}"}
    path = _zip(tmp_path, dist.wheel_filename, list(members.items()))
    for check in (check_wheel, lambda wheel: install.unpack_wheel(wheel, tmp_path / "tree2")):
        with pytest.raises(UnsafeWheel, match="signature"):
            check(path)
    members = {**_members(build_wheel(dist)), "sig-1.0.dist-info/WHEEL": b"Wheel-Version: 2.0\n"}
    path = _zip(tmp_path, dist.wheel_filename, list(members.items()))
    for check in (check_wheel, lambda wheel: install.unpack_wheel(wheel, tmp_path / "tree3")):
        with pytest.raises(UnsafeWheel, match=r"version 1\.x"):
            check(path)


def test_refuses_a_symbolic_link_member(tmp_path: Path) -> None:
    dist = Dist("link", "1.0")
    members = _members(build_wheel(dist))
    path = tmp_path / dist.wheel_filename
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
        info = zipfile.ZipInfo("link/escape")
        info.external_attr = (0o120777 << 16)
        archive.writestr(info, "/etc/passwd")
    for check in (check_wheel, lambda wheel: install.unpack_wheel(wheel, tmp_path / "tree")):
        with pytest.raises(UnsafeWheel, match="symbolic link 'link/escape'"):
            check(path)


@pytest.mark.parametrize("checked", [False, True])
def test_unpack_refuses_a_member_whose_crc_lies_though_record_holds(tmp_path: Path, checked: bool) -> None:
    """Every reader of the wheel refuses it alike (check_wheel, a first unpack, a later one of a wheel
    checked before): a member whose bytes match RECORD but not the zip's CRC-32 is damage."""
    dist = Dist("crclie", "1.0", files={"crclie/mod.py": "A = 1\n" * 100})
    data = build_wheel(dist)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        crc = archive.getinfo("crclie/mod.py").CRC.to_bytes(4, "little")
    assert data.count(crc) == 2  # its local header and its central directory entry
    path = tmp_path / dist.wheel_filename
    path.write_bytes(data.replace(crc, (int.from_bytes(crc, "little") ^ 1).to_bytes(4, "little")))
    with pytest.raises(UnsafeWheel, match=r"crclie/mod\.py"):
        check_wheel(path)
    with pytest.raises(UnsafeWheel, match=r"crclie/mod\.py"):
        install.unpack_wheel(path, tmp_path / "tree", checked=checked)


def test_rollback_with_trees(env: TargetEnvironment, tmp_path: Path) -> None:
    _sync(env, tmp_path, Dist("kept", "1.0"))
    broken = tmp_path / "broken-tree"
    broken.mkdir()
    trees = {"kept": _tree(tmp_path, Dist("kept", "2.0")), "other": _tree(tmp_path, Dist("other", "1.0")), "broken": broken}
    step = plan([WantedPackage("kept", "2.0"), WantedPackage("other", "1.0"), WantedPackage("broken", "1.0")], env)
    with pytest.raises(InstallError):
        execute(step, trees, env)
    assert {k: d.version for k, d in installed_distributions(env).items()} == {"kept": "1.0"}


def test_tree_bytecode_is_compiled_once_and_linked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tree = _tree(tmp_path, Dist("quick", "1.0", files={"quick/x.py": "X = 1\n"}))
    one = ensure_venv(tmp_path / "one", sys.executable)
    assert execute(plan([WantedPackage("quick", "1.0")], one), {"quick": tree}, one, link_mode="hardlink").compiled == 2
    tag = one.interpreter.cache_tag
    cached = tree / "quick" / "__pycache__" / f"x.{tag}.pyc"
    assert cached.exists()
    installed = Path(one.paths["purelib"]) / "quick" / "__pycache__" / f"x.{tag}.pyc"
    assert installed.stat().st_ino == cached.stat().st_ino
    calls: list[int] = []
    real = bytecode.compile_bytecode

    def counting(files: list[Path], env: TargetEnvironment) -> int:
        calls.append(len(files))
        return real(files, env)

    monkeypatch.setattr(trees, "compile_bytecode", counting)
    monkeypatch.setattr(bytecode, "compile_bytecode", counting)
    two = ensure_venv(tmp_path / "two", sys.executable)
    assert execute(plan([WantedPackage("quick", "1.0")], two), {"quick": tree}, two, link_mode="hardlink").compiled == 0
    assert calls == [0, 0]  # nothing left to compile: the tree had it, the links brought it
    out = _run(two, "import quick.x, sys; print(quick.x.__file__, quick.x.__cached__)")
    assert out.startswith(str(two.prefix))
    linked = Path(two.paths["purelib"]) / "quick" / "__pycache__" / f"x.{tag}.pyc"
    assert linked.stat().st_ino == cached.stat().st_ino  # valid: importing did not rewrite it
    uninstall(["quick"], two)
    assert not (Path(two.paths["purelib"]) / "quick").exists()
    assert cached.exists()


def test_unpacked_tree_in_the_cache(env: TargetEnvironment, tmp_path: Path) -> None:
    from micro_thoth.cache import Cache
    from micro_thoth.digests import sha256_file

    cache = Cache(tmp_path / "cache")
    wheel = _wheel(tmp_path, Dist("cached", "1.0"))
    tree = install.unpacked_tree(wheel, cache)
    assert tree == cache.unpacked(sha256_file(wheel))
    assert (tree / "cached-1.0.dist-info" / "RECORD").exists()
    assert install.unpacked_tree(wheel, cache, sha256_file(wheel)) == tree
    other = _wheel(tmp_path, Dist("cached-too", "1.0"))
    both = install.unpacked_trees({"cached": wheel, "cached-too": other}, cache)  # type: ignore[dict-item]
    assert both["cached"] == tree and both["cached-too"] == cache.unpacked(sha256_file(other))
    execute(plan([WantedPackage("cached", "1.0")], env), {"cached": tree}, env)
    assert _run(env, "import cached; print(cached.__version__)") == "1.0"
    hostile = _wheel(tmp_path, Dist("nasty", "1.0"), extra_members={"/abs": b""})
    with pytest.raises(UnsafeWheel):
        install.unpacked_tree(hostile, cache)
    assert cache.unpacked(sha256_file(hostile)) is None


def test_replacing_a_distribution_without_record_is_refused(env: TargetEnvironment, tmp_path: Path) -> None:
    _sync(env, tmp_path, Dist("norecord", "1.0"), Dist("fine", "1.0"))
    (Path(env.paths["purelib"]) / "norecord-1.0.dist-info" / "RECORD").unlink()
    step = plan([WantedPackage("fine", "2.0"), WantedPackage("norecord", "2.0")], env)
    wheels = {"norecord": _wheel(tmp_path, Dist("norecord", "2.0")), "fine": _wheel(tmp_path, Dist("fine", "2.0"))}
    with pytest.raises(InstallError, match="no RECORD"):
        execute(step, wheels, env)
    assert {k: d.version for k, d in installed_distributions(env).items()} == {"norecord": "1.0", "fine": "1.0"}
    assert _run(env, "import fine; print(fine.__version__)") == "1.0"


def test_namespace_directories_shared_in_parallel(env: TargetEnvironment, tmp_path: Path) -> None:
    dists = [Dist(f"ns-part{i}", "1.0", files={f"nsroot/deep/part{i}/__init__.py": f"N = {i}\n"}) for i in range(16)]
    wanted = [WantedPackage(d.name, d.version) for d in dists]
    wheels = {canonicalize_name(d.name): _wheel(tmp_path, d) for d in dists}
    execute(plan(wanted, env), wheels, env, workers=8)
    assert _run(env, "import nsroot.deep.part15 as p; print(p.N)") == "15"


def test_a_file_shipped_twice_is_not_left_behind_by_rollback(
    env: TargetEnvironment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    one = Dist("twin-one", "1.0", files={"common/__init__.py": "ONE = 1\n"})
    two = Dist("twin-two", "1.0", files={"common/__init__.py": "TWO = 2\n"})
    real = actions._install_one

    def failing_last(wanted: WantedPackage, source: Path, env_: TargetEnvironment, tx: transaction.Transaction, bytecode: bool, *rest: object) -> None:
        real(wanted, source, env_, tx, bytecode, *rest)  # type: ignore[arg-type]
        if wanted.name == "twin-two":
            raise InstallError("boom", distribution="twin-two")

    monkeypatch.setattr(actions, "_install_one", failing_last)
    step = plan([WantedPackage(one.name, "1.0"), WantedPackage(two.name, "1.0")], env)
    with pytest.raises(InstallError):
        execute(step, {"twin-one": _wheel(tmp_path, one), "twin-two": _tree(tmp_path, two)}, env, workers=1)
    assert not (Path(env.paths["purelib"]) / "common").exists()
    assert installed_distributions(env) == {}


def test_copies_when_links_are_impossible(env: TargetEnvironment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    def no_links(source: str, target: str) -> None:
        calls.append(target)
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr(linking.os, "link", no_links)
    tree = _tree(tmp_path, Dist("copied", "1.0", files={"copied/a.py": "", "copied/b.py": ""}))
    execute(plan([WantedPackage("copied", "1.0")], env), {"copied": tree}, env, link_mode="hardlink")
    installed = Path(env.paths["purelib"]) / "copied" / "a.py"
    assert installed.exists() and installed.stat().st_ino != (tree / "copied" / "a.py").stat().st_ino
    assert len(calls) == 1  # gave up linking after the first failure
    assert _run(env, "import copied.b; print('ok')") == "ok"


def test_plan_is_made_again_under_the_lock(env: TargetEnvironment, tmp_path: Path) -> None:
    ours = plan([WantedPackage("racy", "2.0")], env)
    _sync(env, tmp_path, Dist("racy", "1.0"))  # another install got there first
    messages: list[str] = []

    class Recorder(Reporter):
        def message(self, text: str, level: str = "info") -> None:
            messages.append(text)

    result = execute(ours, {"racy": _wheel(tmp_path, Dist("racy", "2.0"))}, env, reporter=Recorder())
    assert result.removed == ("racy==1.0",)
    assert sorted(p.name for p in Path(env.paths["purelib"]).glob("racy-*.dist-info")) == ["racy-2.0.dist-info"]
    assert any("plan was made again" in m for m in messages)
    stale = plan([WantedPackage("racy", "2.0")], ensure_venv(tmp_path / "other", sys.executable))
    assert execute(stale, {"racy": _wheel(tmp_path, Dist("racy", "2.0"))}, env).installed == ()


def test_externally_managed_system_python(env: TargetEnvironment, tmp_path: Path) -> None:
    import dataclasses

    assert env.externally_managed is None  # a venv never is
    stdlib = tmp_path / "stdlib"
    stdlib.mkdir()
    info = dataclasses.replace(env.interpreter, base_prefix=env.interpreter.prefix,
                               paths={**env.interpreter.paths, "stdlib": str(stdlib)})
    system = dataclasses.replace(env, interpreter=info)
    assert system.externally_managed is None
    (stdlib / "EXTERNALLY-MANAGED").write_text("[externally-managed]\nError = use apt,\n  not pip\n")
    assert system.externally_managed == "use apt, not pip"


def test_compile_pool_compiles_what_it_is_handed(tmp_path: Path) -> None:
    sources = [tmp_path / f"m{i}.py" for i in range(70)]  # more than one batch
    for source in sources:
        source.write_text("VALUE = 1\n")
    broken = tmp_path / "broken.py"
    broken.write_text("def (:\n")  # a syntax error is skipped, as pip does, not an error
    tag = sys.implementation.cache_tag
    with install.CompilePool(sys.executable, 2) as pool:
        pool.submit([str(p) for p in [*sources[:10], broken]])
        pool.submit([str(p) for p in sources[10:]])
    assert all((tmp_path / "__pycache__" / f"{p.stem}.{tag}.pyc").is_file() for p in sources)
    assert not (tmp_path / "__pycache__" / f"broken.{tag}.pyc").exists()
    assert pool.close() == 71  # every file was tried: the trees need no second look


def test_compile_pool_writes_what_py_compile_writes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The pool's bytecode is byte for byte py_compile's defaults (pip's): one optimisation level
    (no .opt-N files), timestamp-checked, or checked hashes when SOURCE_DATE_EPOCH is set."""
    import py_compile

    tag = sys.implementation.cache_tag
    for epoch in (None, "1"):
        if epoch is not None:
            monkeypatch.setenv("SOURCE_DATE_EPOCH", epoch)
        here = tmp_path / f"epoch-{epoch}"
        here.mkdir()
        sources = [here / f"m{i}.py" for i in range(40)]
        for i, source in enumerate(sources):
            source.write_text(f'"""doc"""\nassert True\nVALUE = {i}\n')
        with install.CompilePool(sys.executable, 2) as pool:
            pool.submit([str(p) for p in sources])
        cache = here / "__pycache__"
        assert sorted(p.name for p in cache.iterdir()) == sorted(f"{p.stem}.{tag}.pyc" for p in sources)
        pooled = {p.name: p.read_bytes() for p in cache.iterdir()}
        shutil.rmtree(cache)
        for source in sources:
            assert Path(py_compile.compile(str(source), doraise=True)).read_bytes() == pooled[f"{source.stem}.{tag}.pyc"]
        flags = int.from_bytes(pooled[f"m0.{tag}.pyc"][4:8], "little")
        assert flags == (0 if epoch is None else 0b11)  # timestamp; else a checked hash


def test_compile_pool_says_when_each_hand_over_is_compiled(tmp_path: Path) -> None:
    tag = sys.implementation.cache_tag
    done: list[str] = []
    parts = {name: [tmp_path / name / f"m{i}.py" for i in range(n)] for name, n in (("big", 70), ("small", 3), ("none", 0))}
    for files in parts.values():
        for source in files:
            source.parent.mkdir(exist_ok=True)
            source.write_text("VALUE = 1\n")

    def then(name: str) -> None:  # every file of that hand-over is compiled by then
        assert all((p.parent / "__pycache__" / f"{p.stem}.{tag}.pyc").is_file() for p in parts[name])
        done.append(name)

    with install.CompilePool(sys.executable, 2) as pool:
        for name, files in parts.items():
            pool.submit([str(p) for p in files], then=functools.partial(then, name))
    assert sorted(done) == ["big", "none", "small"]  # each once
    done.clear()
    with install.CompilePool(str(tmp_path / "no-python"), 1) as pool:
        pool.submit([str(parts["small"][0])], then=functools.partial(then, "small"))
    assert done == [] and pool.close() is None  # nothing said compiled that was not


def test_a_failing_then_leaves_the_pool_working_and_says_not_every_tree_is_kept(tmp_path: Path) -> None:
    """A ``then`` that raises is the caller's failure, not the pool thread's end: the next hand-overs are
    still compiled and said, and close() asks for the trees to be looked over again (all or nothing)."""
    tag = sys.implementation.cache_tag
    sources = {name: tmp_path / f"{name}.py" for name in ("a", "b", "c")}
    for source in sources.values():
        source.write_text("VALUE = 1\n")
    done: list[str] = []

    def then(name: str) -> None:
        done.append(name)
        if name == "a":
            raise OSError("disk full")

    with install.CompilePool(sys.executable, 1) as pool:
        for name, source in sources.items():
            pool.submit([str(source)], then=functools.partial(then, name))
    assert done == ["a", "b", "c"]
    assert all((tmp_path / "__pycache__" / f"{name}.{tag}.pyc").is_file() for name in sources)
    assert pool.close() is None  # a tree whose then failed was not kept: the trees are looked over again


def test_compile_pool_without_its_interpreter_compiles_nothing_and_says_nothing(tmp_path: Path) -> None:
    source = tmp_path / "m.py"
    source.write_text("VALUE = 1\n")
    with install.CompilePool(str(tmp_path / "no-python"), 1) as pool:
        pool.submit([str(source)])
    assert not (tmp_path / "__pycache__").exists()
    assert pool.close() is None  # so the trees are looked over again (precompile_trees)


# -- staging (the default link modes) ------------------------------------------------------------
def test_staging_installs_each_file_once_and_keeps_the_bytecode(env: TargetEnvironment, tmp_path: Path) -> None:
    from micro_thoth.cache import Cache
    from micro_thoth.digests import sha256_file

    cache = Cache(tmp_path / "cache")
    wheel = _wheel(tmp_path, Dist("staged", "1.0", files={"staged/sub/deep.py": "X = 1\n"}))
    digest, tag = sha256_file(wheel), env.interpreter.cache_tag
    with install.unpacking_for("clone", env, cache) as unpacking:
        assert isinstance(unpacking, install.Staging) and unpacking.root is not None
        assert unpacking.root.parent == Path(env.paths["purelib"]) and unpacking.root.name.startswith(".thoth-pip-staging-")
        tree = unpacking.stage(wheel, digest)
        staged = tree / "staged" / "sub" / "deep.py"
        inode = staged.stat().st_ino
        assert install.precompile_trees([tree], env) > 0
        unpacking.keep_bytecode([tree])
        result = execute(plan([WantedPackage("staged", "1.0")], env), {"staged": tree}, env,
                         link_mode=unpacking.link_mode, trees_compiled=1)
    installed = Path(env.paths["purelib"]) / "staged" / "sub" / "deep.py"
    assert installed.stat().st_ino == inode  # moved, not copied: one file made
    assert installed.stat().st_mode & 0o200  # the environment's files are writable
    assert result.installed == ("staged==1.0",) and not unpacking.root.exists()
    assert cache.wheel_checked(digest) and cache.unpacked(digest) is None
    archive = cache.bytecode(digest, tag)
    assert archive is not None and f"staged/sub/__pycache__/deep.{tag}.pyc" in zipfile.ZipFile(archive).namelist()
    assert _run(env, "import staged.sub.deep as d, sys; print(d.X, d.__cached__ is not None)") == "1 True"
    # a second environment gets the kept bytecode, valid for its sources (same time, same size)
    two = ensure_venv(tmp_path / "two", sys.executable)
    with install.unpacking_for("copy", two, cache) as unpacking:
        tree = unpacking.stage(wheel, digest)
        assert install.missing_bytecode(tree, tag) == []
    pyc = (tree / "staged" / "sub" / "__pycache__" / f"deep.{tag}.pyc")
    assert not pyc.exists()  # the staging directory is gone with the with block


def test_staging_refuses_a_lying_record_and_remembers_no_check(env: TargetEnvironment, tmp_path: Path) -> None:
    from micro_thoth.cache import Cache
    from micro_thoth.digests import sha256_file

    dist = Dist("liar", "1.0", files={"liar/big.py": "A = 1\n" * 1000})
    members = _members(build_wheel(dist))
    members["liar/big.py"] = b"A = 2\n" * 1000
    path = _zip(tmp_path, dist.wheel_filename, list(members.items()))
    cache = Cache(tmp_path / "cache")
    with install.unpacking_for("clone", env, cache) as unpacking, pytest.raises(UnsafeWheel, match=r"liar/big\.py"):
        unpacking.stage(path, sha256_file(path))
    assert not cache.wheel_checked(sha256_file(path))
    assert not list(Path(env.paths["purelib"]).glob(".thoth-pip-staging-*"))


def test_a_killed_install_s_staging_directory_is_swept(env: TargetEnvironment, tmp_path: Path) -> None:
    from micro_thoth.cache import Cache

    site = Path(env.paths["purelib"])
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (site / f".thoth-pip-staging-{dead.pid}-x" / "t").mkdir(parents=True)
    (site / ".thoth-pip-staging-1-y").mkdir()  # pid 1 lives: never touched
    with install.unpacking_for("clone", env, Cache(tmp_path / "cache")):
        pass
    assert sorted(p.name for p in site.glob(".thoth-pip-staging-*")) == [".thoth-pip-staging-1-y"]
    (site / ".thoth-pip-staging-1-y").rmdir()


def test_rollback_removes_directories_moved_in_whole(
    env: TargetEnvironment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from micro_thoth.cache import Cache

    cache = Cache(tmp_path / "cache")
    real = trees._write_metadata

    def failing(tree: trees.Tree, destination: object, wanted: WantedPackage) -> object:
        if wanted.name == "second":
            raise OSError("disk full")
        return real(tree, destination, wanted)  # type: ignore[arg-type]

    monkeypatch.setattr(trees, "_write_metadata", failing)
    with install.unpacking_for("clone", env, cache) as unpacking:
        staged = {name: unpacking.stage(_wheel(tmp_path, Dist(name, "1.0", files={f"{name}/a/b.py": "B = 1\n"})), None)
                  for name in ("whole", "second")}
        pycache = staged["whole"] / "whole" / "a" / "__pycache__"  # bytecode compiled in the staging tree
        pycache.mkdir()
        (pycache / "b.pyc").write_bytes(b"")
        wanted = [WantedPackage("whole", "1.0"), WantedPackage("second", "1.0")]
        with pytest.raises(InstallError, match="disk full"):
            execute(plan(wanted, env), staged, env, link_mode=unpacking.link_mode, compile_bytecode=False)
    site = Path(env.paths["purelib"])
    assert not (site / "whole").exists() and not (site / "second").exists()
    assert installed_distributions(env) == {}


def test_a_site_packages_that_cannot_be_written_is_named(
    env: TargetEnvironment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from micro_thoth.cache import Cache
    from micro_thoth.install import staging

    def refused(**kwargs: object) -> str:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(staging.tempfile, "mkdtemp", refused)
    unpacking = install.unpacking_for("clone", env, Cache(tmp_path / "cache"))
    with pytest.raises(InstallError, match=r"cannot write into .*site-packages: Permission denied"), unpacking:
        pass


@pytest.mark.parametrize(
    "path",
    ["a/../../x", "../x", "a/..", "..", "/etc/passwd", "a/./../../x", "a//../../x", "", ".", "./", "a/b/../../..",
     "a/.../x", ".hidden/x", "a/.b", "a//b", "a/b/", "pkg/mod.py", "pkg/\u00e9/m\u0301.py", "a\\..\\..\\x", "\u2025/x"],
)
def test_within_agrees_with_normpath(tmp_path: Path, path: str) -> None:
    """``within`` joins a plain path without normpath: for every path, the same answer as normpath's."""
    base = os.path.abspath(tmp_path / "base")
    target = os.path.normpath(os.path.join(base, path))
    if target.startswith(base + os.sep):
        assert safety.within(base, path) == target
    else:
        with pytest.raises(UnsafeWheel):
            safety.within(base, path)


def test_ensure_dir_makes_missing_ancestors_and_refuses_a_file(tmp_path: Path) -> None:
    deep = tmp_path / "a" / "b" / "c"
    safety.ensure_dir(str(deep))
    assert deep.is_dir()
    safety.ensure_dir(str(deep))  # already there: nothing to do
    (tmp_path / "file").write_text("")
    with pytest.raises(FileExistsError):
        safety.ensure_dir(str(tmp_path / "file"))
    with pytest.raises(NotADirectoryError):
        safety.ensure_dir(str(tmp_path / "file" / "below"))
