"""Fixture machines: a fake root (``/etc/os-release``, ``/proc/cpuinfo``...) and fake tools on PATH."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from micro_thoth.environment.detect import Machine, subprocess_runner

MACHINES = Path(__file__).resolve().parent / "machines"

MachineFactory = Callable[..., Machine]


@pytest.fixture
def fixture_machine(tmp_path: Path) -> MachineFactory:
    """``fixture_machine("ubi8-nvidia", CUDA_VERSION="11.8")``: its root, its tools (only) on PATH."""

    def make(name: str, *, timeout: float = 3.0, tools: bool = True, **environ: str) -> Machine:
        base = MACHINES / name
        bin_dir = tmp_path / f"{name}-bin-{len(list(tmp_path.glob(name + '-bin-*')))}"
        bin_dir.mkdir()
        if tools and (base / "bin").is_dir():
            for tool in (base / "bin").iterdir():
                shutil.copy(tool, bin_dir / tool.name)
                (bin_dir / tool.name).chmod(0o755)
        env = {"PATH": str(bin_dir), **environ}
        return Machine(root=base / "root", environ=env, run=subprocess_runner(env, timeout=timeout))

    return make
