"""The only module that writes to the terminal: messages, errors, progress, tables, JSON.

Progress on a terminal is one rich live region (a row per running task) that lines
print above and that is cleared when its last task ends; elsewhere (a pipe, CI,
THAMOS_NO_PROGRESSBAR) there are plain lines only. NO_COLOR is honoured.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from typing import IO, Any, Optional

import click

from .errors import ThothPipError, UsageError
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

    OUTPUT_LINES = 12  # of a failed tool's output, under an error (all of it with -v)

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
        self._live: Optional[_Region] = None
        self._lock = threading.RLock()  # downloads report from worker threads

    def configure(self, *, verbosity: int) -> None:
        """The command's verbosity (-v/-q), once it is parsed: the handler's console is the command's."""
        self.verbosity = verbosity
        self.progress = self.progress and verbosity >= 0

    # -- lines -----------------------------------------------------------------
    def _write(self, text: str, level: str) -> None:
        style = _STYLES.get(level)
        with self._lock:
            if self._live is not None:  # above the live region, which stays below
                self._live.print(text, style if self.color else None)
                return
        if self.color and style:
            text = click.style(text, fg=style)
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
        output = str(getattr(exc, "output", "") or "").strip()  # what a failed build or tool printed
        if output:
            lines = output.splitlines()
            shown = lines if self.verbosity > 0 else lines[-self.OUTPUT_LINES:]
            text += "".join(f"\n  | {line}" for line in shown)
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
        with self._lock:
            self._tasks[kind] = [0, total, unit, time.monotonic(), ""]
            if self.progress:
                if self._live is None:
                    self._live = _Region(self.stream, self.color)
                self._live.add(kind, total, unit)

    def task_advanced(self, kind: str, amount: int, label: str = "") -> None:
        with self._lock:
            task = self._tasks.get(kind)
            if task is None:
                return
            task[0] += amount
            task[4] = label or task[4]
            if self._live is not None:
                self._live.advance(kind, task[0], task[4])
        if not self.progress and label and task[2] == "items":
            self.debug(f"{kind}: {label}")

    def task_grown(self, kind: str, amount: int) -> None:
        with self._lock:
            task = self._tasks.get(kind)
            if task is None:
                return
            task[1] += amount
            if self._live is not None:
                self._live.grow(kind, task[1])

    def task_finished(self, kind: str) -> None:
        with self._lock:
            self._tasks.pop(kind, None)
            if self._live is not None and self._live.remove(kind):
                self._live = None

    def finish(self) -> None:
        """Abandon every running task (an error ends them) and clear the live region."""
        with self._lock:
            self._tasks.clear()
            if self._live is not None:
                self._live.stop()
                self._live = None


class _Region:
    """The one live region on a terminal (rich): a row per running task, drawn in place, width-aware,
    lines printed meanwhile go above it; cleared from the screen when its last task ends."""

    REFRESH = 0.1  # seconds between redraws (each row also redraws when it starts and ends)

    def __init__(self, stream: IO[str], color: bool) -> None:
        from rich.console import Console as RichConsole
        from rich.progress import BarColumn, Progress, TextColumn
        from rich.table import Column

        self.console = RichConsole(file=stream, force_terminal=True, no_color=not color, highlight=False)
        self.bars = Progress(
            TextColumn("{task.description}", table_column=Column(no_wrap=True)),
            BarColumn(bar_width=20),
            TextColumn("{task.fields[amount]}", table_column=Column(no_wrap=True)),
            TextColumn("{task.fields[label]}", table_column=Column(no_wrap=True, overflow="ellipsis", ratio=1)),
            console=self.console, transient=True, auto_refresh=False, expand=True,
        )
        self.rows: dict[str, Any] = {}
        self.units: dict[str, str] = {}
        self.drawn = 0.0
        self.bars.start()

    def add(self, kind: str, total: int, unit: str) -> None:
        self.units[kind] = unit
        self.rows[kind] = self.bars.add_task(kind, total=total or None, amount=_amount(0, total, unit), label="")
        self._draw(force=True)

    def advance(self, kind: str, done: int, label: str) -> None:
        row = self.rows.get(kind)
        if row is not None:
            total = self.bars.tasks[self.bars.task_ids.index(row)].total or 0
            self.bars.update(row, completed=done, amount=_amount(done, int(total), self.units[kind]), label=label)
            self._draw()

    def grow(self, kind: str, total: int) -> None:
        row = self.rows.get(kind)
        if row is not None:
            self.bars.update(row, total=total or None)

    def remove(self, kind: str) -> bool:
        """Drop the row of ``kind``; True when it was the last (the region is then gone)."""
        row = self.rows.pop(kind, None)
        if row is not None:
            self.bars.remove_task(row)
        if self.rows:
            self._draw(force=True)
            return False
        self.stop()
        return True

    def print(self, text: str, style: Optional[str]) -> None:
        self.console.print(text, style=style, markup=False, highlight=False, soft_wrap=True)

    def stop(self) -> None:
        self.bars.stop()

    def _draw(self, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self.drawn >= self.REFRESH:
            self.drawn = now
            self.bars.refresh()


def _amount(done: int, total: int, unit: str) -> str:
    if unit == "bytes":
        return f"{done / 1e6:.1f}/{total / 1e6:.1f} MB"
    return f"{done}/{total}"


def _internal(exc: BaseException) -> ThothPipError:
    """A bug of ours, as a user-facing error: what broke, and where to report it."""
    error = ThothPipError(
        f"internal error: {type(exc).__name__}: {exc}".rstrip(": "),
        hint="this is a bug in thoth-pip: please report it, with the output of the same command run with -v",
    )
    error.exit_code = 70
    return error


def _click_error(exc: click.ClickException) -> ThothPipError:
    """A click parsing error as our UsageError (its hint: the command's --help)."""
    ctx = getattr(exc, "ctx", None)
    where = ctx.command_path if ctx is not None else "thoth-pip"
    error = UsageError(exc.format_message(), hint=getattr(exc, "hint", None) or f"see `{where} --help`")
    error.exit_code = exc.exit_code
    return error


def run_guarded(
    action: Callable[[], Any], console: Optional[Console] = None, *, json_output: bool = False
) -> int:
    """Run a CLI action: every failure becomes ``error: ...`` (+ ``hint: ...``) and an exit code,
    or one ``{"error": {...}}`` object on stdout under ``--json``; a traceback only under ``-v``."""
    console = console or Console()
    trace = ""
    try:
        result = action()
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except (click.exceptions.Abort, KeyboardInterrupt):
        error = ThothPipError("interrupted")
        error.exit_code = 130
    except BrokenPipeError:
        return 1
    except ThothPipError as exc:
        error = exc
    except click.ClickException as exc:
        error = _click_error(exc)
    except Exception as exc:  # a bug of ours: say so; the traceback is for -v
        error, trace = _internal(exc), traceback.format_exc().rstrip()
    else:
        return result if isinstance(result, int) else 0
    console.finish()
    if trace and console.verbosity > 0:
        console._write(trace, "debug")
    try:
        if json_output:
            console.json({"error": error.to_dict()})
        else:
            console.error(error)
    except BrokenPipeError:  # the reader went away (`| head`): the exit code still says it
        _quiet_closed_stdout()
    return error.exit_code


def _quiet_closed_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's flush at exit does not fail again on the closed pipe."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
