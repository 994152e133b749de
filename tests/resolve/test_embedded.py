"""Behaviour of resolve() beyond pins: laziness, prefetching, events, improvement, categories."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone

import pytest
from packaging.utils import NormalizedName, canonicalize_name

from micro_thoth import errors
from micro_thoth.models import Dependency, DirectReference, Source
from micro_thoth.resolve import ResolverReporter, changed, improve, resolve, resolve_categories
from micro_thoth.resolve.embedded import EmbeddedResolver
from tests.resolve.memory_source import MemorySource
from tests.resolve.support import ScorePolicy, make_target

TARGET = make_target("3.11.4")


def _source(**projects: list[dict[str, object]]) -> MemorySource:
    return MemorySource({"main": projects})


def test_metadata_is_fetched_only_for_candidates_being_pinned() -> None:
    source = _source(
        a=[{"version": str(v), "requires_dist": ["b"]} for v in ("1.0", "1.1", "1.2", "1.3")],
        b=[{"version": "1.0"}, {"version": "2.0"}],
    )
    resolve([Dependency("a")], source=source, target=TARGET)
    assert sorted(source.metadata_calls) == ["a-1.3-py3-none-any.whl", "b-2.0-py3-none-any.whl"]


def test_dependencies_are_prefetched_as_soon_as_known() -> None:
    """The roots' pages all at once before resolvelib asks for the first, then each dependency's
    as soon as a pin names it (never one a marker leaves out)."""
    source = _source(a=[{"version": "1.0", "requires_dist": ["b", "c; python_version < '3'"]}], b=[{"version": "1"}],
                     d=[{"version": "1.0"}])
    resolve([Dependency("d"), Dependency("a"), Dependency("e", markers="python_version < '3'")], source=source, target=TARGET)
    assert source.prefetched == ["a", "d", "b"]


def test_metadata_is_read_from_the_best_wheel_for_the_target() -> None:
    source = _source(a=[{"version": "1.0", "files": ["sdist", "py2.py3-none-any", "cp311-cp311-manylinux_2_17_x86_64"]}])
    resolve([Dependency("a")], source=source, target=TARGET)
    assert source.metadata_calls == ["a-1.0-cp311-cp311-manylinux_2_17_x86_64.whl"]


class Events(ResolverReporter):
    def __init__(self) -> None:
        self.seen: list[tuple[str, ...]] = []

    def starting(self) -> None:
        self.seen.append(("starting",))

    def pinning(self, name: str, version: str) -> None:
        self.seen.append(("pinning", name, version))

    def rejecting(self, name: str, version: str) -> None:
        self.seen.append(("rejecting", name, version))

    def backtracking(self, causes: Sequence[str]) -> None:
        self.seen.append(("backtracking", *causes))

    def ending(self, pins: int) -> None:
        self.seen.append(("ending", str(pins)))


def test_reporter_hears_pins_and_backtracking() -> None:
    source = _source(
        a=[{"version": "1.0", "requires_dist": ["b>=1"]}, {"version": "2.0", "requires_dist": ["b<1"]}],
        b=[{"version": "0.5"}, {"version": "1.5"}],
    )
    events = Events()
    resolve([Dependency("b", ">=1"), Dependency("a")], source=source, target=TARGET, reporter=events)
    assert events.seen[0] == ("starting",)
    assert events.seen[-1] == ("ending", "2")
    assert ("pinning", "a", "1.0") in events.seen
    assert any(e[0] in ("backtracking", "rejecting") for e in events.seen)


def test_too_many_rounds_is_translated() -> None:
    source = _source(
        a=[{"version": str(v), "requires_dist": ["b"]} for v in range(1, 30)],
        b=[{"version": "1.0", "requires_dist": ["a<0"]}],
    )
    with pytest.raises(errors.ResolutionTooDeep) as caught:
        resolve([Dependency("a")], source=source, target=TARGET, max_rounds=5)
    assert isinstance(caught.value.__cause__, Exception)


def test_improvement_is_deterministic_and_bounded() -> None:
    source = _source(
        a=[{"version": "1.0", "requires_dist": ["c==1.0"]}, {"version": "2.0", "requires_dist": ["c==2.0"]}],
        b=[{"version": "1.0", "requires_dist": ["d==1.0"]}, {"version": "2.0", "requires_dist": ["d==2.0"]}],
        c=[{"version": "1.0"}, {"version": "2.0"}],
        d=[{"version": "1.0"}, {"version": "2.0"}],
    )
    policy = ScorePolicy({"c==2.0": -2.0, "d==2.0": -2.0})
    requirements = [Dependency("a"), Dependency("b")]
    first = resolve(requirements, source=source, target=TARGET, policy=policy)
    assert first.score == -4.0
    one = improve(first, requirements, source=source, target=TARGET, policy=policy, limit=1, seed=3)
    again = improve(first, requirements, source=source, target=TARGET, policy=policy, limit=1, seed=3)
    assert one.versions() == again.versions() and one.score == -2.0
    best = improve(first, requirements, source=source, target=TARGET, policy=policy, limit=5, seed=3)
    assert best.versions() == {"a": "1.0", "b": "1.0", "c": "1.0", "d": "1.0"}
    none = improve(first, requirements, source=source, target=TARGET, policy=policy, limit=5, timeout=0.0)
    assert none is first


def test_improvement_never_admits_a_refused_candidate() -> None:
    source = _source(a=[{"version": "1.0"}, {"version": "2.0"}, {"version": "3.0"}])
    policy = ScorePolicy({"a==3.0": -1.0, "a==2.0": -3.0}, refuse=["a==1.0"])
    first = resolve([Dependency("a")], source=source, target=TARGET, policy=policy)
    best = improve(first, [Dependency("a")], source=source, target=TARGET, policy=policy, limit=5)
    assert best.versions() == {"a": "3.0"}


def test_categories_share_versions_and_keep_their_preferences() -> None:
    source = _source(
        a=[{"version": "1.0", "requires_dist": ["shared"]}],
        t=[{"version": "1.0", "requires_dist": ["shared>=1"]}, {"version": "2.0", "requires_dist": ["shared>=1"]}],
        shared=[{"version": "1.0"}, {"version": "1.5"}],
    )
    out = resolve_categories(
        {"default": [Dependency("a")], "develop": [Dependency("t")], "docs": []},
        source=source,
        target=TARGET,
        preferences={"default": {"shared": "1.0"}, "develop": {"t": "1.0"}},
    )
    assert out["default"].versions() == {"a": "1.0", "shared": "1.0"}
    assert out["develop"].versions() == {"t": "1.0", "shared": "1.0"}
    assert out["docs"].versions() == {}


def test_changed_reports_version_differences() -> None:
    source = _source(a=[{"version": "2.0"}], b=[{"version": "1.0"}])
    new = resolve([Dependency("a"), Dependency("b")], source=source, target=TARGET)
    assert changed({"A": "==1.0", "b": "1.0", "gone": "3"}, new) == {"a": ("1.0", "2.0"), "gone": ("3", None)}


def test_graph_lists_requirements_per_parent() -> None:
    source = _source(a=[{"version": "1.0", "requires_dist": ["b>=1; python_version >= '3'"]}], b=[{"version": "1.0"}])
    resolution = resolve([Dependency("a", ">=1")], source=source, target=TARGET)
    assert resolution.graph == {None: (("a", "a>=1"),), "a": (("b", "b>=1"),)}


class PrefetchingSource(MemorySource):
    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.metadata_prefetched: list[str] = []

    def prefetch_metadata(self, artifacts: Sequence[object], then: object = None) -> None:
        self.metadata_prefetched.extend(a.filename for a in artifacts)  # type: ignore[attr-defined]


class SpeculatingSource(MemorySource):
    """Brings a prefetched file's metadata at once and hands it to ``then``, as a prefetch thread does."""

    def prefetch_metadata(self, artifacts: Sequence[object], then: object = None) -> None:
        for artifact in artifacts:
            if callable(then):
                then(self._metadata[artifact.url])  # type: ignore[attr-defined]

    def prefetch(self, names: Iterable[NormalizedName], then: object = None) -> None:
        self.prefetched.extend(f"{n} after {len(self.metadata_calls)} metadata" for n in names)


