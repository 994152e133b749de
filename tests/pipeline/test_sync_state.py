"""A sync with nothing to do answers from the environment's stamp: no resolver, no HTTP stack, no planning."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from micro_thoth.pipeline.sync_state import STAMP_NAME

# Runs the CLI in a fresh interpreter, then lists the heavy packages it imported and what it
# started beside itself: processes (the audit events of subprocess, fork, exec and spawn; the pip
# probe of the default index is one) and threads (threading.Thread.start, recorded).
_PROBE = (
    "import sys, threading\n"
    "launched = []\n"
    "_EVENTS = ('subprocess.Popen', 'os.fork', 'os.forkpty', 'os.exec', 'os.posix_spawn', 'os.spawn', 'os.system')\n"
    "sys.addaudithook(lambda event, args: launched.append(event) if event in _EVENTS else None)\n"
    "_start = threading.Thread.start\n"
    "def _recorded(self):\n"
    "    launched.append('thread')\n"
    "    _start(self)\n"
    "threading.Thread.start = _recorded\n"
    "from micro_thoth.cli import main\n"
    "code = main(sys.argv[1:])\n"
    "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'httpx', 'httpcore', 'resolvelib', 'installer', 'packaging'})\n"
    "print(','.join(heavy) or 'none')\n"
    "print(','.join(sorted(set(launched))) or 'none')\n"
    "sys.exit(code)\n"
)


def _probe(*args: str) -> tuple[str, subprocess.CompletedProcess[str]]:
    heavy, _, proc = _probe_all(*args)
    return heavy, proc


def _probe_all(*args: str) -> tuple[str, str, subprocess.CompletedProcess[str]]:
    """(heavy packages imported, processes and threads started, the run) of ``thoth-pip ARGS``."""
    proc = subprocess.run([sys.executable, "-c", _PROBE, *args], env=dict(os.environ), capture_output=True, text=True)
    heavy, launched = ["", "", *proc.stdout.strip().splitlines()][-2:]
    return heavy, launched, proc


def test_noop_sync_imports_neither_httpx_nor_resolvelib(indexes, project, thoth) -> None:
    app = project("pipenv-made/small")
    assert thoth("sync", "-C", str(app)).code == 0
    assert (app / ".venv" / STAMP_NAME).is_file()
    heavy, launched, proc = _probe_all("sync", "-C", str(app))
    assert proc.returncode == 0, proc.stderr
    assert "Nothing to do" in proc.stderr
    assert heavy == "none" and launched == "none"
    (app / ".venv" / STAMP_NAME).unlink()  # the same run without the stamp loads them: the probe can tell
    heavy, proc = _probe("sync", "-C", str(app))
    assert proc.returncode == 0 and "Nothing to do" in proc.stderr, proc.stderr
    assert "httpx" in heavy


def test_noop_install_deploy_imports_neither(indexes, project, thoth) -> None:
    app = project("pipenv-made/small")
    assert thoth("install", "--deploy", "-C", str(app)).code == 0
    heavy, proc = _probe("install", "--deploy", "-C", str(app))
    assert proc.returncode == 0 and "Nothing to do" in proc.stderr, proc.stderr
    assert heavy == "none"


def test_noop_starts_no_process_nor_thread(indexes, project, thoth, isolated: Path) -> None:
    """No pip probe of the default index (its memo is empty here), no interpreter probe, no thread:
    the stamp answers. A locking command run the same way starts the pip probe: the recorder sees it."""
    app = project("pipenv-made/small")
    memo = isolated / "thoth-cache" / "pip-default-index-v1.json"
    for command in (("sync",), ("install", "--deploy")):
        assert thoth(*command, "-C", str(app)).code == 0  # each stamps its own request
        memo.unlink(missing_ok=True)  # the worst case: pip's answer is not known yet
        heavy, launched, proc = _probe_all(*command, "-C", str(app))
        assert proc.returncode == 0 and "Nothing to do" in proc.stderr, proc.stderr
        assert (heavy, launched) == ("none", "none"), command
    assert not memo.exists()
    _, launched, proc = _probe_all("lock", "-C", str(app))
    assert proc.returncode == 0, proc.stderr
    assert "subprocess.Popen" in launched.split(",")
    assert memo.is_file()  # it was pip's probe


def test_an_uninstalled_package_is_noticed(indexes, project, thoth) -> None:
    app = project("pipenv-made/small")
    assert thoth("sync", "-C", str(app)).code == 0
    site = next((app / ".venv" / "lib").glob("python*/site-packages"))
    for info in site.glob("beta-*.dist-info"):  # what `pip uninstall beta` would leave
        shutil.rmtree(info)
    shutil.rmtree(site / "beta", ignore_errors=True)
    again = thoth("sync", "-C", str(app))
    assert again.code == 0, again.err
    assert "Installed 1 package" in again.err
    assert "Nothing to do" in thoth("sync", "-C", str(app)).err


def test_a_changed_lock_or_flag_takes_the_full_path(indexes, project, thoth) -> None:
    app = project("pipenv-made/small")
    assert thoth("sync", "-C", str(app)).code == 0
    stamp = json.loads((app / ".venv" / STAMP_NAME).read_text())
    assert thoth("sync", "--dev", "-C", str(app)).code == 0  # another request: devtool comes in
    dev = json.loads((app / ".venv" / STAMP_NAME).read_text())
    assert dev["request"] != stamp["request"]
    lock = app / "Pipfile.lock"
    data = json.loads(lock.read_text())
    del data["develop"]["devtool"]
    lock.write_text(json.dumps(data, indent=4))
    result = thoth("sync", "--dev", "-C", str(app))
    assert result.code == 0, result.err
    assert "Nothing to do" in result.err  # the full path looked: devtool is extraneous, kept as pipenv keeps it
    assert json.loads((app / ".venv" / STAMP_NAME).read_text())["request"] != dev["request"]


def test_no_stamp_outside_the_project_venv(indexes, project, thoth, tmp_path: Path) -> None:
    app = project("pipenv-made/small")
    scratch = tmp_path / "other-venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(scratch)], check=True)
    result = thoth("sync", "--system", "--python", str(scratch / "bin" / "python"), "-C", str(app))
    assert result.code == 0, result.err
    assert not (scratch / STAMP_NAME).exists() and not (app / ".venv").exists()


def test_an_install_that_was_killed_is_not_taken_for_done(indexes, project, thoth) -> None:
    app = project("pipenv-made/small")
    assert thoth("sync", "-C", str(app)).code == 0
    site = next((app / ".venv" / "lib").glob("python*/site-packages"))
    (site / ".thoth-pip-backup-killed").mkdir()  # an install's first step, left by a killed run
    heavy, proc = _probe("sync", "-C", str(app))
    assert proc.returncode == 0, proc.stderr
    assert "httpx" in heavy  # the full path looked
