"""Did-you-mean suggestions and typo-squatting checks over the popular-packages list."""

from __future__ import annotations

from importlib import resources

import pytest
from packaging.utils import canonicalize_name

from micro_thoth.guidance.typosquat import (
    PopularNames,
    looks_like_typosquat,
    popular_names,
    suggest,
    typosquat_warnings,
)


@pytest.mark.parametrize(
    ("typo", "meant"),
    [("reqeusts", "requests"), ("requets", "requests"), ("numpyy", "numpy"), ("djnago", "django"),
     ("python-dateutils", "python-dateutil"), ("scikitlearn", "scikit-learn"), ("Pandsa", "pandas")],
)
def test_suggestions_put_the_popular_name_first(typo: str, meant: str) -> None:
    assert suggest(typo)[0] == meant


@pytest.mark.parametrize(("typo", "meant"), [("reqeusts", "requests"), ("urllib", "urllib3"), ("djnago", "django")])
def test_typosquats_are_recognised(typo: str, meant: str) -> None:
    assert looks_like_typosquat(typo) == meant


@pytest.mark.parametrize("name", ["requests", "flask", "pyyaml", "my-company-internal-tool", "Django"])
def test_popular_or_unrelated_names_are_not_typosquats(name: str) -> None:
    assert looks_like_typosquat(name) is None


@pytest.mark.parametrize("text", ["Alpha\nbeta\n", "alpha\nBeta_Two\n", "alpha\nbeta..two\n", "alpha\n-beta\n", "a--b\nc\n"])
def test_names_not_normalised_are_normalised(text: str) -> None:
    names = PopularNames.parse(text)
    assert list(names.rank) == [canonicalize_name(line) for line in text.splitlines()]


def test_shipped_list_is_normalised() -> None:
    """Every lock reads it; parse skips the per-name normalisation only when it holds."""
    text = (resources.files("micro_thoth") / "data" / "popular-packages.txt").read_text(encoding="utf-8")
    names = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]
    assert names == [canonicalize_name(name) for name in names]
    assert list(popular_names().rank) == list(dict.fromkeys(names))


def test_comments_are_ignored_and_rank_is_list_order() -> None:
    names = PopularNames.parse("# header\nalpha\nbeta\n# comment\nalphb\n")
    assert names.rank == {"alpha": 0, "beta": 1, "alphb": 2}
    assert suggest("alpah", names=names) == ["alpha"]  # alphb is two edits away: too far for 5 letters
    assert suggest("alphc", names=names) == ["alpha", "alphb"]
    assert typosquat_warnings(["alpah", "beta"], names=names) == {"alpah": "alpha"}


def test_the_list_is_read_once_and_a_query_compares_only_names_within_its_edit_distance(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What keeps a query cheap, asserted on the work done rather than on a clock: the list is
    parsed once per process, and only names whose length is within the distance are compared."""
    from rapidfuzz import process

    assert popular_names() is popular_names()
    pools: list[list[str]] = []
    real_extract = process.extract

    def recording_extract(query: str, choices: list[str], **kwargs: object) -> object:
        pools.append(list(choices))
        return real_extract(query, choices, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(process, "extract", recording_extract)
    name = "my-company-internal-tool"
    distance = 2
    popular_names().near(name, distance)
    assert len(pools) == 1 and pools[0]
    assert all(abs(len(known) - len(name)) <= distance for known in pools[0])
    assert len(pools[0]) < len(popular_names().rank) / 4
