"""pip's configuration as pip would read it: indexes, find-links, trusted hosts, cert, timeout.

Precedence, as pip applies it (highest first):

1. values given on our command line (``cli``; list options are appended to the configured ones,
   as pip's optparse does);
2. ``PIP_*`` environment variables (``PIP_EXTRA_INDEX_URL="a b"`` is whitespace separated);
3. config files, where a command section (``[install]``, ``[download]``) beats ``[global]``
   whatever the file; for the same section, ``PIP_CONFIG_FILE`` > site (``$VIRTUAL_ENV/pip.conf``)
   > user (``$XDG_CONFIG_HOME/pip/pip.conf`` > ``~/.pip/pip.conf``) > global (``/etc/pip.conf`` >
   ``$XDG_CONFIG_DIRS/pip/pip.conf``, later directories winning, as pip does).

``PIP_CONFIG_FILE=/dev/null`` disables every file; an existing ``PIP_CONFIG_FILE`` disables the
user files. Empty values are ignored. The default index, when nothing names one, is read from
pip itself (a subprocess, memoised on disk per pip version), never written into our code.
"""

from __future__ import annotations

import configparser
import glob
import json
import locale
import os
import subprocess
import sys
import threading
import urllib.parse
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Optional

from micro_thoth.cache import default_root
from micro_thoth.errors import EnvironmentError_, InputFileError
from micro_thoth.fs import atomic_write
from micro_thoth.models import Source

CONFIG_BASENAME = "pip.conf"
SYSTEM_DIR = "/etc"
LIST_KEYS = frozenset({"extra-index-url", "find-links", "trusted-host"})
_TRUE = frozenset({"y", "yes", "t", "true", "on", "1"})
_FALSE = frozenset({"n", "no", "f", "false", "off", "0"})
_MEMO_FILE = "pip-default-index-v1.json"
_PROBE = (
    "import pip; from pip._internal.models.index import PyPI; "
    "print(pip.__version__); print(PyPI.simple_url)"
)


@dataclass(frozen=True)
class PipConfig:
    """The index-related options pip would use; ``index_url`` is None when nothing sets it."""

    index_url: Optional[str] = None
    extra_index_urls: tuple[str, ...] = ()
    find_links: tuple[str, ...] = ()
    trusted_hosts: tuple[str, ...] = ()
    cert: Optional[str] = None
    timeout: Optional[float] = None
    no_index: bool = False
    files: tuple[str, ...] = ()  # the config files that were read, lowest precedence first

    def verify_for(self, url: str) -> bool:
        """False when the URL's host (or host:port) is a trusted host, as pip treats it."""
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname or ""
        hostport = f"{host}:{parts.port}" if parts.port else host
        return not any(trusted in (host, hostport) for trusted in self.trusted_hosts)


def _normalize(name: str) -> str:
    name = name.lower().replace("_", "-")
    return name[2:] if name.startswith("--") else name


def config_files(
    environ: Mapping[str, str],
    *,
    prefix: Optional[str] = None,
    isolated: bool = False,
    system_dir: Optional[str] = None,
) -> list[str]:
    """The files pip reads, lowest precedence first (missing files included; they read as empty)."""
    env_file = environ.get("PIP_CONFIG_FILE")
    if env_file == os.devnull:
        return []
    files = _global_files(environ, system_dir or SYSTEM_DIR)
    if not isolated and not (env_file and os.path.exists(env_file)):
        files += _user_files(environ)
    site_prefix = prefix if prefix is not None else environ.get("VIRTUAL_ENV")
    if site_prefix:
        files.append(os.path.join(site_prefix, CONFIG_BASENAME))
    if env_file:
        files.append(env_file)
    return files


def _global_files(environ: Mapping[str, str], system_dir: str) -> list[str]:
    default_xdg = os.path.join(system_dir, "xdg")
    dirs = [d for d in (environ.get("XDG_CONFIG_DIRS") or default_xdg).split(os.pathsep) if d]
    return [os.path.join(d, "pip", CONFIG_BASENAME) for d in dirs] + [os.path.join(system_dir, CONFIG_BASENAME)]


