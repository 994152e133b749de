"""``thoth-pip graph``: the installed dependency graph (pipenv graph / pipdeptree shapes)."""

from __future__ import annotations

import json as jsonlib
from typing import Any

import click

from ...errors import UsageError
from ...pipeline import graph as graph_pipeline
from .. import options


@click.command("graph", help="Show the installed packages' dependency graph (pipenv graph).")
@options.project
@click.option("--json-tree", is_flag=True, help="A nested JSON tree.")
@click.option("--reverse", is_flag=True, help="Who requires each package.")
@click.option("--bare", is_flag=True, help="Plain output (the same tree).")
@click.option("--system", is_flag=True, help="The system Python's packages.")
@click.option("--python", help="With --system: the interpreter.")
def command(json_tree: bool, reverse: bool, bare: bool, **kwargs: Any) -> int:
    settings, console = options.settings_from(kwargs)
    if settings.json_output and json_tree:
        raise UsageError("Using both --json and --json-tree together is not supported. Please select one of the two options.")
    if reverse and (settings.json_output or json_tree):
        raise UsageError("--reverse draws the text tree; it cannot be combined with --json or --json-tree")
    graph = graph_pipeline.installed_graph(settings)
    if settings.json_output:
        console.output(jsonlib.dumps(graph_pipeline.render_json(graph), indent=4))
    elif json_tree:
        console.output(jsonlib.dumps(graph_pipeline.render_json_tree(graph), indent=4))
    else:
        text = graph_pipeline.render_text(graph, reverse=reverse)
        if text:
            console.output(text)
    return 0
