"""``thoth-pip clean``: uninstall what the lock does not name (pipenv clean)."""

from __future__ import annotations

from typing import Any

import click

from ...pipeline import clean as clean_pipeline
from .. import options


@click.command("clean", help="Uninstall packages not in the lock from the environment (pipenv clean).")
@options.project
@click.option("--dry-run", is_flag=True, help="Only print what would be uninstalled.")
@click.option("--bare", is_flag=True, help="Minimal output.")
@click.option("--system", is_flag=True, help="Clean the system Python (the python3 on PATH, or --python).")
@click.option("--python", help="With --system: the interpreter (a version or a path).")
def command(bare: bool, **kwargs: Any) -> int:
    settings, console = options.settings_from(kwargs)
    outcome = clean_pipeline.clean(settings, console)
    if settings.json_output:
        console.json({"environment": str(outcome.environment), "dry_run": outcome.dry_run,
                      "extraneous": list(outcome.extraneous), "removed": list(outcome.removed)})
    elif outcome.dry_run:
        for name in outcome.extraneous:
            console.output(name)
    elif not bare:
        if not outcome.removed:
            console.success("Nothing to clean: every installed package is in the lock")
        for name in outcome.removed:
            console.info(f"Uninstalled {name}")
    return 0
