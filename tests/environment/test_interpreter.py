"""interpreter.query / find_python / tags: real interpreters and venvs, no mocks of the probe."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.tags import sys_tags

from micro_thoth.environment import interpreter
from micro_thoth.environment.interpreter import InterpreterInfo, find_python, query
from micro_thoth.errors import TargetInterpreterError


@pytest.fixture(scope="module")
def current() -> InterpreterInfo:
    return query(sys.executable)


def test_query_current_python_matches_packaging(current: InterpreterInfo) -> None:
    assert dict(current.markers) == default_environment()
    assert current.version == tuple(sys.version_info[:3])
    assert current.implementation == sys.implementation.name
    assert current.cache_tag == sys.implementation.cache_tag
    assert current.platform == sysconfig.get_platform()
    assert current.soabi == sysconfig.get_config_var("SOABI")
    assert current.paths["purelib"] == sysconfig.get_paths()["purelib"]
    assert current.paths["scripts"] == sysconfig.get_paths()["scripts"]
    assert current.prefix == sys.prefix and current.base_prefix == sys.base_prefix
    assert current.is_venv == (sys.prefix != sys.base_prefix)


def test_libc_of_current_python(current: InterpreterInfo) -> None:
    if not sys.platform.startswith("linux"):
        pytest.skip("libc is a Linux notion")
    glibc = os.confstr("CS_GNU_LIBC_VERSION")
    if glibc:
        assert current.libc_family == "glibc"
        assert glibc.split()[1].startswith(current.libc_version or "?")
    else:
        assert current.libc_family in ("musl", None)


def test_tags_equal_packaging_sys_tags(current: InterpreterInfo) -> None:
    expected = list(sys_tags())
    target = current.target()
    assert list(target.tags) == expected
    assert target.python_version == f"{sys.version_info[0]}.{sys.version_info[1]}"


def _venv(path: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    return path / "bin" / "python"


def test_query_fresh_venv(tmp_path: Path) -> None:
    python = _venv(tmp_path / "venv")
    info = query(python)
    assert info.is_venv
    assert Path(info.prefix) == tmp_path / "venv"
    assert Path(info.paths["purelib"]).is_relative_to(tmp_path / "venv")
    assert Path(info.paths["scripts"]) == tmp_path / "venv" / "bin"
    assert info.headers_dir("demo").startswith(str(tmp_path / "venv" / "include" / "site"))
    assert info.executable == str(python)


def test_cache_spares_the_subprocess(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    python = _venv(tmp_path / "venv")
    first = query(python, cache_dir=tmp_path / "cache")
    assert list((tmp_path / "cache" / interpreter.CACHE_BUCKET).glob("*.json"))

    def no_subprocess(*args: object, **kwargs: object) -> None:
        raise AssertionError("the cache should have answered")

    monkeypatch.setattr(interpreter.subprocess, "run", no_subprocess)
    assert query(python, cache_dir=tmp_path / "cache") == first


def test_the_running_interpreter_answers_in_process_as_its_subprocess_would(monkeypatch: pytest.MonkeyPatch) -> None:
    executable = interpreter._locate(sys.executable)
    if not interpreter._is_running(executable):
        pytest.skip("this test run's interpreter was started with a variable `python -I` ignores")
    command = [str(executable), "-I", "-c", interpreter.PROBE.read_text(encoding="utf-8")]
    asked = InterpreterInfo.from_dict(json.loads(subprocess.run(command, capture_output=True, check=True).stdout))

    def no_subprocess(*args: object, **kwargs: object) -> None:
        raise AssertionError("the running interpreter describes itself in-process")

    monkeypatch.setattr(interpreter.subprocess, "run", no_subprocess)
    assert query(sys.executable) == asked
    monkeypatch.setenv("PYTHONHOME", sys.base_prefix)  # honoured here, ignored by `python -I`: ask a subprocess
    assert not interpreter._is_running(executable)


@pytest.mark.skipif(not os.path.exists("/proc/self/exe"), reason="the running binary is known from /proc/self/exe")
def test_a_process_whose_path_names_another_file_asks_a_subprocess(tmp_path: Path) -> None:
    """sys.executable is what argv[0] named: a launcher's argv[0], or a binary replaced since the process
    started, names a file that is not the running interpreter, whose answer may differ."""
    named = tmp_path / "python"
    shutil.copy2(os.path.realpath(sys.executable), named)  # another file at the path argv[0] names
    code = "import sys; from pathlib import Path; from micro_thoth.environment import interpreter as i; " \
           "print(sys.executable, i._is_running(Path(sys.executable)))"
    environ = {k: v for k, v in os.environ.items() if k not in interpreter.STARTUP_VARIABLES}
    environ["PYTHONPATH"] = os.pathsep.join([str(Path(interpreter.__file__).parents[2]), *sys.path])
    done = subprocess.run([str(named), "-c", code], executable=os.path.realpath(sys.executable), env=environ,
                          capture_output=True, text=True, check=True)
    assert done.stdout.split() == [str(named), "False"]


def test_cache_is_keyed_by_path_and_stat(tmp_path: Path) -> None:
    one, two = _venv(tmp_path / "one"), _venv(tmp_path / "two")
    cache = tmp_path / "cache"
    assert query(one, cache_dir=cache).prefix != query(two, cache_dir=cache).prefix
    assert query(two, cache_dir=cache).prefix == str(tmp_path / "two")
    copy = tmp_path / "python-copy"
    shutil.copy2(os.path.realpath(sys.executable), copy)
    link = tmp_path / "python"
    link.symlink_to(os.path.realpath(sys.executable))
    first = interpreter._cache_key(link)
    link.unlink()
    link.symlink_to(copy)  # the same path, re-pointed at another file
    assert interpreter._cache_key(link) != first
    second = interpreter._cache_key(link)
    os.utime(copy, ns=(1, 1))  # the file it leads to changed
    assert interpreter._cache_key(link) != second


def test_cache_is_keyed_by_the_kernel_and_libc_it_reports(monkeypatch: pytest.MonkeyPatch) -> None:
    """The markers platform_release / platform_version and the libc come from the machine, not the
    executable's file: a kernel or glibc upgrade under an unchanged interpreter asks it again."""
    executable = interpreter._locate(sys.executable)
    before = interpreter._cache_key(executable)
    assert before is not None
    monkeypatch.setattr(interpreter.platform, "release", lambda: "0.0.0-another-kernel")
    assert interpreter._cache_key(executable) != before
    monkeypatch.undo()
    assert interpreter._cache_key(executable) == before
    monkeypatch.setattr(interpreter.os, "confstr", lambda name: "glibc 1.0", raising=False)
    assert interpreter._cache_key(executable) != before


