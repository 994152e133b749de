"""The ``thoth-pip`` command line: parses, builds Settings, delegates to ``pipeline``.

Each subcommand lives in ``cli/commands/<name>.py`` (``-`` in the command name is
``_`` in the module name) and exposes a click command called ``command``. The
group imports only the module of the command being run, so ``thoth-pip install``
never pays for the resolver backend's imports.
"""

from __future__ import annotations

import functools
import importlib
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, Optional, TypeVar

import click

from .. import __version__
from ..closest import closest
from ..errors import UsageError
from . import collector, dataclass_code, lean_imports
from . import commands as _commands

ALIASES = {"upgrade": "update"}
LOCKING = frozenset({"lock", "update", "upgrade"})  # they ask pip for its default index (a Pipfile without [[source]])
_F = TypeVar("_F", bound=Callable[..., Any])


@functools.cache
def _command_names() -> tuple[str, ...]:
    """The modules of ``cli/commands`` as command names: one listing per run (pkgutil's
    iter_modules listed and stat'ed the directory on every call, and costs an import), by pkgutil
    still where the commands are not a directory (a zipped install) or are compiled only."""
    try:
        names = [entry.name for path in _commands.__path__ for entry in os.scandir(path)]
    except OSError:
        names = []
    if not any(name.endswith(".py") for name in names):
        import pkgutil  # here: a directory of sources, the usual install, never needs it

        names = [f"{m.name}.py" for m in pkgutil.iter_modules(_commands.__path__)]
    modules = (name[: -len(".py")] for name in names if name.endswith(".py"))
    return tuple(sorted(name.replace("_", "-") for name in modules if not name.startswith("_")))


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use; an unknown one gets a did-you-mean."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args:  # bare `thoth-pip`: the usage, as help (not an error), like pipenv
            click.echo(ctx.get_help(), color=ctx.color)
            ctx.exit(0)
        return super().parse_args(ctx, args)

    def resolve_command(self, ctx: click.Context, args: list[str]) -> tuple[Optional[str], Optional[click.Command], list[str]]:
        name = args[0] if args else ""
        if name and not name.startswith("-") and self.get_command(ctx, name) is None:
            close = closest(name, [*_command_names(), *ALIASES])
            hint = f"did you mean `thoth-pip {close[0]}`?" if close else "`thoth-pip --help` lists the commands"
            raise UsageError(f"no such command '{name}'", hint=hint)
        return super().resolve_command(ctx, args)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(_command_names())

    def get_command(self, ctx: click.Context, cmd_name: str) -> Optional[click.Command]:
        name = ALIASES.get(cmd_name, cmd_name)
        if name not in _command_names():
            return None
        module = importlib.import_module(f"{_commands.__name__}.{name.replace('-', '_')}")
        return module.command  # type: ignore[no-any-return]


def _locate(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    """--where / --venv / --py: print the path and exit before any subcommand (as pipenv)."""
    if not value or ctx.resilient_parsing:
        return
    from ..console import Console
    from ..pipeline.where import locate
    from ..settings import Settings

    console = ctx.find_object(Console) or Console()  # the run's console (ctx.obj)
    console.output(str(locate(Settings.from_sources({}, os.environ), param.name)))  # type: ignore[arg-type]
    ctx.exit(0)


def _locate_option(name: str, help: str) -> Callable[[_F], _F]:
    return click.option(f"--{name}", name, is_flag=True, is_eager=True, expose_value=False, callback=_locate, help=help)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="thoth-pip")
@_locate_option("where", "Print the project directory and exit.")
@_locate_option("venv", "Print the project's virtual environment and exit.")
@_locate_option("py", "Print the environment's python and exit.")
def cli() -> None:
    """thoth-pip: pipenv's install / lock / sync, guided, verified and fast."""


def _global_flags(args: Sequence[str]) -> tuple[bool, int]:
    """--json and the -v count as typed, before any parsing (so a parse error honours them too)."""
    words = list(args[: args.index("--")] if "--" in args else args)
    words = words[: words.index("run") + 1] if "run" in words else words  # `run CMD -v` is CMD's
    verbose = sum(w.count("v") for w in words if w.startswith("-") and not w.startswith("--") and set(w[1:]) == {"v"})
    return "--json" in words, verbose + words.count("--verbose")


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command line; returns the exit code (errors are printed, never raised)."""
    dataclass_code.install()  # first: every module imported from here on makes its dataclasses faster
    from ..console import Console, run_guarded

    collector.configure()  # rare collections, none at exit (collector.py)
    lean_imports.install()
    args = list(argv) if argv is not None else sys.argv[1:]
    json_output, verbosity = _global_flags(args)
    console = Console(verbosity=verbosity)  # the commands report through it too (ctx.obj): one live region
    settle = _probe_early(args)
    try:
        return run_guarded(
            lambda: cli.main(args=args, prog_name="thoth-pip", standalone_mode=False, obj=console),
            console,
            json_output=json_output,
        )
    finally:
        if settle is not None:
            settle()


def _probe_early(args: Sequence[str]) -> Optional[Callable[[], None]]:
    """A locking command: pip's default index asked for now (when not memoised), so that the
    subprocess overlaps the command's imports; what to call at the end, when that is the case."""
    words = [a for a in args if not a.startswith("-")]
    if not words or words[0] not in LOCKING or any(a.split("=")[0] == "--cache-dir" for a in args):
        return None  # --cache-dir: the memo is elsewhere; the command asks pip itself when it must
    from .. import pipconf  # imported here: `--version` and the other commands never need it

    pipconf.start_default_index_probe(os.environ)
    return pipconf.settle_default_index_probe
