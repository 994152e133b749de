"""The resolver over the real IndexClient and a local HTTP index (PEP 691/503/658)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import httpx
import pytest

from micro_thoth.models import Dependency, Source
from micro_thoth.resolve import resolve
from micro_thoth.resolve.protocols import PackageSource
from tests.resolve.support import make_target
from tests.support.builder import Dist
from tests.support.index_server import LocalIndex

index_module = pytest.importorskip("micro_thoth.index")


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client() as client:
        yield client


def _client(http: httpx.Client, indexes: Sequence[tuple[str, LocalIndex]]) -> PackageSource:
    sources = [Source(name, server.url) for name, server in indexes]
    client: PackageSource = index_module.IndexClient(sources, client=http)
    return client


def test_chain_pins_every_file_with_its_real_digest(index: LocalIndex, http: httpx.Client) -> None:
    index.add(Dist("App", "1.0", requires_dist=["lib>=1", "extra-only; extra == 'x'"]), sdist=True)
    index.add(Dist("lib", "1.0"))
    lib2 = index.add(Dist("lib", "2.0", requires_python=">=3.8"), sdist=True)
    source = _client(http, [("main", index)])

    resolution = resolve([Dependency("app")], source=source, target=make_target("3.11.4"))

    assert resolution.versions() == {"app": "1.0", "lib": "2.0"}
    pin = resolution.pins["lib"]
    assert {a.sha256 for a in pin.artifacts} == {f.sha256 for f in lib2}
    assert pin.index == Source("main", index.url)
    assert pin.markers == "python_version >= '3.8'"
    assert resolution.pins["app"].name == "App"


def test_only_the_pinned_versions_metadata_is_fetched(index: LocalIndex, http: httpx.Client) -> None:
    for version in ("1.0", "1.1", "1.2"):
        index.add(Dist("a", version, requires_dist=["b"]))
    index.add(Dist("b", "1.0"))
    source = _client(http, [("main", index)])

    resolve([Dependency("a")], source=source, target=make_target())

    fetched = [r for r in index.requests if ".metadata" in r or r.endswith(".whl")]
    assert any("a-1.2-" in r for r in fetched)
    assert not any("a-1.0-" in r or "a-1.1-" in r for r in fetched), fetched


def test_index_pinning_ignores_a_higher_version_elsewhere(index_factory: type[LocalIndex], http: httpx.Client) -> None:
    public, private = index_factory(), index_factory()
    public.add(Dist("corp-lib", "99.0"))
    public.add(Dist("tool", "1.0", requires_dist=["corp-lib"]))
    private.add(Dist("corp-lib", "1.3"))
    source = _client(http, [("public", public), ("private", private)])

    resolution = resolve(
        [Dependency("tool"), Dependency("corp-lib", index="private")], source=source, target=make_target()
    )

    assert resolution.versions() == {"corp-lib": "1.3", "tool": "1.0"}
    assert resolution.pins["corp-lib"].index == Source("private", private.url)
    assert not public.requested("corp-lib"), public.requests


def test_yanked_over_http_is_used_only_when_pinned(index: LocalIndex, http: httpx.Client) -> None:
    index.add(Dist("a", "1.0"))
    index.add(Dist("a", "1.1"), yanked="bad")
    source = _client(http, [("main", index)])
    target = make_target()

    assert resolve([Dependency("a")], source=source, target=target).versions() == {"a": "1.0"}
    assert resolve([Dependency("a", "==1.1")], source=source, target=target).versions() == {"a": "1.1"}


@pytest.mark.slow
def test_sdist_only_release_is_resolved_through_its_built_metadata(index: LocalIndex, http: httpx.Client) -> None:
    index.add(Dist("only-source", "1.0", requires_dist=["lib"]), wheel=False, sdist=True)
    index.add(Dist("lib", "2.0"))
    source = _client(http, [("main", index)])

    resolution = resolve([Dependency("only-source")], source=source, target=make_target())

    assert resolution.versions() == {"only-source": "1.0", "lib": "2.0"}
    assert [a.filename for a in resolution.pins["only-source"].artifacts] == ["only_source-1.0.tar.gz"]
