"""Wheels and metadata from sdists, local paths and VCS checkouts, through pip and git subprocesses.

pip is never imported: ``python -m pip`` runs with ``--python TARGET`` so that a
wheel is built for the target interpreter even when the target has no pip.
Credentials never reach a command line (others can read it in ``ps``): index
URLs travel in ``PIP_INDEX_URL``/``PIP_EXTRA_INDEX_URL``, a URL with userinfo
in a private requirements file, git credentials through ``GIT_ASKPASS``; and
they are scrubbed from any output we keep.

Metadata of an sdist is taken, cheapest first, from its ``PKG-INFO`` when that
is trustworthy (Metadata-Version >= 2.2 with no dynamic Requires-Dist or
Requires-Python, PEP 643), else from ``pip install --dry-run --report``, which
calls the backend's ``prepare_metadata_for_build_wheel`` hook instead of
building a wheel whenever the backend has one.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.parse
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Optional, Union

from packaging.version import InvalidVersion, Version

from .errors import BuildError
from .fs import publish
from .models import DirectReference, redact_url, strip_credentials
from .urls import url_spans

BUILD_TIMEOUT = 1800.0
OUTPUT_TAIL = 40


# --- secrets out of command lines and output --------------------------------------------------


def scrub(text: str, secrets: Sequence[str] = ()) -> str:
    """``text`` with the password of every URL redacted and every known secret masked."""
    text = _redact_urls(text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, "****")
    return text


def _redact_urls(text: str) -> str:
    """``text`` with the password of every URL in it redacted (one linear scan)."""
    parts: list[str] = []
    done = 0
    for start, end in url_spans(text):
        parts += [text[done:start], redact_url(text[start:end])]
        done = end
    return "".join([*parts, text[done:]])


def _secrets(urls: Sequence[str]) -> list[str]:
    found: list[str] = []
    for url in urls:
        parts = urllib.parse.urlsplit(url)
        for value in (parts.password, parts.username if parts.password is None else None):
            if value:
                found += [value, urllib.parse.unquote(value)]
    return sorted(set(found), key=len, reverse=True)


def pip_environment(environ: Mapping[str, str], index_urls: Sequence[str]) -> dict[str, str]:
    """The subprocess environment: ``environ`` plus the indexes (first = index, others = extra)."""
    env = dict(environ)
    if index_urls:
        env["PIP_INDEX_URL"] = index_urls[0]
        env["PIP_EXTRA_INDEX_URL"] = " ".join(index_urls[1:])
    env.setdefault("PIP_DISABLE_PIP_VERSION_CHECK", "1")
    env.setdefault("PIP_NO_INPUT", "1")
    return env


@contextmanager
def _pip_source(source: Union[Path, str]) -> Iterator[list[str]]:
    """pip arguments naming ``source``: a private requirements file when it carries credentials."""
    text = os.fspath(source)
    if strip_credentials(text) == text:
        yield [text]
        return
    with tempfile.TemporaryDirectory(prefix="thoth-pip-req-") as tmp:
        path = Path(tmp) / "requirement.txt"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(text + "\n")
        yield ["-r", str(path)]


def _pip(python: str) -> list[str]:
    """Run the pip of this installation, for the target interpreter (which may have no pip)."""
    # Compare paths unresolved: a venv's python is a symlink to its base interpreter.
    if os.path.abspath(python) == os.path.abspath(sys.executable):
        return [sys.executable, "-m", "pip"]
    return [sys.executable, "-m", "pip", "--python", python]


def _run(
    command: list[str], *, env: Mapping[str, str], package: str, secrets: Sequence[str], what: str,
    cwd: Optional[Path] = None,
) -> subprocess.CompletedProcess[str]:
    try:
        proc = subprocess.run(
            command, env=dict(env), cwd=cwd, capture_output=True, text=True, timeout=BUILD_TIMEOUT, check=False,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise BuildError(f"{what} for {package} could not run: {scrub(str(exc), secrets)}", distribution=package) from exc
    if proc.returncode != 0:
        output = scrub((proc.stdout or "") + (proc.stderr or ""), secrets)
        tail = "\n".join(output.strip().splitlines()[-OUTPUT_TAIL:])
        raise BuildError(f"{what} for {package} failed (exit {proc.returncode})", distribution=package, output=tail)
    return proc


# --- building wheels ---------------------------------------------------------------------------


def build_wheel(
    source: Union[Path, str, DirectReference],
    out_dir: Path,
    *,
    python: str,
    environ: Mapping[str, str],
    index_urls: Sequence[str] = (),
    package: Optional[str] = None,
) -> Path:
    """Build one wheel of ``source`` (sdist, directory, URL or direct reference) for ``python``.

    A git reference is checked out at its ``ref`` with git first; the wheel's path in ``out_dir``.
    """
    with _buildable(source, environ) as where:
        name = package or _display_name(where)
        out_dir.mkdir(parents=True, exist_ok=True)
        secrets = _secrets([*index_urls, os.fspath(where)])
        with tempfile.TemporaryDirectory(prefix=".build-", dir=out_dir) as tmp, _pip_source(where) as args:
            command = [*_pip(python), "wheel", "--no-deps", "--no-input", "-w", tmp, *args]
            _run(command, env=pip_environment(environ, index_urls), package=name, secrets=secrets,
                 what="building a wheel")
            built = sorted(Path(tmp).glob("*.whl"))
            if len(built) != 1:
                raise BuildError(f"building a wheel for {name} produced {len(built)} wheels", distribution=name)
            final = out_dir / built[0].name
            publish(built[0], final)
    return final


build_wheel_for = build_wheel  # a direct reference is one more kind of source


@contextmanager
def _buildable(source: Union[Path, str, DirectReference], environ: Mapping[str, str]) -> Iterator[Union[Path, str]]:
    """What pip builds from: the source itself, a reference's location, or a git checkout."""
    if not isinstance(source, DirectReference):
        yield source
    elif source.kind != "git":
        yield _reference_source(source)
    else:
        with git_checkout(source, environ=environ) as (checkout, _commit):
            yield checkout


