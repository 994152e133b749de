"""Wheel tags and marker values for targets other than (and equal to) the running interpreter."""

from __future__ import annotations

import platform
import sys

import packaging
import pytest
from packaging import tags
from packaging.markers import Marker, default_environment
from packaging.tags import Tag
from packaging.version import Version

from micro_thoth.environment.runtime import (
    compatible_tags,
    make_target,
    marker_environment,
    target_for_interpreter,
)
from micro_thoth.environment.target import abis_from_soabi, full_version


def _running_libc() -> tuple[str, tuple[int, int]] | None:
    name, version = platform.libc_ver()
    if name == "glibc":
        major, minor = version.split(".")[:2]
        return ("glibc", (int(major), int(minor)))
    return None


@pytest.mark.skipif(sys.platform != "linux" or _running_libc() is None, reason="glibc linux only")
@pytest.mark.skipif(Version(packaging.__version__) < Version("26.3"), reason="older packaging orders linux_ last")
def test_running_interpreter_tags_equal_sys_tags_in_order() -> None:
    ours = compatible_tags(python_version=sys.version_info[:2], platform=sys.platform, libc=_running_libc(),
                           machine=platform.machine())
    assert list(ours) == list(tags.sys_tags())


@pytest.mark.skipif(sys.platform != "linux", reason="linux only")
def test_running_interpreter_markers_equal_default_environment() -> None:
    ours = marker_environment(python_version=platform.python_version(), platform=sys.platform,
                              machine=platform.machine(), platform_release=platform.release(),
                              platform_version=platform.version())
    assert ours == dict(default_environment())


def _strs(target_tags: tuple[Tag, ...]) -> list[str]:
    return [str(t) for t in target_tags]


def test_manylinux_target_for_an_older_python() -> None:
    got = _strs(compatible_tags(python_version=(3, 9), platform="linux", libc=("glibc", (2, 28)), machine="x86_64"))
    assert got[0] == "cp39-cp39-linux_x86_64"
    assert got[1] == "cp39-cp39-manylinux_2_28_x86_64"
    assert "cp39-cp39-manylinux2014_x86_64" in got and "cp39-cp39-manylinux1_x86_64" in got
    assert "cp39-cp39-manylinux_2_29_x86_64" not in got
    assert got.index("cp39-cp39-manylinux_2_17_x86_64") + 1 == got.index("cp39-cp39-manylinux2014_x86_64")
    assert got.index("cp39-abi3-manylinux_2_28_x86_64") < got.index("cp39-none-manylinux_2_28_x86_64")
    assert got.index("cp39-none-manylinux_2_28_x86_64") < got.index("cp38-abi3-manylinux_2_28_x86_64")
    assert got.index("cp32-abi3-linux_x86_64") < got.index("py39-none-linux_x86_64")
    assert got[-1] == "py30-none-any"
    assert "cp39-none-any" in got and "py3-none-any" in got
    assert not any("cp311" in t or "musllinux" in t for t in got)


def test_aarch64_manylinux_starts_at_2_17() -> None:
    got = _strs(compatible_tags(python_version=(3, 11), platform="linux-aarch64", libc=("glibc", (2, 31)),
                                machine="aarch64"))
    assert "cp311-cp311-manylinux_2_17_aarch64" in got and "cp311-cp311-manylinux2014_aarch64" in got
    assert "cp311-cp311-manylinux_2_16_aarch64" not in got
    assert "cp311-cp311-manylinux1_aarch64" not in got


def test_musllinux_target() -> None:
    got = _strs(compatible_tags(python_version=(3, 12), platform="linux", libc=("musl", (1, 2)), machine="x86_64"))
    assert got[:4] == ["cp312-cp312-linux_x86_64", "cp312-cp312-musllinux_1_2_x86_64",
                       "cp312-cp312-musllinux_1_1_x86_64", "cp312-cp312-musllinux_1_0_x86_64"]
    assert not any("manylinux" in t for t in got)


def test_unknown_libc_gives_only_the_native_linux_tag() -> None:
    got = _strs(compatible_tags(python_version=(3, 11), platform="linux", libc=None, machine="amd64"))
    assert "cp311-cp311-linux_x86_64" in got
    assert not any("manylinux" in t for t in got)


