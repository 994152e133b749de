"""Opening a file a RECORD lists (integrity.open_regular): a regular file only, never a block on what replaced it."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from micro_thoth import integrity
from micro_thoth.integrity import NotRegular, open_regular

WAIT = 10.0  # seconds the open is given (it never needs them when it works)


def _in_thread(path: Path) -> list[object]:
    """What open_regular gave or raised, from a thread watched for WAIT seconds (a blocked open never ends)."""
    outcome: list[object] = []

    def run() -> None:
        try:
            with open_regular(path) as handle:
                outcome.append(handle.read())
        except (NotRegular, OSError) as exc:
            outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(WAIT)
    return outcome


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")
def test_a_fifo_put_in_place_of_a_file_after_its_stat_is_not_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The swap between the stat and the open: the open does not wait for a writer (O_NONBLOCK), the
    fstat of what was opened names it, and nothing is read from it."""
    regular, fifo = tmp_path / "module.py", tmp_path / "swapped.py"
    regular.write_bytes(b"x = 1\n")
    os.mkfifo(fifo)
    real_stat = os.stat
    monkeypatch.setattr(integrity.os, "stat", lambda path, *a, **k: real_stat(regular if Path(path) == fifo else path, *a, **k))
    outcome = _in_thread(fifo)
    assert len(outcome) == 1 and isinstance(outcome[0], NotRegular) and outcome[0].kind == "a FIFO"


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="symlinks")
def test_a_symlink_is_followed_to_a_regular_file_and_refused_to_a_fifo(tmp_path: Path) -> None:
    regular, fifo = tmp_path / "module.py", tmp_path / "pipe"
    regular.write_bytes(b"x = 1\n")
    os.mkfifo(fifo)
    (tmp_path / "to_file.py").symlink_to(regular)
    (tmp_path / "to_fifo.py").symlink_to(fifo)
    assert _in_thread(tmp_path / "to_file.py") == [b"x = 1\n"]
    outcome = _in_thread(tmp_path / "to_fifo.py")
    assert len(outcome) == 1 and isinstance(outcome[0], NotRegular)
