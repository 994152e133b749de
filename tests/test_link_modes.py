"""Link modes: an edit in one environment never reaches the cache or another one; sync repairs it."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from micro_thoth.cache import Cache
from micro_thoth.errors import UsageError
from micro_thoth.install import (
    TargetEnvironment,
    WantedPackage,
    ensure_venv,
    execute,
    linking,
    plan,
    unpacked_tree,
)
from micro_thoth.integrity import damaged_files, tree_damaged
from micro_thoth.settings import Settings
from tests.support.builder import Dist, build_wheel

DIST = Dist("mod", "1.0", files={"mod/core.py": "VALUE = 1\n"})


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    wheel = tmp_path / DIST.wheel_filename
    wheel.write_bytes(build_wheel(DIST))
    return unpacked_tree(wheel, Cache(tmp_path / "cache"))


def _install(tmp_path: Path, name: str, tree: Path, mode: str) -> TargetEnvironment:
    env = ensure_venv(tmp_path / name, sys.executable)
    execute(plan([WantedPackage("mod", "1.0")], env), {"mod": tree}, env, link_mode=mode)
    return env


def _core(env: TargetEnvironment) -> Path:
    return Path(env.paths["purelib"]) / "mod" / "core.py"


def _edit(path: Path, text: str) -> None:
    """An in-place edit, as an editor that writes through the file does (root or not)."""
    os.chmod(path, 0o644)
    with open(path, "r+") as fh:
        fh.write(text)


def _python(env: TargetEnvironment, code: str) -> str:
    return subprocess.run([env.python, "-c", code], capture_output=True, text=True, check=True).stdout.strip()


def test_cache_trees_are_read_only(tree: Path) -> None:
    assert not (tree / "mod" / "core.py").stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)


@pytest.mark.parametrize("mode", ["clone", "copy"])
def test_an_edit_stays_in_its_environment(tmp_path: Path, tree: Path, mode: str) -> None:
    one = _install(tmp_path, "one", tree, mode)
    assert _core(one).stat().st_ino != (tree / "mod" / "core.py").stat().st_ino
    assert _core(one).stat().st_mode & stat.S_IWUSR  # the environment's own file: editable
    _edit(_core(one), "VALUE = 2\n")
    assert (tree / "mod" / "core.py").read_text() == "VALUE = 1\n"
    two = _install(tmp_path, "two", tree, mode)
    assert _python(two, "import mod.core; print(mod.core.VALUE)") == "1"


def test_a_copy_keeps_the_tree_bytecode_valid(tmp_path: Path, tree: Path) -> None:
    env = _install(tmp_path, "env", tree, "copy")
    tag = env.interpreter.cache_tag
    pyc = Path(env.paths["purelib"]) / "mod" / "__pycache__" / f"core.{tag}.pyc"
    before = pyc.stat().st_mtime_ns
    assert _python(env, "import mod.core; print(mod.core.VALUE)") == "1"
    assert pyc.stat().st_mtime_ns == before  # not rewritten: the copy kept the source's time


def test_a_hard_link_edit_is_found_and_the_tree_unpacked_again(tmp_path: Path, tree: Path) -> None:
    env = _install(tmp_path, "env", tree, "hardlink")
    assert _core(env).stat().st_ino == (tree / "mod" / "core.py").stat().st_ino
    _edit(_core(env), "VALUE = 9\n")
    assert tree_damaged(tree)
    wheel = tmp_path / DIST.wheel_filename
    fresh = unpacked_tree(wheel, Cache(tmp_path / "cache"))
    assert (fresh / "mod" / "core.py").read_text() == "VALUE = 1\n" and not tree_damaged(fresh)
    other = _install(tmp_path, "other", fresh, "hardlink")
    assert _python(other, "import mod.core; print(mod.core.VALUE)") == "1"


def test_symlink_mode(tmp_path: Path, tree: Path) -> None:
    env = _install(tmp_path, "env", tree, "symlink")
    assert _core(env).is_symlink() and _core(env).resolve() == (tree / "mod" / "core.py").resolve()
    assert _python(env, "import mod.core; print(mod.core.VALUE)") == "1"


def test_clone_falls_back_to_copy_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []

    def refuse(fd: int, request: int, arg: int) -> None:
        calls.append(request)
        raise OSError(95, "Operation not supported")

    monkeypatch.setattr(linking.fcntl, "ioctl", refuse)
    source = tmp_path / "a"
    source.write_text("a")
    placer = linking.Placer("clone")
    placer.place(str(source), str(tmp_path / "b"))
    placer.place(str(source), str(tmp_path / "c"))
    assert calls == [linking.FICLONE]
    assert (tmp_path / "c").read_text() == "a" and (tmp_path / "b").read_text() == "a"


def test_damaged_files_finds_edits_and_deletions(tmp_path: Path, tree: Path) -> None:
    env = _install(tmp_path, "env", tree, "copy")
    dist_info = Path(env.paths["purelib"]) / "mod-1.0.dist-info"
    assert damaged_files(dist_info, dist_info.parent) == []
    _edit(_core(env), "VALUE = 5\n")
    (Path(env.paths["purelib"]) / "mod" / "__init__.py").unlink()
    assert sorted(damaged_files(dist_info, dist_info.parent)) == ["mod/__init__.py", "mod/core.py"]
    step = plan([WantedPackage("mod", "1.0")], env)
    assert step.damaged == ("mod",) and "repair mod==1.0 (installed files edited or missing)" in step.describe()
    execute(step, {"mod": tree}, env)
    assert damaged_files(dist_info, dist_info.parent) == []
    assert _core(env).read_text() == "VALUE = 1\n"


def test_link_mode_settings(tmp_path: Path) -> None:
    assert Settings.from_sources({"directory": str(tmp_path)}, {}).link_mode == "clone"
    assert Settings.from_sources({"directory": str(tmp_path)}, {"THOTH_PIP_LINK_MODE": "hardlink"}).link_mode == "hardlink"
    assert Settings.from_sources({"directory": str(tmp_path), "link_mode": "copy"}, {"THOTH_PIP_LINK_MODE": "symlink"}).link_mode == "copy"
    with pytest.raises(UsageError, match="THOTH_PIP_LINK_MODE='reflink' is not a link mode"):
        Settings.from_sources({"directory": str(tmp_path)}, {"THOTH_PIP_LINK_MODE": "reflink"})


@pytest.mark.parametrize("mode", ["clone", "copy", "hardlink", "symlink"])
def test_a_placer_never_writes_over_a_file_nor_links_to_nothing(tmp_path: Path, mode: str) -> None:
    source, there = tmp_path / "source.py", tmp_path / "there.py"
    source.write_text("NEW = 1\n")
    there.write_text("OLD = 1\n")
    placer = linking.Placer(mode)
    with pytest.raises(FileExistsError):
        placer.place(str(source), str(there))
    assert there.read_text() == "OLD = 1\n"
    with pytest.raises(FileNotFoundError):
        placer.place(str(tmp_path / "missing.py"), str(tmp_path / "made.py"))
    assert not os.path.lexists(tmp_path / "made.py")
    placer.place(str(source), str(tmp_path / "placed.py"))
    assert (tmp_path / "placed.py").read_text() == "NEW = 1\n"


def test_a_copy_that_fails_half_way_leaves_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = tmp_path / "source.py"
    source.write_text("NEW = 1\n")

    def full(src: int, dst: int, size: int, offset: int = 0) -> int:
        os.write(dst, b"NE")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(linking, "transfer", full)
    with pytest.raises(OSError, match="No space"):
        linking.Placer("copy").place(str(source), str(tmp_path / "half.py"))
    assert not (tmp_path / "half.py").exists()
