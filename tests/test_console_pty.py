"""Progress on a real terminal (a pty, read back through a terminal emulator) at 50 and 120 columns.

The screen left behind must hold exactly the lines a pipe gets (no bar left over,
no stale row from a redraw, nothing wider than the terminal), in the same order:
the lock's lines before the install's.
"""

from __future__ import annotations

import fcntl
import os
import re
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pyte
import pytest

from tests.support.builder import Dist
from tests.support.index_server import LocalIndex

LONG = "a-package-whose-name-is-far-too-long-for-a-narrow-terminal"
ROWS = 60


def _project(root: Path, index: LocalIndex) -> Path:
    root.mkdir()
    (root / "Pipfile").write_text(
        f'[[source]]\nname = "local"\nurl = "{index.url}"\nverify_ssl = false\n\n[packages]\nalpha = "*"\n"{LONG}" = "*"\n'
    )
    return root


def _environ() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "COLUMNS", "LINES", "TERM")}
    env["TERM"] = "xterm-256color"
    return env


def _in_pty(args: list[str], columns: int) -> tuple[int, bytes]:
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, columns, 0, 0))
    proc = subprocess.Popen(
        [sys.executable, "-m", "micro_thoth", *args], stdin=slave, stdout=slave, stderr=slave, env=_environ(), start_new_session=True
    )
    os.close(slave)
    data = b""
    while True:
        try:
            chunk = os.read(master, 1 << 16)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        data += chunk
    os.close(master)
    return proc.wait(timeout=120), data


def _screen(data: bytes, columns: int) -> list[str]:
    screen = pyte.Screen(columns, ROWS)
    pyte.ByteStream(screen).feed(data)
    return [line.rstrip() for line in screen.display if line.strip()]


def _plain(text: str) -> list[str]:
    return [line.rstrip() for line in text.splitlines() if line.strip()]


def _timeless(lines: list[str]) -> list[str]:
    return [re.sub(r"\d+\.\d+s", "Ns", line) for line in lines]


@pytest.mark.parametrize("columns", [50, 120])
def test_progress_leaves_only_the_plain_lines(index: LocalIndex, tmp_path: Path, columns: int) -> None:
    index.add(Dist("alpha", "1.0", requires_dist=["beta"], files={f"alpha/m{i}.py": "X = 1\n" * 200 for i in range(30)}))
    index.add(Dist("beta", "2.0"))
    index.add(Dist(LONG, "1.0"))
    piped = _project(tmp_path / "piped", index)
    plain = subprocess.run([sys.executable, "-m", "micro_thoth", "install", "-C", str(piped)], capture_output=True, text=True, env=_environ())
    assert plain.returncode == 0, plain.stderr
    assert "\x1b" not in plain.stderr  # a pipe gets plain lines only

    code, data = _in_pty(["install", "-C", str(_project(tmp_path / "tty", index))], columns)

    assert code == 0, data.decode(errors="replace")
    assert b"\x1b[" in data  # a live region was drawn...
    shown = _screen(data, columns)
    expected = [line.replace(str(piped), str(tmp_path / "tty")) for line in _plain(plain.stderr)]
    assert _timeless(shown) == _timeless(_wrapped(expected, columns))  # ...and cleared, leaving the same lines
    locked = next(i for i, line in enumerate(shown) if line.startswith("Locked"))
    installed = next(i for i, line in enumerate(shown) if line.startswith("Installed"))
    assert locked < installed


def _wrapped(lines: list[str], columns: int) -> list[str]:
    out = []
    for line in lines:
        out += [line[i : i + columns] for i in range(0, len(line), columns)] or [""]
    return [line.rstrip() for line in out if line.strip()]


def test_no_color_and_bars_without_color(index: LocalIndex, tmp_path: Path) -> None:
    index.add(Dist("alpha", "1.0"))
    index.add(Dist(LONG, "1.0"))
    index.add(Dist("beta", "2.0"))
    code, data = _in_pty(["install", "-C", str(_project(tmp_path / "tty", index))], 80)
    assert code == 0
    assert not re.search(rb"\x1b\[[0-9;]*3[0-9]m|\x1b\[38;", data)  # NO_COLOR (set for every test): no colour codes
