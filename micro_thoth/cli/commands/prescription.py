"""``thoth-pip prescription add --incompatible A B --reason ...``, ``prescription list`` and ``prescription sync``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import click

from ...console import Console
from ...errors import UsageError
from ...pipeline import guidance
from ...pipeline.backend import configured_backend
from ...settings import Settings


@click.group("prescription")
def command() -> None:
    """Prescriptions: Thoth-format YAML units that guide resolution."""


@command.command("add")
@click.option("--incompatible", nargs=2, metavar="A B", help="Two requirements that must not be in one stack, e.g. 'numpy==1.26.0' 'scipy<1.11'.")
@click.option("--reason", default="", help="Why: shown whenever the rule refuses a stack.")
def add(incompatible: Optional[tuple[str, str]], reason: str) -> int:
    """Record your own finding as a unit every later resolution honours."""
    if not incompatible:
        raise UsageError("say what to record: --incompatible A B --reason '...'")
    path, _text = guidance.add_incompatibility(incompatible[0], incompatible[1], reason, os.environ)
    Console().success(f"recorded: {incompatible[0]} is incompatible with {incompatible[1]} ({path})")
    return 0


@command.command("list")
@click.option("-C", "--directory", type=click.Path(file_okay=False), help="Project directory (default: cwd).")
@click.option("--prescriptions", "paths", multiple=True, type=click.Path(exists=True, path_type=Path),
              help="More prescription files or directories.")
@click.option("--json", "json_output", is_flag=True, help="Machine-readable output on stdout.")
def list_(directory: Optional[str], paths: tuple[Path, ...], json_output: bool) -> int:
    """List the units that would be loaded (bundled, user, project, --prescriptions)."""
    settings = Settings.from_sources({"directory": directory}, os.environ)
    units = guidance.load_units(settings, os.environ, paths)
    console = Console()
    if json_output:
        console.json([{"name": u.name, "type": u.type, "origin": u.origin, "path": u.path} for u in units])
        return 0
    console.table(["name", "type", "origin", "file"], [(u.name, u.type, u.origin, u.path or "") for u in units])
    return 0


@command.command("sync")
@click.option("--backend", help="The resolver backend to fetch prescriptions from (THOTH_HOST; else .thoth.yaml's host).")
@click.option("-C", "--directory", type=click.Path(file_okay=False), help="Project directory whose .thoth.yaml names the backend.")
@click.option("--json", "json_output", is_flag=True, help="Machine-readable output on stdout.")
def sync(backend: Optional[str], directory: Optional[str], json_output: bool) -> int:
    """Store the backend's prescriptions for every later local resolution (replaces the previous sync)."""
    settings = Settings.from_sources({"directory": directory, "backend": backend}, os.environ)
    found = configured_backend(settings, os.environ)
    if found is None:
        raise UsageError("no backend to sync from", hint="pass --backend URL, set THOTH_HOST, or name a host in .thoth.yaml")
    outcome = guidance.sync_prescriptions(found.url, os.environ, token=found.token, verify=found.verify)
    console = Console()
    if json_output:
        console.json(outcome.to_dict())
        return 0
    state = "updated" if outcome.changed else "unchanged"
    console.success(
        f"{outcome.units} prescription units in {outcome.files} files from {outcome.backend} "
        f"({outcome.knowledge_version}, {state}) -> {outcome.directory}"
    )
    return 0
