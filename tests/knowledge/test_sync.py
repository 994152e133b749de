"""Sync: a prescriptions tree compiled into the store once, incrementally after; bad units skipped and named."""

from __future__ import annotations

import json
import os
import subprocess
import zipfile
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name
from packaging.version import Version

from micro_thoth.errors import ThothPipError
from micro_thoth.guidance.catalog import UnitCatalog
from micro_thoth.guidance.selection import UnitContext
from micro_thoth.knowledge.bundle import MEMBER, export_bundle, import_bundle
from micro_thoth.knowledge.lookup import StoreUnits
from micro_thoth.knowledge.sources import open_tree, read_git
from micro_thoth.knowledge.store import ANY_PACKAGE, KnowledgeStore
from micro_thoth.knowledge.sync import sync_tree

from .repos import git_repo, prescriptions_repo, tar_gz, zip_of


def _sync(store: KnowledgeStore, source: str, knowledge: Path):
    warned = []
    with open_tree(source, knowledge, os.environ) as tree:
        summary = sync_tree(store, tree, warn=warned.append)
    return summary, warned


def test_a_tree_is_compiled_and_every_skipped_unit_is_named(tmp_path: Path) -> None:
    repo = prescriptions_repo(tmp_path / "repo")
    with KnowledgeStore.open(tmp_path / "kd") as store:
        summary, warned = _sync(store, str(repo), tmp_path / "kd")
        assert summary.files == 8 and summary.compiled_files == 8
        assert summary.loaded == summary.units == 8  # sieve, 3 wraps, step, the good gizmo wrap, 2 boots
        assert summary.metadata == {"name": "test-knowledge", "release": "2099.1"}
        assert summary.skipped_by_reason() == {"version is not PEP 440": 1}
        [problem] = warned
        assert problem.path == "gi_/gizmo/size.yaml" and problem.unit == "GizmoGitUnknownSizeWrap"
        assert "'==git-unknown'" in problem.message and "GizmoGitUnknownSizeWrap" in problem.message
        assert store.problems() == warned


def test_units_are_keyed_by_the_packages_they_speak_about(tmp_path: Path) -> None:
    repo = prescriptions_repo(tmp_path / "repo")
    with KnowledgeStore.open(tmp_path / "kd") as store:
        _sync(store, str(repo), tmp_path / "kd")
        lookup = StoreUnits(store)
        assert [u.name for u in lookup.units_for(["widget"])] == ["WidgetTwoLosesDataSieve"]
        assert {u.name for u in lookup.units_for(["gadget"])} == {"GadgetWithoutGizmoStep"}
        assert {u.name for u in lookup.units_for(["gizmo"])} == {"GadgetWithoutGizmoStep"}  # the step's state names gizmo
        # wraps speak only about a finished stack: read when one holds their package, not when it is considered
        assert {u.name for u in lookup.units_in_stack(["gadget"])} == {"GadgetHostedWrap", "GadgetOldWarningWrap"}
        assert {u.name for u in lookup.units_in_stack(["gizmo", "widget"])} == {"GizmoFineWrap"}
        assert [u.name for u in lookup.independent()] == ["EveryStackBoot"]
        assert [u.name for u in lookup.units_pinned([("Gadget", "1")])] == ["GadgetOneSizeWrap"]  # a wrap on one release
        assert lookup.units_pinned([("gadget", "1.1")]) == []
        assert {u.name for u in lookup.independent("images.example.invalid/app:v1")} == {"EveryStackBoot", "AppImageCveBoot"}
        assert [u.name for u in lookup.independent("images.example.invalid/other:v1")] == ["EveryStackBoot"]
        assert lookup.units_for(["nothing-known"]) == []
        assert all(u.origin == "synced" for u in (*lookup.units_for(["gadget"]), *lookup.units_in_stack(["gadget"])))
        assert [row.name for row in store.units_for([ANY_PACKAGE])] == ["EveryStackBoot"]


