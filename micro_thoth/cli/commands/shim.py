"""``thoth-pip shim install``: the ``pipenv`` and ``micropipenv`` shims onto PATH."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import click

from ...pipeline import shims
from .. import options


@click.group("shim", help="Drop-in `pipenv` and `micropipenv` commands that run thoth-pip.")
def command() -> None:
    """The shim commands."""


@command.command("install", help="Copy the pipenv and micropipenv shims into DIR (default: next to thoth-pip).")
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path), help="Where to put them.")
@click.option("--force", is_flag=True, help="Replace files that are not our shims (a real pipenv).")
@click.option("--only", type=click.Choice(shims.SHIMS), multiple=True, help="Install only this shim.")
def install(directory: Optional[Path], force: bool, only: tuple[str, ...], **_: Any) -> int:
    console = options.run_console()
    outcome = shims.install_shims(directory, force=force, names=only or shims.SHIMS)
    for path in outcome.written:
        console.success(f"installed {path}")
    for path in outcome.unchanged:
        console.info(f"{path} is up to date")
    return 0
