"""The resolver against locks real pipenv made (tests/fixtures/pipenv-made): same pins, hashes, markers."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import httpx
import pytest
from packaging.markers import Marker

from micro_thoth.formats.pipfile import parse_pipfile
from micro_thoth.formats.pipfile_lock import parse_lock
from micro_thoth.models import Pin
from micro_thoth.resolve import Resolution, resolve_categories
from tests.resolve.support import make_target
from tests.support.index_server import LocalIndex

index_module = pytest.importorskip("micro_thoth.index")
CASES = Path(__file__).parent.parent / "fixtures" / "pipenv-made"


def _make_module() -> ModuleType:
    """make.py, which holds the projects the pipenv-made locks were resolved from."""
    spec = importlib.util.spec_from_file_location("pipenv_made", CASES / "make.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def indexes() -> Iterator[dict[str, str]]:
    make = _make_module()
    one, two = LocalIndex(), LocalIndex()
    make.first_index(one)
    make.second_index(two)
    yield {"THOTH_TEST_INDEX": one.url, "THOTH_TEST_INDEX_2": two.url}
    one.close()
    two.close()


@pytest.mark.parametrize("case", ["small", "two-sources", "custom-category"])
def test_pins_hashes_and_markers_match_pipenv(case: str, indexes: dict[str, str]) -> None:
    pipfile = parse_pipfile((CASES / case / "Pipfile").read_text())
    expected = parse_lock((CASES / case / "Pipfile.lock").read_text())
    with httpx.Client() as http:
        source = index_module.IndexClient(pipfile.sources, client=http, environ=indexes)
        ours = resolve_categories(pipfile.categories, source=source, target=make_target("3.11.4"))
    for category, pins in expected.categories.items():
        _compare(category, pins, ours.get(category, Resolution()))


def _compare(category: str, pins: tuple[Pin, ...], resolution: Resolution) -> None:
    locked = [p for p in pins if p.version not in (None, "*")]  # "*": pipenv's entry for a false marker
    assert sorted(p.key for p in locked) == sorted(resolution.pins), category
    for pin in locked:
        mine = resolution.pins[pin.key]
        assert pin.version is not None and mine.version == pin.version.lstrip("="), (category, pin.name)
        assert sorted(f"sha256:{a.sha256}" for a in mine.artifacts) == [str(h) for h in pin.hashes], pin.name
        assert _same_on_the_locked_python(mine.markers, pin.markers), (category, pin.name, mine.markers, pin.markers)
        assert tuple(mine.extras) == tuple(pin.extras), (category, pin.name)


_PLATFORMS = [("linux", "Linux", "posix"), ("win32", "Windows", "nt"), ("darwin", "Darwin", "posix")]


def _same_on_the_locked_python(ours: str | None, theirs: str | None) -> bool:
    """Equal as written, or selecting exactly the same on the Python these locks are for
    (3.11) on every platform. Ours may be wider for other Pythons: it is the union over every
    path that needs the package (a dependency under ``python_version < '3.0'`` counts), where
    pipenv keeps only the requested entry's marker."""
    if ours == theirs:
        return True
    for sys_platform, system, os_name in _PLATFORMS:
        env = {"python_version": "3.11", "python_full_version": "3.11.4", "sys_platform": sys_platform,
               "platform_system": system, "os_name": os_name, "platform_machine": "x86_64",
               "implementation_name": "cpython", "platform_python_implementation": "CPython", "extra": ""}
        if Marker(ours or "python_version >= '0'").evaluate(env) != Marker(theirs or "python_version >= '0'").evaluate(env):
            return False
    return True


@pytest.mark.slow
def test_a_local_path_project_and_an_or_marker_match_pipenv(
    indexes: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _make_module().unpack_local_projects("local-path", tmp_path)
    monkeypatch.chdir(tmp_path)
    pipfile = parse_pipfile((CASES / "local-path" / "Pipfile").read_text())
    expected = parse_lock((CASES / "local-path" / "Pipfile.lock").read_text())
    with httpx.Client() as http:
        source = index_module.IndexClient(pipfile.sources, client=http, environ=indexes)
        ours = resolve_categories(pipfile.categories, source=source, target=make_target("3.11.4"))
    _compare("default", tuple(p for p in expected.categories["default"] if p.direct is None), _without(ours["default"], "localapp"))
    assert ours["default"].pins["localapp"].direct is not None
    assert ours["default"].pins["localapp"].version == "0.1"


def _without(resolution: Resolution, name: str) -> Resolution:
    pins = {k: v for k, v in resolution.pins.items() if k != name}
    return Resolution(pins=pins, roots=resolution.roots, edges=resolution.edges)
