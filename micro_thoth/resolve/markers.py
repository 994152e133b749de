"""Marker algebra for lock entries: conditions along dependency paths, in pipenv's spelling.

A condition is kept in disjunctive normal form: a set of alternatives, each a
frozenset of atoms ``(variable, op, value)``, all of which must hold. ``None``
stands for "always" (no marker); the empty set for "never".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Optional

from packaging.markers import InvalidMarker, Marker
from packaging.specifiers import InvalidSpecifier, Specifier, SpecifierSet
from packaging.version import InvalidVersion, Version

Atom = tuple[str, str, str]
Clause = frozenset[Atom]
Condition = Optional[frozenset[Clause]]  # None: always true
ALWAYS: Condition = None
NEVER: Condition = frozenset()


def parse(text: Optional[str], extras: Iterable[str] = ()) -> Condition:
    """A marker string as a condition; ``extra`` atoms are decided by ``extras`` here."""
    if not text:
        return ALWAYS
    try:
        tree = Marker(text)._markers  # packaging's parsed form: atoms, nested lists, "and"/"or"
    except InvalidMarker:
        return ALWAYS
    return _from_tree(tree, frozenset(extras))


def _from_tree(tree: Sequence[object], extras: frozenset[str]) -> Condition:
    alternatives: list[Condition] = []
    current: Condition = ALWAYS
    for item in tree:
        if item == "or":
            alternatives.append(current)
            current = ALWAYS
        elif item != "and":
            current = conjoin(current, _from_item(item, extras))
    alternatives.append(current)
    result: Condition = NEVER
    for alternative in alternatives:
        result = disjoin(result, alternative)
    return result


def _from_item(item: object, extras: frozenset[str]) -> Condition:
    if isinstance(item, list):
        return _from_tree(item, extras)
    assert isinstance(item, tuple)
    left, op, right = (str(part.value) for part in item)
    if left == "extra" or right == "extra":
        value = right if left == "extra" else left
        holds = _extra_holds(op.strip(), value, extras)
        return ALWAYS if holds else NEVER
    return frozenset({frozenset({(left, op, right)})})


def _extra_holds(op: str, value: str, extras: frozenset[str]) -> bool:
    if op == "==":
        return value in extras
    if op == "!=":
        return value not in extras
    return False


def conjoin(left: Condition, right: Condition) -> Condition:
    """Both conditions hold."""
    if left is None:
        return right
    if right is None:
        return left
    return _absorb(frozenset(a | b for a in left for b in right))


def disjoin(left: Condition, right: Condition) -> Condition:
    """Either condition holds."""
    if left is None or right is None:
        return ALWAYS
    merged = _absorb(left | right)
    return ALWAYS if merged is not None and _covers_every_python(merged) else merged


_PYTHON_VARIABLES = frozenset({"python_version", "python_full_version"})


def _covers_every_python(clauses: frozenset[Clause]) -> bool:
    """Do the alternatives about the Python version alone hold for every Python?

    ``python_version < '3.14' or python_version >= '3.14'`` does: a package needed under
    both branches is needed always. Checked at every bound the atoms name and either side
    of it, which decides comparisons of versions exactly.
    """
    python_only = [c for c in clauses if all(atom[0] in _PYTHON_VARIABLES for atom in c)]
    if len(python_only) < 2:
        return False
    markers = [Marker(_render_clause(c)) for c in python_only]
    return all(any(m.evaluate(point) for m in markers) for point in _probe_points(python_only))


def _probe_points(clauses: Sequence[Clause]) -> list[dict[str, str]]:
    releases = {(0, 0, 0), (99, 99, 0)}
    for clause in clauses:
        for _variable, _op, value in clause:
            try:
                parts = Version(value.rstrip(".*")).release
            except InvalidVersion:
                continue
            major, minor = parts[0], parts[1] if len(parts) > 1 else 0
            for m in (minor - 1, minor, minor + 1):
                if m >= 0:
                    releases.update({(major, m, 0), (major, m, 99)})
            releases.add((major + 1, 0, 0))
    return [
        {"python_version": f"{a}.{b}", "python_full_version": f"{a}.{b}.{c}", "extra": ""}
        for a, b, c in sorted(releases)
    ]



def simplify(condition: Condition) -> Condition:
    """Drop alternatives another one implies through their Python bounds alone:
    ``python_version < '3.11' or python_version < '3.15'`` is ``python_version < '3.15'``."""
    if not condition or len(condition) < 2:
        return condition
    kept = [c for c in condition if not any(o != c and _implies(c, o) for o in condition)]
    if len(kept) == len(condition):
        return condition
    return frozenset(kept) if kept else condition  # equivalent alternatives: keep them all


def _implies(clause: Clause, other: Clause) -> bool:
    """Whenever ``clause`` holds, ``other`` does: its non-Python atoms are ``clause``'s, and its
    Python atoms hold at every probe point where ``clause``'s Python atoms do."""
    python = frozenset(a for a in clause if a[0] in _PYTHON_VARIABLES)
    needed = frozenset(a for a in other if a[0] in _PYTHON_VARIABLES)
    if not (other - needed) <= (clause - python) or not needed or needed <= python:
        return False
    mine, theirs = Marker(_render_clause(python) or "python_version >= '0'"), Marker(_render_clause(needed))
    return all(theirs.evaluate(p) for p in _probe_points([python, needed]) if mine.evaluate(p))


