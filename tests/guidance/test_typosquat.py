"""Did-you-mean suggestions and typo-squatting checks over the popular-packages list."""

from __future__ import annotations

import time

import pytest

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


def test_comments_are_ignored_and_rank_is_list_order() -> None:
    names = PopularNames.parse("# header\nalpha\nbeta\n# comment\nalphb\n")
    assert names.rank == {"alpha": 0, "beta": 1, "alphb": 2}
    assert suggest("alpah", names=names) == ["alpha"]  # alphb is two edits away: too far for 5 letters
    assert suggest("alphc", names=names) == ["alpha", "alphb"]
    assert typosquat_warnings(["alpah", "beta"], names=names) == {"alpah": "alpha"}


def test_calls_are_fast_after_loading() -> None:
    popular_names()
    names = ["reqeusts", "djnago", "python-dateutils", "my-company-internal-tool", "numpyy"] * 4
    start = time.perf_counter()
    for name in names:
        suggest(name)
        looks_like_typosquat(name)
    per_call = (time.perf_counter() - start) / (2 * len(names))
    assert per_call < 0.020
