"""``thoth-pip sync``: install exactly what the lock says (pipenv sync)."""

from __future__ import annotations

import os
from typing import Any

import click

from ...pipeline import report
from ...pipeline import sync as sync_pipeline
from .. import options


@click.command("sync", help="Install the packages pinned in the lock, verified (pipenv sync).")
@options.common
@options.target
@click.option("--deploy", is_flag=True, help="Abort if the lock is out of date with the Pipfile.")
@click.option("--runtime-environment", metavar="NAME", help="The .thoth.yaml entry whose overlay to install.")
def command(**kwargs: Any) -> int:
    settings, console = options.settings_from(kwargs)
    outcome = sync_pipeline.sync(settings, os.environ, console)
    return report.sync_outcome(outcome, settings, console)