def test_macos_and_windows_targets() -> None:
    mac = _strs(compatible_tags(python_version=(3, 11), platform="macosx-14.0-arm64", libc=None, machine="arm64"))
    assert mac[0] == "cp311-cp311-macosx_14_0_arm64"
    assert "cp311-cp311-macosx_11_0_arm64" in mac and "cp311-cp311-macosx_15_0_arm64" not in mac
    win = _strs(compatible_tags(python_version=(3, 10), platform="win32", libc=None, machine="AMD64"))
    assert win[0] == "cp310-cp310-win_amd64" and "cp310-abi3-win_amd64" in win
    assert not any("linux" in t for t in win)


def test_free_threaded_and_pypy_abis() -> None:
    ft = _strs(compatible_tags(python_version=(3, 13), abis=["cp313t"], platform="linux", libc=("glibc", (2, 17)),
                               machine="x86_64"))
    assert ft[0] == "cp313-cp313t-linux_x86_64" and "cp313-abi3-linux_x86_64" not in ft
    pp = _strs(compatible_tags(python_version=(3, 10), implementation="pypy", abis=["pypy310_pp73"],
                               platform="linux", libc=("glibc", (2, 17)), machine="x86_64"))
    assert pp[0] == "pp310-pypy310_pp73-linux_x86_64" and "pp3-none-any" in pp
    assert not any(t.startswith("cp") for t in pp)


def test_markers_for_other_targets() -> None:
    env = marker_environment(python_version="3.9", platform="win32", machine="x86_64")
    assert env["python_full_version"] == "3.9.0" and env["python_version"] == "3.9"
    assert (env["sys_platform"], env["os_name"], env["platform_system"], env["platform_machine"]) == \
        ("win32", "nt", "Windows", "AMD64")
    assert Marker('sys_platform == "win32" and python_version < "3.10"').evaluate(env)
    mac = marker_environment(python_version="3.12.1", platform="darwin", machine="aarch64")
    assert (mac["platform_system"], mac["platform_machine"], mac["python_full_version"]) == ("Darwin", "arm64", "3.12.1")


def test_full_version_rejects_garbage() -> None:
    with pytest.raises(ValueError):
        full_version("three")


def test_target_for_python_39_from_anywhere() -> None:
    target = make_target(python_version="3.9", platform="linux", libc=("glibc", (2, 17)), machine="x86_64")
    assert target.python_version == "3.9"
    assert target.tag_rank([Tag("cp39", "cp39", "manylinux2014_x86_64")]) is not None
    assert target.tag_rank([Tag("cp311", "cp311", "manylinux2014_x86_64")]) is None
    assert target.tag_rank([Tag("cp39", "cp39", "manylinux_2_28_x86_64")]) is None
    assert Marker('python_version < "3.10"').evaluate(dict(target.markers))


class _Info:
    def __init__(self) -> None:
        self.markers = marker_environment(python_version="3.10.4", platform="linux", machine="aarch64")
        self.platform = "linux-aarch64"
        self.soabi = "cpython-310-aarch64-linux-gnu"
        self.libc = ("glibc", "2.31")
        self.machine = "aarch64"


def test_target_for_interpreter_is_duck_typed() -> None:
    target = target_for_interpreter(_Info())
    assert target.markers["python_full_version"] == "3.10.4"
    assert str(target.tags[0]) == "cp310-cp310-linux_aarch64"
    assert Tag("cp310", "cp310", "manylinux_2_31_aarch64") in target.tags
    assert Tag("cp310", "cp310", "manylinux_2_32_aarch64") not in target.tags


def test_abis_from_soabi() -> None:
    assert abis_from_soabi("cp", "cpython-311-x86_64-linux-gnu") == ["cp311"]
    assert abis_from_soabi("cp", "cpython-313t-x86_64-linux-gnu") == ["cp313t"]
    assert abis_from_soabi("cp", "cpython-311d-x86_64-linux-gnu") == ["cp311d", "cp311"]
    assert abis_from_soabi("pp", "pypy310-pp73-x86_64-linux-gnu") == ["pypy310_pp73"]
    assert abis_from_soabi("cp", None) is None


def test_macos_version_from_darwin_release() -> None:
    from micro_thoth.environment.target import macos_from_darwin

    assert macos_from_darwin("23.1.0") == (14, 0)
    assert macos_from_darwin("25.0.0") == (26, 0)
    assert macos_from_darwin("19.6.0") == (10, 15)
    assert macos_from_darwin("") is None
