"""Typo-squat warnings are for names from the project's public index, not for a private source's."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.support.builder import Dist
from tests.support.index_server import LocalIndex

from .conftest import Run


def _pipfile(root: Path, public: LocalIndex, private: LocalIndex, packages: str) -> None:
    root.mkdir()
    (root / "Pipfile").write_text(
        f'[[source]]\nname = "public"\nurl = "{public.url}"\nverify_ssl = false\n\n'
        f'[[source]]\nname = "private"\nurl = "{private.url}"\nverify_ssl = false\n\n[packages]\n{packages}'
    )


def test_a_name_pinned_to_a_private_source_is_not_a_typo(
    thoth: Callable[..., Run], index_factory: type[LocalIndex], tmp_path: Path
) -> None:
    public, private = index_factory(), index_factory()
    private.add(Dist("reqeusts", "1.0"))
    public.add(Dist("reqeusts", "1.0"))
    pinned = tmp_path / "pinned"
    _pipfile(pinned, public, private, 'reqeusts = {version = "*", index = "private"}\n')
    run = thoth("lock", "--json", "-C", str(pinned))
    assert run.code == 0, run.err
    assert run.json()["typos"] == []  # type: ignore[index]

    from_public = tmp_path / "public"
    _pipfile(from_public, public, private, 'reqeusts = "*"\n')
    run = thoth("lock", "--json", "-C", str(from_public))
    assert run.json()["typos"] == ["'reqeusts' is not a popular project but looks like 'requests': did you mean 'requests'?"]  # type: ignore[index]
