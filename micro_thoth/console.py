"""The only module that writes to the terminal: messages, errors, progress, tables, JSON."""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from typing import IO, Any, Optional

import click

from .errors import ThothPipError
from .reporting import Reporter

_STYLES = {"error": "red", "warning": "yellow", "success": "green", "info": None, "debug": "bright_black"}


def _use_color(stream: IO[str]) -> bool:
    if os.environ.get("NO_COLOR") or os.environ.get("PIPENV_NOCOLOR"):
        return False
    if os.environ.get("FORCE_COLOR") or os.environ.get("PIPENV_COLORBLIND") == "0":
        return True
    return stream.isatty()


class Console(Reporter):
    """Human output on stderr (machine output, ``--json``, goes to stdout)."""

    def __init__(
        self,
        *,
        verbosity: int = 0,
        stream: Optional[IO[str]] = None,
        out: Optional[IO[str]] = None,
        progress: Optional[bool] = None,
    ) -> None:
        self.verbosity = verbosity
        self.stream = stream or sys.stderr
        self.out = out or sys.stdout
        self.color = _use_color(self.stream)
        tty = self.stream.isatty() and not os.environ.get("THAMOS_NO_PROGRESSBAR") and not os.environ.get("CI")
        self.progress = tty and verbosity >= 0 if progress is None else progress
        self._tasks: dict[str, list[Any]] = {}

    # -- lines -----------------------------------------------------------------
    def _write(self, text: str, level: str) -> None:
        style = _STYLES.get(level)
        if self.color and style:
            text = click.style(text, fg=style)
        self._clear_bar()
        print(text, file=self.stream, flush=True)

    def info(self, text: str) -> None:
        if self.verbosity >= 0:
            self._write(text, "info")

    def debug(self, text: str) -> None:
        if self.verbosity > 0:
            self._write(text, "debug")

    def warn(self, text: str) -> None:
        if self.verbosity >= -1:
            self._write(f"warning: {text}", "warning")

    def success(self, text: str) -> None:
        if self.verbosity >= 0:
            self._write(text, "success")

    def error(self, exc: ThothPipError) -> None:
        text = f"error: {exc.message}"
        if exc.hint:
            text += f"\n  hint: {exc.hint}"
        self._write(text, "error")

    def output(self, text: str) -> None:
        """Primary output (a requirements file, a path) on stdout, whatever the verbosity."""
        print(text, file=self.out, flush=True)

    def json(self, data: Any) -> None:
        print(json.dumps(data, indent=2, sort_keys=False), file=self.out, flush=True)

    def table(self, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
        widths = [max(len(str(c)) for c in col) for col in zip(headers, *rows)]
        lines = ["  ".join(str(h).ljust(w) for h, w in zip(headers, widths)).rstrip()]
        lines.append("  ".join("-" * w for w in widths))
        lines += ["  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows]
        print("\n".join(lines), file=self.out, flush=True)

    # -- Reporter --------------------------------------------------------------
    def message(self, text: str, level: str = "info") -> None:
        {"debug": self.debug, "warning": self.warn}.get(level, self.info)(text)

    def task_started(self, kind: str, total: int, unit: str = "items") -> None:
        self._tasks[kind] = [0, total, unit, time.monotonic(), ""]
        self._draw(kind)

    def task_advanced(self, kind: str, amount: int, label: str = "") -> None:
        task = self._tasks.get(kind)
        if task is None:
            return
        task[0] += amount
        task[4] = label or task[4]
        if not self.progress and label and task[2] == "items":
            self.debug(f"{kind}: {label}")
        self._draw(kind)

    def task_finished(self, kind: str) -> None:
        self._tasks.pop(kind, None)
        self._clear_bar()

    def _draw(self, kind: str) -> None:
        if not self.progress:
            return
        done, total, unit, _start, label = self._tasks[kind]
        width = 24
        filled = int(width * done / total) if total else width
        if unit == "bytes":
            amount = f"{done / 1e6:.1f}/{total / 1e6:.1f} MB"
        else:
            amount = f"{done}/{total}"
        line = f"{kind} [{'#' * filled}{'.' * (width - filled)}] {amount} {label}"[:100]
        self.stream.write("\r\x1b[2K" + line)
        self.stream.flush()

    def _clear_bar(self) -> None:
        if self.progress and self._tasks:
            self.stream.write("\r\x1b[2K")
            self.stream.flush()


def run_guarded(action: Callable[[], Any], console: Optional[Console] = None) -> int:
    """Run a CLI action; user errors become one paragraph and an exit code, never a traceback."""
    console = console or Console()
    try:
        result = action()
    except ThothPipError as exc:
        console.error(exc)
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.exceptions.Abort:
        console._write("aborted", "error")
        return 1
    except click.ClickException as exc:
        console._write(f"error: {exc.format_message()}", "error")
        return exc.exit_code
    except KeyboardInterrupt:
        console._write("interrupted", "error")
        return 130
    except BrokenPipeError:
        return 1
    except Exception:  # a bug of ours: say so, with the traceback for the report
        console._write("internal error (please report it):\n" + traceback.format_exc().rstrip(), "error")
        return 70
    return result if isinstance(result, int) else 0
