"""``thoth-pip audit``: check the project's lock against the imported vulnerability advisories."""

from __future__ import annotations

import os
from typing import Any

import click

from ...pipeline import guidance
from .. import options


@click.command("audit")
@options.common
@options.knowledge_dir
@click.option("--categories", multiple=True, help="Only these lock categories (default: all).")
def command(**kwargs: Any) -> int:
    """Report locked packages with known vulnerabilities; exit 1 if there are any."""
    settings, console = options.settings_from(kwargs)
    outcome = guidance.audit_project(settings, os.environ)
    return guidance.show_findings(outcome, console, json_output=settings.json_output)
