"""``thoth-pip verify``: is Pipfile.lock up to date with the Pipfile? (pipenv verify, same exit codes)."""

from __future__ import annotations

import os
from typing import Any

import click

from ...errors import ThothPipError
from ...pipeline import verify as verify_pipeline
from .. import options


@click.command("verify", help="Check that Pipfile.lock's hash matches the Pipfile (exit 1 if not).")
@options.common
def command(**kwargs: Any) -> int:
    settings, console = options.settings_from(kwargs)
    outcome = verify_pipeline.verify(settings, os.environ, console)
    if settings.json_output:
        console.json({"up_to_date": outcome.up_to_date, "lock_hash": outcome.lock_hash,
                      "pipfile_hash": outcome.pipfile_hash, "lock": str(outcome.lock_path)})
    elif outcome.up_to_date:
        console.output("Pipfile.lock is up-to-date.")
    else:
        raise ThothPipError("Pipfile.lock is out-of-date. Run $ thoth-pip lock to update.",
                            hint=f"the lock was made from a Pipfile with hash {outcome.lock_hash[-6:] or '(none)'}, "
                                 f"the Pipfile's is {outcome.pipfile_hash[-6:]}")
    return 0 if outcome.up_to_date else 1