def test_a_resync_compiles_only_what_changed_and_counts_what_went(tmp_path: Path) -> None:
    repo = prescriptions_repo(tmp_path / "repo")
    kd = tmp_path / "kd"
    with KnowledgeStore.open(kd) as store:
        first, _ = _sync(store, str(repo), kd)
        again, warned = _sync(store, str(repo), kd)
        assert (again.compiled_files, again.loaded, again.removed, again.units) == (0, 0, 0, 8)
        assert warned == [] and store.problems() != []  # the skipped unit is still on record
        assert again.source.digest == first.source.digest

        sieve = repo / "prescriptions" / "wi_" / "widget" / "sieve.yaml"
        sieve.write_text(sieve.read_text().replace("WidgetTwoLosesDataSieve", "WidgetRenamedSieve"))
        os.utime(sieve, ns=(1, 1))  # a new stamp whatever the clock's resolution
        (repo / "prescriptions" / "ga_" / "gadget" / "step.yaml").unlink()
        changed, _ = _sync(store, str(repo), kd)
        assert (changed.compiled_files, changed.removed_files) == (1, 1)
        assert (changed.loaded, changed.removed, changed.units) == (1, 2, 7)
        assert changed.source.digest != first.source.digest
        assert [u.name for u in StoreUnits(store).units_for(["widget"])] == ["WidgetRenamedSieve"]


def test_a_git_url_is_cloned_shallow_and_its_commit_recorded(tmp_path: Path) -> None:
    repo = prescriptions_repo(tmp_path / "repo")
    commit = git_repo(repo)
    with KnowledgeStore.open(tmp_path / "kd") as store:
        summary, _ = _sync(store, f"file://{repo}", tmp_path / "kd")
        assert summary.source.kind == "git" and summary.source.revision == commit
        assert summary.units == 8
        again, _ = _sync(store, f"file://{repo}", tmp_path / "kd")  # fetched into the kept clone: nothing changed
        assert again.compiled_files == 0 and again.units == 8


def test_a_git_source_is_read_from_its_objects_never_checked_out_and_a_new_commit_compiles_only_what_changed(tmp_path: Path) -> None:
    repo = prescriptions_repo(tmp_path / "repo")
    (repo / "prescriptions" / ".hidden.yaml").write_text("units: [oops\n")  # hidden: never read
    (repo / "prescriptions" / "linked.yaml").symlink_to("wi_/widget/sieve.yaml")  # a link: left out, as an archive's
    git_repo(repo)
    kd = tmp_path / "kd"
    with KnowledgeStore.open(kd) as store:
        first, warned = _sync(store, f"file://{repo}", kd)
        assert (first.files, first.compiled_files, first.units) == (8, 8, 8)
        assert [(p.path, p.unit) for p in warned] == [("gi_/gizmo/size.yaml", "GizmoGitUnknownSizeWrap")]  # named as before
        kept = [p.relative_to(kd / "sources") for p in (kd / "sources").rglob("*") if p.is_file()]
        assert kept and not any(p.suffix in (".yaml", ".yml") for p in kept)  # git's objects, no work tree

        sieve = repo / "prescriptions" / "wi_" / "widget" / "sieve.yaml"
        sieve.write_text(sieve.read_text().replace("WidgetTwoLosesDataSieve", "WidgetRenamedSieve"))
        (repo / "prescriptions" / "ga_" / "gadget" / "step.yaml").unlink()
        commit = _commit(repo)
        changed, warned = _sync(store, f"file://{repo}", kd)
        assert changed.source.revision == commit and warned == []
        assert (changed.compiled_files, changed.removed_files, changed.loaded, changed.removed, changed.units) == (1, 1, 1, 2, 7)
        assert [u.name for u in StoreUnits(store).units_for(["widget"])] == ["WidgetRenamedSieve"]
        assert [p.unit for p in store.problems()] == ["GizmoGitUnknownSizeWrap"]  # still on record
        packs = sorted((kd / "sources").rglob("*.pack"))
        again, _ = _sync(store, f"file://{repo}", kd)
        assert (again.compiled_files, again.units, again.source.revision) == (0, 7, commit)
        assert sorted((kd / "sources").rglob("*.pack")) == packs  # an unchanged repository sent nothing again


