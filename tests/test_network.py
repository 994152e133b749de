"""A few tests against the default index (marked ``network``; CI runs them, ``-m 'not network'`` skips)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from micro_thoth.cli import main

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "hello"
pytestmark = pytest.mark.network


def test_lock_and_install_the_example_from_the_default_index(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = tmp_path / "hello"
    project.mkdir()
    shutil.copy(EXAMPLE / "Pipfile", project / "Pipfile")
    assert main(["install", "--dev", "-C", str(project)]) == 0, capsys.readouterr().err
    lock = json.loads((project / "Pipfile.lock").read_text())
    assert {"requests", "click", "rich", "urllib3"} <= set(lock["default"])
    assert "pytest" in lock["develop"]
    (source,) = lock["_meta"]["sources"]
    assert all(entry["index"] == source["name"] for entry in lock["default"].values())
    assert all(entry["hashes"] for entry in lock["default"].values())
    python = project / ".venv" / "bin" / "python"
    out = subprocess.run([str(python), "-c", "import requests, click, rich, pytest; print('ok')"], capture_output=True, text=True)
    assert out.stdout.strip() == "ok", out.stderr
    # a fresh environment from the same lock, with --deploy, from the warm cache
    shutil.rmtree(project / ".venv")
    capsys.readouterr()
    assert main(["sync", "--deploy", "-C", str(project)]) == 0
    assert "Installed" in capsys.readouterr().err


def test_pip_compile_mode_from_the_default_index(tmp_path: Path) -> None:
    (tmp_path / "requirements.in").write_text("idna\n")
    assert main(["lock", "-r", str(tmp_path / "requirements.in")]) == 0
    text = (tmp_path / "requirements.txt").read_text()
    assert "idna==" in text and "--hash=sha256:" in text
