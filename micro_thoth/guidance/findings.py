"""Dependency Monkey findings as Thoth-format prescription units (pure): a sieve or a step.Group.

A single release that breaks the test whatever accompanies it becomes a
``sieve`` that removes it; a release that breaks only with one release of
another package becomes a ``step.Group`` refusing the pair, as ``thoth-pip
prescription add --incompatible`` writes. Either carries the command, the date
and an excerpt of the output as its justification, for a reviewer to judge.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Optional

import yaml

from .prescriptions import parse_units

EXCERPT_CHARS = 600
SHORT_CHARS = 160  # what a lock prints when the unit refuses something


@dataclass(frozen=True)
class Finding:
    """``package==version`` broke ``command`` (with ``partner==version`` when a pair)."""

    package: str
    version: str
    command: str
    when: datetime
    excerpt: str = ""
    partner: Optional[tuple[str, str]] = None

    @property
    def slug(self) -> str:
        parts = [self.package, self.version, *(self.partner or ())]
        return re.sub(r"[^a-z0-9.]+", "-", "-".join(parts).lower()).strip("-")

    def describe(self) -> str:
        pair = f" with {self.partner[0]}=={self.partner[1]}" if self.partner else ""
        return f"{self.package}=={self.version}{pair}"

    def reason(self, chars: int = EXCERPT_CHARS) -> str:
        """Command, date and the tail of the output (``chars`` of it)."""
        excerpt = " ".join(self.excerpt.split())[-chars:]
        return (f"Dependency Monkey: `{self.command}` failed with {self.describe()} on "
                f"{self.when:%Y-%m-%d %H:%M} UTC" + (f"; output: ...{excerpt}" if excerpt else ""))


def unit_document(finding: Finding) -> dict[str, Any]:
    """The YAML document (as data) of the finding's unit."""
    digest = hashlib.sha256(f"{finding.describe()}|{finding.command}".encode()).hexdigest()[:8]
    message, short = finding.reason(), finding.reason(SHORT_CHARS)
    first = {"package_version": {"name": finding.package, "version": f"=={finding.version}"}}
    if finding.partner is None:
        return {"units": {"sieves": [{
            "name": f"MonkeySieve-{finding.slug}-{digest}", "type": "sieve",
            "should_include": {"adviser_pipeline": True}, "match": [first],
            "run": {"log": {"type": "WARNING", "message": short}, "stack_info": [{"type": "WARNING", "message": message}]},
        }]}}
    second = {"package_version": {"name": finding.partner[0], "version": f"=={finding.partner[1]}"}}
    return {"units": {"steps": [{
        "name": f"MonkeyIncompatibility-{finding.slug}-{digest}", "type": "step.Group",
        "should_include": {"adviser_pipeline": True}, "match": {"group": [first, second]},
        "run": {"not_acceptable": short, "justification": [{"type": "ERROR", "message": message}]},
    }]}}


def unit_text(finding: Finding) -> str:
    """The unit file's text, checked to load as our parser reads prescriptions."""
    header = "# Found by the Dependency Monkey (`thoth-pip monkey --test CMD`): review before sharing; delete to lift.\n"
    text = header + yaml.safe_dump(unit_document(finding), sort_keys=False, allow_unicode=True, width=100)
    parse_units(text, path=f"monkey-{finding.slug}.yaml", origin="project")
    return text
