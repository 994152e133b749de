"""``thoth-pip config``: write ``.thoth.yaml`` for this machine (Thamos's format)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import click

from ...pipeline.environment import write_config
from ...settings import Settings
from .. import options


@click.command("config")
@click.option("-C", "--directory", metavar="DIR", help="Project directory (default: the current one).")
@click.option("--template", type=click.Path(dir_okay=False, path_type=Path),
              help="A .thoth.yaml template with {placeholders} (default: THAMOS_CONFIG_TEMPLATE, else built in).")
@click.option("--force", is_flag=True, help="Overwrite an existing .thoth.yaml.")
def command(directory: Optional[str], template: Optional[Path], force: bool) -> None:
    """Write .thoth.yaml from what this machine is (OS, Python, CPU, GPU, CUDA...)."""
    settings = Settings.from_sources({"directory": directory}, os.environ)
    path = write_config(settings.project_dir, environ=os.environ, template=template, force=force)
    options.run_console().success(f"wrote {path}")
