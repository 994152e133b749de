"""``thoth-pip install [PKG...]``: pipenv install — add, lock when needed, install verified."""

from __future__ import annotations

import os
import time
from typing import Any, Optional

import click

from .. import options
from .sync import answered_from_stamp


@click.command("install", help="Install the project (locking first if the lock is missing or stale), or add PACKAGES.")
@click.argument("packages", nargs=-1)
@options.common
@options.target
@click.option("--deploy", is_flag=True, help="Install the lock as is; abort if it is out of date with the Pipfile.")
@click.option("-e", "--editable", "editables", multiple=True, metavar="PATH",
              help="A local project to add as editable (its path relative to the Pipfile's directory), as pipenv install -e.")
@click.option("--index", help="Source name (from the Pipfile) to pin new PACKAGES to.")
@click.option("--pre", is_flag=True, help="Allow pre-releases.")
@click.option("--exclude-newer", metavar="DATE", help="Lock only with files uploaded before DATE.")
@click.option("--refresh", is_flag=True, help="Revalidate cached index pages.")
@click.option("--offline", is_flag=True, help="Use cached index pages and metadata only, however old; never the network.")
@options.backend
@options.runtime_options
@options.guidance
def command(
    packages: tuple[str, ...], editables: tuple[str, ...], index: Optional[str], runtime_environment: Optional[str], **kwargs: Any
) -> int:
    started = time.monotonic()
    packages = packages + tuple(f"-e {path}" for path in editables)  # as pipenv lists them
    flags = {k: v for k, v in kwargs.items() if k not in options.RUNTIME_KEYS | options.GUIDANCE_KEYS}
    settings, console = options.settings_from({**flags, "runtime_environment": runtime_environment})
    if settings.deploy and not packages and answered_from_stamp(settings, console, started):
        return 0  # --deploy installs the lock as is: a sync with nothing to do
    # Imported here, not above: see sync.py (the no-op path loads neither resolver nor HTTP stack).
    from ...pipeline import report, workflow

    request = options.lock_request(kwargs, runtime_environment)
    outcome = workflow.install(
        settings, os.environ, console, packages=packages, index=index, request=request,
        on_locked=report.lock_teller(settings, console),
    )
    return report.install_outcome(outcome, settings, console, lock_told=True)
