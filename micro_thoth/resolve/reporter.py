"""Resolver progress as no-op event hooks, and their adapter to resolvelib's BaseReporter."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from resolvelib import BaseReporter

from ..reporting import Reporter


class ResolverReporter:
    """No-op hooks the resolver calls; ``console.py`` subclasses it to show progress."""

    def starting(self) -> None:
        """A resolution begins."""

    def pinning(self, name: str, version: str) -> None:
        """``name==version`` was tentatively chosen."""

    def rejecting(self, name: str, version: str) -> None:
        """``name==version`` was dropped while backtracking."""

    def backtracking(self, causes: Sequence[str]) -> None:
        """A conflict among ``causes`` (requirement strings) made the resolver go back."""

    def ending(self, pins: int) -> None:
        """The resolution succeeded with ``pins`` packages."""


NULL_RESOLVER_REPORTER = ResolverReporter()


class ReporterAdapter(BaseReporter):  # type: ignore[type-arg]
    """Turns resolvelib's callbacks into ResolverReporter events (the Python pseudo-package is hidden)."""

    def __init__(self, reporter: ResolverReporter | None) -> None:
        self.reporter = reporter or NULL_RESOLVER_REPORTER

    def starting(self) -> None:
        self.reporter.starting()

    def pinning(self, candidate: Any) -> None:
        if not candidate.is_python:
            self.reporter.pinning(candidate.display_name, str(candidate.version))

    def rejecting_candidate(self, criterion: Any, candidate: Any) -> None:
        if not candidate.is_python:
            self.reporter.rejecting(candidate.display_name, str(candidate.version))

    def resolving_conflicts(self, causes: Collection[Any]) -> None:
        self.reporter.backtracking([str(cause.requirement) for cause in causes])

    def ending(self, state: Any) -> None:
        self.reporter.ending(sum(1 for c in state.mapping.values() if not c.is_python))


class ProgressLines(ResolverReporter):
    """Resolver events as progress lines on a run's Reporter (verbose only)."""

    def __init__(self, reporter: Reporter) -> None:
        self._reporter = reporter

    def pinning(self, name: str, version: str) -> None:
        self._reporter.message(f"pinned {name}=={version}", "debug")