def test_a_git_that_stops_halfway_through_a_file_is_an_error_not_a_shorter_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "units.yaml").write_text("# " + "x" * 4000 + "\n")
    commit = git_repo(repo)
    members = read_git(repo, commit)
    assert [len(data) for data in members.read(["units.yaml"])] == [4003]
    dying = tmp_path / "bin"  # a git whose cat-file answer ends early (killed, out of memory...)
    dying.mkdir()
    (dying / "git").write_text('#!/bin/sh\nif [ "$3" = cat-file ]; then /usr/bin/git "$@" | head -c 1000; exit 0; fi\nexec /usr/bin/git "$@"\n')
    (dying / "git").chmod(0o755)
    monkeypatch.setenv("PATH", f"{dying}:{os.environ['PATH']}")
    with pytest.raises(ThothPipError, match=r"stopped while reading units\.yaml"):
        list(members.read(["units.yaml"]))


def _commit(repo: Path) -> str:
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.invalid", "HOME": str(repo.parent), "PATH": "/usr/bin:/bin"}
    for args in (["add", "-A"], ["commit", "-q", "-m", "change"], ["rev-parse", "HEAD"]):
        done = subprocess.run(["git", "-C", str(repo), *args], check=True, env=env, capture_output=True, text=True)
    return done.stdout.strip()


def test_a_git_url_with_credentials_never_shows_them(tmp_path: Path) -> None:
    with KnowledgeStore.open(tmp_path / "kd") as store, pytest.raises(ThothPipError) as caught:
        _sync(store, "https://knowledge-user:s3cr3t-token@127.0.0.1:9/prescriptions.git", tmp_path / "kd")
    said = f"{caught.value.message} {caught.value.hint}"
    assert "s3cr3t-token" not in said and "127.0.0.1:9/prescriptions.git" in said


@pytest.mark.parametrize("pack", [tar_gz, zip_of], ids=["tar.gz", "zip"])
def test_an_archive_is_unpacked_and_its_digest_recorded(tmp_path: Path, pack) -> None:
    repo = prescriptions_repo(tmp_path / "prescriptions-main")
    archive = pack(repo, tmp_path / ("knowledge.tar.gz" if pack is tar_gz else "knowledge.zip"))
    with KnowledgeStore.open(tmp_path / "kd") as store:
        summary, _ = _sync(store, str(archive), tmp_path / "kd")
    assert summary.source.kind == "archive" and summary.source.revision.startswith("sha256:")
    assert summary.units == 8


@pytest.mark.parametrize("pack", [tar_gz, zip_of], ids=["tar.gz", "zip"])
def test_a_new_archive_compiles_only_the_members_that_changed(tmp_path: Path, pack) -> None:
    repo = prescriptions_repo(tmp_path / "prescriptions-main")
    archive = tmp_path / ("knowledge.tar.gz" if pack is tar_gz else "knowledge.zip")
    kd = tmp_path / "kd"
    with KnowledgeStore.open(kd) as store:
        first, _ = _sync(store, str(pack(repo, archive)), kd)
        same, _ = _sync(store, str(archive), kd)
        assert (same.compiled_files, same.units, same.source.revision) == (0, 8, first.source.revision)
        sieve = repo / "prescriptions" / "wi_" / "widget" / "sieve.yaml"
        sieve.write_text(sieve.read_text().replace("WidgetTwoLosesDataSieve", "WidgetRenamedSieve"))
        for path in repo.rglob("*"):
            os.utime(path, (946_684_800, 946_684_800))  # every member's time changed, as a new download's
        changed, _ = _sync(store, str(pack(repo, archive)), kd)
        assert changed.source.revision != first.source.revision
        assert (changed.compiled_files, changed.loaded, changed.removed, changed.units) == (1, 1, 1, 8)
        assert [u.name for u in StoreUnits(store).units_for(["widget"])] == ["WidgetRenamedSieve"]


def test_an_archive_member_outside_the_tree_is_refused(tmp_path: Path) -> None:
    import zipfile

    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("../escape.yaml", "units: {}\n")
    with KnowledgeStore.open(tmp_path / "kd") as store, pytest.raises(ThothPipError, match="outside"):
        _sync(store, str(archive), tmp_path / "kd")
    assert not (tmp_path / "escape.yaml").exists()