def install_editable(
    reference: DirectReference, *, python: str, environ: Mapping[str, str],
    index_urls: Sequence[str] = (), package: Optional[str] = None,
) -> None:
    """Install an editable reference into ``python``'s environment with pip (PEP 660 hooks).

    Editables are the one thing installed by pip rather than by ``install.execute``:
    only the build backend knows how to make an editable install.
    """
    name = package or _display_name(reference.location)
    source = _reference_source(dataclasses.replace(reference, editable=False))
    if strip_credentials(source) != source:  # pip takes -e only on its command line
        raise BuildError(f"the editable {name} has credentials in its URL; use a path", distribution=name)
    command = [*_pip(python), "install", "--no-deps", "--no-input", "--quiet", "-e", source]
    _run(command, env=pip_environment(environ, index_urls), package=name, secrets=_secrets(index_urls),
         what="installing in editable mode")


def _display_name(source: Union[Path, str]) -> str:
    text = strip_credentials(os.fspath(source)).rstrip("/")
    return text.rsplit("/", 1)[-1] or text


def _reference_source(reference: DirectReference) -> str:
    """What pip takes for ``reference``; pip reads ``#subdirectory=`` on a URL only, so a local
    path (project directory or archive) that has one is given as a ``file:`` URL."""
    local = reference.local_path() if reference.kind in ("path", "file") else None
    if local is None:
        return reference.pip_url()
    location = Path(local).expanduser().resolve()
    return f"{location.as_uri()}#subdirectory={reference.subdirectory}" if reference.subdirectory else str(location)


# --- metadata ----------------------------------------------------------------------------------


def prepare_metadata(
    sdist_path: Path, *, python: str, environ: Mapping[str, str], index_urls: Sequence[str] = ()
) -> str:
    """The METADATA text of an sdist: its PKG-INFO when trustworthy, else the backend's."""
    trusted = _static_pkg_info(sdist_path)
    if trusted is not None:
        return trusted
    return _report_metadata(str(sdist_path), python=python, environ=environ, index_urls=index_urls)[0]


def _static_pkg_info(sdist_path: Path) -> Optional[str]:
    """PKG-INFO of a ``.tar.gz``/``.zip`` sdist if PEP 643 says its dependencies are static."""
    text = _read_pkg_info(sdist_path)
    if text is None:
        return None
    headers = _headers(text)
    try:
        version = Version(headers.get("metadata-version", ["0"])[0])
    except InvalidVersion:
        return None
    dynamic = {value.lower() for value in headers.get("dynamic", [])}
    if version < Version("2.2") or dynamic & {"requires-dist", "requires-python", "provides-extra", "version"}:
        return None
    return text


def _read_pkg_info(sdist_path: Path) -> Optional[str]:
    try:
        if sdist_path.name.endswith(".zip"):
            with zipfile.ZipFile(sdist_path) as archive:
                names = [n for n in archive.namelist() if n.count("/") == 1 and n.endswith("/PKG-INFO")]
                return archive.read(names[0]).decode("utf-8", "replace") if names else None
        with tarfile.open(sdist_path) as archive:
            for member in archive:
                if member.isfile() and member.name.count("/") == 1 and member.name.endswith("/PKG-INFO"):
                    handle = archive.extractfile(member)
                    return handle.read().decode("utf-8", "replace") if handle else None
    except (OSError, tarfile.TarError, zipfile.BadZipFile, EOFError):
        return None
    return None


