"""``thoth-pip env``: the runtime environment a lock or an install is for, and where each value came from."""

from __future__ import annotations

import os
from typing import Any, Optional

import click

from ...console import Console
from ...errors import UsageError
from ...pipeline import environment as environment_pipeline
from ...settings import Settings
from ..options import runtime_options


def _pair(text: Optional[str], flag: str) -> tuple[Optional[str], Optional[str]]:
    """``NAME:VERSION`` (version optional)."""
    if not text:
        return (None, None)
    name, _, version = text.partition(":")
    if not name:
        raise UsageError(f"{flag} {text!r} is not NAME[:VERSION]")
    return (name, version or None)


def overrides_from_options(options: dict[str, Any]) -> dict[str, Any]:
    """The flags given, as RuntimeEnvironment keys (None: not given)."""
    from ...environment.config import parse_labels

    os_name, os_version = _pair(options.pop("os"), "--os")
    libc_family, libc_version = _pair(options.pop("libc"), "--libc")
    labels = options.pop("labels")
    values = dict(options, os_name=os_name, os_version=os_version, libc_family=libc_family,
                  libc_version=libc_version, labels=parse_labels(labels) if labels else None)
    return {key: value for key, value in values.items() if value is not None}


@click.command("env")
@click.option("-C", "--directory", metavar="DIR", help="Project directory (default: the current one).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON on stdout.")
@runtime_options
def command(directory: Optional[str], as_json: bool, runtime_environment: Optional[str], **options: Any) -> None:
    """Show the runtime environment: detected, overlaid by .thoth.yaml, overlaid by flags."""
    console = Console()
    settings = Settings.from_sources({"directory": directory, "json": as_json}, os.environ)
    selected = environment_pipeline.runtime_environment(
        settings.project_dir, environ=os.environ, name=runtime_environment, overrides=overrides_from_options(options), reporter=console,
    )
    if as_json:
        console.json(selected.to_dict())
        return
    console.table(["key", "value", "origin"], selected.environment.describe())
    console.info(f"overlay directory: {selected.overlay_dir}")