def _user_files(environ: Mapping[str, str]) -> list[str]:
    home = environ.get("HOME") or os.path.expanduser("~")
    xdg = environ.get("XDG_CONFIG_HOME") or os.path.join(home, ".config")
    return [os.path.join(home, ".pip", CONFIG_BASENAME), os.path.join(xdg, "pip", CONFIG_BASENAME)]


def _read_file(path: str) -> dict[str, str]:
    """``{"section.key": value}`` of one config file; a missing file is empty."""
    if not os.path.isfile(path):
        return {}
    parser = configparser.RawConfigParser()
    try:
        parser.read(path, encoding=locale.getpreferredencoding(False))
    except UnicodeDecodeError as exc:
        raise InputFileError("not readable in the locale's encoding", path=path) from exc
    except configparser.Error as exc:
        raise InputFileError(f"not a valid pip configuration file: {exc}", path=path) from exc
    return {f"{section}.{_normalize(k)}": v for section in parser.sections() for k, v in parser.items(section)}


def _env_items(environ: Mapping[str, str]) -> dict[str, str]:
    return {
        f":env:.{_normalize(key[4:])}": value
        for key, value in environ.items()
        if key.startswith("PIP_") and key[4:].lower() not in ("version", "help")
    }


def _ordered_items(merged: Mapping[str, str], command: str) -> Iterator[tuple[str, str]]:
    """(key, value) in pip's override order: [global], then [command], then the environment."""
    for wanted in ("global", command, ":env:"):
        for section_key, value in merged.items():
            section, key = section_key.split(".", 1)
            if section == wanted and value:
                yield key, value


def _merged(environ: Mapping[str, str], files: Sequence[str], isolated: bool) -> dict[str, str]:
    merged: dict[str, str] = {}
    for path in files:
        merged.update(_read_file(path))
    if not isolated:
        merged.update(_env_items(environ))
    return merged


def _strtobool(value: str, key: str, where: str) -> bool:
    lowered = value.strip().lower()
    if lowered in _TRUE or lowered in _FALSE:
        return lowered in _TRUE
    raise InputFileError(f"{value!r} is not a valid value for {key} (use yes/no, true/false or 1/0)", path=where)


def _timeout(value: str, where: str) -> float:
    try:
        return float(value.strip())
    except ValueError as exc:
        raise InputFileError(f"timeout {value!r} is not a number of seconds", path=where) from exc


def _apply(config: PipConfig, key: str, value: str, where: str) -> PipConfig:
    """One option onto the config; lists from different places replace each other, as in pip."""
    if key in LIST_KEYS:
        values = tuple(value.split())
        if key == "extra-index-url":
            return replace(config, extra_index_urls=values)
        if key == "find-links":
            return replace(config, find_links=values)
        return replace(config, trusted_hosts=values)
    if key == "index-url":
        return replace(config, index_url=value.strip())
    if key == "cert":
        return replace(config, cert=value.strip())
    if key == "timeout":
        return replace(config, timeout=_timeout(value, where))
    if key == "no-index":
        return replace(config, no_index=_strtobool(value, key, where))
    return config


def read_pip_config(
    environ: Mapping[str, str],
    *,
    command: str = "install",
    prefix: Optional[str] = None,
    isolated: bool = False,
    cli: Optional[Mapping[str, object]] = None,
    system_dir: Optional[str] = None,
) -> PipConfig:
    """pip's index options for ``pip <command>``; ``cli`` keys are PipConfig field names."""
    files = config_files(environ, prefix=prefix, isolated=isolated, system_dir=system_dir)
    config = PipConfig(files=tuple(f for f in files if os.path.isfile(f)))
    where = ", ".join(config.files) or "PIP_* environment"
    for key, value in _ordered_items(_merged(environ, files, isolated), command):
        config = _apply(config, key, value, where)
    return _with_cli(config, cli or {})


def _with_cli(config: PipConfig, cli: Mapping[str, object]) -> PipConfig:
    changes: dict[str, object] = {}
    for key, value in cli.items():
        if value is None or key not in PipConfig.__dataclass_fields__:
            continue
        if isinstance(getattr(config, key), tuple):
            value = getattr(config, key) + tuple(_as_list(value))
        changes[key] = value
    return replace(config, **changes)  # type: ignore[arg-type]


def _as_list(value: object) -> list[str]:
    if isinstance(value, str):
        return value.split()
    if isinstance(value, Iterable):
        return [str(v) for v in value]
    return [str(value)]


