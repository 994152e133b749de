"""The Dependency Monkey's report: table rows, a JSON document, and an HTML page with a pass/fail matrix."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from ..fs import atomic_write
from .monkey import MonkeyOutcome
from .monkey_lab import Run

_STYLE = (
    "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
    "td,th{border:1px solid #999;padding:.25em .6em;text-align:left}"
    ".pass{background:#cfc}.fail{background:#fcc}.same{color:#999}pre{white-space:pre-wrap;max-width:60em}"
)


def packages(outcome: MonkeyOutcome) -> list[str]:
    """Every package that appears in a tested stack, sorted."""
    return sorted({name for run in outcome.runs for name, _ in run.stack.pins})


def varying(outcome: MonkeyOutcome) -> list[str]:
    """Packages whose version differs between stacks (the columns worth reading)."""
    return [n for n in packages(outcome) if len({run.stack.versions.get(n) for run in outcome.runs}) > 1]


def table_rows(outcome: MonkeyOutcome) -> tuple[list[str], list[list[str]]]:
    """Headers and rows: one row per stack, its result and the versions that vary."""
    columns = varying(outcome) or packages(outcome)
    headers = ["#", "result", "seconds", *columns]
    rows = [[str(i), _result(run), f"{run.seconds:.1f}", *[run.stack.versions.get(n, "-") for n in columns]]
            for i, run in enumerate(outcome.runs, 1)]
    return headers, rows


def to_dict(outcome: MonkeyOutcome) -> dict[str, Any]:
    return {
        "command": outcome.command,
        "strategy": outcome.strategy,
        "runs": [run.to_dict() for run in outcome.runs],
        "passed": sum(1 for r in outcome.runs if r.passed),
        "failed": outcome.failed,
        "unresolvable": outcome.unresolvable,
        "interrupted": outcome.interrupted,
        "findings": [{"package": f.package, "version": f.version,
                      "partner": {"package": f.partner[0], "version": f.partner[1]} if f.partner else None,
                      "reason": f.reason()} for f in outcome.findings],
        "prescriptions": [str(p) for p in outcome.written],
    }


def html_page(outcome: MonkeyOutcome) -> str:
    """A self-contained page: the command, the pass/fail matrix of package versions, the findings."""
    columns = packages(outcome)
    head = "".join(f"<th>{html.escape(n)}</th>" for n in columns)
    body = "".join(_html_row(i, run, columns) for i, run in enumerate(outcome.runs, 1))
    found = "".join(f"<li>{html.escape(f.reason())}</li>" for f in outcome.findings) or "<li>none</li>"
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>Dependency Monkey report</title>"
        f"<style>{_STYLE}</style></head><body><h1>Dependency Monkey</h1>"
        f"<p>Test command: <code>{html.escape(outcome.command)}</code>; strategy {html.escape(outcome.strategy)}; "
        f"{len(outcome.runs)} stacks, {outcome.failed} failed.</p>"
        f"<table><tr><th>#</th><th>result</th><th>seconds</th>{head}<th>output (tail)</th></tr>{body}</table>"
        f"<h2>Findings</h2><ul>{found}</ul></body></html>\n"
    )


def _html_row(number: int, run: Run, columns: list[str]) -> str:
    css = "pass" if run.passed else "fail"
    cells = "".join(f"<td>{html.escape(run.stack.versions.get(n, '-'))}</td>" for n in columns)
    tail = html.escape(run.excerpt[-400:])
    return (f"<tr><td>{number}</td><td class='{css}'>{_result(run)}</td><td>{run.seconds:.1f}</td>{cells}"
            f"<td><pre>{tail}</pre></td></tr>")


def _result(run: Run) -> str:
    return ("pass" if run.passed else "FAIL") + (" (kept)" if run.reused else "")


def write_html(outcome: MonkeyOutcome, path: Path) -> Path:
    atomic_write(path, html_page(outcome))
    return path
