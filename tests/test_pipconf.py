"""pipconf.py: pip's configuration files, environment and CLI, in pip's precedence."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from micro_thoth import pipconf
from micro_thoth.errors import InputFileError
from micro_thoth.models import Source
from micro_thoth.pipconf import (
    PipConfig,
    config_files,
    default_index_url,
    read_pip_config,
    sources_from_pip_config,
)

# This machine's /etc/pip.conf must not leak in: every test uses its own system dir.
pytestmark = pytest.mark.usefixtures("private_system_dir")


@pytest.fixture
def private_system_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    system = tmp_path / "etc"
    monkeypatch.setattr(pipconf, "SYSTEM_DIR", str(system))
    return system


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_CONFIG_DIRS": str(home / "etc-xdg"),
        "THOTH_PIP_CACHE_DIR": str(home / "cache"),
    }
    env.update(extra)
    return env


def _write(path: Path, text: str) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return str(path)


def test_devnull_disables_every_file(tmp_path: Path) -> None:
    _write(tmp_path / ".config/pip/pip.conf", "[global]\nindex-url = http://user.example/simple\n")
    env = _env(tmp_path, PIP_CONFIG_FILE=os.devnull)
    assert config_files(env) == []
    assert read_pip_config(env) == PipConfig()


def test_user_files_order_new_beats_legacy(tmp_path: Path) -> None:
    _write(tmp_path / ".pip/pip.conf", "[global]\nindex-url = http://legacy.example/simple\ntimeout = 3\n")
    _write(tmp_path / ".config/pip/pip.conf", "[global]\nindex-url = http://new.example/simple\n")
    config = read_pip_config(_env(tmp_path))
    assert config.index_url == "http://new.example/simple"
    assert config.timeout == 3.0
    assert len(config.files) == 2


def test_global_files_xdg_dirs_then_etc(tmp_path: Path) -> None:
    env = _env(tmp_path, XDG_CONFIG_DIRS=f"{tmp_path}/a:{tmp_path}/b")
    files = config_files(env)
    assert files[:3] == [f"{tmp_path}/a/pip/pip.conf", f"{tmp_path}/b/pip/pip.conf", f"{tmp_path}/etc/pip.conf"]
    assert config_files({"HOME": "/h"}, system_dir="/etc")[:2] == ["/etc/xdg/pip/pip.conf", "/etc/pip.conf"]
    _write(tmp_path / "a/pip/pip.conf", "[global]\nindex-url = http://a.example/\n")
    _write(tmp_path / "b/pip/pip.conf", "[global]\nindex-url = http://b.example/\n")
    assert read_pip_config(env).index_url == "http://b.example/"
    _write(tmp_path / "etc/pip.conf", "[global]\nindex-url = http://etc.example/\n")
    assert read_pip_config(env).index_url == "http://etc.example/"


def test_site_file_beats_user_and_config_file_beats_site(tmp_path: Path) -> None:
    _write(tmp_path / ".config/pip/pip.conf", "[global]\nindex-url = http://user.example/\n")
    venv = tmp_path / "venv"
    _write(venv / "pip.conf", "[global]\nindex-url = http://site.example/\n")
    assert read_pip_config(_env(tmp_path, VIRTUAL_ENV=str(venv))).index_url == "http://site.example/"
    explicit = _write(tmp_path / "explicit.conf", "[global]\nindex-url = http://explicit.example/\n")
    env = _env(tmp_path, VIRTUAL_ENV=str(venv), PIP_CONFIG_FILE=explicit)
    assert read_pip_config(env).index_url == "http://explicit.example/"
    assert str(tmp_path / ".config/pip/pip.conf") not in config_files(env)  # user files skipped


def test_command_section_beats_global_whatever_the_file(tmp_path: Path) -> None:
    _write(tmp_path / ".pip/pip.conf", "[install]\nindex-url = http://install.example/\n")
    explicit = _write(
        tmp_path / "explicit.conf",
        "[global]\nindex-url = http://global.example/\n[download]\nindex-url = http://download.example/\n",
    )
    env = _env(tmp_path, PIP_CONFIG_FILE=explicit)
    # an existing PIP_CONFIG_FILE disables user files, so [global] of it applies to install
    assert read_pip_config(env).index_url == "http://global.example/"
    assert read_pip_config(env, command="download").index_url == "http://download.example/"
    env = _env(tmp_path)
    _write(tmp_path / ".config/pip/pip.conf", "[global]\nindex-url = http://global2.example/\n")
    assert read_pip_config(env).index_url == "http://install.example/"


def test_multiline_list_values_and_empty_values(tmp_path: Path) -> None:
    _write(
        tmp_path / ".config/pip/pip.conf",
        "[global]\n"
        "index-url =\n"
        "extra-index-url =\n    http://one.example/simple\n    http://two.example/simple\n"
        "find-links = /srv/wheels file:///srv/more\n"
        "trusted-host =\n    one.example\n    two.example:8080\n"
        "cert = /etc/ssl/bundle.pem\n"
        "no_index = no\n",
    )
    config = read_pip_config(_env(tmp_path))
    assert config.index_url is None  # empty values are ignored
    assert config.extra_index_urls == ("http://one.example/simple", "http://two.example/simple")
    assert config.find_links == ("/srv/wheels", "file:///srv/more")
    assert config.trusted_hosts == ("one.example", "two.example:8080")
    assert config.cert == "/etc/ssl/bundle.pem"
    assert config.no_index is False
    assert not config.verify_for("https://one.example/simple/")
    assert not config.verify_for("http://two.example:8080/simple/")
    assert config.verify_for("http://two.example/simple/")


def test_environment_beats_files_and_cli_beats_environment(tmp_path: Path) -> None:
    _write(
        tmp_path / ".config/pip/pip.conf",
        "[install]\nindex-url = http://file.example/\nextra-index-url = http://file-extra.example/\n",
    )
    env = _env(
        tmp_path,
        PIP_INDEX_URL="http://env.example/",
        PIP_EXTRA_INDEX_URL="http://e1.example/ http://e2.example/",
        PIP_TRUSTED_HOST="e1.example",
        PIP_CERT="/tmp/ca.pem",
        PIP_TIMEOUT="7.5",
    )
    config = read_pip_config(env)
    assert config.index_url == "http://env.example/"
    assert config.extra_index_urls == ("http://e1.example/", "http://e2.example/")
    assert (config.cert, config.timeout, config.trusted_hosts) == ("/tmp/ca.pem", 7.5, ("e1.example",))
    config = read_pip_config(env, cli={"index_url": "http://cli.example/", "extra_index_urls": ["http://cli-extra/"]})
    assert config.index_url == "http://cli.example/"
    assert config.extra_index_urls == ("http://e1.example/", "http://e2.example/", "http://cli-extra/")


def test_isolated_ignores_environment_and_user_files(tmp_path: Path) -> None:
    _write(tmp_path / ".config/pip/pip.conf", "[global]\nindex-url = http://user.example/\n")
    env = _env(tmp_path, PIP_INDEX_URL="http://env.example/")
    assert read_pip_config(env, isolated=True).index_url is None


def test_broken_file_names_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path / ".config/pip/pip.conf", "index-url = no section header\n")
    with pytest.raises(InputFileError) as info:
        read_pip_config(_env(tmp_path))
    assert info.value.path == path


def test_bad_boolean_and_timeout(tmp_path: Path) -> None:
    _write(tmp_path / ".config/pip/pip.conf", "[global]\nno-index = perhaps\n")
    with pytest.raises(InputFileError, match="perhaps"):
        read_pip_config(_env(tmp_path))
    with pytest.raises(InputFileError, match="timeout"):
        read_pip_config(_env(tmp_path / "x", PIP_TIMEOUT="soon"))


def test_sources_are_named_in_order(tmp_path: Path) -> None:
    env = _env(
        tmp_path,
        PIP_INDEX_URL="https://main.example/simple",
        PIP_EXTRA_INDEX_URL="https://extra.example/simple https://main.example/simple",
        PIP_TRUSTED_HOST="extra.example",
    )
    assert sources_from_pip_config(env) == (
        Source("pip-index-0", "https://main.example/simple", True),
        Source("pip-index-1", "https://extra.example/simple", False),
    )
    env["PIP_NO_INDEX"] = "1"
    assert sources_from_pip_config(env) == ()


def test_default_index_comes_from_pip_and_is_memoised(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = _env(tmp_path)
    probe = subprocess.run(
        [sys.executable, "-c", pipconf._PROBE], capture_output=True, text=True, check=True
    ).stdout.split()
    assert default_index_url(environ=env) == probe[1]
    memo = tmp_path / "cache" / pipconf._MEMO_FILE
    assert memo.exists()

    monkeypatch.setattr(subprocess, "Popen", _no_subprocess)
    assert default_index_url(environ=env) == probe[1]
    (source,) = sources_from_pip_config(env)
    assert source == Source("pip-index-0", probe[1], True)
    pipconf.start_default_index_probe(env)  # memoised: nothing started
    assert pipconf._pending.probe is None
    pipconf.settle_default_index_probe()


@pytest.mark.usefixtures("settled")
def test_a_memoised_answer_found_at_the_start_is_not_read_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = _env(tmp_path)
    expected = default_index_url(environ=env)  # memoised
    pipconf.start_default_index_probe(env)  # reads the memo: pip's answer is known
    assert pipconf._pending.probe is None
    monkeypatch.setattr(pipconf, "_load_memo", _no_second_read)
    monkeypatch.setattr(subprocess, "Popen", _no_subprocess)
    assert default_index_url(environ=env) == expected
    with pytest.raises(AssertionError, match="read again"):  # another cache: its own memo, read
        default_index_url(environ=env, cache_dir=str(tmp_path / "other"))
    pipconf.settle_default_index_probe()  # the command's end: forgotten
    with pytest.raises(AssertionError, match="read again"):
        default_index_url(environ=env)


def _no_second_read(path: Path) -> dict[str, str]:
    raise AssertionError(f"{path} read again")


def _no_subprocess(*args: object, **kwargs: object) -> None:
    raise AssertionError("pip was run again")


def _pip_probe() -> list[str]:
    return subprocess.run([sys.executable, "-c", pipconf._PROBE], capture_output=True, text=True, check=True).stdout.split()


@pytest.fixture
def settled() -> object:
    yield
    pipconf.settle_default_index_probe()


@pytest.mark.usefixtures("settled")
def test_default_index_takes_the_probe_started_early(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env, expected = _env(tmp_path), _pip_probe()[1]
    pipconf.start_default_index_probe(env)
    assert pipconf._pending.probe is not None
    monkeypatch.setattr(subprocess, "Popen", _no_subprocess)  # the started probe answers, nothing else runs
    assert default_index_url(environ=env) == expected
    assert pipconf._pending.probe is None
    assert (tmp_path / "cache" / pipconf._MEMO_FILE).exists()


@pytest.mark.usefixtures("settled")
def test_a_probe_started_for_another_environment_is_not_taken_but_memoised(tmp_path: Path) -> None:
    env = _env(tmp_path)
    pipconf.start_default_index_probe(env)
    started = pipconf._pending.probe
    assert started is not None
    changed = {**env, "PYTHONNOUSERSITE": "1"}  # e.g. set by the project's .env after the start
    assert default_index_url(environ=changed, cache_dir=str(tmp_path / "other")) == _pip_probe()[1]
    assert pipconf._pending.probe is started  # not taken: its environment differs
    started.process.wait()
    pipconf.settle_default_index_probe()  # answered and unused: memoised where it looked
    memo = json.loads((tmp_path / "cache" / pipconf._MEMO_FILE).read_text())
    assert list(memo.values()) == [_pip_probe()[1]]


@pytest.mark.usefixtures("settled")
def test_a_started_probe_that_fails_is_reported_as_before(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python, env = str(venv / "bin" / "python"), _env(tmp_path)
    pipconf.start_default_index_probe(env, python)
    assert pipconf._pending.probe is not None
    with pytest.raises(Exception, match=r"cannot ask pip of .* for its default index: Command .* non-zero exit"):
        default_index_url(python, environ=env)
    assert pipconf._pending.probe is None
    assert not (tmp_path / "cache" / pipconf._MEMO_FILE).exists()


def test_default_index_of_another_interpreter(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    env = _env(tmp_path)
    with pytest.raises(Exception, match="default index"):
        default_index_url(str(venv / "bin" / "python"), environ=env)


def test_local_find_links_become_sources_after_the_indexes(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    env = _env(
        tmp_path,
        PIP_INDEX_URL="https://main.example/simple",
        PIP_FIND_LINKS=f"{wheels} {wheels.as_uri()} https://remote.example/links/ {tmp_path}/missing",
    )
    assert sources_from_pip_config(env) == (
        Source("pip-index-0", "https://main.example/simple", True),
        Source("pip-find-links-0", wheels.as_uri(), True),
    )
    env["PIP_NO_INDEX"] = "yes"
    assert sources_from_pip_config(env) == (Source("pip-find-links-0", wheels.as_uri(), True),)


def test_only_the_locking_commands_start_the_probe_early(monkeypatch: pytest.MonkeyPatch) -> None:
    from micro_thoth import cli

    started: list[object] = []
    monkeypatch.setattr(pipconf, "start_default_index_probe", lambda environ: started.append(environ))
    assert cli._probe_early(["-v", "lock", "--dev"]) is pipconf.settle_default_index_probe
    assert cli._probe_early(["upgrade", "django"]) is pipconf.settle_default_index_probe
    assert len(started) == 2
    for args in (["--version"], ["install"], ["sync"], ["graph"], ["lock", "--cache-dir=/x"], ["lock", "--cache-dir", "/x"], []):
        assert cli._probe_early(args) is None, args
    assert len(started) == 2


def test_the_early_probe_never_fails_the_command_itself(tmp_path: Path) -> None:
    """A cache directory that cannot be named (``~user`` of nobody): the early probe is only a hint,
    it starts nothing and raises nothing; the command meets the error inside its guard (no traceback)."""
    env = {**_env(tmp_path), "THOTH_PIP_CACHE_DIR": "~no-such-user-of-micro-thoth/cache"}
    pipconf.start_default_index_probe(env)
    assert pipconf._pending.probe is None
    (tmp_path / "Pipfile").write_text("[packages]\n")
    done = subprocess.run(
        [sys.executable, "-c", "import sys; from micro_thoth import cli; sys.exit(cli.main(['lock']))"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode != 0
    assert "Traceback" not in done.stderr, done.stderr