# -- the default index -------------------------------------------------------

def _pip_version_cheaply(python: str) -> Optional[str]:
    """pip's version for ``python`` without running it: the dist-info on our own path, or in its prefix."""
    if os.path.realpath(python) == os.path.realpath(sys.executable):
        return _own_pip_version()
    prefix = Path(os.path.abspath(python)).parent.parent  # not resolved: a venv's python is a symlink
    found = glob.glob(str(prefix / "lib*" / "python*" / "site-packages" / "pip-*.dist-info"))
    if len(found) != 1:
        return None
    return Path(found[0]).name[len("pip-") : -len(".dist-info")]


def _own_pip_version() -> Optional[str]:
    """The first ``pip-*.dist-info`` on ``sys.path`` (where importlib.metadata would look first), else
    importlib.metadata's answer; that module (≈ 14 ms: csv, email) is loaded only then."""
    for entry in sys.path:
        found = glob.glob(os.path.join(glob.escape(entry or "."), "pip-*.dist-info"))
        if len(found) == 1:
            return os.path.basename(found[0])[len("pip-") : -len(".dist-info")]
        if found:
            break  # two of them: importlib.metadata decides
    import importlib.metadata

    try:
        return importlib.metadata.version("pip")
    except importlib.metadata.PackageNotFoundError:
        return None


def _probe_env(environ: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in environ.items() if k != "PYTHONPATH"}


@dataclass
class _Started:
    """A probe started ahead of its answer being needed (``start_default_index_probe``)."""

    python: str
    env: dict[str, str]
    memo_path: Path
    process: subprocess.Popen[str]


@dataclass
class _Pending:
    """The probe started ahead, if any (read and set under ``_started_lock``): taken by the first
    ``default_index_url`` that matches it, else settled at the command's end."""

    probe: Optional[_Started] = None


_pending = _Pending()
_known: dict[tuple[str, Path], str] = {}  # (python, memo path) -> URL the start found memoised: not read again
_started_lock = threading.Lock()


def start_default_index_probe(environ: Mapping[str, str], python: str = sys.executable) -> None:
    """Ask pip for its default index now, in the background, when its memo does not know this pip
    yet: the command's imports and input reading overlap the subprocess. ``default_index_url`` takes
    the answer when it is asked with the same interpreter and environment; else it is ignored. When
    the memo knows this pip, its answer is kept for ``default_index_url`` (the memo is read once).
    Never raises: it runs before the command's guard, and the command meets any error itself."""
    try:
        memo_path = default_root(environ) / _MEMO_FILE  # RuntimeError: a ``~user`` of nobody
        version = _pip_version_cheaply(python)
    except (OSError, RuntimeError, ValueError):
        return
    memo = _load_memo(memo_path)
    if version is not None and f"pip-{version}" in memo:
        with _started_lock:
            _known[(python, memo_path)] = memo[f"pip-{version}"]
        return
    env = _probe_env(environ)
    try:
        process = subprocess.Popen(
            [python, "-c", _PROBE], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )
    except OSError:
        return  # default_index_url runs it again, and reports the error
    with _started_lock:
        _pending.probe = _Started(python, env, memo_path, process)


def settle_default_index_probe() -> None:
    """At the command's end: a started probe nobody asked for is memoised if it has answered, else stopped
    (and a memoised answer the start found is forgotten)."""
    with _started_lock:
        started, _pending.probe = _pending.probe, None
        _known.clear()
    if started is None:
        return
    if started.process.poll() is None:
        started.process.kill()
        started.process.communicate()
        return
    try:
        version, url = _answer(started.python, started.process.communicate()[0], started.process.returncode)
    except EnvironmentError_:
        return
    _save_memo(started.memo_path, {**_load_memo(started.memo_path), f"pip-{version}": url})


def _take_started(python: str, env: Mapping[str, str]) -> Optional[subprocess.Popen[str]]:
    with _started_lock:
        started = _pending.probe
        if started is None or started.python != python or started.env != env:
            return None
        _pending.probe = None
    return started.process


