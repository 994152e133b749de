"""``thoth-pip install [PKG...]``: pipenv install — add, lock when needed, install verified."""

from __future__ import annotations

import os
from typing import Any, Optional

import click

from ...pipeline import report, workflow
from .. import options
from .env import runtime_options


@click.command("install", help="Install the project (locking first if the lock is missing or stale), or add PACKAGES.")
@click.argument("packages", nargs=-1)
@options.common
@options.target
@click.option("--deploy", is_flag=True, help="Install the lock as is; abort if it is out of date with the Pipfile.")
@click.option("--index", help="Source name (from the Pipfile) to pin new PACKAGES to.")
@click.option("--pre", is_flag=True, help="Allow pre-releases.")
@click.option("--exclude-newer", metavar="DATE", help="Lock only with files uploaded before DATE.")
@click.option("--refresh", is_flag=True, help="Revalidate cached index pages.")
@options.backend
@runtime_options
@options.guidance
def command(packages: tuple[str, ...], index: Optional[str], runtime_environment: Optional[str], **kwargs: Any) -> int:
    request = options.lock_request(kwargs, runtime_environment)
    settings, console = options.settings_from(kwargs)
    outcome = workflow.install(settings, os.environ, console, packages=packages, index=index, request=request)
    return report.install_outcome(outcome, settings, console)
