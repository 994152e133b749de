"""A tool's answer is remembered while the tool and its environment stay the same."""

from __future__ import annotations

import os
from pathlib import Path

from micro_thoth.environment.commands import TOOL_ANSWERS, subprocess_runner
from micro_thoth.environment.detect import Machine, probe_cuda

NVCC = """#!/bin/sh
echo run >> "$NVCC_COUNT"
echo "Cuda compilation tools, release {release}, V{release}.1"
"""


def _fake_nvcc(bin_dir: Path, count: Path, release: str = "12.4") -> Path:
    """A fake nvcc counting its runs in ``count`` (named by the environment: a file the script
    names is part of the key, and this one changes on every run)."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    tool = bin_dir / "nvcc"
    tool.write_text(NVCC.format(release=release))
    tool.chmod(0o755)
    return tool


def _runs(count: Path) -> int:
    return len(count.read_text().splitlines()) if count.exists() else 0


def _cuda(bin_dir: Path, cache: Path, refresh: bool = False, **extra: str) -> object:
    env = {"PATH": str(bin_dir), "NVCC_COUNT": str(bin_dir.parent / "count"), **extra}
    machine = Machine(root=Path("/nonexistent-root"), environ=env,
                      run=subprocess_runner(env, cache_dir=cache, refresh=refresh))
    return probe_cuda(machine)


def test_nvcc_runs_once_for_two_detections(tmp_path: Path) -> None:
    count = tmp_path / "count"
    _fake_nvcc(tmp_path / "bin", count)
    assert _cuda(tmp_path / "bin", tmp_path / "cache") == ("12.4", "nvcc --version")
    assert _cuda(tmp_path / "bin", tmp_path / "cache") == ("12.4", "nvcc --version")
    assert _runs(count) == 1


def test_a_changed_tool_or_environment_runs_again(tmp_path: Path) -> None:
    count = tmp_path / "count"
    tool = _fake_nvcc(tmp_path / "bin", count)
    _cuda(tmp_path / "bin", tmp_path / "cache")
    st = tool.stat()
    os.utime(tool, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))  # touched
    assert _cuda(tmp_path / "bin", tmp_path / "cache") == ("12.4", "nvcc --version")
    assert _runs(count) == 2
    replacement = _fake_nvcc(tmp_path / "new", count, release="12.8")
    os.replace(replacement, tool)  # a new toolkit in place
    assert _cuda(tmp_path / "bin", tmp_path / "cache") == ("12.8", "nvcc --version")
    assert _runs(count) == 3
    assert _cuda(tmp_path / "bin", tmp_path / "cache", CUDA_HOME="/opt/cuda") == ("12.8", "nvcc --version")
    assert _runs(count) == 4


def test_refresh_runs_again(tmp_path: Path) -> None:
    count = tmp_path / "count"
    _fake_nvcc(tmp_path / "bin", count)
    _cuda(tmp_path / "bin", tmp_path / "cache")
    _cuda(tmp_path / "bin", tmp_path / "cache", refresh=True)
    assert _runs(count) == 2


def test_a_damaged_memo_runs_again_without_a_traceback(tmp_path: Path) -> None:
    count = tmp_path / "count"
    _fake_nvcc(tmp_path / "bin", count)
    _cuda(tmp_path / "bin", tmp_path / "cache")
    memos = list((tmp_path / "cache" / TOOL_ANSWERS).iterdir())
    assert len(memos) == 1
    for garbage in ("{not json", "[1, 2]", '[0, null, ""]', ""):
        memos[0].write_text(garbage)
        assert _cuda(tmp_path / "bin", tmp_path / "cache") == ("12.4", "nvcc --version")
    assert _runs(count) == 5


def test_driver_tools_always_run(tmp_path: Path) -> None:
    count = tmp_path / "count"
    tool = tmp_path / "bin" / "nvidia-smi"
    tool.parent.mkdir()
    tool.write_text(f'#!/bin/sh\necho run >> "{count}"\necho "CUDA Version: 12.2"\n')
    tool.chmod(0o755)
    run = subprocess_runner({"PATH": str(tool.parent)}, cache_dir=tmp_path / "cache")
    assert run(["nvidia-smi"]) == run(["nvidia-smi"])
    assert _runs(count) == 2


def test_a_missing_tool_is_none_and_nothing_is_remembered(tmp_path: Path) -> None:
    run = subprocess_runner({"PATH": str(tmp_path)}, cache_dir=tmp_path / "cache")
    assert run(["nvcc", "--version"]) is None
    assert not (tmp_path / "cache").exists()


def test_a_wrapper_script_is_keyed_by_the_toolkit_it_runs(tmp_path: Path) -> None:
    count = tmp_path / "count"
    real = _fake_nvcc(tmp_path / "cuda" / "bin", count)
    wrapper = tmp_path / "bin" / "nvcc"
    wrapper.parent.mkdir()
    wrapper.write_text(f'#!/bin/sh\nexec {real} "$@"\n')
    wrapper.chmod(0o755)
    assert _cuda(tmp_path / "bin", tmp_path / "cache") == ("12.4", "nvcc --version")
    assert _cuda(tmp_path / "bin", tmp_path / "cache") == ("12.4", "nvcc --version")
    assert _runs(count) == 1
    os.replace(_fake_nvcc(tmp_path / "new", count, release="13.0"), real)  # the toolkit upgraded in place
    assert _cuda(tmp_path / "bin", tmp_path / "cache") == ("13.0", "nvcc --version")
    assert _cuda(tmp_path / "bin", tmp_path / "cache", TOOLKIT="other") == ("13.0", "nvcc --version")
    assert _runs(count) == 3
