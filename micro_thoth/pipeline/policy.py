"""The live guidance policy of one lock run: recommendation type, knowledge (units, store, advisories), licences, cooldown.

``open_policy`` turns a run's ``LockPolicy`` (data) into the ``GuidancePolicy``
the embedded resolver consults, and closes its knowledge store after.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

from ..environment.runtime import RuntimeEnvironment
from ..guidance.licenses import LicensePolicy
from ..guidance.policy import GuidancePolicy
from ..guidance.recommendation import Recommendation, parse_duration, reference_time
from ..guidance.selection import UnitContext
from ..guidance.units import Unit
from ..knowledge import prescriptions as rx
from ..knowledge.advisories import AdvisoryDB
from ..knowledge.locations import user_prescriptions_dir
from ..knowledge.lookup import StoreUnits
from ..knowledge.store import STORE_FILE
from ..models import Source
from ..reporting import NULL_REPORTER, Reporter
from ..resolve.resolver import LockPolicy
from ..settings import Settings
from .knowledge_store import open_store, release_advisories, run_store

ADVISORIES_DB = STORE_FILE  # the advisories are a table of the knowledge store


def open_advisories(environ: Mapping[str, str]) -> AdvisoryDB:
    """The advisories of the knowledge dir (closing them closes the store)."""
    return open_store(environ).advisories


# -- audit --------------------------------------------------------------------------------------


def load_units(settings: Settings, environ: Mapping[str, str], paths: Sequence[Path] = ()) -> tuple[Unit, ...]:
    """Bundled, user, project (``.thoth/prescriptions``) and explicit units; later ones win by name."""
    return rx.load_prescriptions(
        project_root=settings.project_dir, paths=paths, user_directory=user_prescriptions_dir(environ)
    )


# -- the policy for a run -----------------------------------------------------------------------


def guidance_policy(
    settings: Settings,
    environ: Mapping[str, str],
    *,
    recommendation_type: Optional[str] = None,
    min_release_age: Optional[str] = None,
    runtime_environment: Optional[RuntimeEnvironment] = None,
    labels: Optional[Mapping[str, str]] = None,
    prescriptions: Sequence[Path] = (),
    deny_licenses: Iterable[str] = (),
    allow_vulnerabilities: Iterable[str] = (),
    now: Optional[datetime] = None,
    exclude_newer: Optional[datetime] = None,
    sources: Sequence[Source] = (),
    reporter: Reporter = NULL_REPORTER,
) -> GuidancePolicy:
    """The CandidatePolicy for one lock/advise run (close ``policy.advisories`` with ``close_policy``).

    ``sources`` are the run's indexes: a pseudonym may offer builds from one of them only.
    """
    rtype = recommendation_type or (runtime_environment.recommendation_type if runtime_environment else None)
    age = parse_duration(min_release_age) if min_release_age else None
    recommendation = Recommendation.for_type(rtype, min_release_age=age)
    context = UnitContext.from_runtime(runtime_environment, recommendation.type, labels)
    store, info = run_store(environ, say=reporter.message)
    return GuidancePolicy(
        recommendation,
        now=reference_time(now or datetime.now(timezone.utc), exclude_newer),
        units=load_units(settings, environ, prescriptions),
        context=context,
        knowledge=StoreUnits(store),
        knowledge_info=info,
        advisories=store.advisories,
        licenses=LicensePolicy.deny(deny_licenses),
        allow_vulnerabilities=allow_vulnerabilities,
        indexes={source.expanded_url(environ): source.name for source in sources},
        reporter=reporter,
    )


def close_policy(policy: GuidancePolicy) -> None:
    if isinstance(policy.advisories, AdvisoryDB):
        release_advisories(policy.advisories)


@contextmanager
def open_policy(
    settings: Settings, environ: Mapping[str, str], policy: LockPolicy, sources: Sequence[Source], reporter: Reporter
) -> Iterator[GuidancePolicy]:
    """The live guidance policy of ``policy`` (prescriptions, knowledge, cooldown, licences), closed after."""
    live = guidance_policy(
        settings, environ, recommendation_type=policy.recommendation_type, min_release_age=policy.min_release_age,
        runtime_environment=policy.environment, labels=policy.labels, prescriptions=policy.prescriptions,
        deny_licenses=policy.deny_licenses, allow_vulnerabilities=policy.allow_vulnerabilities,
        exclude_newer=policy.exclude_newer, sources=sources, reporter=reporter,
    )
    try:
        yield live
    finally:
        close_policy(live)
