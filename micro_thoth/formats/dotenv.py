"""``.env`` files as pipenv loads them (python-dotenv's syntax): text -> ordered variables.

Supported: ``KEY=value``, ``export KEY=value``, ``#`` comments, single quotes
(literal), double quotes (escapes ``\\n \\t \\" \\\\``, may span lines), unquoted
values with a trailing `` # comment``, and ``${VAR}`` / ``${VAR:-default}``
expansion in unquoted and double-quoted values. A later line sees the earlier
ones; with ``override`` (pipenv's way) the file wins over the environment.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Optional

from ..errors import InputFileError

_KEY = re.compile(r"[ \t]*(?:export[ \t]+)?([A-Za-z_][A-Za-z0-9_.\-]*)[ \t]*")
_VAR = re.compile(r"\$\{(?P<name>[^}:]+)(?::-(?P<default>[^}]*))?\}")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "'": "'", "$": "$"}


def parse_dotenv(text: str, path: Optional[str] = None) -> list[tuple[str, str, bool]]:
    """``(name, raw value, expandable)`` in file order; malformed lines raise InputFileError."""
    entries: list[tuple[str, str, bool]] = []
    pos = 0
    while pos < len(text):
        line_end = text.find("\n", pos)
        line_end = len(text) if line_end < 0 else line_end
        line = text[pos:line_end]
        if not line.strip() or line.lstrip().startswith("#"):
            pos = line_end + 1
            continue
        name, value, expandable, pos = _entry(text, pos, path)
        entries.append((name, value, expandable))
    return entries


def _entry(text: str, pos: int, path: Optional[str]) -> tuple[str, str, bool, int]:
    match = _KEY.match(text, pos)
    line_no = text.count("\n", 0, pos) + 1
    if not match or match.end() >= len(text) or text[match.end()] != "=":
        raise InputFileError("expected KEY=value", path=path, key_path=f"line {line_no}")
    start = match.end() + 1
    while start < len(text) and text[start] in " \t":
        start += 1
    quote = text[start] if start < len(text) else ""
    if quote in ("'", '"'):
        value, end = _quoted(text, start, quote, path, line_no)
        return match.group(1), value, quote == '"', _rest_of_line(text, end, path)
    end = text.find("\n", start)
    end = len(text) if end < 0 else end
    value = re.split(r"[ \t]#", text[start:end], maxsplit=1)[0].strip()
    return match.group(1), value, True, end + 1


def _quoted(text: str, start: int, quote: str, path: Optional[str], line_no: int) -> tuple[str, int]:
    out: list[str] = []
    pos = start + 1
    while pos < len(text):
        char = text[pos]
        if char == "\\" and pos + 1 < len(text) and (quote == '"' or text[pos + 1] in "\\'"):
            following = text[pos + 1]
            out.append(_ESCAPES.get(following, "\\" + following) if quote == '"' else following)
            pos += 2
            continue
        if char == quote:
            return "".join(out), pos + 1
        out.append(char)
        pos += 1
    raise InputFileError(f"unterminated {quote} quote", path=path, key_path=f"line {line_no}")


def _rest_of_line(text: str, pos: int, path: Optional[str]) -> int:
    end = text.find("\n", pos)
    end = len(text) if end < 0 else end
    rest = text[pos:end].strip()
    if rest and not rest.startswith("#"):
        line_no = text.count("\n", 0, pos) + 1
        raise InputFileError(f"unexpected text after the closing quote: {rest!r}", path=path, key_path=f"line {line_no}")
    return end + 1


def resolve(entries: list[tuple[str, str, bool]], environ: Mapping[str, str], *, override: bool = True) -> dict[str, str]:
    """The variables to set, ``${VAR}`` expanded as python-dotenv does (missing: default or "")."""
    values: dict[str, str] = {}
    for name, raw, expandable in entries:
        scope = {**environ, **values} if override else {**values, **environ}
        values[name] = _expand(raw, scope) if expandable else raw
    return values


def _expand(text: str, scope: Mapping[str, str]) -> str:
    def repl(match: re.Match[str]) -> str:
        return scope.get(match.group("name"), match.group("default") or "")

    return _VAR.sub(repl, text)