def test_metadata_of_the_likely_next_pin_is_prefetched_when_the_source_can() -> None:
    source = PrefetchingSource(
        {"main": {"a": [{"version": "1.0", "requires_dist": ["b"]}], "b": [{"version": "1.0"}, {"version": "2.0"}]}}
    )
    resolve([Dependency("a")], source=source, target=TARGET)
    assert source.metadata_prefetched == ["a-1.0-py3-none-any.whl", "b-2.0-py3-none-any.whl"]


def test_a_likely_pins_dependencies_pages_are_prefetched_as_its_metadata_arrives() -> None:
    """Speculation on a prefetched metadata: the pages of the dependencies the target's markers keep, before
    the resolver pins it; never an extra's, one a marker leaves out, a direct reference, or a name bound to an
    index (a private name is never asked of another index)."""
    source = SpeculatingSource({
        "main": {"a": [{"version": "1.0", "requires_dist": [
            "b", "c; python_version < '3'", "d; extra == 'x'", "p", "u @ https://example.invalid/u-1.0.tar.gz"]}],
            "b": [{"version": "1.0"}], "d": [{"version": "1.0"}]},
        "private": {"p": [{"version": "1.0"}]},
    }, directs={"https://example.invalid/u-1.0.tar.gz": {"version": "1.0"}})
    resolve([Dependency("a"), Dependency("p", index="private")], source=source, target=TARGET)
    assert source.prefetched[:2] == ["a after 0 metadata", "b after 0 metadata"]  # b before a is pinned
    assert not {n.split()[0] for n in source.prefetched} & {"c", "d", "p", "u"}
    assert ("p", "main") not in source.pages and ("p", None) not in source.pages


