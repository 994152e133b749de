"""``thoth-pip run CMD...``: run a command (or a Pipfile script) inside the project's environment."""

from __future__ import annotations

import os
from typing import Any

import click

from ...errors import ThothPipError
from ...pipeline import run as run_pipeline
from .. import options


@click.command(
    "run",
    help="Run a command in the environment: its bin first on PATH, VIRTUAL_ENV set, .env loaded (pipenv run).",
    context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False},
)
@click.option("-C", "--directory", type=click.Path(file_okay=False), help="Project directory.")
@click.option("--system", is_flag=True, help="Do not activate the project's environment.")
@click.argument("command_args", nargs=-1, type=click.UNPROCESSED)
def command(command_args: tuple[str, ...], **kwargs: Any) -> int:
    settings, console = options.settings_from(kwargs)
    plan = run_pipeline.prepare_run(settings, os.environ, command_args, console)
    try:
        os.execve(plan.argv[0], list(plan.argv), dict(plan.environ))
    except OSError as exc:
        console.error(ThothPipError(f"cannot run {plan.argv[0]}: {exc.strerror}"))
        return 126
    return 0  # not reached
