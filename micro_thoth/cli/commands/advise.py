"""``thoth-pip advise``: the best stack for the target environment, the lock, and why."""

from __future__ import annotations

import os
from typing import Any, Optional

import click

from ...pipeline import advise as advise_pipeline
from ...pipeline import report
from ...pipeline.guidance import show_report
from .. import options


@click.command("advise", help="Resolve the best stack for the target (guided), write the lock, and report why.")
@options.common
@click.option("--python", help="Target Python version (3.9) or interpreter path.")
@click.option("--pre", is_flag=True, help="Allow pre-releases.")
@click.option("--exclude-newer", metavar="DATE", help="Only files uploaded before DATE.")
@click.option("--refresh", is_flag=True, help="Revalidate cached index pages.")
@click.option("--dry-run", is_flag=True, help="Report only; write no lock.")
@click.option("--backend", help="Ask this resolver backend instead of resolving here (THOTH_HOST).")
@options.runtime_options
@options.guidance
def command(runtime_environment: Optional[str], **kwargs: Any) -> int:
    request = options.lock_request(kwargs, runtime_environment)
    settings, console = options.settings_from(kwargs)
    outcome = advise_pipeline.advise(settings, os.environ, console, request)
    if outcome.report is not None:
        show_report(outcome.report, console, json_output=settings.json_output)
    if not settings.json_output:
        report.lock_outcome(outcome, settings, console, warnings=outcome.report is None)
    return 0
