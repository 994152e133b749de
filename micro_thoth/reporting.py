"""Progress events the stages emit, and the no-op reporter they default to.

The core never prints: downloads, builds and installs call these hooks and
``console.py`` turns them into progress bars (TTY) or plain lines.
"""

from __future__ import annotations


class Reporter:
    """No-op event hooks; subclass and override what you want to show."""

    def task_started(self, kind: str, total: int, unit: str = "items") -> None:
        """A task of ``total`` steps (``unit``: "bytes" or "items") has begun."""

    def task_advanced(self, kind: str, amount: int, label: str = "") -> None:
        """``amount`` more steps of ``kind`` are done (``label`` names the item)."""

    def task_grown(self, kind: str, amount: int) -> None:
        """``amount`` more steps were added to the task's total (work found while it runs)."""

    def task_finished(self, kind: str) -> None:
        """The task ``kind`` is complete (or abandoned)."""

    def message(self, text: str, level: str = "info") -> None:
        """A line for the user: level is "debug", "info" or "warning"."""


NULL_REPORTER = Reporter()
