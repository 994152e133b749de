"""closest.py: the one did-you-mean, used for keys, commands and project names."""

from __future__ import annotations

from micro_thoth.closest import closest


def test_best_first_ties_keep_the_order_given_and_the_cutoff_holds() -> None:
    assert closest("indx", ["version", "index", "extras"]) == ("index",)
    assert closest("instal", ["uninstall", "install"], limit=2) == ("install", "uninstall")
    assert closest("abcx", ["abcy", "abcz"], limit=2) == ("abcy", "abcz")  # equal scores: the given order
    assert closest("abcx", ["abcz", "abcy"], limit=2) == ("abcz", "abcy")
    assert closest("zzzz", ["version", "index"]) == ()


def test_the_same_answers_as_the_difflib_calls_it_replaces() -> None:
    import difflib

    keys = ["version", "index", "extras", "markers", "editable", "path", "file", "git", "ref", "subdirectory"]
    for typo in ("indx", "verison", "extra", "marker", "editible", "pth", "fiel", "gti", "rev", "subdir", "qqq"):
        assert closest(typo, keys) == tuple(difflib.get_close_matches(typo, keys, n=1)), typo