def settle(condition: Condition, environment: Mapping[str, str]) -> Condition:
    """Drop the ``python_version`` atoms that hold for the target's Python: a lock is made for one
    minor version, so ``python_version < '3.11' or python_version < '3.15'`` made for 3.11 is
    always (pip-compile and uv write no marker), and ``python_version < '3.15' and os_name == 'nt'``
    is ``os_name == 'nt'``."""
    if not condition or "python_version" not in environment:
        return condition
    return _absorb(frozenset(frozenset(a for a in c if not _holds(a, environment)) for c in condition))


def _holds(atom: Atom, environment: Mapping[str, str]) -> bool:
    if atom[0] != "python_version":
        return False
    try:
        return Marker(_render_clause(frozenset({atom}))).evaluate(dict(environment))
    except (InvalidMarker, InvalidVersion, KeyError):
        return False


def _absorb(clauses: frozenset[Clause]) -> Condition:
    """Drop alternatives implied by a weaker one; an empty alternative means always."""
    if frozenset() in clauses:
        return ALWAYS
    kept = [c for c in clauses if not any(other < c for other in clauses)]
    return frozenset(kept)


def render(condition: Condition) -> Optional[str]:
    """The condition as a marker string with pipenv's single quotes, or None for always."""
    if condition is None:
        return None
    if not condition:
        return "python_version < '0'"  # never: cannot happen for a pin we resolved
    clauses = sorted(_render_clause(c) for c in condition)
    if len(clauses) == 1:
        return clauses[0]
    return " or ".join(f"({c})" if " and " in c else c for c in clauses)


def as_written(text: str) -> str:
    """A requested entry's marker as pipenv writes it: packaging's normal form, single quotes."""
    try:
        return str(Marker(text)).replace('"', "'")
    except InvalidMarker:
        return text


def _render_clause(clause: Clause) -> str:
    return " and ".join(f"{left} {op} '{right}'" for left, op, right in sorted(clause))


def requires_python_marker(spec: Optional[str]) -> Optional[str]:
    """Requires-Python as a marker, the way pipenv writes it into a lock.

    ``>=3.8`` -> ``python_version >= '3.8'``; a bound with a micro part uses
    ``python_full_version``; ``!=3.0.*`` -> ``python_version != '3.0'``;
    ``>3.7`` -> ``python_version >= '3.8'``; clauses sorted by version.
    """
    if not spec or spec.strip() in ("*", "any", "<any>"):
        return None
    try:
        specifiers = sorted(SpecifierSet(spec), key=_bound_key)
    except (InvalidSpecifier, InvalidVersion):
        return None
    parts = [_python_clause(s) for s in specifiers]
    text = " and ".join(dict.fromkeys(p for p in parts if p))
    return text or None


def _bound_key(specifier: Specifier) -> tuple[Version, str]:
    return Version(specifier.version.rstrip(".*")), specifier.operator


def _python_clause(specifier: Specifier) -> Optional[str]:
    op, value = specifier.operator, specifier.version
    if value.endswith(".*"):
        value = value[:-2]
        if op not in ("==", "!=") or value.count(".") != 1:
            return None  # looser than Requires-Python, never wrong: it was checked when resolving
    elif op == ">" and value.count(".") == 1:
        major, minor = value.split(".")
        op, value = ">=", f"{major}.{int(minor) + 1}"
    variable = "python_full_version" if value.count(".") >= 2 else "python_version"
    return f"{variable} {op} '{value}'"


def evaluate(text: Optional[str], environment: Mapping[str, str], extra: str = "") -> bool:
    """Does a requirement's marker hold for the target (with ``extra`` set)?"""
    if not text:
        return True
    try:
        return Marker(text).evaluate({**environment, "extra": extra})
    except (InvalidMarker, InvalidVersion, KeyError):
        return False