def test_an_archive_with_a_corrupt_member_is_an_input_error_naming_it(tmp_path: Path) -> None:
    """A corrupt deflate stream (zlib.error), an unknown compression or an encrypted member: zipfile's ways
    to fail (zips.UNREADABLE) are an error naming the archive, never an internal error."""
    import zipfile

    archive = tmp_path / "corrupt.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("prescriptions/a.yaml", "units: {}\n" * 200)
    data = bytearray(archive.read_bytes())
    start = 30 + len("prescriptions/a.yaml")  # the member's data follows its local header
    data[start : start + 8] = b"\xff" * 8
    archive.write_bytes(bytes(data))
    with KnowledgeStore.open(tmp_path / "kd") as store, pytest.raises(ThothPipError, match="cannot unpack") as caught:
        _sync(store, str(archive), tmp_path / "kd")
    assert getattr(caught.value, "path", None) == str(archive.resolve())


SKIP_WHEN_INTRODUCED = """units:
  steps:
  - name: BigFrameworkDropsSciLibStep
    type: step.SkipPackage
    should_include:
      adviser_pipeline: true
    match:
      package_version:
        name: scilib
      state:
        package_version_from:
        - name: bigframework
          version: ">2.1,<=2.3"
    run:
      stack_info:
      - type: WARNING
        message: bigframework 2.2 and 2.3 list scilib but never import it
"""


def test_a_skip_package_step_with_a_state_skips_only_when_its_introducer_matches(tmp_path: Path) -> None:
    from packaging.utils import canonicalize_name
    from packaging.version import Version

    from tests.guidance.helpers import policy

    judged = policy("stable", SKIP_WHEN_INTRODUCED)
    name = canonicalize_name("bigframework")
    assert judged.override_requirements(name, Version("2.2"), ["scilib>=1", "other"]) == ["other"]
    assert judged.override_requirements(name, Version("2.4"), ["scilib>=1", "other"]) == ["scilib>=1", "other"]
    assert judged.override_requirements(canonicalize_name("else"), Version("2.2"), ["scilib>=1"]) == ["scilib>=1"]


def _wraps_after(store: KnowledgeStore, considered: list[list[str]], stack: dict[str, str]) -> tuple[list[str], list[str]]:
    """(wraps before the stack is finished, wraps after) of a catalog that considers ``considered`` in that order."""
    catalog = UnitCatalog((), UnitContext(), StoreUnits(store))
    for names in considered:
        catalog.consider(names)
    before = [u.name for u in catalog.of_kind("wrap")]
    catalog.consider_stack({canonicalize_name(n): Version(v) for n, v in stack.items()})
    return before, [u.name for u in catalog.of_kind("wrap")]


def test_wraps_are_read_with_the_finished_stack_in_the_order_reading_them_with_their_package_gave(tmp_path: Path) -> None:
    """A wrap speaks only about a finished stack: it is read once a stack holds its package, not when the package is
    considered, and takes the place it had when it was read with its package (an older bundle keys it that way)."""
    repo = prescriptions_repo(tmp_path / "repo")
    with KnowledgeStore.open(tmp_path / "kd") as store, KnowledgeStore.open(tmp_path / "older") as older:
        _sync(store, str(repo), tmp_path / "kd")
        export_bundle(store, {}, tmp_path / "bundle.zip")
        document = json.loads(zipfile.ZipFile(tmp_path / "bundle.zip").read(MEMBER))
        assert {u["name"] for u in document["units"] if u.get("stack_only")} >= {"GadgetHostedWrap", "GizmoFineWrap"}
        for unit in document["units"]:
            unit.pop("stack_only", None)  # what a bundle made before stack-only keys says
        with zipfile.ZipFile(tmp_path / "older.zip", "w") as zf:
            zf.writestr(MEMBER, json.dumps(document, sort_keys=True))
        import_bundle(older, tmp_path / "older.zip", where="older bundle")

        considered, stack = [["gizmo"], ["gadget", "widget"]], {"gizmo": "1.0", "gadget": "1.0"}
        before, after = _wraps_after(store, considered, stack)
        old_before, old_after = _wraps_after(older, considered, stack)
        assert before == [] and old_before == ["GizmoFineWrap", "GadgetHostedWrap", "GadgetOldWarningWrap"]
        assert after == old_after == ["GizmoFineWrap", "GadgetHostedWrap", "GadgetOldWarningWrap", "GadgetOneSizeWrap"]
        # considered, but not in the stack: its wraps are never read
        assert _wraps_after(store, [["gizmo", "gadget"]], {"gadget": "2.0"})[1] == ["GadgetHostedWrap", "GadgetOldWarningWrap"]
        assert store.counts()["packages"] == older.counts()["packages"]
