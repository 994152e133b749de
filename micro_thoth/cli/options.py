"""Options shared by several subcommands, spelled as pipenv (and pip) spell them."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar

import click

from ..console import Console
from ..settings import Settings

F = TypeVar("F", bound=Callable[..., Any])


def _apply(options: list[Callable[[F], F]], func: F) -> F:
    for option in reversed(options):
        func = option(func)
    return func


def common(func: F) -> F:
    """-C, -v/-q, --json, --cache-dir, --clear: every project command has them."""
    return _apply(
        [
            click.option("-C", "--directory", type=click.Path(file_okay=False), help="Project directory (default: cwd, or PIPENV_PIPFILE's)."),
            click.option("-v", "--verbose", count=True, help="More output."),
            click.option("-q", "--quiet", count=True, help="Less output."),
            click.option("--json", "json", is_flag=True, help="Machine-readable output on stdout."),
            click.option("--cache-dir", type=click.Path(file_okay=False), help="Cache directory (THOTH_PIP_CACHE_DIR)."),
            click.option("--clear", is_flag=True, help="Drop the caches first."),
        ],
        func,
    )


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
        ],
        func,
    )


def settings_from(kwargs: dict[str, Any]) -> tuple[Settings, Console]:
    """The frozen Settings for this invocation, and the console to report through."""
    settings = Settings.from_sources(kwargs, os.environ)
    return settings, Console(verbosity=settings.verbosity)
