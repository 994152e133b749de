"""``thoth-pip uninstall PKG...``: remove from the Pipfile and the environment, re-lock."""

from __future__ import annotations

import os
from typing import Any

import click

from ...pipeline import report, workflow
from .. import options


@click.command("uninstall", help="Remove PACKAGES from the Pipfile and the environment, and re-lock.")
@click.argument("packages", nargs=-1, required=True)
@options.common
@click.option("-d", "--dev", is_flag=True, help="Accepted for pipenv compatibility.")
@click.option("--system", is_flag=True, help="Uninstall from the system Python.")
@click.option("--python", help="Target interpreter.")
def command(packages: tuple[str, ...], **kwargs: Any) -> int:
    settings, console = options.settings_from(kwargs)
    removed, locked = workflow.uninstall(settings, os.environ, console, packages=packages)
    if locked is not None:
        report.lock_outcome(locked, settings, console)
    for name in removed:
        console.info(f"Removed {name}")
    if not removed:
        console.info("Nothing was installed under those names")
    return 0
