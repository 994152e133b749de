"""Options shared by several subcommands, spelled as pipenv (and pip) spell them."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional, TypeVar

import click

from ..console import Console
from ..errors import UsageError
from ..knowledge.locations import KNOWLEDGE_DIR_ENV
from ..settings import Settings

if TYPE_CHECKING:
    from ..pipeline.lock import LockRequest

F = TypeVar("F", bound=Callable[..., Any])


def _apply(options: list[Callable[[F], F]], func: F) -> F:
    for option in reversed(options):
        func = option(func)
    return func


def project(func: F) -> F:
    """-C, -v/-q, --json: commands that read the project but use no cache or index."""
    return _apply(
        [
            click.option("-C", "--directory", type=click.Path(file_okay=False), help="Project directory (default: cwd, or PIPENV_PIPFILE's)."),
            click.option("-v", "--verbose", count=True, help="More output."),
            click.option("-q", "--quiet", count=True, help="Less output."),
            click.option("--json", "json", is_flag=True, help="Machine-readable output on stdout."),
        ],
        func,
    )


def common(func: F) -> F:
    """``project``'s options and --cache-dir, --clear: every project command that talks to an index has them."""
    return project(_apply(
        [
            click.option("--cache-dir", type=click.Path(file_okay=False), help="Cache directory (THOTH_PIP_CACHE_DIR)."),
            click.option("--clear", is_flag=True, help="Drop the caches first."),
        ],
        func,
    ))


def target(func: F) -> F:
    """Where and what to install: pipenv's --dev/--categories/--system/--python."""
    return _apply(
        [
            click.option("-d", "--dev", is_flag=True, help="Also the develop packages (PIPENV_DEV)."),
            click.option("--categories", multiple=True, help="Lock categories to install, e.g. 'default docs'."),
            click.option("--system", is_flag=True, help="Into the system Python (the python3 on PATH, or --python)."),
            click.option("--python", help="Target interpreter: a version (3.11) or a path."),
            click.option("--dry-run", is_flag=True, help="Print the plan; change nothing."),
            click.option("--no-compile", is_flag=True, help="Do not compile bytecode."),
            click.option(
                "--link-mode", type=click.Choice(["clone", "copy", "hardlink", "symlink"]), default=None,
                help="How installed files come from the cache (THOTH_PIP_LINK_MODE; default clone, else copy).",
            ),
        ],
        binary(func),
    )


def binary(func: F) -> F:
    """pip's --no-binary / --only-binary / --prefer-binary (also PIP_NO_BINARY, ...)."""
    return _apply(
        [
            click.option("--no-binary", multiple=True, metavar="NAMES", help="Never use wheels of these (comma separated, :all:, :none:)."),
            click.option("--only-binary", multiple=True, metavar="NAMES", help="Never use sdists of these (comma separated, :all:, :none:)."),
            click.option("--prefer-binary", is_flag=True, help="Prefer an older release with a wheel to a newer one with only an sdist."),
        ],
        func,
    )


def backend(func: F) -> F:
    """--backend URL: resolve on a thoth-pip serve backend (else THOTH_HOST, else .thoth.yaml host)."""
    return click.option(
        "--backend", metavar="URL", help="Ask this resolver backend instead of resolving here (THOTH_HOST, .thoth.yaml host).",
    )(func)


def knowledge_dir(func: F) -> F:
    """--knowledge-dir DIR: pin this run to one knowledge store instead of the user data dir's."""
    return click.option(
        "--knowledge-dir", type=click.Path(file_okay=False),
        help="Use the knowledge (synced units, advisories, your own units) in this directory (THOTH_PIP_KNOWLEDGE_DIR).",
    )(func)


def apply_knowledge_dir(kwargs: dict[str, Any]) -> None:
    """``--knowledge-dir`` becomes THOTH_PIP_KNOWLEDGE_DIR for this process (as .env values do), so every
    stage, the remote client included, reads the same store."""
    chosen = kwargs.pop("knowledge_dir", None)
    if not chosen:
        return
    before = os.environ.get(KNOWLEDGE_DIR_ENV)
    os.environ[KNOWLEDGE_DIR_ENV] = os.path.abspath(os.path.expanduser(str(chosen)))
    context = click.get_current_context(silent=True)
    if context is not None:  # an in-process caller of main() gets its environment back
        context.call_on_close(lambda: _restore(KNOWLEDGE_DIR_ENV, before))


def _restore(key: str, value: Optional[str]) -> None:
    if value is None:
        os.environ.pop(key, None)
    else:
        os.environ[key] = value


def run_console() -> Console:
    """The run's console (click's ``ctx.obj``, made by ``cli.main``): one live region, one set of
    choices (verbosity, NO_COLOR); a fresh one only outside ``main`` (click's own test runner)."""
    context = click.get_current_context(silent=True)
    found = context.find_object(Console) if context is not None else None
    return found if found is not None else Console()


def settings_from(kwargs: dict[str, Any]) -> tuple[Settings, Console]:
    """The frozen Settings for this invocation, and the console to report through."""
    from ..pipeline.project import apply_overlay
    from ..pipeline.project_env import dotenv_values

    apply_knowledge_dir(kwargs)
    settings = Settings.from_sources(kwargs, os.environ)
    reporter = run_console()
    reporter.configure(verbosity=settings.verbosity)
    settings = apply_overlay(settings, os.environ)
    os.environ.update(dotenv_values(settings, os.environ, reporter))  # pipenv loads .env for every command
    return settings, reporter


