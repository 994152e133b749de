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
