"""Every command reports through the run's one console (click's ``ctx.obj``, made by ``cli.main``).

A command that made its own ``Console()`` would write past the run's choices (its
streams, verbosity, live region): here the run's console writes to buffers, so
anything reaching the real stdout/stderr is a command that went around it.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from micro_thoth.cli import cli
from micro_thoth.console import Console, run_guarded
from tests.guidance.test_cli import FIXTURES as OSV_FIXTURES


def _run(*args: str) -> tuple[int, str, str]:
    err, out = io.StringIO(), io.StringIO()
    console = Console(stream=err, out=out, progress=False)
    code = run_guarded(lambda: cli.main(args=list(args), prog_name="thoth-pip", standalone_mode=False, obj=console), console)
    return code, out.getvalue(), err.getvalue()


COMMANDS = {
    "env": lambda d: ("env", "--json", "-C", str(d)),
    "config": lambda d: ("config", "-C", str(d)),
    "knowledge status": lambda d: ("knowledge", "status", "--json", "--knowledge-dir", str(d / "k")),
    "knowledge export": lambda d: ("knowledge", "export", str(d / "bundle.zip"), "--knowledge-dir", str(d / "k")),
    "advisories import": lambda d: ("advisories", "import", str(OSV_FIXTURES), "--knowledge-dir", str(d / "k")),
    "prescription list": lambda d: ("prescription", "list", "--json", "-C", str(d), "--knowledge-dir", str(d / "k")),
    "prescription add": lambda d: ("prescription", "add", "--incompatible", "a==1", "b==2", "--reason", "breaks",
                                   "--knowledge-dir", str(d / "k")),
    "shim install": lambda d: ("shim", "install", "--dir", str(d / "bin")),
    "--where": lambda d: ("--where",),
}


@pytest.mark.parametrize("name", list(COMMANDS))
def test_command_writes_through_the_runs_console(name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "Pipfile").write_text('[packages]\n')
    monkeypatch.setenv("THOTH_PIP_KNOWLEDGE_DIR", str(tmp_path / "k"))
    code, out, err = _run(*COMMANDS[name](tmp_path))
    leaked = capsys.readouterr()
    assert code == 0, err
    assert out or err
    assert leaked.out == "" and leaked.err == "", leaked
