"""Marker algebra and pipenv's Requires-Python markers."""

from __future__ import annotations

import pytest

from micro_thoth.resolve import markers as mk


@pytest.mark.parametrize(
    ("spec", "marker"),
    [  # what pipenv 2026.10.3 writes for these Requires-Python values
        (">=3.8", "python_version >= '3.8'"),
        (
            ">=2.7, !=3.0.*, !=3.1.*, !=3.2.*, !=3.3.*, !=3.4.*",
            "python_version >= '2.7' and python_version != '3.0' and python_version != '3.1'"
            " and python_version != '3.2' and python_version != '3.3' and python_version != '3.4'",
        ),
        (">=3.7,<4", "python_version >= '3.7' and python_version < '4'"),
        (">=3.6.2", "python_full_version >= '3.6.2'"),
        ("~=3.7", "python_version ~= '3.7'"),
        (">=3.8.1,<4.0", "python_full_version >= '3.8.1' and python_version < '4.0'"),
        ("!=3.0.*,>=2.7", "python_version >= '2.7' and python_version != '3.0'"),
        (">3.7", "python_version >= '3.8'"),
        ("<3.11,>=3.8", "python_version >= '3.8' and python_version < '3.11'"),
        ("", None),
        ("*", None),
        ("not a specifier", None),
    ],
)
def test_requires_python_marker_matches_pipenv(spec: str, marker: str | None) -> None:
    assert mk.requires_python_marker(spec) == marker


def test_conjunction_and_disjunction_simplify() -> None:
    win = mk.parse("sys_platform == 'win32'")
    old = mk.parse('python_version < "3.10"')
    both = mk.conjoin(win, old)
    assert mk.render(both) == "python_version < '3.10' and sys_platform == 'win32'"
    assert mk.disjoin(both, win) == win  # absorption
    assert mk.render(mk.disjoin(old, win)) == "python_version < '3.10' or sys_platform == 'win32'"
    assert mk.disjoin(win, mk.ALWAYS) is mk.ALWAYS
    assert mk.conjoin(mk.ALWAYS, win) == win


def test_extra_atoms_are_decided_by_the_requested_extras() -> None:
    text = "extra == 'tls' and python_version < '3.10' or extra == 'never'"
    assert mk.render(mk.parse(text, ["tls"])) == "python_version < '3.10'"
    assert mk.parse(text, []) == mk.NEVER
    assert mk.parse("extra != 'x'", ["x"]) == mk.NEVER


def test_nested_markers_distribute() -> None:
    condition = mk.parse("(os_name == 'nt' or os_name == 'posix') and python_version >= '3.9'")
    assert mk.render(condition) == (
        "(os_name == 'nt' and python_version >= '3.9') or (os_name == 'posix' and python_version >= '3.9')"
    )


def test_evaluate_uses_the_target_and_the_extra() -> None:
    env = {"python_version": "3.9", "python_full_version": "3.9.18", "sys_platform": "linux"}
    assert mk.evaluate('python_version < "3.10"', env)
    assert not mk.evaluate('extra == "x"', env)
    assert mk.evaluate('extra == "x"', env, "x")
    assert mk.evaluate(None, env)