def test_corrupt_cache_entry_is_ignored(tmp_path: Path) -> None:
    python = _venv(tmp_path / "venv")
    cache = tmp_path / "cache"
    query(python, cache_dir=cache)
    for entry in (cache / interpreter.CACHE_BUCKET).glob("*.json"):
        entry.write_text("{not json")
    assert query(python, cache_dir=cache).is_venv


def test_find_python_variants(tmp_path: Path) -> None:
    assert find_python(None).name.startswith("python")
    python = _venv(tmp_path / "venv")
    assert find_python(str(tmp_path / "venv")) == python.parent / "python3"
    assert find_python(str(python)) == python
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    assert query(find_python(version)).python_version == version


def test_find_python_unknown_version() -> None:
    with pytest.raises(TargetInterpreterError, match=r"9\.99"):
        find_python("9.99")


def test_query_missing_or_broken_interpreter(tmp_path: Path) -> None:
    with pytest.raises(TargetInterpreterError):
        query(tmp_path / "nope" / "python")
    broken = tmp_path / "python"
    broken.write_text("#!/bin/sh\necho boom >&2\nexit 3\n")
    broken.chmod(0o755)
    with pytest.raises(TargetInterpreterError, match="boom"):
        query(broken)


def test_another_python_version_if_installed() -> None:
    mine = f"{sys.version_info[0]}.{sys.version_info[1]}"
    for version in ("3.12", "3.9", "3.13", "3.10"):
        if version == mine:
            continue
        try:
            path = find_python(version)
        except TargetInterpreterError:
            continue
        info = query(path)
        assert info.python_version == version
        assert info.markers["python_version"] == version
        assert info.target().tags[0].interpreter == "cp" + version.replace(".", "")
        return
    pytest.skip("no second Python version on this machine")


def _synthetic(current: InterpreterInfo, **changes: object) -> InterpreterInfo:
    return dataclasses.replace(current, **changes)  # type: ignore[arg-type]


def _platforms(info: InterpreterInfo) -> list[str]:
    return list(dict.fromkeys(tag.platform for tag in info.target().tags))


def test_platform_tags_for_musl_and_32bit(current: InterpreterInfo) -> None:
    if not current.platform.startswith("linux-x86_64"):
        pytest.skip("synthetic variants of an x86_64 Linux interpreter")
    musl = _synthetic(current, libc_family="musl", libc_version="1.2")
    assert _platforms(musl)[:4] == ["linux_x86_64", "musllinux_1_2_x86_64", "musllinux_1_1_x86_64", "musllinux_1_0_x86_64"]
    old = _synthetic(current, pointer_bits=32, libc_family="glibc", libc_version="2.17")
    platforms = _platforms(old)
    assert platforms[:3] == ["linux_i686", "manylinux_2_17_i686", "manylinux2014_i686"]
    assert platforms[-3:] == ["manylinux_2_5_i686", "manylinux1_i686", "any"]
    assert old.target().markers["platform_machine"] == "x86_64"  # markers stay as the interpreter reports


def test_free_threaded_and_debug_abis(current: InterpreterInfo) -> None:
    markers = {**current.markers, "python_version": "3.13"}
    ft = _synthetic(current, version=(3, 13, 0), gil_disabled=True, soabi="cpython-313t-x86_64-linux-gnu", markers=markers)
    assert ft.target().tags[0].abi == "cp313t"
    dbg = _synthetic(current, py_debug=True, soabi="cpython-311d-x86_64-linux-gnu")
    assert [t.abi for t in dbg.target().tags[:1]] == ["cp311d"]


def test_round_trip_through_dict(current: InterpreterInfo) -> None:
    assert InterpreterInfo.from_dict(current.to_dict()) == current
    with pytest.raises(ValueError):
        InterpreterInfo.from_dict({"executable": "x"})
