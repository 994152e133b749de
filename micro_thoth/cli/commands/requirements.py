"""``thoth-pip requirements``: the lock as requirements.txt (pipenv requirements / micropipenv requirements)."""

from __future__ import annotations

import os
from typing import Any

import click

from ...pipeline import export
from .. import options


@click.command("requirements", help="Print the lock as a requirements.txt (pipenv requirements; --format micropipenv).")
@options.project
@click.option("--format", "style", type=click.Choice(["pipenv", "micropipenv"]), default="pipenv", show_default=True,
              help="Whose output to reproduce (micropipenv: hashes, both sections and comments by default).")
@click.option("-d", "--dev", is_flag=True, help="Also the develop packages (pipenv style).")
@click.option("--dev-only", is_flag=True, help="Only the develop packages.")
@click.option("--hash", "with_hashes", is_flag=True, help="Add --hash options (pipenv style).")
@click.option("--exclude-markers", is_flag=True, help="Leave environment markers out.")
@click.option("--exclude-index", is_flag=True, help="Leave the -i/--extra-index-url lines out.")
@click.option("--categories", help="Lock categories to export, e.g. 'default docs'.")
@click.option("--from-pipfile", is_flag=True, help="Only the packages the Pipfile names (at their locked versions).")
@click.option("--no-lock", is_flag=True, help="The Pipfile's own specifiers instead of the lock's pins.")
@click.option("--no-hashes", is_flag=True, help="micropipenv: no hashes.")
@click.option("--no-indexes", is_flag=True, help="micropipenv: no index lines.")
@click.option("--no-versions", is_flag=True, help="micropipenv: no versions (implies --no-hashes).")
@click.option("--only-direct", is_flag=True, help="micropipenv: only the Pipfile's packages, without versions.")
@click.option("--no-comments", is_flag=True, help="micropipenv: no section comments.")
@click.option("--no-default", is_flag=True, help="micropipenv: no default packages.")
@click.option("--no-dev", is_flag=True, help="micropipenv: no develop packages.")
def command(**kwargs: Any) -> int:
    settings, console = options.settings_from(_settings_args(kwargs))
    text = export.requirements(settings, export_options(kwargs), os.environ)
    if settings.json_output:
        console.json({"format": kwargs["style"], "lines": text.splitlines()})
    elif text:
        console.output(text.rstrip("\n"))
    return 0


def _settings_args(kwargs: dict[str, Any]) -> dict[str, Any]:
    return {key: kwargs.get(key) for key in ("directory", "verbose", "quiet", "json")}


def export_options(kw: dict[str, Any]) -> export.ExportOptions:
    """The flags of both tools, mapped onto one set of knobs."""
    categories = tuple((kw.get("categories") or "").replace(",", " ").split())
    if kw["style"] == "micropipenv":
        no_default = kw["no_default"] or kw["dev_only"]
        chosen = categories or export.micropipenv_categories(no_default, kw["no_dev"])
        return export.ExportOptions(
            categories=chosen, style="micropipenv", hashes=not (kw["no_hashes"] or kw["only_direct"]),
            markers=not kw["exclude_markers"], indexes=not (kw["no_indexes"] or kw["exclude_index"]),
            versions=not (kw["no_versions"] or kw["only_direct"]), comments=not kw["no_comments"],
            no_lock=kw["only_direct"] or kw["no_lock"], from_pipfile=kw["from_pipfile"],
        )
    if kw["no_default"] and kw["no_dev"]:
        export.micropipenv_categories(True, True)  # raises the usage error
    dev_only = kw["dev_only"] or kw["no_default"]
    return export.ExportOptions(
        categories=export.pipenv_categories(kw["dev"], dev_only, categories),
        hashes=kw["with_hashes"] and not kw["no_hashes"], markers=not kw["exclude_markers"],
        indexes=not (kw["exclude_index"] or kw["no_indexes"]), versions=not kw["no_versions"],
        from_pipfile=kw["from_pipfile"], no_lock=kw["no_lock"] or kw["only_direct"],
    )
