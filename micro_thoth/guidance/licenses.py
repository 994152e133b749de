"""Licence policy: is a distribution's licence on the deny list (SPDX ids or classifier names)?

The deny list holds SPDX identifiers (``GPL-3.0-only``), trove classifiers
(``License :: OSI Approved :: GNU General Public License v3 (GPLv3)``) or their
last segment (``GNU General Public License v3 (GPLv3)``), compared without
case. A ``License-Expression`` is evaluated: ``MIT OR GPL-3.0-only`` is allowed
(the user may take MIT), ``MIT AND GPL-3.0-only`` is denied. Without an
expression the ``License`` field and the licence classifiers are checked; a
distribution denied by any of them is denied.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Optional

from ..artifacts import CoreMetadata
from .spdx import spdx_id

_TOKEN = re.compile(r"\(|\)|[^\s()]+")


@dataclass(frozen=True)
class LicensePolicy:
    """The denied licences, normalised for comparison."""

    denied: frozenset[str]

    @classmethod
    def deny(cls, names: Iterable[str]) -> LicensePolicy:
        """The names as given, and their SPDX ids (``GPLv3`` denies the GPLv3 classifier too)."""
        given = [n.strip() for n in names if n.strip()]
        return cls(frozenset(n.lower() for n in given) | frozenset(s.lower() for n in given if (s := spdx_id(n))))

    def __bool__(self) -> bool:
        return bool(self.denied)

    def denied_by(self, metadata: CoreMetadata) -> Optional[str]:
        """The licence that is denied (its SPDX id when it has one), or None if the distribution is acceptable."""
        if metadata.license_expression:
            return metadata.license_expression if not self._expression_allowed(metadata.license_expression) else None
        if metadata.license and self._name_denied(metadata.license):
            return spdx_id(metadata.license) or metadata.license
        for classifier in metadata.classifiers:
            if classifier.startswith("License ::") and self._classifier_denied(classifier):
                return spdx_id(classifier) or classifier
        return None

    def _name_denied(self, name: str) -> bool:
        spdx = spdx_id(name)
        return name.strip().lower() in self.denied or (spdx is not None and spdx.lower() in self.denied)

    def _classifier_denied(self, classifier: str) -> bool:
        last = classifier.rsplit("::", 1)[-1].strip()
        return classifier.lower() in self.denied or self._name_denied(last)

    def _expression_allowed(self, expression: str) -> bool:
        tokens = _TOKEN.findall(expression)
        try:
            allowed, rest = self._any(tokens)
        except IndexError:
            return expression.strip().lower() not in self.denied
        return allowed if not rest else expression.strip().lower() not in self.denied

    def _any(self, tokens: Sequence[str]) -> tuple[bool, Sequence[str]]:
        allowed, rest = self._all(tokens)
        while rest and rest[0].upper() == "OR":
            right, rest = self._all(rest[1:])
            allowed = allowed or right
        return allowed, rest

    def _all(self, tokens: Sequence[str]) -> tuple[bool, Sequence[str]]:
        allowed, rest = self._one(tokens)
        while rest and rest[0].upper() == "AND":
            right, rest = self._one(rest[1:])
            allowed = allowed and right
        return allowed, rest

    def _one(self, tokens: Sequence[str]) -> tuple[bool, Sequence[str]]:
        if tokens[0] == "(":
            allowed, rest = self._any(tokens[1:])
            return allowed, rest[1:] if rest and rest[0] == ")" else rest
        name, rest = tokens[0].lower(), tokens[1:]
        if rest and rest[0].upper() == "WITH":
            exception, rest = rest[1].lower(), rest[2:]
            return name not in self.denied and f"{name} with {exception}" not in self.denied, rest
        return name.rstrip("+") not in self.denied and name not in self.denied, rest
