"""Small pieces of the provider: identifiers, direct URLs in Requires-Dist, root requirements."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from micro_thoth import errors
from micro_thoth.models import Dependency, DirectReference
from micro_thoth.resolve.candidates import _direct_from_url, from_dependency, identifier
from micro_thoth.resolve.finder import admitted


def test_identifiers_are_canonical_with_sorted_extras() -> None:
    assert identifier("Foo_Bar") == "foo-bar"
    assert identifier("Foo", ["Tls", "fast"]) == "foo[fast,tls]"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "git+https://git.example.invalid/org/repo.git@v1.2#subdirectory=pkg",
            DirectReference("git", "git+https://git.example.invalid/org/repo.git", ref="v1.2", subdirectory="pkg"),
        ),
        (
            "git+ssh://git@git.example.invalid/org/repo.git",
            DirectReference("git", "git+ssh://git@git.example.invalid/org/repo.git"),
        ),
        (
            "https://files.example.invalid/pkg-1.0-py3-none-any.whl",
            DirectReference("file", "https://files.example.invalid/pkg-1.0-py3-none-any.whl"),
        ),
        ("file:///srv/src/pkg", DirectReference("path", "file:///srv/src/pkg")),
        ("file:///srv/dist/pkg-1.0.tar.gz", DirectReference("file", "file:///srv/dist/pkg-1.0.tar.gz")),
    ],
)
def test_direct_urls_of_requires_dist(url: str, expected: DirectReference) -> None:
    assert _direct_from_url(url) == expected


def test_root_requirement_text_and_options() -> None:
    req = from_dependency(Dependency("Foo", ">=1,<2", extras=("x",), markers="os_name == 'nt'", index="corp"), allow_prereleases=True)
    assert (req.key, req.text, req.markers, req.index, req.allow_prereleases) == (
        "foo[x]", "Foo[x]>=1,<2", "os_name == 'nt'", "corp", True,
    )
    assert from_dependency(Dependency("foo", "*")).specifier == from_dependency(Dependency("foo")).specifier


@pytest.mark.parametrize("dep", [Dependency("foo", "1.0"), Dependency("foo", markers="os_name ==")])
def test_malformed_entries_are_usage_errors(dep: Dependency) -> None:
    with pytest.raises(errors.UsageError, match="foo"):
        from_dependency(dep)


@pytest.mark.parametrize("specs", [[], [""], ["", ""], ["", ">=1.0"], [">=1.0,<2", ""], ["==1.0.*", ""], ["===1.0"], ["", "<0"]])
def test_admitted_is_each_specifier_asked_of_each_release(specs: list[str]) -> None:
    """Empty sets are not asked (every version passes them): the answer is the same as asking all."""
    versions = ["0.9", "1.0", "1.0.post1", "1.1a1", "1.5.dev0", "2.0", "2.0+local", "10!1.0"]
    releases = [SimpleNamespace(version=Version(v)) for v in versions]
    sets = [SpecifierSet(s) for s in specs]
    expected = [r for r in releases if all(s.contains(r.version, prereleases=True) for s in sets)]
    assert admitted(releases, sets) == expected  # type: ignore[arg-type]
    assert len(expected) == len(versions) or any(sets)