class BuildCounting(MemorySource):
    """Records which versions' files the resolver built (a stored page builds them on demand)."""

    def __init__(self, **projects: list[dict[str, object]]) -> None:
        super().__init__({"main": projects})
        self.built: list[str] = []

    def project(self, name, *, index=None):  # type: ignore[no-untyped-def]
        page = super().project(name, index=index)
        counting = self.built

        class Counted(type(page)):  # type: ignore[misc]
            def version_files(self):  # type: ignore[no-untyped-def]
                def built(version, files):  # type: ignore[no-untyped-def]
                    return lambda: (counting.append(f"{name}=={version}"), files())[1]
                return [(v, built(v, f)) for v, f in super().version_files()]

        return Counted(name=page.name, index=page.index, artifacts=page.artifacts)


class RefusingPolicy(ScorePolicy):
    """Refuses without ranking: the provider may judge lazily, newest first."""

    def ranks(self, name: str, versions: Sequence[object]) -> bool:
        return any(key.split("==")[0] == name for key in self.scores) or name in self.offers


def test_releases_are_judged_newest_first_only_as_far_as_the_resolver_goes() -> None:
    source = BuildCounting(a=[{"version": f"1.{v}"} for v in range(10)])
    policy = RefusingPolicy(refuse=["a==1.9"])
    resolution = resolve([Dependency("a")], source=source, target=TARGET, policy=policy)
    assert resolution.pins["a"].version == "1.8"
    assert policy.judged == ["a==1.9", "a==1.8"]
    assert source.built == ["a==1.9", "a==1.8"]


def test_a_policy_that_scores_a_project_judges_all_its_releases() -> None:
    source = BuildCounting(a=[{"version": f"1.{v}"} for v in range(4)])
    policy = RefusingPolicy(scores={"a==1.1": 0.5})
    resolution = resolve([Dependency("a")], source=source, target=TARGET, policy=policy)
    assert resolution.pins["a"].version == "1.1"
    assert sorted(policy.judged) == ["a==1.0", "a==1.1", "a==1.2", "a==1.3"]


def test_a_previous_pin_is_found_lazily_and_the_newer_one_named() -> None:
    source = BuildCounting(a=[{"version": f"1.{v}"} for v in range(10)])
    policy = RefusingPolicy(refuse=["a==1.9"])
    resolution = resolve([Dependency("a")], source=source, target=TARGET, policy=policy, preferences={"a": "==1.5"})
    assert (resolution.pins["a"].version, resolution.pins["a"].newer) == ("1.5", "1.8")
    assert policy.judged == ["a==1.9", "a==1.8", "a==1.7", "a==1.6", "a==1.5"]


@dataclasses.dataclass(frozen=True)
class _Input:
    """A ResolverInput of roots only."""

    categories: Mapping[str, Sequence[Dependency]]
    pinned_indexes: Mapping[NormalizedName, str] = dataclasses.field(default_factory=dict)
    constraints: Sequence[Dependency] = ()
    sources: tuple[Source, ...] = (Source("main", "https://index.example.invalid/simple"),)
    allow_prereleases: bool = False
    upgrade: bool = False

    def preferences(self) -> Mapping[str, Mapping[NormalizedName, str]]:
        return {}


def test_the_roots_pages_are_prefetched_while_the_target_is_learned() -> None:
    """``EmbeddedResolver.prefetch`` (called before the target is known) asks for the roots' pages the
    Provider would prefetch, of every category, and the next resolve of that input uses that very source."""
    made: list[MemorySource] = []

    def source_for(*_args: object) -> MemorySource:
        made.append(_source(a=[{"version": "1.0"}]))
        return made[-1]

    project = _Input({
        "default": [Dependency("b"), Dependency("A"), Dependency("c", markers="os_name == 'nt'"), Dependency("d", index="private"),
                    Dependency("e", direct=DirectReference("file", "https://files.example.invalid/e-1.0.tar.gz")), Dependency("g")],
        "develop": [Dependency("f"), Dependency("b")],
    }, pinned_indexes={canonicalize_name("g"): "private"})
    resolver = EmbeddedResolver(source_for, lambda *_args: contextlib.nullcontext())  # type: ignore[arg-type]
    resolver.prefetch(project, None)  # type: ignore[arg-type]
    assert made[0].prefetched == ["a", "b", "f"]
    assert resolver._source(project, None) is made[0]  # type: ignore[arg-type]  # what resolve() uses
    assert resolver._source(project, None) is made[1]  # type: ignore[arg-type]  # once only
    resolver.prefetch(project, None)  # type: ignore[arg-type]
    assert resolver._source(project, datetime(2024, 1, 1, tzinfo=timezone.utc)) is made[3]  # type: ignore[arg-type]