def _headers(text: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in text.split("\n\n", 1)[0].splitlines():
        if ":" in line and not line[:1].isspace():
            key, _, value = line.partition(":")
            found.setdefault(key.strip().lower(), []).append(value.strip())
    return found


def _report_metadata(
    source: str, *, python: str, environ: Mapping[str, str], index_urls: Sequence[str] = (),
    package: Optional[str] = None,
) -> tuple[str, Mapping[str, Any]]:
    """METADATA (as text) and download_info of ``source`` from ``pip install --dry-run --report``."""
    name = package or _display_name(source)
    secrets = _secrets([*index_urls, source])
    with _pip_source(source) as args:
        command = [*_pip(python), "install", "--dry-run", "--no-deps", "--ignore-installed", "--quiet",
                   "--report", "-", *args]
        proc = _run(command, env=pip_environment(environ, index_urls), package=name, secrets=secrets,
                    what="preparing metadata")
    try:
        item = json.loads(proc.stdout[proc.stdout.index("{"):])["install"][0]
        return metadata_text(item["metadata"]), item.get("download_info", {})
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise BuildError(f"pip gave no usable metadata for {name}", distribution=name,
                         output=scrub(proc.stdout[-2000:], secrets)) from exc


_SPECIAL_HEADERS = {
    "home_page": "Home-page", "download_url": "Download-URL", "project_url": "Project-URL",
    "metadata_version": "Metadata-Version", "requires_dist": "Requires-Dist",
}


def metadata_text(data: Mapping[str, Any]) -> str:
    """Core metadata as RFC 822 text from its JSON form (PEP 566); the description is the body."""
    lines: list[str] = []
    for key, value in data.items():
        if key == "description":
            continue
        header = _SPECIAL_HEADERS.get(key) or "-".join(part.capitalize() for part in key.split("_"))
        values = value if isinstance(value, list) else [value]
        if key == "keywords" and isinstance(value, list):
            values = [",".join(value)]
        lines += [f"{header}: {str(item).replace(chr(10), ' ')}" for item in values]
    body = str(data.get("description") or "")
    return "\n".join(lines) + "\n\n" + body


def prepare_metadata_for(
    reference: DirectReference, *, python: str, environ: Mapping[str, str],
    index_urls: Sequence[str] = (), package: Optional[str] = None,
) -> tuple[str, DirectReference]:
    """METADATA of a path / file URL / VCS reference, and the reference to lock.

    A git reference comes back with ``ref`` set to the commit ``git rev-parse``
    resolved it to; other VCS get the commit pip reports.
    """
    if reference.kind == "git":
        with git_checkout(reference, environ=environ) as (checkout, commit):
            text = _local_metadata(checkout, python=python, environ=environ, index_urls=index_urls, package=package)
        return text, dataclasses.replace(reference, ref=commit)
    local = _local_file(reference)
    if local is not None and local.is_file() and not reference.subdirectory:  # else the project in that directory of it
        return _archive_metadata(local, python=python, environ=environ, index_urls=index_urls), reference
    text, info = _report_metadata(_reference_source(reference), python=python, environ=environ,
                                  index_urls=index_urls, package=package)
    reported: Optional[str] = (info.get("vcs_info") or {}).get("commit_id")
    return text, (dataclasses.replace(reference, ref=reported) if reference.is_vcs and reported else reference)


def _local_file(reference: DirectReference) -> Optional[Path]:
    if reference.kind == "path":
        return Path(reference.location).expanduser().resolve()
    if reference.kind == "file" and reference.location.startswith("file:"):
        return Path(urllib.parse.unquote(urllib.parse.urlsplit(reference.location).path))
    return None


def _archive_metadata(path: Path, **kwargs: Any) -> str:
    if path.name.endswith(".whl"):
        return wheel_metadata(path)
    return prepare_metadata(path, **kwargs)


def wheel_metadata(path: Path) -> str:
    """The METADATA file of a wheel."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if n.count("/") == 1 and n.endswith(".dist-info/METADATA")]
            if len(names) != 1:
                raise BuildError(f"{path.name} has {len(names)} METADATA files", distribution=path.name)
            return archive.read(names[0]).decode("utf-8", "replace")
    except (OSError, zipfile.BadZipFile) as exc:
        raise BuildError(f"cannot read {path.name}: {exc}", distribution=path.name) from exc


def _local_metadata(directory: Path, **kwargs: Any) -> str:
    return _report_metadata(str(directory), **kwargs)[0]


# --- git -----------------------------------------------------------------------------------------

_ASKPASS = """#!/bin/sh
case "$1" in
  Username*) printf '%s\\n' "$THOTH_PIP_GIT_USERNAME" ;;
  *) printf '%s\\n' "$THOTH_PIP_GIT_PASSWORD" ;;