def guidance(func: F) -> F:
    """Guidance knobs shared by lock, install and advise."""
    return _apply(
        [
            click.option("--min-release-age", metavar="AGE", help="Cooldown for new releases (stable: 7d), e.g. 3d, 12h."),
            click.option("--prescriptions", "prescription_paths", multiple=True, type=click.Path(exists=True), help="More prescription files or directories."),
            click.option("--deny-license", "deny_licenses", multiple=True, metavar="SPDX", help="Refuse candidates under this licence."),
            click.option("--allow-vulnerability", "allow_vulnerabilities", multiple=True, metavar="ID", help="Accept this advisory id (security)."),
            click.option("--limit", type=int, default=None, help="Improvement search: at most this many re-resolutions."),
            click.option("--timeout", "search_timeout", type=float, default=30.0, show_default=True, help="Improvement search time limit (seconds)."),
            click.option("--seed", type=int, default=0, show_default=True, help="Improvement search seed (deterministic)."),
            knowledge_dir,
        ],
        func,
    )


def runtime_options(func: Any) -> Any:
    """The flags that override a runtime environment value (shared with lock and install)."""
    options = [
        click.option("--runtime-environment", "runtime_environment", metavar="NAME",
                     help="The .thoth.yaml entry to use (default: THAMOS_RUNTIME_ENVIRONMENT, else the first)."),
        click.option("--python-version", help="Target Python version, e.g. 3.9."),
        click.option("--platform", help="Target platform as sysconfig spells it, e.g. linux-x86_64."),
        click.option("--os", metavar="NAME[:VERSION]", help="Target operating system, e.g. rhel:8."),
        click.option("--libc", metavar="FAMILY:VERSION", help="Target C library, e.g. glibc:2.28 or musl:1.2."),
        click.option("--cuda-version", help="Target CUDA version, e.g. 12.2."),
        click.option("--cudnn-version", help="Target cuDNN version."),
        click.option("--cpu-family", type=int, help="Target CPU family (as /proc/cpuinfo)."),
        click.option("--cpu-model", type=int, help="Target CPU model (as /proc/cpuinfo)."),
        click.option("--gpu-model", help="Target GPU model."),
        click.option("--base-image", help="Container base image the application runs in."),
        click.option("--recommendation-type", help="latest, stable, performance, security or testing."),
        click.option("--labels", metavar="K=V;K2=V2", help="Labels for prescriptions, merged over the config's."),
        click.option("--target-root", type=click.Path(exists=True, file_okay=False), metavar="DIR",
                     help="A container image's root: its OS and system libraries' symbol versions are the target's."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _pair(text: Optional[str], flag: str) -> tuple[Optional[str], Optional[str]]:
    """``NAME:VERSION`` (version optional)."""
    if not text:
        return (None, None)
    name, _, version = text.partition(":")
    if not name:
        raise UsageError(f"{flag} {text!r} is not NAME[:VERSION]")
    return (name, version or None)


def overrides_from_options(options: dict[str, Any]) -> dict[str, Any]:
    """The flags given, as RuntimeEnvironment keys (None: not given)."""
    from ..environment.config import parse_labels

    os_name, os_version = _pair(options.pop("os"), "--os")
    libc_family, libc_version = _pair(options.pop("libc"), "--libc")
    labels = options.pop("labels")
    values = dict(options, os_name=os_name, os_version=os_version, libc_family=libc_family,
                  libc_version=libc_version, labels=parse_labels(labels) if labels else None)
    return {key: value for key, value in values.items() if value is not None}


RUNTIME_KEYS = frozenset({
    "python_version", "platform", "os", "libc", "cuda_version", "cudnn_version", "cpu_family", "cpu_model",
    "gpu_model", "base_image", "recommendation_type", "labels", "target_root",
})
GUIDANCE_KEYS = frozenset({
    "min_release_age", "prescription_paths", "deny_licenses", "allow_vulnerabilities", "limit", "search_timeout", "seed",
})


def lock_request(kwargs: dict[str, Any], runtime_environment: Optional[str], **changes: Any) -> LockRequest:
    """Pop the runtime and guidance flags out of ``kwargs`` into a LockRequest."""
    from ..pipeline.lock import (  # the lock pipeline loads only for commands that lock
        GuidanceOptions,
        LockRequest,
    )

    runtime = {k: kwargs.pop(k) for k in list(kwargs) if k in RUNTIME_KEYS}
    knobs = {k: kwargs.pop(k) for k in list(kwargs) if k in GUIDANCE_KEYS}
    overrides = overrides_from_options(runtime)
    guidance_options = GuidanceOptions(
        recommendation_type=overrides.get("recommendation_type"),
        min_release_age=knobs.get("min_release_age"),
        prescriptions=tuple(Path(p) for p in knobs.get("prescription_paths") or ()),
        deny_licenses=tuple(knobs.get("deny_licenses") or ()),
        allow_vulnerabilities=tuple(knobs.get("allow_vulnerabilities") or ()),
        limit=knobs.get("limit") or 0,
        timeout=knobs.get("search_timeout") or 30.0,
        seed=knobs.get("seed") or 0,
    )
    kwargs["runtime_environment"] = runtime_environment
    return LockRequest(overrides=overrides, runtime_environment=runtime_environment, guidance=guidance_options, **changes)
