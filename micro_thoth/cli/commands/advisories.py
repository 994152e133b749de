"""``thoth-pip advisories import PATH``: load OSV vulnerability records (a directory or a zip of JSON)."""

from __future__ import annotations

import os
from pathlib import Path

import click

from ...console import Console
from ...pipeline import guidance


@click.group("advisories")
def command() -> None:
    """Vulnerability advisories (OSV format) used by audit and guided resolution."""


@command.command("import")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--json", "json_output", is_flag=True, help="Machine-readable output on stdout.")
def import_(path: Path, json_output: bool) -> int:
    """Import OSV records from PATH: a directory of *.json files or a zip of them."""
    summary, known = guidance.import_advisories(path, os.environ)
    console = Console()
    if json_output:
        console.json({"files": summary.files, "advisories": summary.advisories, "packages": summary.packages,
                      "skipped": summary.skipped, "known": known})
        return 0
    console.success(
        f"imported {summary.advisories} advisories for {summary.packages} packages from {summary.files} files "
        f"({summary.skipped} skipped: withdrawn or not for Python packages); {known} known in total"
    )
    return 0
