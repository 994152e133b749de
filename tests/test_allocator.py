"""allocator.py: the C allocator's settings are asked for once, and never fail a run."""

from __future__ import annotations

import platform
import subprocess
import sys


def _run(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()


def test_return_big_buffers_is_asked_once_and_harmless() -> None:
    """In a fresh interpreter: True on glibc, the same answer again, and big buffers still come and go."""
    out = _run(
        "from micro_thoth import allocator\n"
        "first = allocator.return_big_buffers()\n"
        "blocks = [bytes(1 << 20) for _ in range(8)]; del blocks\n"
        "print(first, allocator.return_big_buffers())\n"
    ).split()
    assert out[0] == out[1]
    assert out[0] == str(platform.libc_ver()[0] == "glibc" and sys.platform.startswith("linux"))


def test_importing_it_costs_nothing() -> None:
    """ctypes is imported only when the settings are asked for (a warm lock never asks)."""
    assert _run("import sys; from micro_thoth import allocator; print('ctypes' in sys.modules)") == "False"
