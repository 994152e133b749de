"""``thoth-pip serve``: argument checks and resolver loading, before anything listens."""

from __future__ import annotations

from pathlib import Path

import pytest

from micro_thoth.cli import main
from micro_thoth.cli.commands.serve import load_resolver
from micro_thoth.errors import UsageError


def test_load_resolver() -> None:
    from tests.server.resolvers import resolve

    assert load_resolver("tests.server.resolvers:resolve") is resolve
    with pytest.raises(UsageError, match="expected 'module:function'"):
        load_resolver("tests.server.resolvers")
    with pytest.raises(UsageError, match="cannot import the resolver"):
        load_resolver("tests.server.no_such_module:resolve")
    with pytest.raises(UsageError, match="has no function 'nothing'"):
        load_resolver("tests.server.resolvers:nothing")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--resolver", "nope"], "expected 'module:function'"),
        (["--ssl-certfile", __file__], "go together"),
        (["--database-url", "mysql://root@db/x", "--resolver", "tests.server.resolvers:resolve"], "unsupported database URL"),
    ],
)
def test_serve_refuses_bad_arguments(args: list[str], message: str, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["serve", "--data-dir", str(tmp_path), *args]) == 2
    assert message in capsys.readouterr().err


def test_empty_token_file_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    token = tmp_path / "token"
    token.write_text("\n")
    code = main(["serve", "--data-dir", str(tmp_path), "--token-file", str(token), "--resolver", "tests.server.resolvers:resolve"])
    assert code == 2 and "is empty" in capsys.readouterr().err


def test_missing_server_extra_says_what_to_install(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "uvicorn", None)  # an import of it now fails as if not installed
    assert main(["serve", "--data-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "uvicorn is missing" in err and "install micro-thoth[server]" in err