def _probe_pip(python: str, environ: Mapping[str, str]) -> tuple[str, str]:
    """(pip version, default simple URL) as reported by ``python``'s pip (the started probe's answer
    when one runs for the same interpreter and environment)."""
    env = _probe_env(environ)
    process = _take_started(python, env)
    try:
        if process is None:
            process = subprocess.Popen(
                [python, "-c", _PROBE], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
            )
        with process:
            try:
                output, _ = process.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                raise
    except (OSError, subprocess.SubprocessError) as exc:
        raise _cannot_ask(python, exc) from exc
    return _answer(python, output, process.returncode)


def _cannot_ask(python: str, exc: object) -> EnvironmentError_:
    return EnvironmentError_(
        f"cannot ask pip of {python} for its default index: {exc}",
        hint="install pip into that interpreter, or name an index (PIP_INDEX_URL, a Pipfile [[source]])",
    )


def _answer(python: str, output: str, returncode: int) -> tuple[str, str]:
    """(pip version, URL) from the probe's output; EnvironmentError_ when pip failed or said nothing usable."""
    if returncode != 0:
        raise _cannot_ask(python, subprocess.CalledProcessError(returncode, [python, "-c", _PROBE]))
    version, url = [*output.strip().splitlines(), "", ""][:2]
    if not url.startswith(("http://", "https://")):
        raise EnvironmentError_(f"pip of {python} reported no default index URL (got {url!r})")
    return version, url


def _load_memo(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def _save_memo(path: Path, memo: Mapping[str, str]) -> None:
    try:
        atomic_write(path, json.dumps(dict(memo), sort_keys=True), durable=False)
    except OSError:
        pass  # a memo we cannot write only costs a subprocess next time


def default_index_url(
    python: str = sys.executable,
    *,
    environ: Optional[Mapping[str, str]] = None,
    cache_dir: Optional[str] = None,
) -> str:
    """pip's default index URL, read from pip at run time and memoised per pip version."""
    env = os.environ if environ is None else environ
    memo_path = default_root(env, cache_dir) / _MEMO_FILE
    with _started_lock:
        known = _known.get((python, memo_path))
    if known is not None:
        return known  # the command's start read this memo (start_default_index_probe)
    memo = _load_memo(memo_path)
    version = _pip_version_cheaply(python)
    if version is not None and f"pip-{version}" in memo:
        return memo[f"pip-{version}"]
    version, url = _probe_pip(python, env)
    _save_memo(memo_path, {**memo, f"pip-{version}": url})
    return url


def sources_from_pip_config(
    environ: Mapping[str, str],
    *,
    config: Optional[PipConfig] = None,
    python: str = sys.executable,
    cache_dir: Optional[str] = None,
    command: str = "install",
    cli: Optional[Mapping[str, object]] = None,
) -> tuple[Source, ...]:
    """The indexes pip would use: ``pip-index-0`` (the index URL), ``pip-index-1``... (extra
    index URLs), then local find-links directories as ``pip-find-links-0``...

    pip merges the files of all of them; we keep our first-index rule (DESIGN.md),
    so a find-links directory serves the projects the indexes do not have. Remote
    find-links pages are not sources (an index client asks ``<url>/<name>/``).
    """
    config = config or read_pip_config(environ, command=command, cli=cli)
    if config.no_index:
        urls: list[str] = []
    else:
        main = config.index_url or default_index_url(python, environ=environ, cache_dir=cache_dir)
        urls = [main, *config.extra_index_urls]
    indexes = [
        Source(name=f"pip-index-{i}", url=url, verify_ssl=config.verify_for(url))
        for i, url in enumerate(dict.fromkeys(urls))
    ]
    local = dict.fromkeys(url for url in map(_local_find_links, config.find_links) if url)
    return (*indexes, *(Source(name=f"pip-find-links-{i}", url=url) for i, url in enumerate(local)))


def _local_find_links(entry: str) -> Optional[str]:
    """A find-links entry that is a local directory, as a ``file://`` URL; None otherwise."""
    if entry.startswith("file:"):
        import urllib.request  # here: it loads http.client, ssl and email; only a local path needs it

        return entry if os.path.isdir(urllib.request.url2pathname(urllib.parse.urlsplit(entry).path)) else None
    if "://" in entry:
        return None
    path = os.path.abspath(os.path.expanduser(entry))
    return Path(path).as_uri() if os.path.isdir(path) else None
