"""``thoth-pip prescription add --incompatible A B --reason ...``, ``prescription list`` and ``prescription sync``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import click

from ...console import Console
from ...errors import UsageError
from ...knowledge.sources import kind_of
from ...knowledge.sync import SyncSummary
from ...pipeline import guidance, knowledge
from ...pipeline.backend import configured_backend
from ...settings import Settings
from .. import options


@click.group("prescription")
def command() -> None:
    """Prescriptions: Thoth-format YAML units that guide resolution."""


@command.command("add")
@click.option("--incompatible", nargs=2, metavar="A B", help="Two requirements that must not be in one stack, e.g. 'numpy==1.26.0' 'scipy<1.11'.")
@click.option("--reason", default="", help="Why: shown whenever the rule refuses a stack.")
@options.knowledge_dir
def add(incompatible: Optional[tuple[str, str]], reason: str, knowledge_dir: Optional[str]) -> int:
    """Record your own finding as a unit every later resolution honours."""
    options.apply_knowledge_dir({"knowledge_dir": knowledge_dir})
    if not incompatible:
        raise UsageError("say what to record: --incompatible A B --reason '...'")
    path, _text = guidance.add_incompatibility(incompatible[0], incompatible[1], reason, os.environ)
    options.run_console().success(f"recorded: {incompatible[0]} is incompatible with {incompatible[1]} ({path})")
    return 0


@command.command("list")
@click.option("-C", "--directory", type=click.Path(file_okay=False), help="Project directory (default: cwd).")
@click.option("--prescriptions", "paths", multiple=True, type=click.Path(exists=True, path_type=Path),
              help="More prescription files or directories.")
@options.knowledge_dir
@click.option("--json", "json_output", is_flag=True, help="Machine-readable output on stdout.")
def list_(directory: Optional[str], paths: tuple[Path, ...], knowledge_dir: Optional[str], json_output: bool) -> int:
    """List the units that would be loaded (bundled, user, project, --prescriptions); synced ones: `thoth-pip knowledge status`."""
    options.apply_knowledge_dir({"knowledge_dir": knowledge_dir})
    settings = Settings.from_sources({"directory": directory}, os.environ)
    units = guidance.load_units(settings, os.environ, paths)
    console = options.run_console()
    if json_output:
        console.json([{"name": u.name, "type": u.type, "origin": u.origin, "path": u.path} for u in units])
        return 0
    console.table(["name", "type", "origin", "file"], [(u.name, u.type, u.origin, u.path or "") for u in units])
    return 0


@command.command("sync")
@click.argument("source", required=False)
@click.option("--backend", help="The resolver backend to fetch prescriptions from (THOTH_HOST; else .thoth.yaml's host).")
@click.option("-C", "--directory", type=click.Path(file_okay=False), help="Project directory whose .thoth.yaml names the backend.")
@options.knowledge_dir
@click.option("--json", "json_output", is_flag=True, help="Machine-readable output on stdout.")
def sync(source: Optional[str], backend: Optional[str], directory: Optional[str], knowledge_dir: Optional[str], json_output: bool) -> int:
    """Compile prescriptions from SOURCE into the knowledge store, or fetch a backend's.

    SOURCE is a checkout of the prescriptions repository (or any directory of unit files),
    a git URL (fetched at depth 1), a .tar.gz/.zip archive (path or URL), or a backend URL.
    A re-sync compiles only the files that changed; a unit that cannot be used is skipped
    and named. Without SOURCE: the backend (--backend, THOTH_HOST, .thoth.yaml's host).
    """
    options.apply_knowledge_dir({"knowledge_dir": knowledge_dir})
    console = options.run_console()
    if source is not None and backend is None and kind_of(source) != "backend":
        summary = knowledge.sync_source(source, os.environ, warn=lambda problem: console.warn(problem.message))
        return _show_sync(summary, console, json_output)
    return _sync_backend(backend or source, directory, console, json_output)


def _show_sync(summary: SyncSummary, console: Console, json_output: bool) -> int:
    if json_output:
        console.json(summary.to_dict())
        return 0
    record = summary.source
    skipped = ", ".join(f"{n} {reason}" for reason, n in summary.skipped_by_reason().items())
    console.success(
        f"{summary.units} prescription units from {record.location} ({record.revision or 'no revision'}): "
        f"{summary.loaded} loaded from {summary.compiled_files} changed files of {summary.files}, "
        f"{len(summary.skipped)} skipped" + (f" ({skipped})" if skipped else "") + f", {summary.removed} removed "
        f"in {summary.seconds:.1f}s"
    )
    return 0


def _sync_backend(backend: Optional[str], directory: Optional[str], console: Console, json_output: bool) -> int:
    settings = Settings.from_sources({"directory": directory, "backend": backend}, os.environ)
    found = configured_backend(settings, os.environ)
    if found is None:
        raise UsageError("no backend to sync from", hint="pass --backend URL, set THOTH_HOST, or name a host in .thoth.yaml")
    outcome = guidance.sync_prescriptions(found.url, os.environ, token=found.token, verify=found.verify)
    if json_output:
        console.json(outcome.to_dict())
        return 0
    state = "updated" if outcome.changed else "unchanged"
    console.success(
        f"{outcome.units} prescription units in {outcome.files} files from {outcome.backend} "
        f"({outcome.knowledge_version}, {state}) -> {outcome.directory}"
    )
    return 0
