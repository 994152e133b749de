"""Every hint names a real command: each `thoth-pip ...` the code can print is parsed by the real CLI.

Collected with an ast walk of micro_thoth/ (docstrings left out): every string
constant and f-string holding a backticked ``thoth-pip ...`` command, and every
``hint=`` text. A command line must parse with click (the command, its options, its
arguments); a ``--flag`` in a hint must be an option of some thoth-pip command.
"""

from __future__ import annotations

import ast
import re
import shlex
from pathlib import Path

import click
import pytest

from micro_thoth.cli import cli
from micro_thoth.errors import ThothPipError

PACKAGE = Path(__file__).resolve().parent.parent / "micro_thoth"
COMMAND = re.compile(r"`(thoth-pip [^`]*)`")
FLAG = re.compile(r"(?<![\w-])(--[a-z][a-z-]*)")
PLACEHOLDERS = {"{X}": "install", "PACKAGE": "requests", "PATH": str(PACKAGE), "PKG": "requests", "A B": "a b"}


def _docstring_nodes(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def _text(node: ast.AST) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else "{X}" for v in node.values)  # type: ignore[misc]
    return None


def _strings() -> list[tuple[str, str, bool]]:
    """(where, text, is a hint) of every printed string that may name a command."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        skip = _docstring_nodes(tree)
        hints = {id(k.value) for n in ast.walk(tree) if isinstance(n, ast.Call) for k in n.keywords if k.arg == "hint"}
        parts = {id(v) for n in ast.walk(tree) if isinstance(n, ast.JoinedStr) for v in n.values}  # read with their f-string
        for node in ast.walk(tree):
            text = _text(node)
            if text is None or id(node) in skip or id(node) in parts:
                continue
            where = f"{path.relative_to(PACKAGE.parent)}:{getattr(node, 'lineno', 0)}"
            if "`thoth-pip " in text or id(node) in hints:
                found.append((where, text, id(node) in hints))
    return found


STRINGS = _strings()
COMMANDS = [(where, line) for where, text, _ in STRINGS for line in COMMAND.findall(text)]


def _all_options() -> set[str]:
    ctx = click.Context(cli)
    names = set()
    for name in cli.list_commands(ctx):
        command = cli.get_command(ctx, name)
        assert command is not None
        stack = [command]
        while stack:
            current = stack.pop()
            names.update(o for p in current.params for o in getattr(p, "opts", ()) if o.startswith("--"))
            if isinstance(current, click.Group):
                stack.extend(current.commands.values())
    return names


def _parse(line: str) -> None:
    for placeholder, value in PLACEHOLDERS.items():
        line = line.replace(placeholder, value)
    args = shlex.split(line)[1:]
    if "--help" in args:
        return
    ctx = click.Context(cli, info_name="thoth-pip")
    command: click.Command = cli
    name: str | None = "thoth-pip"
    while isinstance(command, click.Group):
        name, found, args = command.resolve_command(ctx, args)
        assert found is not None, f"no command {name}"
        command, ctx = found, click.Context(found, info_name=name, parent=ctx)
    command.make_context(name, args, parent=ctx.parent)


def test_hints_were_collected() -> None:
    assert len(COMMANDS) > 20 and any("lock" in line for _, line in COMMANDS)
    assert any(is_hint for _, _, is_hint in STRINGS)


@pytest.mark.parametrize(("where", "line"), COMMANDS, ids=[f"{w}:{line}" for w, line in COMMANDS])
def test_every_named_command_parses(where: str, line: str) -> None:
    try:
        _parse(line)
    except click.exceptions.Exit:
        pass
    except (click.ClickException, ThothPipError) as exc:
        pytest.fail(f"{where}: `{line}` is not a real command line: {exc}")


def test_every_flag_in_a_hint_is_an_option() -> None:
    options = _all_options() | {"--help", "--version", "--where", "--venv", "--py"}
    wrong = [
        f"{where}: {flag}" for where, text, _ in STRINGS for flag in FLAG.findall(text) if flag not in options
    ]
    assert not wrong, wrong


def test_the_parser_can_fail() -> None:
    """The check is real: a flag no command has, and a command that does not exist, are caught."""
    with pytest.raises(click.ClickException):
        _parse("thoth-pip install --skip-lock")
    with pytest.raises(ThothPipError):
        _parse("thoth-pip compile --generate-hashes")


@pytest.mark.parametrize("layout", ["zipped", "compiled-only"])
def test_the_commands_are_found_in_a_zipped_or_compiled_only_install(
        layout: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The command list (package._command_names) reads a directory of sources; a zipped install or one
    shipped as .pyc only has commands too (pkgutil finds them), not 'no such command' for each."""
    import compileall
    import shutil
    import zipfile

    from micro_thoth import cli as package
    from micro_thoth.cli import commands

    expected = package._command_names()
    source = Path(commands.__path__[0])
    if layout == "zipped":
        archive = tmp_path / "thoth.zip"
        with zipfile.ZipFile(archive, "w") as zipped:
            for file in source.glob("*.py"):
                zipped.write(file, f"micro_thoth/cli/commands/{file.name}")
        where = str(archive / "micro_thoth" / "cli" / "commands")
    else:
        where = str(tmp_path / "commands")
        shutil.copytree(source, where, ignore=shutil.ignore_patterns("__pycache__"))
        assert compileall.compile_dir(where, legacy=True, quiet=1)
        for file in Path(where).glob("*.py"):
            file.unlink()
    monkeypatch.setattr(commands, "__path__", [where])
    package._command_names.cache_clear()
    try:
        assert package._command_names() == expected and "lock" in expected
    finally:
        package._command_names.cache_clear()
