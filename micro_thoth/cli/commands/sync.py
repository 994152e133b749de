"""``thoth-pip sync``: install exactly what the lock says (pipenv sync)."""

from __future__ import annotations

import os
import time
from typing import Any

import click

from ...console import Console
from ...pipeline import sync_state
from ...settings import Settings
from .. import options


@click.command("sync", help="Install the packages pinned in the lock, verified (pipenv sync).")
@options.common
@options.target
@click.option("--deploy", is_flag=True, help="Abort if the lock is out of date with the Pipfile.")
@click.option("--runtime-environment", metavar="NAME", help="The .thoth.yaml entry whose overlay to install.")
def command(**kwargs: Any) -> int:
    started = time.monotonic()
    settings, console = options.settings_from(kwargs)
    if answered_from_stamp(settings, console, started):
        return 0
    # Imported here, not above: a sync with nothing to do (answered from the environment's
    # stamp) never loads the planner, the resolver or the HTTP stack.
    from ...pipeline import report
    from ...pipeline import sync as sync_pipeline

    outcome = sync_pipeline.sync(settings, os.environ, console)
    return report.sync_outcome(outcome, settings, console)


def answered_from_stamp(settings: Settings, console: Console, started: float) -> bool:
    """Say "nothing to do" if the project's environment is exactly as the same sync left it."""
    count = sync_state.already_synced(settings)
    if count is None:
        return False
    seconds = time.monotonic() - started
    console.success(f"Nothing to do: {count} package{'s' if count != 1 else ''} already installed ({seconds:.2f}s)")
    return True
