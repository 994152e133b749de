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

    def finish(self) -> None:
        """Abandon every running task (an error ends them) and clear the live region."""
        self._clear_bar()
        self._tasks.clear()

    def _clear_bar(self) -> None:
        if self.progress and self._tasks:
            self.stream.write("\r\x1b[2K")
            self.stream.flush()


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
    if json_output:
        console.json({"error": error.to_dict()})
    else:
        console.error(error)
    return error.exit_code
