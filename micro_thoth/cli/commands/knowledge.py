"""``thoth-pip knowledge status|export FILE|import FILE``: what knowledge is installed, and moving it between machines."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional

import click

from ...pipeline import knowledge
from .. import options


@click.group("knowledge")
def command() -> None:
    """The knowledge store: synced prescriptions, imported advisories, your own units."""


@command.command("status")
@options.knowledge_dir
@click.option("--json", "json_output", is_flag=True, help="Machine-readable output on stdout.")
def status(knowledge_dir: Optional[str], json_output: bool) -> int:
    """List what is installed and from where (sources, revisions, counts, skipped units, digest)."""
    options.apply_knowledge_dir({"knowledge_dir": knowledge_dir})
    found = knowledge.status(os.environ)
    console = options.run_console()
    if json_output:
        console.json(found)
        return 0
    console.info(f"knowledge dir {found['knowledge_dir']} (digest {found['digest'][:16]})")
    rows = [(s["name"], s["kind"], s["location"], str(s.get("revision") or "-"), str(s.get("units", s.get("advisories", "-"))), s.get("synced_at") or "")
            for s in found["sources"]]
    console.table(["source", "kind", "from", "revision", "units/records", "synced"], rows)
    skipped = ", ".join(f"{n} {reason}" for reason, n in found["skipped_by_reason"].items())
    console.info(
        f"{found['units']} synced units for {found['packages']} packages ({found['release_units']} about one release; "
        f"+{found['package_independent_units']} for any package, {found['base_image_units']} for given base images), "
        f"{found['advisories']} advisories, {found['user_units']} of your own unit files; "
        + _skipped(found["skipped_units"], found["skipped_unknown"], "units skipped at sync") + (f" ({skipped})" if skipped else "")
    )
    return 0


@command.command("export")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@options.knowledge_dir
@click.option("--json", "json_output", is_flag=True, help="Machine-readable output on stdout.")
def export(file: Path, knowledge_dir: Optional[str], json_output: bool) -> int:
    """Write the whole store (units, advisories, your own units, sources) to FILE, one portable zip."""
    options.apply_knowledge_dir({"knowledge_dir": knowledge_dir})
    return _show(knowledge.export_knowledge(file, os.environ).to_dict(), f"exported to {file}", json_output)


@command.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@options.knowledge_dir
@click.option("--json", "json_output", is_flag=True, help="Machine-readable output on stdout.")
def import_(file: Path, knowledge_dir: Optional[str], json_output: bool) -> int:
    """Load a bundle written by `thoth-pip knowledge export` (its sources replace those of the same name)."""
    options.apply_knowledge_dir({"knowledge_dir": knowledge_dir})
    return _show(knowledge.import_knowledge(file, os.environ).to_dict(), f"imported {file}", json_output)


def _show(summary: dict[str, Any], what: str, json_output: bool) -> int:
    console = options.run_console()
    if json_output:
        console.json(summary)
        return 0
    console.success(
        f"{what}: {summary['units']} units from {', '.join(summary['sources']) or 'no sources'}, "
        f"{summary['advisories']} advisories, {summary['user_units']} of your own unit files, "
        f"ABI facts of {summary['wheel_abi']} wheels; "
        + _skipped(summary["skipped"], [], "units skipped by the bundle's producer")
    )
    return 0


def _skipped(count: Optional[int], unknown: list[str], what: str) -> str:
    """``N <what>``, or that a bundle made by an older thoth-pip did not say (never 0 then)."""
    if count is not None:
        return f"{count} {what}"
    where = f" for {', '.join(unknown)}" if unknown else ""
    return f"{what}: unknown{where} (a bundle made by an older thoth-pip does not carry them)"
