"""How pipeline outcomes are told to the user: the console gets values, never raw text from stages."""

from __future__ import annotations

from typing import Any

from ..settings import Settings


def sync_outcome(outcome: Any, settings: Settings, console: Any) -> int:
    """Print a sync's plan (dry run) or its final line; return the exit code."""
    plan, result = outcome.plan, outcome.result
    if settings.json_output:
        console.json(
            {
                "environment": str(outcome.environment),
                "dry_run": outcome.dry_run,
                "plan": plan.describe(),
                "installed": list(result.installed) if result else [],
                "removed": list(result.removed) if result else [],
                "unchanged": len(plan.unchanged),
                "seconds": round(outcome.seconds, 3),
            }
        )
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
    for name in result.removed:
        console.debug(f" - {name}")
    for name in result.installed:
        console.debug(f" + {name}")
    count = len(result.installed)
    console.success(f"Installed {count} package{'s' if count != 1 else ''} in {outcome.seconds:.1f}s")
    return 0


def lock_outcome(outcome: Any, settings: Settings, console: Any) -> int:
    """Print a lock's result: where it went, how many packages, what moved."""
    if settings.json_output:
        console.json(
            {
                "path": str(outcome.path) if outcome.path else None,
                "written": outcome.written,
                "packages": outcome.package_count,
                "changes": {k: {"old": old, "new": new} for k, (old, new) in outcome.changes.items()},
                "seconds": round(outcome.seconds, 3),
                "justifications": [j.to_dict() for r in outcome.resolutions.values() for j in r.justifications],
            }
        )
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
    for resolution in outcome.resolutions.values():
        for justification in resolution.justifications:
            if justification.type != "INFO":
                console.warn(justification.message)
    where = outcome.path.name if outcome.path else "stdout"
    verb = "Locked" if outcome.written or outcome.path is None else "Resolved (not written)"
    console.success(f"{verb} {outcome.package_count} packages in {outcome.seconds:.1f}s ({where})")
    return 0


def install_outcome(outcome: Any, settings: Settings, console: Any) -> int:
    if outcome.locked is not None and not settings.json_output:
        lock_outcome(outcome.locked, settings, console)
    return sync_outcome(outcome.synced, settings, console)
