"""``thoth-pip monkey --test CMD``: Dependency Monkey -- test stacks, report, prescribe what broke."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional

import click

from ...pipeline import monkey_report
from ...pipeline.monkey import monkey
from ...pipeline.monkey_lab import STRATEGIES, MonkeyRequest
from .. import options


@click.command("monkey", help="Install and test stacks within the Pipfile's specifiers; isolate and prescribe what breaks.")
@options.common
@click.option("--test", "test_command", required=True, metavar="CMD", help="Run in each stack's venv; exit 0 means it works.")
@click.option("--budget", type=int, default=10, show_default=True, help="At most this many stacks installed and tested.")
@click.option("--strategy", type=click.Choice(STRATEGIES), default="bisect", show_default=True, help="Which stacks to try.")
@click.option("--packages", metavar="A,B", default="", help="Only these packages' versions vary (default: all).")
@click.option("--jobs", type=int, default=1, show_default=True, help="Stacks tested at once.")
@click.option("--timeout", "test_timeout", type=float, default=300.0, show_default=True, help="Seconds per test run.")
@click.option("--max-time", type=float, default=1800.0, show_default=True, help="Seconds for the whole run.")
@click.option("--seed", type=int, default=0, show_default=True, help="Sampling seed (deterministic).")
@click.option("--no-prescriptions", is_flag=True, help="Report only; write no .thoth/prescriptions/monkey-*.yaml.")
@click.option("--html", "html_path", type=click.Path(dir_okay=False), help="Write the HTML report here (default: .thoth/monkey-report.html).")
@click.option("--python", help="Target interpreter: a version (3.11) or a path.")
def command(test_command: str, budget: int, strategy: str, packages: str, jobs: int, test_timeout: float,
            max_time: float, seed: int, no_prescriptions: bool, html_path: Optional[str], **kwargs: Any) -> int:
    settings, console = options.settings_from(kwargs)
    request = MonkeyRequest(test_command, budget=budget, strategy=strategy, jobs=jobs, timeout=test_timeout,
                            max_time=max_time, seed=seed, prescriptions=not no_prescriptions,
                            packages=tuple(p.strip() for p in packages.split(",") if p.strip()))
    outcome = monkey(settings, os.environ, console, request)
    page = monkey_report.write_html(outcome, Path(html_path) if html_path else settings.project_dir / ".thoth" / "monkey-report.html")
    if settings.json_output:
        console.json({**monkey_report.to_dict(outcome), "html": str(page)})
        return 1 if outcome.interrupted else 0
    headers, rows = monkey_report.table_rows(outcome)
    console.table(headers, rows)
    for finding, path in zip(outcome.findings, outcome.written or [None] * len(outcome.findings)):
        console.warn(f"{finding.describe()} breaks `{outcome.command}`" + (f": prescription written to {path}" if path else ""))
    if outcome.interrupted:
        console.warn("interrupted: the results so far are kept; run again to resume")
    console.success(f"{len(outcome.runs)} stacks, {outcome.failed} failed; report: {page}")
    return 1 if outcome.interrupted else 0
