"""Developer sessions: lint, typecheck, tests, docs (``nox -s NAME``)."""

from __future__ import annotations

import nox

nox.options.sessions = ["lint", "typecheck", "tests"]


@nox.session
def lint(session: nox.Session) -> None:
    session.install("ruff")
    session.run("ruff", "check", "micro_thoth", "tests", "benchmarks", "noxfile.py")


@nox.session
def typecheck(session: nox.Session) -> None:
    session.install("-e", ".[test]")
    session.run("mypy", "micro_thoth")


@nox.session
def tests(session: nox.Session) -> None:
    session.install("-e", ".[test]")
    session.run("pytest", "-n", "2", *session.posargs)


@nox.session
def docs(session: nox.Session) -> None:
    session.install("-e", ".", "mkdocs")
    session.run("python", "docs/gen_cli_reference.py")
    session.run("mkdocs", "build", "--strict")
