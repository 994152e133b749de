"""``thoth-pip check``: the installed environment against the lock (versions, RECORD, dependencies)."""

from __future__ import annotations

import os
from typing import Any

import click

from ...errors import ThothPipError
from ...pipeline import check as check_pipeline
from .. import options


@click.command("check", help="Check that the environment matches the lock: versions, files (RECORD), dependencies, native symbol versions.")
@options.project
@click.option("-d", "--dev", is_flag=True, help="Also the develop packages.")
@click.option("--categories", multiple=True, help="Lock categories to check.")
@click.option("--system", is_flag=True, help="Check the system Python (python3 on PATH, or --python).")
@click.option("--python", help="With --system: the interpreter.")
@click.option("--strict", is_flag=True, help="Packages not in the lock, or not installed by thoth-pip, are problems too.")
def command(strict: bool, **kwargs: Any) -> int:
    settings, console = options.settings_from(kwargs)
    outcome = check_pipeline.check(settings, strict=strict, environ=os.environ)
    if settings.json_output:
        console.json({
            "environment": str(outcome.environment),
            "checked": outcome.checked,
            "ok": outcome.ok,
            "problems": [vars(f) for f in outcome.problems],
            "warnings": [vars(f) for f in outcome.warnings],
        })
        return 0 if outcome.ok else 1
    for finding in outcome.warnings:
        console.warn(finding.message)
    for finding in outcome.problems:
        console.error(ThothPipError(finding.message))
    if outcome.ok:
        console.success(f"{outcome.checked} locked packages installed as locked in {outcome.environment}")
        return 0
    raise ThothPipError(f"{len(outcome.problems)} problem(s) found in {outcome.environment}",
                        hint="`thoth-pip sync` reinstalls the locked packages")
