"""The one top-level handler: user errors, usage errors, bugs, and --json failures."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from micro_thoth.cli import main
from micro_thoth.console import Console, run_guarded
from micro_thoth.errors import BuildError, DigestMismatch, InputFileError


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_no_arguments_prints_usage_without_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys)
    assert code == 0
    assert out.startswith("Usage: thoth-pip")
    assert "error" not in err and "error:" not in out


@pytest.mark.parametrize(("typed", "meant"), [("instal", "install"), ("lcok", "lock"), ("snyc", "sync"), ("upgrad", "upgrade")])
def test_a_mistyped_command_gets_a_suggestion(capsys: pytest.CaptureFixture[str], typed: str, meant: str) -> None:
    code, _out, err = _run(capsys, typed)
    assert code == 2
    assert f"error: no such command '{typed}'" in err
    assert f"hint: did you mean `thoth-pip {meant}`?" in err


def test_an_unknown_word_lists_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "frobnicate")
    assert code == 2 and "`thoth-pip --help` lists the commands" in err


def test_a_bad_option_names_the_command_help(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "sync", "--bogus")
    assert code == 2
    assert "error: No such option '--bogus'" in err and "hint: see `thoth-pip sync --help`" in err


def _explode(*args: object, **kwargs: object) -> None:
    raise KeyError("surprise")


def test_a_bug_says_please_report_and_hides_the_traceback(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from micro_thoth.pipeline import sync

    monkeypatch.setattr(sync, "sync", _explode)
    code, out, err = _run(capsys, "sync", "-C", str(tmp_path))
    assert code == 70
    assert "internal error: KeyError: 'surprise'" in err and "please report" in err
    assert "Traceback" not in err + out


def test_a_bug_shows_the_traceback_under_verbose(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from micro_thoth.pipeline import sync

    monkeypatch.setattr(sync, "sync", _explode)
    code, _, err = _run(capsys, "sync", "-v", "-C", str(tmp_path))
    assert code == 70
    assert "Traceback (most recent call last)" in err and "please report" in err


@pytest.mark.parametrize("command", [("lock",), ("sync",), ("install", "--deploy"), ("install",), ("check",), ("verify",)])
def test_json_failure_is_one_error_object_on_stdout(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, command: tuple[str, ...]
) -> None:
    """No Pipfile and no lock here: every command fails, and says so in JSON."""
    code, out, err = _run(capsys, *command, "--json", "-C", str(tmp_path))
    assert code != 0
    error = json.loads(out)["error"]
    assert set(error) >= {"kind", "message", "hint", "path", "exit_code"}
    assert error["kind"] == "input_file_error" and error["exit_code"] == code
    assert error["path"] and str(tmp_path) in error["path"]
    assert "error:" not in err


def test_json_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "lock", "--json", "--bogus")
    assert code == 2
    assert json.loads(out)["error"]["kind"] == "usage_error"


def test_json_internal_error(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from micro_thoth.pipeline import sync

    monkeypatch.setattr(sync, "sync", _explode)
    code, out, _ = _run(capsys, "sync", "--json", "-C", str(tmp_path))
    error = json.loads(out)["error"]
    assert code == 70 and error["exit_code"] == 70 and "please report" in error["hint"]


def test_error_data_travels_in_json() -> None:
    mismatch = DigestMismatch(package="foo", filename="foo-1.0-py3-none-any.whl", index="local", expected=("sha256:a",), actual="sha256:b")
    data = mismatch.to_dict()
    assert data["kind"] == "digest_mismatch" and data["package"] == "foo" and data["expected"] == ["sha256:a"]
    keyed = InputFileError("bad key", path="Pipfile", key_path="packages.foo.indx").to_dict()
    assert keyed["path"] == "Pipfile" and keyed["key_path"] == "packages.foo.indx" and keyed["kind"] == "input_file_error"
    json.dumps(data)


def test_every_error_kind_is_documented() -> None:
    from micro_thoth import errors

    text = (Path(__file__).resolve().parent.parent / "docs" / "errors.md").read_text(encoding="utf-8")
    bases = {errors.ThothPipError, errors.IntegrityError, errors.PackageIndexError, errors.ResolutionError}
    kinds = [
        cls.__new__(cls).kind
        for cls in vars(errors).values()
        if isinstance(cls, type) and issubclass(cls, errors.ThothPipError) and cls not in bases
    ]
    missing = [kind for kind in kinds if f"`{kind}`" not in text]
    assert not missing, missing


def test_a_json_error_into_a_closed_pipe_is_no_traceback(tmp_path: Path) -> None:
    import subprocess
    import sys

    proc = subprocess.Popen(
        [sys.executable, "-m", "micro_thoth", "sync", "--json", "--bogus"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the reader is gone before anything is written (`| head -0`)
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 2
    assert "Traceback" not in err and "BrokenPipe" not in err, err


@pytest.mark.parametrize("verbosity", [0, 1])
def test_a_failed_build_shows_the_end_of_what_the_tool_printed(verbosity: int) -> None:
    """pip's own reason ("does not appear to be a Python project") is the culprit's name: shown under the error."""
    err = io.StringIO()
    output = "\n".join(f"line {i}" for i in range(30)) + "\nERROR: no pyproject.toml in pkg"

    def fail() -> None:
        raise BuildError("preparing metadata for app failed (exit 1)", distribution="app", output=output)

    code = run_guarded(fail, Console(stream=err, out=io.StringIO(), progress=False, verbosity=verbosity))
    text = err.getvalue()
    assert code != 0 and text.startswith("error: preparing metadata for app failed")
    assert "  | ERROR: no pyproject.toml in pkg" in text
    assert ("  | line 0\n" in text) == (verbosity > 0)  # the start only with -v
