"""UnitCatalog: the units a run may apply, the small sets held in memory plus a compiled store read by package name.

The bundled, user, project and explicit units are few and given whole. A
compiled store (``UnitLookup``, implemented in ``knowledge/``) may hold a
hundred thousand: its package-independent units are read at the start, the
units for a package only when the resolver first considers that package
(``consider``), and the wraps and strides about a package — they speak only
about a finished stack that holds it — only when a finished stack does
(``consider_stack``), in the order they would have had if read with their
package. Names decide precedence as ``load_prescriptions`` does:
bundled < store < user < project < explicit paths.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Optional, Protocol

from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from ..artifacts import requires_dist_entry
from .prescriptions import package_names
from .selection import UnitContext, select_units
from .units import Unit


class UnitLookup(Protocol):
    """Units kept outside memory, asked for by the package names they speak about."""

    def units_for(self, names: Iterable[str]) -> Sequence[Unit]:
        """Units keyed by any of ``names`` (bar those ``units_in_stack`` gives)."""
        ...

    def units_in_stack(self, names: Iterable[str]) -> Sequence[Unit]:
        """Wraps and strides that speak only about a finished stack holding one of ``names``, in file order."""
        ...

    def independent(self, base_image: Optional[str] = None) -> Sequence[Unit]:
        """Units that may apply to any package (no package name in their match), for this base image."""
        ...

    def units_named(self, names: Iterable[str]) -> Sequence[Unit]:
        """Units called by one of ``names``."""
        ...

    def units_pinned(self, pins: Iterable[tuple[str, str]]) -> Sequence[Unit]:
        """Units about these exact releases only ((name, version) pairs: a wrap on ``flask==2.0.2``)."""
        ...


_AFTER = 1 << 30  # in a consider() call's place: after its stack-only units (those pulled in as dependencies)
_LAST = 1 << 31  # the units about exact releases: after every consider() call


class UnitCatalog:
    """The selected units of one run, by kind and by (kind, package name), grown as packages are considered."""

    def __init__(self, units: Iterable[Unit], context: UnitContext, lookup: Optional[UnitLookup] = None) -> None:
        self.context = context
        self.lookup = lookup
        given = list(units)
        self._local = {u.name for u in given if u.origin != "bundled"}  # these win over the store's units by name
        if lookup is not None:
            stored = {u.name for u in lookup.units_named(u.name for u in given if u.origin == "bundled")}
            given = [u for u in given if u.origin != "bundled" or u.name not in stored]
            given = [*given[: self._bundled_end(given)], *self._fresh(lookup.independent(context.facts.base_image)), *given[self._bundled_end(given):]]
        self.units: list[Unit] = list(select_units(given, context))
        self._names = {u.name for u in self.units}
        self._seen: dict[str, int] = {}  # package name -> the consider() call that first asked for it
        self._asked = 0  # consider() calls that asked for new names
        self._stack_seen: set[str] = set()
        self._pins_seen: set[tuple[str, str]] = set()
        self._order: dict[str, tuple[int, ...]] = {}  # unit name -> its place in of_kind() (those given: first)
        self._by_kind: dict[str, list[Unit]] = {}
        self._by_package: dict[tuple[str, Optional[str]], list[Unit]] = {}
        self.generation = 0  # grows with every unit added: what was derived from the units so far is stale
        self._index(self.units)

    @staticmethod
    def _bundled_end(units: Sequence[Unit]) -> int:
        return next((i for i, u in enumerate(units) if u.origin != "bundled"), len(units))

    def _fresh(self, units: Iterable[Unit]) -> list[Unit]:
        return [u for u in units if u.name not in self._local]

    def consider(self, names: Iterable[str]) -> None:
        """Read the store's units for packages not considered yet (a no-op without a store)."""
        if self.lookup is None:
            return
        new = {canonicalize_name(n) for n in names if n not in self._seen} - self._seen.keys()  # most names come canonical and known
        if not new:
            return
        self._asked += 1
        self._seen.update(dict.fromkeys(new, self._asked))
        self._add(self.lookup.units_for(sorted(new)), (self._asked, _AFTER))

    def consider_stack(self, stack: Mapping[NormalizedName, Version]) -> None:
        """``consider`` a finished stack's packages, and read the units about them as a stack and about its exact releases."""
        self.consider(stack)
        if self.lookup is None:
            return
        if not self._stack_seen.issuperset(stack):
            self._stack_seen.update(stack)
            self._add_stack_units(self.lookup.units_in_stack(sorted(self._stack_seen)))
        pins = {(str(n), str(v)) for n, v in stack.items()} - self._pins_seen
        if pins:
            self._pins_seen |= pins
            self._add(self.lookup.units_pinned(sorted(pins)), (_LAST, len(self._pins_seen)))

    def _add_stack_units(self, found: Sequence[Unit]) -> None:
        """Stack-only units (all so far, in file order) take the place ``consider`` would have given them: with the
        first of their packages considered, in file order; the units about exact releases stay last."""
        named: dict[int, frozenset[str]] = {}  # match -> its names: a store's units of one package share their match
        for position, unit in enumerate(found):
            names = named.get(id(unit.match))
            if names is None:
                names = named[id(unit.match)] = package_names(unit)
            self._order[unit.name] = (min((self._seen[n] for n in names if n in self._seen), default=self._asked), position)
        self._add(sorted(found, key=lambda u: self._order[u.name]), (self._asked, _AFTER))
        for kind in ("wrap", "stride"):
            self._by_kind.get(kind, []).sort(key=lambda u: self._order.get(u.name, (0,)))

    def _add(self, found: Sequence[Unit], place: tuple[int, int]) -> None:
        assert self.lookup is not None
        batch = [u for u in self._fresh(found) if u.name not in self._names]
        wanted = {d for u in batch for d in u.should_include.dependencies} - self._names - {u.name for u in batch}
        if wanted:
            batch += [u for u in self._fresh(self.lookup.units_named(wanted)) if u.name not in self._names]
        chosen = list(select_units(batch, self.context, known=self._names))
        self.units += chosen
        self._names |= {u.name for u in chosen}
        for i, unit in enumerate(chosen):
            self._order.setdefault(unit.name, (*place, i))
        self._index(chosen)

    def consider_requirements(self, requirements: Iterable[str]) -> None:
        """``consider`` the packages that requirement strings name (unparsable ones are left to their owner)."""
        self.consider(req.name for req in map(requires_dist_entry, requirements) if req is not None)

    def _index(self, units: Iterable[Unit]) -> None:
        self.generation += 1
        for unit in units:
            self._by_kind.setdefault(unit.kind, []).append(unit)
            for name in dict.fromkeys(e.package.name for e in unit.package_entries()):  # type: ignore[union-attr]
                self._by_package.setdefault((unit.kind, name), []).append(unit)

    @property
    def considered(self) -> frozenset[str]:
        """The package names the store was asked about so far."""
        return frozenset(self._seen)  # dict keys: the names

    def of_kind(self, kind: str) -> list[Unit]:
        return self._by_kind.get(kind, [])

    def for_package(self, kind: str, name: Optional[str]) -> list[Unit]:
        """Units of ``kind`` whose ``package_version`` names ``name`` (None: those naming no package)."""
        return self._by_package.get((kind, name), [])


__all__ = ["UnitCatalog", "UnitLookup"]
