"""The ELF facts of a release's wheels: read ahead on the thread that brought its page (Finder.read_likely_abi), then judged."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any, Optional

from packaging.utils import canonicalize_name

from micro_thoth.artifacts import Artifact, ProjectPage
from micro_thoth.errors import PackageIndexError
from micro_thoth.guidance.abi import ElfNeeds, WheelAbi
from micro_thoth.models import Dependency
from micro_thoth.resolve.embedded import resolve
from micro_thoth.resolve.finder import GUESSES, Finder

from .memory_source import MemorySource
from .support import make_target

BINARY = "cp311-cp311-manylinux_2_17_x86_64"
TARGET = replace(make_target("3.11.4"), abi_symbols=frozenset({"GLIBC_2.17"}))


class AbiSource(MemorySource):
    """Records the wheels whose ELF facts are read."""

    def __init__(self, releases: list[dict[str, Any]]) -> None:
        super().__init__({"pypi": {"native": releases, "app": [{"version": "1.0", "requires_dist": ["native"]}]}})
        self.read: list[str] = []

    def wheel_abi(self, artifact: Artifact) -> WheelAbi:
        self.read.append(artifact.filename)
        return WheelAbi()


def _release(version: str, files: Sequence[str] = (BINARY, "sdist"), **extra: Any) -> dict[str, Any]:
    return {"version": version, "files": list(files), **extra}


def _guess(releases: list[dict[str, Any]], preferred: Optional[str] = None, held_back: Any = None,
           target: Any = TARGET) -> list[str]:
    source = AbiSource(releases)
    page: ProjectPage = source.project("native")  # type: ignore[arg-type]
    finder = Finder(source, target)
    if held_back is None:
        finder.read_likely_abi(page, preferred)
    else:
        finder.read_likely_abi(page, preferred, held_back)
    return source.read


def test_the_newest_final_release_the_target_installs_is_read() -> None:
    releases = [_release("3.0", files=("cp311-cp311-win_amd64",)), _release("2.1rc1"), _release("2.0"), _release("1.0")]
    assert _guess(releases) == [f"native-2.0-{BINARY}.whl"]


def test_the_existing_locks_pin_first_then_what_the_cooldown_keeps() -> None:
    releases = [_release("3.0", upload_time="2026-12-06T00:00:00Z"), _release("2.0"), _release("1.0")]
    assert _guess(releases, preferred="1.0") == [f"native-1.0-{BINARY}.whl"]
    young = lambda files: any(a.upload_time == "2026-12-06T00:00:00Z" for a in files)  # noqa: E731
    assert _guess(releases, held_back=young) == [f"native-2.0-{BINARY}.whl"]
    assert _guess(releases) == [f"native-3.0-{BINARY}.whl"]


def test_the_guess_looks_at_the_few_newest_final_releases_only() -> None:
    windows = [_release(f"9.{i}", files=("cp311-cp311-win_amd64",)) for i in range(GUESSES)]
    assert _guess([*windows, _release("1.0")]) == []  # a bounded guess: the resolver reads 1.0 when it gets there
    assert _guess([*windows[1:], _release("1.0")]) == [f"native-1.0-{BINARY}.whl"]


def test_nothing_is_read_for_a_pure_wheel_or_without_the_targets_symbols() -> None:
    assert _guess([_release("1.0", files=("py3-none-any",))]) == []
    assert _guess([_release("1.0", files=("sdist",))]) == []
    assert _guess([_release("1.0")], target=make_target("3.11.4")) == []


def test_a_resolution_reads_the_likely_wheel_ahead_and_pins_the_same() -> None:
    """Speculation changes nothing the resolver decides: its own judgement finds the facts read."""
    source = AbiSource([_release("2.0"), _release("1.0")])
    resolution = resolve([Dependency("app")], source=source, target=TARGET)
    assert str(resolution.pins["native"].version) == "2.0"
    assert source.read.count(f"native-2.0-{BINARY}.whl") == 2  # the page's speculation, then the judgement (no memo here)
    assert f"native-1.0-{BINARY}.whl" not in source.read


def test_an_unreadable_wheel_is_used_unchecked_and_said_after_one_that_cannot_run() -> None:
    """Best wheel needs GLIBC_2.34 (the target has 2.17): left out. The next cannot be read: its ABI is
    unknown, not "runs" and not "cannot run", so it is the one used, with a warning naming it and why."""
    unreadable = "cp311-abi3-manylinux_2_17_x86_64"

    class Source(AbiSource):
        def wheel_abi(self, artifact: Artifact) -> WheelAbi:
            super().wheel_abi(artifact)
            if unreadable in artifact.filename:
                raise PackageIndexError(f"{artifact.filename} of native: not a readable wheel: Bad magic number")
            return WheelAbi((ElfNeeds("native/_ext.so", ("libc.so.6",), (("libc.so.6", "GLIBC_2.34"),)),))

    source = Source([_release("2.0", files=(BINARY, unreadable))])
    finder = Finder(source, TARGET)
    verdict = finder.abi_verdict(finder.releases(canonicalize_name("native"))[0])
    assert verdict.refusal is None and verdict.skipped == {f"native-2.0-{BINARY}.whl"}
    left_out, unchecked = verdict.notes
    assert "GLIBC_2.34" in left_out.message and f"install native-2.0-{unreadable}.whl" in left_out.message
    assert unchecked.type == "WARNING" and (unchecked.package, unchecked.version) == ("native", "2.0")
    assert unchecked.message.startswith(f"ABI not checked: native-2.0-{unreadable}.whl of native: not a readable wheel")
