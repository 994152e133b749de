"""How pipeline outcomes are told to the user: the console gets values, never raw text from stages."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from ..guidance.typosquat import typo_warnings
from ..models import Justification
from ..settings import Settings


def _sync_dict(outcome: Any) -> dict[str, Any]:
    plan, result = outcome.plan, outcome.result
    return {
        "environment": str(outcome.environment),
        "dry_run": outcome.dry_run,
        "plan": plan.describe(),
        "installed": list(result.installed) if result else [],
        "removed": list(result.removed) if result else [],
        "unchanged": len(plan.unchanged),
        "seconds": round(outcome.seconds, 3),
    }


def sync_outcome(outcome: Any, settings: Settings, console: Any) -> int:
    """Print a sync's plan (dry run) or its final line; return the exit code."""
    plan, result = outcome.plan, outcome.result
    if settings.json_output:
        console.json(_sync_dict(outcome))
        return 0
    if outcome.dry_run:
        console.info(f"Would change {outcome.environment}:")
        for line in plan.describe():
            console.info(f"  {line}")
        return 0
    if result is None:
        count = len(plan.unchanged)
        console.success(f"Nothing to do: {count} package{'s' if count != 1 else ''} already installed ({outcome.seconds:.2f}s)")
        return 0
    for name in plan.damaged:
        console.info(f"Repaired {name}: its installed files were edited or missing (reinstalled from the cache)")
    for name in result.removed:
        console.debug(f" - {name}")
    for name in result.installed:
        console.debug(f" + {name}")
    count = len(result.installed)
    console.success(f"Installed {count} package{'s' if count != 1 else ''} in {outcome.seconds:.1f}s")
    return 0


def guidance_warnings(outcome: Any) -> list[Justification]:
    """The WARNING/ERROR justifications of a lock: about the chosen packages and the whole stack.

    From the guidance report when there is one (refusals of releases not chosen are left
    out: they are the report's business), else from the resolved pins' own verdicts.
    """
    report = getattr(outcome, "report", None)
    if report is not None:
        said: Iterable[Justification] = (
            *(j for p in report.packages for j in p.justifications), *report.justification, *report.stack_info,
        )
    else:
        said = (j for r in outcome.resolutions.values() for pin in r.pins.values() for j in pin.justifications)
    said = (*getattr(outcome, "notes", ()), *said)
    return list(dict.fromkeys(j for j in said if j.type != "INFO"))


def held_back(outcome: Any) -> list[str]:
    """Every release newer than the one locked that guidance refused, with why and the way out
    (``idna 3.21 held back: uploaded 2 days ago, stable waits 7 days; ...``)."""
    report = getattr(outcome, "report", None)
    chosen = {key: pin.version for r in outcome.resolutions.values() for key, pin in r.pins.items()}
    lines = []
    for refusal in getattr(report, "refused", ()) if report is not None else ():
        locked = chosen.get(canonicalize_name(refusal.name))
        if locked is not None and _newer(refusal.version, locked):
            why = "; ".join(j.message.removeprefix("refused: ") for j in refusal.reasons)
            lines.append(f"{refusal.name} {refusal.version} held back: {why}")
    return list(dict.fromkeys(lines))


def kept_pins(outcome: Any) -> list[str]:
    """Pins the existing lock kept though a newer acceptable release exists (``pipenv lock`` would
    take it): named, with the way to move (docs/differences.md)."""
    kept = {(pin.name, pin.version, pin.newer) for r in outcome.resolutions.values() for pin in r.pins.values() if pin.newer}
    return [f"{name} {version} kept from the existing lock ({newer} is newer; `thoth-pip update {name}` takes it)"
            for name, version, newer in sorted(kept)]


def _newer(version: str, than: str) -> bool:
    try:
        return Version(version) > Version(than)
    except InvalidVersion:
        return False


def typo_lines(outcome: Any) -> list[str]:
    """Requested names that look like typos of popular projects, among those resolved from the
    project's first (public) index: a name found on another source, or pinned to it, is private."""
    sources = outcome.lock.sources if outcome.lock is not None else ()
    public = sources[0].name if sources else None
    names = (
        name
        for resolution in outcome.resolutions.values()
        for name in resolution.roots
        if (pin := resolution.pins.get(name)) is None or pin.index is None or public is None or pin.index.name == public
    )
    return typo_warnings(dict.fromkeys(names))


def _said(justification: Justification) -> str:
    about = f"{justification.package} {justification.version}: " if justification.package and justification.version else ""
    return f"{about}{justification.message}" + (f" ({justification.link})" if justification.link else "")


