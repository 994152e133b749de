"""pip's binary-format options (``--no-binary``, ``--only-binary``, ``--prefer-binary``): which files a project may use."""

from __future__ import annotations

import re
from dataclasses import dataclass

ALL_PROJECTS = ":all:"


@dataclass(frozen=True)
class Formats:
    """pip's ``--no-binary`` / ``--only-binary`` / ``--prefer-binary``: the kinds of file each
    project may be installed from. Names are canonical; ``:all:`` stands for every project."""

    no_binary: frozenset[str] = frozenset()
    only_binary: frozenset[str] = frozenset()
    prefer_binary: bool = False

    def with_option(self, option: str, value: str) -> Formats:
        """One ``--no-binary``/``--only-binary`` value added with pip's rules: ``:all:`` clears
        the names, ``:none:`` empties the option, a name leaves the other option."""
        mine, other = (self.no_binary, self.only_binary) if option == "--no-binary" else (self.only_binary, self.no_binary)
        items = [v.strip() for v in value.split(",") if v.strip()]
        for i, item in enumerate(items):
            if item == ALL_PROJECTS:
                mine, other = frozenset({ALL_PROJECTS}), frozenset()
                if ":none:" not in items[i + 1:]:
                    break  # as pip: the names after :all: are covered by it
            elif item == ":none:":
                mine = frozenset()
            else:
                key = _canonical(item)
                mine, other = mine | {key}, other - {key}
        pair = (mine, other) if option == "--no-binary" else (other, mine)
        return Formats(pair[0], pair[1], self.prefer_binary)

    def allows(self, name: str, *, wheel: bool) -> bool:
        """May ``name`` use a wheel (``wheel``) or an sdist? pip's FormatControl order."""
        if not (self.only_binary or self.no_binary):
            return True  # no option given: asked of every file of a page, keep it cheap
        key = _canonical(name)
        if key in self.only_binary:
            return wheel
        if key in self.no_binary:
            return not wheel
        if ALL_PROJECTS in self.only_binary:
            return wheel
        if ALL_PROJECTS in self.no_binary:
            return not wheel
        return True

    def then(self, later: Formats) -> Formats:
        """These options, then ``later``'s (a requirements file's after the command line's)."""
        formats = self
        for line in later.option_lines():
            option, value = line.split(" ", 1)
            formats = formats.with_option(option, value)
        return Formats(formats.no_binary, formats.only_binary, self.prefer_binary or later.prefer_binary)

    @property
    def restricted(self) -> bool:
        return bool(self.no_binary or self.only_binary)

    def option_lines(self) -> list[str]:
        """The options as pip-compile writes them: ``:all:`` first, then names (pip reads them in
        order, and a name beats ``:all:``); ``--prefer-binary`` is not written (the pins are made)."""
        lines = [f"--{kind} {ALL_PROJECTS}" for kind, names in (("no-binary", self.no_binary), ("only-binary", self.only_binary)) if ALL_PROJECTS in names]
        lines += [f"--no-binary {name}" for name in sorted(self.no_binary - {ALL_PROJECTS})]
        return lines + [f"--only-binary {name}" for name in sorted(self.only_binary - {ALL_PROJECTS})]


ANY_FORMAT = Formats()


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()