esac
"""


@contextmanager
def git_checkout(reference: DirectReference, *, environ: Mapping[str, str]) -> Iterator[tuple[Path, str]]:
    """Clone ``reference`` into a temporary directory at its ref; yields (source dir, commit sha)."""
    url = reference.location.removeprefix("git+")
    parts = urllib.parse.urlsplit(url)
    secrets = _secrets([url])
    with tempfile.TemporaryDirectory(prefix="thoth-pip-git-") as tmp:
        env = _git_environment(environ, parts, Path(tmp))
        checkout = Path(tmp) / "checkout"
        git = _GitRunner(env, secrets, reference.location)
        git.run("clone", "--quiet", strip_credentials(url), str(checkout))
        commit = git.resolve(checkout, reference.ref)
        git.run("-C", str(checkout), "checkout", "--quiet", "--detach", commit)
        if (checkout / ".gitmodules").exists():
            git.run("-C", str(checkout), "submodule", "update", "--quiet", "--init", "--recursive")
        yield (checkout / reference.subdirectory if reference.subdirectory else checkout), commit


_FETCHED = "refs/heads/fetched"  # a bare repository's one ref: the commit fetched last


def git_fetch_bare(url: str, git_dir: Path, *, environ: Mapping[str, str]) -> str:
    """Make ``git_dir`` a bare repository holding the commit of ``url``'s default branch at depth 1 (fetched into it
    again when it already is one: only what changed travels); no work tree is written. Returns the commit sha."""
    url = url.removeprefix("git+")
    parts = urllib.parse.urlsplit(url)
    with tempfile.TemporaryDirectory(prefix="thoth-pip-git-") as tmp:
        git = _GitRunner(_git_environment(environ, parts, Path(tmp)), _secrets([url]), url)
        if not (git_dir / "HEAD").is_file():
            git_dir.mkdir(parents=True, exist_ok=True)
            git.run("-C", str(git_dir), "init", "--quiet", "--bare")
        # into a ref: the next fetch says it has that commit, so an unchanged repository sends nothing
        git.run("-C", str(git_dir), "fetch", "--quiet", "--no-tags", "--depth", "1", strip_credentials(url), f"+HEAD:{_FETCHED}")
        return git.run("-C", str(git_dir), "rev-parse", f"{_FETCHED}^{{commit}}")


def _git_environment(environ: Mapping[str, str], parts: urllib.parse.SplitResult, tmp: Path) -> dict[str, str]:
    env = dict(environ)
    env.update(GIT_TERMINAL_PROMPT="0", GIT_CONFIG_NOSYSTEM="1")
    if parts.username or parts.password:
        askpass = tmp / "askpass.sh"
        askpass.write_text(_ASKPASS)
        askpass.chmod(0o700)
        env.update(
            GIT_ASKPASS=str(askpass),
            THOTH_PIP_GIT_USERNAME=urllib.parse.unquote(parts.username or ""),
            THOTH_PIP_GIT_PASSWORD=urllib.parse.unquote(parts.password or ""),
        )
    return env


class _GitRunner:
    """Runs git with the prepared environment; failures become BuildError with scrubbed output."""

    def __init__(self, env: Mapping[str, str], secrets: Sequence[str], location: str) -> None:
        self.env, self.secrets, self.location = env, secrets, strip_credentials(location)
        if shutil.which("git", path=env.get("PATH")) is None:
            raise BuildError("git is not installed, but a git requirement needs it", distribution=self.location)

    def run(self, *args: str) -> str:
        proc = _run(["git", *args], env=self.env, package=self.location, secrets=self.secrets,
                    what=f"git {args[0] if args[0] != '-C' else args[2]}")
        return proc.stdout.strip()

    def resolve(self, checkout: Path, ref: Optional[str]) -> str:
        """The commit sha of ``ref`` (a sha, tag or branch; default: the remote's HEAD)."""
        candidates = [f"{ref}^{{commit}}", f"origin/{ref}^{{commit}}"] if ref else ["HEAD^{commit}"]
        for candidate in candidates:
            try:
                return self.run("-C", str(checkout), "rev-parse", "--verify", "--quiet", candidate)
            except BuildError:
                continue
        if ref and re.fullmatch(r"[0-9a-fA-F]{7,40}", ref):
            self.run("-C", str(checkout), "fetch", "--quiet", "origin", ref)
            return self.run("-C", str(checkout), "rev-parse", "--verify", "FETCH_HEAD^{commit}")
        raise BuildError(f"{self.location} has no branch, tag or commit {ref!r}", distribution=self.location)


__all__ = [
    "build_wheel",
    "build_wheel_for",
    "git_checkout",
    "git_fetch_bare",
    "install_editable",
    "metadata_text",
    "pip_environment",
    "prepare_metadata",
    "prepare_metadata_for",
    "scrub",
    "wheel_metadata",
]
