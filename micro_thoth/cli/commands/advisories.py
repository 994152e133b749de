"""``thoth-pip advisories import SOURCE``: load OSV vulnerability records (JSON or PyPA YAML; directory, archive or git)."""

from __future__ import annotations

import os
from typing import Optional

import click

from ...pipeline import knowledge
from .. import options


@click.group("advisories")
def command() -> None:
    """Vulnerability advisories (OSV format) used by audit and guided resolution."""


@command.command("import")
@click.argument("source")
@options.knowledge_dir
@click.option("--json", "json_output", is_flag=True, help="Machine-readable output on stdout.")
def import_(source: str, knowledge_dir: Optional[str], json_output: bool) -> int:
    """Import OSV records from SOURCE into the knowledge store.

    SOURCE is a directory of *.json or *.yaml records (the PyPA advisory database's layout:
    vulns/<package>/*.yaml), a .zip of them (OSV's per-ecosystem all.zip), a .tar.gz, or a git URL.
    """
    options.apply_knowledge_dir({"knowledge_dir": knowledge_dir})
    summary, known = knowledge.import_advisories(source, os.environ)
    console = options.run_console()
    if json_output:
        console.json({"files": summary.files, "advisories": summary.advisories, "packages": summary.packages,
                      "skipped": summary.skipped, "known": known})
        return 0
    console.success(
        f"imported {summary.advisories} advisories for {summary.packages} packages from {summary.files} files "
        f"({summary.skipped} skipped: withdrawn or not for Python packages); {known} known in total"
    )
    return 0
