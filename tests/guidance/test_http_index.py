"""Guided resolution over the real IndexClient and the local HTTP index: upload times, METADATA, advisories."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from micro_thoth.errors import ResolutionError
from micro_thoth.guidance.justification import build_report
from micro_thoth.guidance.licenses import LicensePolicy
from micro_thoth.guidance.policy import GuidancePolicy
from micro_thoth.guidance.recommendation import Recommendation
from micro_thoth.knowledge.advisories import AdvisoryDB
from micro_thoth.models import Dependency, Source
from micro_thoth.resolve import resolve
from tests.resolve.support import make_target
from tests.support.builder import Dist
from tests.support.index_server import LocalIndex

from .helpers import NOW

index_module = pytest.importorskip("micro_thoth.index")
FIXTURES = Path(__file__).parent / "fixtures" / "osv"


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client() as client:
        yield client


@pytest.fixture
def advisories(tmp_path: Path) -> Iterator[AdvisoryDB]:
    db = AdvisoryDB.open(tmp_path / "k.sqlite3")
    db.import_path(FIXTURES)
    yield db
    db.close()


def _uploaded(days_ago: float) -> str:
    return (NOW - timedelta(days=days_ago)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _resolve(index: LocalIndex, http: httpx.Client, policy: GuidancePolicy, *requested: str):  # type: ignore[no-untyped-def]
    source = index_module.IndexClient([Source("main", index.url)], client=http)
    deps = [Dependency(*text.split(" ", 1)) for text in requested]
    return resolve(deps, source=source, target=make_target(), policy=policy)


def test_cooldown_uses_the_index_upload_times(index: LocalIndex, http: httpx.Client) -> None:
    index.add(Dist("widget", "1.0"), upload_time=_uploaded(30))
    index.add(Dist("widget", "1.1"), upload_time=_uploaded(2))
    stable = GuidancePolicy(Recommendation.for_type("stable"), now=NOW)
    assert _resolve(index, http, stable, "widget").versions() == {"widget": "1.0"}
    latest = GuidancePolicy(Recommendation.for_type("latest"), now=NOW)
    assert _resolve(index, http, latest, "widget").versions() == {"widget": "1.1"}


def test_security_avoids_the_vulnerable_release_and_says_why(index: LocalIndex, http: httpx.Client, advisories: AdvisoryDB) -> None:
    index.add(Dist("app", "1.0", requires_dist=["fictional-http>=1.4"]), upload_time=_uploaded(60))
    index.add(Dist("fictional-http", "1.4.1"), upload_time=_uploaded(60))
    index.add(Dist("fictional-http", "1.4.2"), upload_time=_uploaded(50))
    index.add(Dist("fictional-http", "1.5.0rc1"), upload_time=_uploaded(40))
    policy = GuidancePolicy(Recommendation.for_type("security"), now=NOW, advisories=advisories)
    resolution = _resolve(index, http, policy, "app")
    assert resolution.versions()["fictional-http"] == "1.4.2"
    with pytest.raises(ResolutionError):
        _resolve(index, http, policy, "fictional-http <1.4.2")


def test_denied_licence_is_read_from_the_wheel_metadata(index: LocalIndex, http: httpx.Client) -> None:
    index.add(Dist("lib", "1.0", license="MIT"), upload_time=_uploaded(60))
    index.add(Dist("lib", "2.0", classifiers=["License :: OSI Approved :: GNU Affero General Public License v3"]),
              upload_time=_uploaded(60))
    policy = GuidancePolicy(Recommendation.for_type("stable"), now=NOW,
                            licenses=LicensePolicy.deny(["GNU Affero General Public License v3"]))
    resolution = _resolve(index, http, policy, "lib")
    assert resolution.versions() == {"lib": "1.0"}
    report = build_report(policy, resolution)
    assert [(r.name, r.version) for r in report.refused] == [("lib", "2.0")]
    assert "licence" in report.refused[0].reasons[0].message
