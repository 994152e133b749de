"""``thoth-pip env``: the runtime environment a lock or an install is for, and where each value came from."""

from __future__ import annotations

import os
from typing import Any, Optional

import click

from ...pipeline import environment as environment_pipeline
from ...settings import Settings
from ..options import overrides_from_options, run_console, runtime_options


@click.command("env")
@click.option("-C", "--directory", metavar="DIR", help="Project directory (default: the current one).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON on stdout.")
@runtime_options
def command(directory: Optional[str], as_json: bool, runtime_environment: Optional[str], **options: Any) -> None:
    """Show the runtime environment: detected, overlaid by .thoth.yaml, overlaid by flags."""
    console = run_console()
    settings = Settings.from_sources({"directory": directory, "json": as_json}, os.environ)
    selected = environment_pipeline.runtime_environment(
        settings.project_dir, environ=os.environ, name=runtime_environment, overrides=overrides_from_options(options), reporter=console,
    )
    if as_json:
        console.json(selected.to_dict())
        return
    console.table(["key", "value", "origin"], selected.environment.describe())
    console.info(f"overlay directory: {selected.overlay_dir}")
