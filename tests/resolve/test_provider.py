"""Small pieces of the provider: identifiers, direct URLs in Requires-Dist, root requirements."""

from __future__ import annotations

import pytest

from micro_thoth import errors
from micro_thoth.models import Dependency, DirectReference
from micro_thoth.resolve.candidates import _direct_from_url, from_dependency, identifier


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
