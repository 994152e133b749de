"""Resolution cases kept as data files (cases/*.yaml), run through the in-memory source."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from micro_thoth import errors
from micro_thoth.resolve import Resolution, improve, resolve, resolve_categories
from tests.resolve.memory_source import MemorySource
from tests.resolve.support import dependency, make_target, policy_from

CASES = sorted((Path(__file__).parent / "cases").glob("*.yaml"))


def _load(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


def _source(case: dict[str, Any]) -> MemorySource:
    indexes = case.get("indexes") or {"main": case.get("index", {})}
    request = case.get("request", {})
    return MemorySource(indexes, case.get("direct", {}), exclude_newer=request.get("exclude_newer"))


def _options(case: dict[str, Any], source: MemorySource) -> dict[str, Any]:
    request = case.get("request", {})
    return {
        "source": source,
        "target": make_target(**request.get("target", {})),
        "allow_prereleases": request.get("allow_prereleases", False),
        "upgrade": request.get("upgrade", False),
        "policy": policy_from(request.get("policy")),
    }


def _run(case: dict[str, Any], source: MemorySource) -> Resolution | dict[str, Resolution]:
    request = case.get("request", {})
    options = _options(case, source)
    if "categories" in request:
        categories = {k: [dependency(d) for d in v] for k, v in request["categories"].items()}
        return resolve_categories(categories, preferences=request.get("preferences", {}), **options)
    requirements = [dependency(d) for d in request.get("requirements", [])]
    constraints = [dependency(d) for d in request.get("constraints", [])]
    resolution = resolve(requirements, constraints=constraints, preferences=request.get("preferences", {}), **options)
    if "improve" in request:
        options.pop("upgrade")
        resolution = improve(resolution, requirements, constraints=constraints, **request["improve"], **options)
    return resolution


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_case(path: Path) -> None:
    case = _load(path)
    source = _source(case)
    expect = case["expect"]
    if "error" in expect:
        _check_error(case, source, expect)
        return
    outcome = _run(case, source)
    if isinstance(outcome, dict):
        for category, wanted in expect["categories"].items():
            _check(outcome[category], wanted, source)
    else:
        _check(outcome, expect, source)


def _check(resolution: Resolution, expect: dict[str, Any], source: MemorySource) -> None:
    assert resolution.versions() == {k: str(v) for k, v in expect["pins"].items()}
    pins = resolution.pins
    for name, index in expect.get("index", {}).items():
        assert pins[name].index is not None and pins[name].index.name == index, name
    for name, marker in expect.get("markers", {}).items():
        assert pins[name].markers == marker, name
    for name, marker in expect.get("path_markers", {}).items():
        assert pins[name].path_markers == marker, name
    for name, extras in expect.get("extras", {}).items():
        assert list(pins[name].extras) == extras, name
    for name, ref in expect.get("direct_ref", {}).items():
        assert pins[name].direct is not None and pins[name].direct.ref == ref, name
    for name, via in expect.get("via", {}).items():
        assert list(pins[name].via) == via, name
    for name, spelled in expect.get("names", {}).items():
        assert pins[name].name == spelled
    for name, count in expect.get("artifacts", {}).items():
        assert len(pins[name].artifacts) == count, name
    for name, digest in expect.get("sha256", {}).items():
        assert [a.sha256 for a in pins[name].artifacts] == [digest], name
    if "roots" in expect:
        assert list(resolution.roots) == expect["roots"]
    if "score" in expect:
        assert resolution.score == expect["score"]
    if "justifications" in expect:
        messages = [j.message for j in resolution.justifications]
        for text in expect["justifications"]:
            assert any(text in m for m in messages), (text, messages)
    if "max_metadata_calls" in expect:
        assert len(source.metadata_calls) <= expect["max_metadata_calls"], source.metadata_calls
    for name in expect.get("never_fetched", []):
        assert not any(c.startswith(name.replace("-", "_") + "-") for c in source.metadata_calls), source.metadata_calls
    for name in expect.get("prefetched", []):
        assert name in source.prefetched
    for name in expect.get("not_prefetched", []):
        assert name not in source.prefetched, source.prefetched
    for name, index in expect.get("pages_from", {}).items():
        assert {i for n, i in source.pages if n == name} == {index}, source.pages


def _check_error(case: dict[str, Any], source: MemorySource, expect: dict[str, Any]) -> None:
    kind = getattr(errors, expect["error"])
    with pytest.raises(kind) as caught:
        _run(case, source)
    error = caught.value
    for text in expect.get("message_contains", []):
        assert text in error.message, error.message
    if "chains" in expect:
        found = sorted([c.requirement, *c.chain] for c in error.causes)
        assert found == sorted(expect["chains"]), found
