"""Pipfile.lock: parse, write byte for byte like pipenv (golden files made by pipenv), checks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from micro_thoth.errors import InputFileError, StaleLockError
from micro_thoth.formats.pipfile import parse_pipfile
from micro_thoth.formats.pipfile_lock import (
    check_lock_current,
    check_python_version,
    dump_lock,
    lock_for,
    lock_marker,
    lock_to_dict,
    parse_lock,
    pin_to_dict,
)
from micro_thoth.models import DirectReference, Hash, Lock, Pin, Source

PIPENV_MADE = Path(__file__).parents[1] / "fixtures" / "pipenv-made"
CASES = sorted(p.parent.name for p in PIPENV_MADE.glob("*/Pipfile.lock"))
H1 = "sha256:" + "a" * 64
H2 = "sha256:" + "b" * 64


def lock_text(case: str) -> str:
    return (PIPENV_MADE / case / "Pipfile.lock").read_text("utf-8")


def test_there_are_pipenv_made_cases() -> None:
    assert {"small", "two-sources", "custom-category"} <= set(CASES)


@pytest.mark.parametrize("case", CASES)
def test_round_trip_is_byte_for_byte(case: str) -> None:
    text = lock_text(case)
    assert dump_lock(parse_lock(text)) == text


@pytest.mark.parametrize("case", CASES)
def test_our_pipfile_hash_is_pipenvs(case: str) -> None:
    lock = parse_lock(lock_text(case))
    pipfile = parse_pipfile((PIPENV_MADE / case / "Pipfile").read_text("utf-8"))
    assert lock.pipfile_hash == pipfile.hash
    check_lock_current(lock, pipfile)


def test_small_case_content() -> None:
    lock = parse_lock(lock_text("small"), "Pipfile.lock")
    assert lock.kind == "pipfile" and lock.path == "Pipfile.lock"
    assert lock.sources == (Source("local", "${THOTH_TEST_INDEX}", False),)
    assert lock.requires == {"python_version": "3.11"}
    alpha = lock.categories["default"][0]
    assert (alpha.name, alpha.version, alpha.extras) == ("alpha", "1.1", ("fast",))
    assert all(h.algorithm == "sha256" for h in alpha.hashes) and len(alpha.hashes) == 2
    delta = next(p for p in lock.categories["default"] if p.name == "delta")
    assert delta.markers == "python_version >= '3.8'"
    assert [p.name for p in lock.categories["develop"]] == ["beta", "devtool"]
    assert lock.categories["develop"][1].index == "local"


def test_star_version_survives() -> None:
    win = next(
        p for p in parse_lock(lock_text("small")).categories["default"] if p.name == "win_only"
    )
    assert win.version == "*"
    assert pin_to_dict(win) == {"version": "*"}


def test_index_pins_in_two_sources() -> None:
    lock = parse_lock(lock_text("two-sources"))
    assert [s.name for s in lock.sources] == ["local", "second"]
    by_name = {p.name: p for p in lock.categories["default"]}
    assert by_name["private-pkg"].index == "second"
    assert by_name["shadowed"].index == "second"
    assert lock.categories["develop"] == ()


def test_custom_category_is_kept() -> None:
    lock = parse_lock(lock_text("custom-category"))
    assert list(lock.categories) == ["default", "develop", "docs"]
    assert [p.name for p in lock.categories["docs"]] == ["alpha", "beta", "docgen"]


# -- writer ----------------------------------------------------------------------------------


def test_empty_lock_has_default_and_develop() -> None:
    text = dump_lock(Lock(categories={}, pipfile_hash="ab"))
    assert json.loads(text) == {
        "_meta": {"hash": {"sha256": "ab"}, "pipfile-spec": 6, "requires": {}, "sources": []},
        "default": {},
        "develop": {},
    }
    assert text.endswith("}\n") and '    "default": {},\n' in text


def test_writer_sorts_hashes_extras_and_names() -> None:
    pin_b = Pin("b", "1.0", hashes=(Hash.parse(H2), Hash.parse(H1)), extras=("z", "a"))
    pin_a = Pin("a", "2.0")
    text = dump_lock(Lock(categories={"default": (pin_b, pin_a)}))
    assert text.index('"a": {') < text.index('"b": {')
    assert json.loads(text)["default"]["b"] == {
        "extras": ["a", "z"],
        "hashes": [H1, H2],
        "version": "==1.0",
    }


def test_writer_escapes_non_ascii_like_pipenv() -> None:
    text = dump_lock(Lock(categories={}, sources=(Source("café", "https://h/simple"),)))
    assert '"name": "caf\\u00e9"' in text


def test_writer_uses_four_space_indent_and_colon_space() -> None:
    text = dump_lock(Lock(categories={"default": (Pin("a", "1"),)}))
    assert (
        '\n    "default": {\n        "a": {\n            "version": "==1"\n        }\n    },'
        in text
    )


def test_vcs_pin_to_dict() -> None:
    pin = Pin(
        "lib",
        None,
        direct=DirectReference("git", "https://g.invalid/lib.git", "abc123", "py", True),
    )
    assert pin_to_dict(pin) == {
        "git": "https://g.invalid/lib.git",
        "ref": "abc123",
        "subdirectory": "py",
        "editable": True,
    }


def test_path_pin_to_dict() -> None:
    pin = Pin("app", None, direct=DirectReference("path", ".", editable=True))
    assert pin_to_dict(pin) == {"path": ".", "editable": True}


def test_file_pin_with_hashes_and_markers() -> None:
    pin = Pin(
        "w",
        None,
        hashes=(Hash.parse(H1),),
        markers="os_name == 'nt'",
        direct=DirectReference("file", "https://f/w.whl"),
    )
    assert pin_to_dict(pin) == {
        "file": "https://f/w.whl",
        "hashes": [H1],
        "markers": "os_name == 'nt'",
    }


def test_pin_without_version() -> None:
    assert pin_to_dict(Pin("a", None)) == {}


@pytest.mark.parametrize(
    ("version", "written"), [("1.0", "==1.0"), ("*", "*"), ("===1.0", "===1.0")]
)
def test_written_versions(version: str, written: str) -> None:
    assert pin_to_dict(Pin("a", version))["version"] == written


def test_lock_to_dict_keeps_custom_categories() -> None:
    data = lock_to_dict(Lock(categories={"docs": (Pin("a", "1"),)}))
    assert list(data) == ["_meta", "default", "develop", "docs"]


# -- parsing details -------------------------------------------------------------------------


def entry_lock(entry: dict[str, object], category: str = "default") -> str:
    return json.dumps(
        {"_meta": {"hash": {"sha256": "x"}, "pipfile-spec": 6}, category: {"pkg": entry}}
    )


def parse_entry(entry: dict[str, object]) -> Pin:
    return parse_lock(entry_lock(entry)).categories["default"][0]


def test_direct_entries_parse() -> None:
    pin = parse_entry(
        {"git": "https://g/x.git", "ref": "deadbeef", "subdirectory": "s", "editable": True}
    )
    assert pin.direct == DirectReference("git", "https://g/x.git", "deadbeef", "s", True)
    assert pin.version is None


@pytest.mark.parametrize("kind", ["hg", "svn", "bzr", "path", "file"])
def test_other_direct_kinds(kind: str) -> None:
    pin = parse_entry({kind: "loc", "ref": "r"})
    assert pin.direct is not None and pin.direct.kind == kind
    assert pin.direct.ref == ("r" if kind in ("hg", "svn", "bzr") else None)


def test_vcs_round_trip() -> None:
    text = entry_lock({"git": "https://g/x.git", "ref": "deadbeef", "editable": True})
    assert json.loads(dump_lock(parse_lock(text)))["default"]["pkg"] == {
        "editable": True,
        "git": "https://g/x.git",
        "ref": "deadbeef",
    }


def test_missing_meta_and_sections_are_tolerated() -> None:
    lock = parse_lock("{}")
    assert lock.pipfile_hash is None
    assert lock.categories == {"default": (), "develop": ()}
    assert lock.sources == ()


def test_empty_hash_is_none() -> None:
    assert parse_lock('{"_meta": {"hash": {"sha256": ""}}}').pipfile_hash is None


def test_byte_order_mark_is_accepted() -> None:
    assert parse_lock("\ufeff{}").categories["default"] == ()


def test_empty_markers_are_none() -> None:
    assert parse_entry({"version": "==1", "markers": ""}).markers is None


def test_hash_case_is_normalised() -> None:
    assert parse_entry({"version": "==1", "hashes": ["SHA256:" + "A" * 64]}).hashes == (
        Hash("sha256", "a" * 64),
    )


def test_sha512_hashes_are_accepted() -> None:
    assert parse_entry({"hashes": ["sha512:" + "0" * 128]}).hashes[0].algorithm == "sha512"


# -- errors ----------------------------------------------------------------------------------


def lock_error(text: str) -> InputFileError:
    with pytest.raises(InputFileError) as info:
        parse_lock(text, "Pipfile.lock")
    return info.value


def test_bad_json_names_line_and_column() -> None:
    err = lock_error('{\n  "_meta": {,\n}')
    assert err.path == "Pipfile.lock"
    assert "line 2, column 13" in err.message


def test_top_level_must_be_an_object() -> None:
    assert "expected an object, got an array" in lock_error("[]").message


@pytest.mark.parametrize(
    ("entry", "key_path"),
    [
        ({"version": 1}, "default.pkg.version"),
        ({"version": "=="}, "default.pkg.version"),
        ({"hashes": "sha256:abc"}, "default.pkg.hashes"),
        ({"hashes": [H1, H2, "sha256:xyz"]}, "default.pkg.hashes[2]"),
        ({"hashes": [H1, "sha256:abcd"]}, "default.pkg.hashes[1]"),
        ({"hashes": ["md5:" + "a" * 32]}, "default.pkg.hashes[0]"),
        ({"hashes": ["sha256=" + "a" * 64]}, "default.pkg.hashes[0]"),
        ({"hashes": [5]}, "default.pkg.hashes[0]"),
        ({"index": 3}, "default.pkg.index"),
        ({"markers": "python_version >>> '3'"}, "default.pkg.markers"),
        ({"markers": True}, "default.pkg.markers"),
        ({"extras": "x"}, "default.pkg.extras"),
        ({"extras": ["x", None]}, "default.pkg.extras[1]"),
        ({"git": 1}, "default.pkg.git"),
        ({"git": "u", "ref": 1}, "default.pkg.ref"),
        ({"path": ".", "editable": "yes"}, "default.pkg.editable"),
        ({"file": "u", "subdirectory": 2}, "default.pkg.subdirectory"),
    ],
)
def test_entry_errors_name_the_key_path(entry: dict[str, object], key_path: str) -> None:
    err = lock_error(entry_lock(entry))
    assert err.key_path == key_path
    assert str(err).startswith(f"Pipfile.lock: {key_path}: ")


@pytest.mark.parametrize(
    ("text", "key_path"),
    [
        ('{"_meta": []}', "_meta"),
        ('{"_meta": {"pipfile-spec": 7}}', "_meta.pipfile-spec"),
        ('{"_meta": {"pipfile-spec": "6"}}', "_meta.pipfile-spec"),
        ('{"_meta": {"hash": "abc"}}', "_meta.hash"),
        ('{"_meta": {"hash": {"sha256": 1}}}', "_meta.hash.sha256"),
        ('{"_meta": {"sources": {}}}', "_meta.sources"),
        ('{"_meta": {"sources": [1]}}', "_meta.sources[0]"),
        ('{"_meta": {"sources": [{"name": "a"}]}}', "_meta.sources[0].url"),
        ('{"_meta": {"sources": [{"url": "u"}]}}', "_meta.sources[0].name"),
        (
            '{"_meta": {"sources": [{"name": "a", "url": "u", "verify_ssl": "no"}]}}',
            "_meta.sources[0].verify_ssl",
        ),
        ('{"_meta": {"requires": []}}', "_meta.requires"),
        ('{"_meta": {"requires": {"python_version": 3.11}}}', "_meta.requires.python_version"),
        ('{"default": []}', "default"),
        ('{"docs": {"a": "==1"}}', "docs.a"),
    ],
)
def test_meta_and_category_errors(text: str, key_path: str) -> None:
    assert lock_error(text).key_path == key_path


# -- staleness -------------------------------------------------------------------------------

PIPFILE = '[[source]]\nname = "a"\nurl = "https://a/simple"\n\n[packages]\nMy_Pkg = "*"\n'


def test_current_lock_passes_with_either_hash_variant() -> None:
    pipfile = parse_pipfile(PIPFILE)
    assert len(pipfile.hashes) == 2
    for digest in pipfile.hashes:
        check_lock_current(Lock(categories={}, pipfile_hash=digest), pipfile)


def test_stale_lock_names_both_hashes() -> None:
    pipfile = parse_pipfile(PIPFILE)
    lock = Lock(categories={}, pipfile_hash="0" * 58 + "abcdef", path="Pipfile.lock")
    with pytest.raises(StaleLockError) as info:
        check_lock_current(lock, pipfile)
    err = info.value
    assert err.message == (
        f"Pipfile.lock: Pipfile.lock (abcdef) out of date: run `thoth-pip lock`, hash of Pipfile is {pipfile.hash[-6:]}"
    )
    assert (err.expected, err.actual, err.path) == (
        pipfile.hash,
        "0" * 58 + "abcdef",
        "Pipfile.lock",
    )


def test_lock_without_hash_is_stale() -> None:
    with pytest.raises(StaleLockError):
        check_lock_current(Lock(categories={}), parse_pipfile(PIPFILE))


@pytest.mark.parametrize(
    ("requires", "python"),
    [
        ({}, "3.11.4"),
        ({"python_version": "3.11"}, "3.11.4"),
        ({"python_full_version": "3.11.4"}, "3.11.4"),
    ],
)
def test_python_version_matches(requires: dict[str, str], python: str) -> None:
    check_python_version(requires, python)


@pytest.mark.parametrize(
    ("requires", "python", "expected"),
    [
        ({"python_version": "3.9"}, "3.11.4", "3.9"),
        ({"python_full_version": "3.11.3"}, "3.11.4", "3.11.3"),
        ({"python_version": "3.11", "python_full_version": "3.11.3"}, "3.11.4", "3.11.3"),
        ({"python_version": "3.1"}, "3.11.4", "3.1"),
    ],
)
def test_python_version_mismatch(requires: dict[str, str], python: str, expected: str) -> None:
    with pytest.raises(StaleLockError) as info:
        check_python_version(requires, python, path="Pipfile.lock")
    assert (info.value.expected, info.value.actual) == (expected, python)
    assert "but the target Python is 3.11.4" in info.value.message


def test_local_path_entry() -> None:
    pins = {p.name: p for p in parse_lock(lock_text("local-path")).categories["default"]}
    assert pins["localapp"].direct == DirectReference("path", "./app")
    assert pins["localapp"].version is None and pins["localapp"].hashes == ()
    assert pins["gamma"].markers == "os_name == 'posix' or os_name == 'nt'"


@pytest.mark.parametrize("case", CASES)
def test_pipfile_markers_are_written_as_pipenv_locks_them(case: str) -> None:
    lock = parse_lock(lock_text(case))
    pipfile = parse_pipfile((PIPENV_MADE / case / "Pipfile").read_text("utf-8"))
    for category, deps in pipfile.categories.items():
        pins = {p.key: p for p in lock.categories[category]}
        for dep in deps:
            pin = pins.get(dep.key)
            if dep.markers and pin is not None and pin.markers:
                assert pin.markers == dep.markers


def test_lock_for_a_pipfile_reproduces_pipenvs_lock() -> None:
    text = lock_text("two-sources")
    pipfile = parse_pipfile((PIPENV_MADE / "two-sources" / "Pipfile").read_text("utf-8"))
    made = lock_for(pipfile, parse_lock(text).categories, path="Pipfile.lock")
    assert made.path == "Pipfile.lock" and made.sources == pipfile.sources
    assert dump_lock(made) == text


def test_lock_for_keeps_empty_categories() -> None:
    made = lock_for(parse_pipfile(""), {"default": [Pin("a", "1")]})
    assert list(lock_to_dict(made)) == ["_meta", "default", "develop"]
    assert made.pipfile_hash == parse_pipfile("").hash


def test_markers_are_written_as_pipenv_writes_them() -> None:
    pin = Pin("a", "1", markers='python_version>="3.8" and sys_platform=="linux"')
    assert pin_to_dict(pin)["markers"] == "python_version >= '3.8' and sys_platform == 'linux'"


def test_lock_marker_keeps_what_it_cannot_parse() -> None:
    assert lock_marker("not a marker") == "not a marker"