def knowledge_lines(knowledge: Mapping[str, Any], printed: Iterable[str] = ()) -> list[tuple[str, bool]]:
    """The report's knowledge for a terminal: what was used, counts by type, every warning in full (bar ``printed`` ones)."""
    shown = set(printed)  # messages, then whole lines: the same warning about two releases is told once
    if not knowledge:
        return []
    sources = ", ".join(f"{s['name']} {str(s.get('revision') or 'unversioned')[:19]}" for s in knowledge.get("sources", ()))
    lines = [(
        f"knowledge: {knowledge.get('units_read', 0)} of {knowledge.get('units_available', 0)} synced units read for "
        f"{knowledge.get('packages_considered', 0)} packages, {knowledge.get('advisories', 0)} advisories "
        f"({sources or 'no synced sources'}; digest {str(knowledge.get('digest', ''))[:12]})",
        False,
    )]
    entries = [(name, e) for name, found in knowledge.get("by_package", {}).items() for e in found]
    counts = ", ".join(f"{n} {t}" for t, n in knowledge.get("counts", {}).items())
    if entries:
        units = len({e.get("unit") for _n, e in entries})
        lines.append((f"knowledge said {len(entries)} things ({counts}) from {units} units and advisories about "
                      f"{len({n for n, _e in entries})} packages; `thoth-pip advise --json` lists them", False))
    for name, entry in entries:
        if entry["type"] == "INFO" or entry["message"] in shown:
            continue  # before the line is made: a stack's wraps say hundreds of INFOs
        where = f"{entry.get('origin')} {entry.get('path') or entry.get('unit')}"
        about = f"{name} {entry['version']}" if name and entry.get("version") else name or "stack"
        line = f"{about}: {entry['message']}" + (f" ({entry['link']})" if entry.get("link") else "") + f" ({where})"
        if line not in shown:
            shown.add(line)
            lines.append((line, True))
    return lines


def not_from_knowledge(knowledge: Mapping[str, Any], said: Iterable[Justification]) -> list[Justification]:
    """What ``said`` holds beyond what knowledge said (``knowledge_lines`` tells that), once each."""
    known = {e["message"] for found in knowledge.get("by_package", {}).values() for e in found}
    return [j for j in dict.fromkeys(said) if j.message not in known]



def _lock_dict(outcome: Any) -> dict[str, Any]:
    return {
        "path": str(outcome.path) if outcome.path else None,
        "written": outcome.written,
        "packages": outcome.package_count,
        "changes": {k: {"old": old, "new": new} for k, (old, new) in outcome.changes.items()},
        "seconds": round(outcome.seconds, 3),
        "justifications": [j.to_dict() for r in outcome.resolutions.values() for j in r.justifications],
        "warnings": [j.to_dict() for j in guidance_warnings(outcome)],
        "typos": typo_lines(outcome),
        "held_back": held_back(outcome),
        "kept": kept_pins(outcome),
        "knowledge": dict(outcome.report.knowledge) if getattr(outcome, "report", None) is not None else None,
    }


def lock_outcome(outcome: Any, settings: Settings, console: Any, *, warnings: bool = True) -> int:
    """Print a lock's result: where it went, how many packages, what moved, what guidance warns of
    (``warnings=False`` when the full guidance report was printed already)."""
    if settings.json_output:
        console.json(_lock_dict(outcome))
        return 0
    if outcome.path is None:
        console.out.write(outcome.text)
        console.out.flush()
    for name, (old, new) in sorted(outcome.changes.items()):
        if old and new:
            console.info(f"  {name} {old} -> {new}")
        elif new:
            console.info(f"  + {name} {new}")
        else:
            console.info(f"  - {name} {old}")
    for line in (*held_back(outcome), *kept_pins(outcome)):
        console.info(f"  {line}")
    knowledge = outcome.report.knowledge if getattr(outcome, "report", None) is not None else {}
    for justification in not_from_knowledge(knowledge, guidance_warnings(outcome)) if warnings else ():
        console.warn(_said(justification))
    told = knowledge_lines(knowledge) if warnings and knowledge.get("by_package") else []  # advise's summary, when knowledge spoke
    for line, warning in told:
        (console.warn if warning else console.info)(line)
    for line in typo_lines(outcome):
        console.warn(line)
    where = outcome.path.name if outcome.path else "stdout"
    verb = "Locked" if outcome.written or outcome.path is None else "Resolved (not written)"
    console.success(f"{verb} {outcome.package_count} packages in {outcome.seconds:.1f}s ({where})")
    return 0


def install_outcome(outcome: Any, settings: Settings, console: Any, *, lock_told: bool = False) -> int:
    """The lock's lines (when one was made and not ``lock_told`` already), then the sync's;
    with --json one object with both."""
    if settings.json_output:
        locked = _lock_dict(outcome.locked) if outcome.locked is not None else None
        console.json({**_sync_dict(outcome.synced), "lock": locked})
        return 0
    if outcome.locked is not None and not lock_told:
        lock_outcome(outcome.locked, settings, console)
    return sync_outcome(outcome.synced, settings, console)


def lock_teller(settings: Settings, console: Any) -> Callable[[Any], object]:
    """What ``install`` calls as soon as it has locked: the lock's lines, before the sync's bars."""
    if settings.json_output:
        return lambda locked: None
    return lambda locked: lock_outcome(locked, settings, console)
