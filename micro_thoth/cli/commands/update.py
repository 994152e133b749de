"""``thoth-pip update [PKG...]`` (alias ``upgrade``): re-lock letting PKG move, then install."""

from __future__ import annotations

import os
from typing import Any, Optional

import click

from ...pipeline import report, workflow
from .. import options


@click.command("update", help="Re-lock letting PACKAGES (default: all) move to their newest versions, then install.")
@click.argument("packages", nargs=-1)
@options.common
@options.target
@click.option("--lock-only", is_flag=True, help="Update the lock; do not install.")
@click.option("--pre", is_flag=True, help="Allow pre-releases.")
@click.option("--exclude-newer", metavar="DATE", help="Only files uploaded before DATE.")
@click.option("--refresh", is_flag=True, help="Revalidate cached index pages.")
@click.option("--offline", is_flag=True, help="Use cached index pages and metadata only, however old; never the network.")
@options.runtime_options
@options.guidance
def command(packages: tuple[str, ...], lock_only: bool, runtime_environment: Optional[str], **kwargs: Any) -> int:
    request = options.lock_request(kwargs, runtime_environment)
    settings, console = options.settings_from(kwargs)
    outcome = workflow.update(settings, os.environ, console, packages=packages, request=request, lock_only=lock_only)
    return report.install_outcome(outcome, settings, console)
