"""``thoth-pip lock``: Pipfile -> Pipfile.lock, or pip-compile mode with -r requirements.in."""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path
from typing import Any, Optional

import click
from packaging.utils import canonicalize_name

from ...pipeline import lock as lock_pipeline
from ...pipeline import report
from ...pipeline.lock_input import CompileRequest
from ...pipeline.services import open_services
from .. import options


@click.command("lock", help="Resolve the Pipfile into Pipfile.lock (or -r requirements.in into a hashed requirements.txt).")
@options.common
@click.option("--python", help="Target Python version (3.9) or interpreter path.")
@click.option("--pre", is_flag=True, help="Allow pre-releases.")
@click.option("--dev", is_flag=True, hidden=True, help="Accepted for pipenv compatibility (all categories are locked).")
@click.option("--exclude-newer", metavar="DATE", help="Only files uploaded before DATE (snapshot resolution).")
@click.option("--refresh", is_flag=True, help="Revalidate cached index pages.")
@click.option("--offline", is_flag=True, help="Use cached index pages and metadata only, however old; never the network.")
@click.option("--dry-run", is_flag=True, help="Resolve and report; write nothing.")
@click.option("-r", "--requirements", "src", type=click.Path(dir_okay=False), help="pip-compile mode: the requirements.in to lock.")
@click.option("-o", "--output-file", "output", help="pip-compile mode: where to write ('-' for stdout).")
@click.option("-i", "--index-url", help="pip-compile mode: the index.")
@click.option("--extra-index-url", multiple=True, help="pip-compile mode: more indexes.")
@click.option("-f", "--find-links", multiple=True, help="pip-compile mode: a directory or page of files.")
@click.option("-c", "--constraint", "constraints", multiple=True, help="pip-compile mode: constraints file.")
@click.option("-P", "--upgrade-package", "upgrade_packages", multiple=True, help="Let this package move to its newest version.")
@click.option("-U", "--upgrade", is_flag=True, help="Let every package move (ignore the existing pins).")
@click.option("--no-header", is_flag=True, help="pip-compile mode: no header comment.")
@click.option("--no-annotate", is_flag=True, help="pip-compile mode: no '# via' annotations.")
@options.binary
@options.backend
@options.runtime_options
@options.guidance
def command(
    src: Optional[str],
    output: Optional[str],
    index_url: Optional[str],
    extra_index_url: tuple[str, ...],
    find_links: tuple[str, ...],
    constraints: tuple[str, ...],
    upgrade_packages: tuple[str, ...],
    upgrade: bool,
    no_header: bool,
    no_annotate: bool,
    runtime_environment: Optional[str],
    **kwargs: Any,
) -> int:
    upgrade_set = {canonicalize_name(p) for p in upgrade_packages}
    request = options.lock_request(kwargs, runtime_environment, upgrade=True if upgrade else upgrade_set or False)
    settings, console = options.settings_from(kwargs)
    pip_compile = src or output or index_url or extra_index_url or find_links or constraints
    if not pip_compile:
        outcome = lock_pipeline.lock_project(settings, os.environ, console, request)
        return report.lock_outcome(outcome, settings, console)
    source = Path(src) if src else settings.project_dir / "requirements.in"
    compile_request = CompileRequest(
        src=source if source.is_absolute() else Path.cwd() / source,
        output=output,
        index_url=index_url,
        extra_index_urls=extra_index_url,
        find_links=find_links,
        constraints=constraints,
        upgrade_packages=upgrade_packages,
        header=not no_header,
        annotate=not no_annotate,
        command="thoth-pip " + shlex.join(sys.argv[1:]) if sys.argv[1:2] == ["lock"] else "",
    )
    with open_services(settings, os.environ, console) as services:
        outcome = lock_pipeline.run_lock(lock_pipeline.requirements_input(services, compile_request, request), services, request)
    return report.lock_outcome(outcome, settings, console)

