"""A warm lock answers from the knowledge store, yet notices a new release once the page's
freshness window has passed or ``--refresh`` is given; ``--offline`` never asks the index."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import types
from pathlib import Path

import pytest

from micro_thoth import store
from tests.support.builder import Dist


def _app(tmp_path: Path, index) -> Path:
    app = tmp_path / "app"
    app.mkdir()
    (app / "Pipfile").write_text(
        f'[[source]]\nurl = "{index.url}"\nverify_ssl = false\nname = "local"\n\n[packages]\nalpha = "*"\n'
    )
    return app


def _lock(thoth, app: Path, *flags: str) -> str:
    (app / "Pipfile.lock").unlink(missing_ok=True)
    result = thoth("lock", "-C", str(app), *flags)
    assert result.code == 0, result.err
    return json.loads((app / "Pipfile.lock").read_text())["default"]["alpha"]["version"]


def _later(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    """The store's clock (and only it) moved ``seconds`` ahead: cached pages age, nothing waits."""
    monkeypatch.setattr(store, "time", types.SimpleNamespace(time=lambda: time.time() + seconds))


def test_new_release_seen_after_the_freshness_window(index, tmp_path, thoth, monkeypatch) -> None:
    index.add(Dist("alpha", "1.0"))
    app = _app(tmp_path, index)
    assert _lock(thoth, app) == "==1.0"
    index.add(Dist("alpha", "2.0"))
    asked = len(index.requested("/simple/alpha/"))
    assert _lock(thoth, app) == "==1.0"  # within the window: the stored page, no request
    assert len(index.requested("/simple/alpha/")) == asked
    _later(monkeypatch, 3600)
    assert _lock(thoth, app) == "==2.0"  # the window has passed: revalidated, the new release is seen
    assert len(index.requested("/simple/alpha/")) == asked + 1


def test_refresh_sees_a_new_release_at_once(index, tmp_path, thoth) -> None:
    index.add(Dist("alpha", "1.0"))
    app = _app(tmp_path, index)
    assert _lock(thoth, app) == "==1.0"
    index.add(Dist("alpha", "2.0"))
    assert _lock(thoth, app) == "==1.0"
    assert _lock(thoth, app, "--refresh") == "==2.0"
    first = (app / "Pipfile.lock").read_bytes()
    assert _lock(thoth, app) == "==2.0"
    assert (app / "Pipfile.lock").read_bytes() == first  # same index state, byte-identical lock


def test_offline_locks_from_the_store_alone(index, tmp_path, thoth, monkeypatch) -> None:
    index.add(Dist("alpha", "1.0", requires_dist=["beta"]))
    index.add(Dist("beta", "1.0"))
    app = _app(tmp_path, index)
    assert _lock(thoth, app) == "==1.0"
    online = (app / "Pipfile.lock").read_bytes()
    before = len(index.requests)
    _later(monkeypatch, 10 * 24 * 3600)  # however old the stored pages are
    assert _lock(thoth, app, "--offline") == "==1.0"
    assert (app / "Pipfile.lock").read_bytes() == online
    assert len(index.requests) == before  # not one request


def test_offline_names_what_is_missing(index, tmp_path, thoth) -> None:
    index.add(Dist("alpha", "1.0"))
    app = _app(tmp_path, index)
    result = thoth("lock", "-C", str(app), "--offline")
    assert result.code != 0
    assert "alpha" in result.err and "--offline" in result.err
    assert "Traceback" not in result.err
    assert not index.requests


# Runs the CLI in a fresh interpreter, then lists the modules of the HTTP stack (and YAML, tomlkit) it imported.
_PROBE = (
    "import sys\n"
    "from micro_thoth.cli import main\n"
    "code = main(sys.argv[1:])\n"
    "print(','.join(sorted({m.split('.')[0] for m in sys.modules} & {'httpx', 'httpcore', 'h11', 'yaml', 'tomlkit'})) or 'none')\n"
    "sys.exit(code)\n"
)


def _lock_probe(app: Path) -> str:
    (app / "Pipfile.lock").unlink(missing_ok=True)
    proc = subprocess.run([sys.executable, "-c", _PROBE, "lock", "-C", str(app)], env=dict(os.environ),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip().splitlines()[-1]


def test_a_warm_lock_makes_no_http_client(index, tmp_path) -> None:
    index.add(Dist("alpha", "1.0"))
    app = _app(tmp_path, index)
    toml = ",tomlkit" if sys.version_info < (3, 11) else ""  # a valid Pipfile is read with tomllib: no tomlkit
    assert _lock_probe(app) == "h11,httpcore,httpx" + toml  # cold: pages and metadata asked for, the client made
    assert _lock_probe(app) == (toml[1:] or "none")  # warm: fresh pages, stored metadata, no HTTP library loaded
    # and neither lock parsed YAML: the bundled prescriptions are read compiled (knowledge/compiled.py)
