"""StoreUnits: the compiled store as a ``guidance.catalog.UnitLookup``, each unit built once (from its checked form) when first asked for."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from typing import Optional

from ..errors import InputFileError
from ..guidance.prescriptions import parse_unit
from ..guidance.unit_form import form_units
from ..guidance.units import Unit
from .store import ANY_PACKAGE, ORIGIN, KnowledgeStore, StoredUnit, image_key, pin_key, stack_key


class StoreUnits:
    """Units of a ``KnowledgeStore`` by package name; counts what was read, for the report."""

    def __init__(self, store: KnowledgeStore) -> None:
        self.store = store
        self._parsed: dict[int, Unit] = {}
        self._lock = threading.Lock()
        self.packages_asked: set[str] = set()

    def units_for(self, names: Iterable[str]) -> Sequence[Unit]:
        wanted = [n for n in names if n != ANY_PACKAGE and not n.startswith("@") and "==" not in n]
        with self._lock:
            self.packages_asked.update(wanted)
            return self._parse(self.store.units_for(wanted))

    def units_in_stack(self, names: Iterable[str]) -> Sequence[Unit]:
        with self._lock:
            return self._parse(self.store.units_for(stack_key(n) for n in names))

    def independent(self, base_image: Optional[str] = None) -> Sequence[Unit]:
        keys = [ANY_PACKAGE]
        if base_image:
            untagged = base_image.rsplit(":", 1)[0] if ":" in base_image.rsplit("/", 1)[-1] else base_image
            keys += [image_key(base_image), image_key(untagged)]
        with self._lock:
            return self._parse(self.store.units_for(keys))

    def units_pinned(self, pins: Iterable[tuple[str, str]]) -> Sequence[Unit]:
        keys = [pin_key(name, version) for name, version in pins]
        with self._lock:
            return self._parse(self.store.units_for(keys))

    def units_named(self, names: Iterable[str]) -> Sequence[Unit]:
        with self._lock:
            return self._parse(self.store.units_named(names))

    @property
    def units_read(self) -> int:
        return len(self._parsed)

    def _parse(self, rows: Sequence[StoredUnit]) -> list[Unit]:
        formed = [r for r in rows if r.id not in self._parsed and r.form is not None]
        built = form_units([(r.name, r.form, r.path) for r in formed if r.form is not None], origin=ORIGIN)
        for row, unit in zip(formed, built):
            if unit is not None:  # else not a form this thoth-pip can read (a store changed by hand?): a sync recompiles it
                self._parsed[row.id] = unit
        out = []
        for row in rows:
            if row.id not in self._parsed and row.form is None:
                unit = _parsed(row)
                if unit is None:
                    continue  # compiled by another version of thoth-pip; the next sync recompiles it
                self._parsed[row.id] = unit
            if row.id in self._parsed:
                out.append(self._parsed[row.id])
        return out


def _parsed(row: StoredUnit) -> Optional[Unit]:
    """The unit of a row without a form of this layout, parsed from its document (None when that no longer parses)."""
    try:
        return parse_unit(row.section, row.document, path=row.path, origin=ORIGIN, index=row.position)
    except InputFileError:
        return None
