"""poetry.lock: lock formats 1.x and 2.x, groups and categories, sources, hashes, errors."""

from __future__ import annotations

import pytest

from micro_thoth.errors import InputFileError
from micro_thoth.formats.poetry_lock import parse_poetry_lock
from micro_thoth.models import DirectReference, Hash, Lock, Pin, Source

from .conftest import DATA

A, B, C, D, E = (Hash("sha256", ch * 64) for ch in "abcde")


def lock(name: str, **kwargs: bool) -> Lock:
    return parse_poetry_lock((DATA / "poetry" / name).read_text(), f"poetry/{name}", **kwargs)


def by_name(pins: tuple[Pin, ...]) -> dict[str, Pin]:
    return {p.name: p for p in pins}


# -- lock-version 1.1 ------------------------------------------------------------------------


def test_v1_categories() -> None:
    parsed = lock("v1.1.lock")
    assert parsed.kind == "poetry" and parsed.path == "poetry/v1.1.lock"
    assert [p.name for p in parsed.categories["default"]] == ["certifi", "private-lib"]
    assert [p.name for p in parsed.categories["develop"]] == ["Pytest", "colorama"]


def test_v1_hashes_come_from_metadata_files_of_that_version_only() -> None:
    certifi = by_name(lock("v1.1.lock").categories["default"])["certifi"]
    assert certifi.version == "2021.10.8"
    assert certifi.hashes == (A, B)


def test_v1_metadata_files_are_matched_by_canonical_name() -> None:
    assert by_name(lock("v1.1.lock").categories["develop"])["Pytest"].hashes == (D,)


def test_v1_empty_file_list_means_no_hashes() -> None:
    assert by_name(lock("v1.1.lock").categories["develop"])["colorama"].hashes == ()


def test_legacy_source_pins_the_index() -> None:
    parsed = lock("v1.1.lock")
    assert parsed.sources == (Source("private", "https://private.example.invalid/simple"),)
    assert by_name(parsed.categories["default"])["private-lib"].index == "private"


def test_optional_packages_are_left_out_by_default() -> None:
    assert "speedups" not in by_name(lock("v1.1.lock").categories["default"])


def test_optional_packages_on_request() -> None:
    assert "speedups" in by_name(lock("v1.1.lock", include_optional=True).categories["default"])


def test_no_pipfile_hash_or_requires() -> None:
    parsed = lock("v1.1.lock")
    assert parsed.pipfile_hash is None and parsed.requires == {}


# -- lock-version 2.0 ------------------------------------------------------------------------


def test_v2_without_category_is_default() -> None:
    parsed = lock("v2.0.lock")
    assert [p.name for p in parsed.categories["default"]] == [
        "alpha",
        "beta",
        "lib",
        "mine",
        "remote",
        "localwheel",
    ]
    assert parsed.categories["develop"] == ()


def test_v2_per_package_files() -> None:
    pins = by_name(lock("v2.0.lock").categories["default"])
    assert pins["alpha"].hashes == (A, B)
    assert pins["beta"].hashes == (C,)


def test_git_source() -> None:
    pin = by_name(lock("v2.0.lock").categories["default"])["lib"]
    assert pin.direct == DirectReference(
        "git",
        "https://git.example.invalid/lib.git",
        "0123456789abcdef0123456789abcdef01234567",
        "python",
    )
    assert pin.hashes == ()


def test_directory_source_is_an_editable_path() -> None:
    assert by_name(lock("v2.0.lock").categories["default"])["mine"].direct == DirectReference(
        "path", "../mine", editable=True
    )


def test_url_and_file_sources() -> None:
    pins = by_name(lock("v2.0.lock").categories["default"])
    assert pins["remote"].direct == DirectReference(
        "file", "https://files.example.invalid/remote-3.0-py3-none-any.whl"
    )
    assert pins["remote"].hashes == (D,)
    assert pins["localwheel"].direct == DirectReference(
        "path", "dist/localwheel-4.0-py3-none-any.whl"
    )


# -- lock-version 2.1 ------------------------------------------------------------------------


def test_v2_1_groups() -> None:
    parsed = lock("v2.1.lock")
    assert [p.name for p in parsed.categories["default"]] == ["alpha"]
    assert [p.name for p in parsed.categories["develop"]] == ["alpha", "docgen", "devtool"]


def test_v2_1_per_group_markers() -> None:
    parsed = lock("v2.1.lock")
    assert parsed.categories["default"][0].markers == 'python_version >= "3.9"'
    assert parsed.categories["develop"][0].markers == 'sys_platform == "linux"'
    assert by_name(parsed.categories["develop"])["docgen"].markers == 'python_version >= "3.10"'
    assert by_name(parsed.categories["develop"])["devtool"].markers is None


def test_v2_1_source_url_kept_as_written() -> None:
    assert lock("v2.1.lock").sources == (Source("private", "${PRIVATE_INDEX}"),)


def package(body: str, meta: str = 'lock-version = "2.0"') -> str:
    return f'[[package]]\nname = "p"\nversion = "1.0"\n{body}\n\n[metadata]\n{meta}\n'


def test_markers_of_several_non_main_groups_are_or_ed() -> None:
    text = package(
        'groups = ["dev", "docs"]\nmarkers = {dev = "os_name == \'nt\'", docs = "os_name == \'posix\'"}'
    )
    assert (
        parse_poetry_lock(text).categories["develop"][0].markers
        == "(os_name == 'nt') or (os_name == 'posix')"
    )


def test_a_group_without_markers_makes_it_unconditional() -> None:
    text = package('groups = ["dev", "docs"]\nmarkers = {dev = "os_name == \'nt\'"}')
    assert parse_poetry_lock(text).categories["develop"][0].markers is None


def test_empty_groups_mean_main() -> None:
    assert parse_poetry_lock(package("groups = []")).categories["default"][0].name == "p"


def test_lock_1_0_bare_hashes() -> None:
    text = f'[[package]]\nname = "p"\nversion = "1.0"\ncategory = "main"\n\n[metadata]\n\n[metadata.hashes]\np = ["{"a" * 64}"]\n'
    assert parse_poetry_lock(text).categories["default"][0].hashes == (A,)


def test_empty_lock() -> None:
    assert parse_poetry_lock('[metadata]\nlock-version = "2.0"\n').categories == {
        "default": (),
        "develop": (),
    }


# -- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "key_path"),
    [
        (package(""), None),
        ('[metadata]\nlock-version = "3.0"\n', "metadata.lock-version"),
        ('[metadata]\nlock-version = "x"\n', "metadata.lock-version"),
        ("metadata = 1\n", "metadata"),
        ("package = 1\n[metadata]\n", "package"),
        ("package = [1]\n[metadata]\n", "package[0]"),
        ('[[package]]\nversion = "1"\n[metadata]\n', "package[0].name"),
        ('[[package]]\nname = "p"\n[metadata]\n', "package[0].version"),
        (
            package('files = [{file = "p-1.0.tar.gz", hash = "sha256:zz"}]'),
            "package[0].files[0].hash",
        ),
        (package("files = 3"), "package[0].files"),
        (package("files = [3]"), "package[0].files[0]"),
        (package("groups = 3"), "package[0].groups"),
        (package("category = 3"), "package[0].category"),
        (package("markers = 3"), "package[0].markers"),
        (package('groups = ["dev"]\nmarkers = {dev = 3}'), "package[0].markers.dev"),
        (package('[package.source]\ntype = "svnx"\nurl = "u"'), "package[0].source.type"),
        (package('[package.source]\ntype = "git"'), "package[0].source.url"),
        (package('[package.source]\ntype = "legacy"\nurl = "u"'), "package[0].source.reference"),
        (package("source = 1"), "package[0].source"),
        (
            '[[package]]\nname = "p"\nversion = "1.0"\n[metadata]\nlock-version = "1.1"\n[metadata.files]\np = [{file = "p-1.0.tar.gz", hash = 1}]\n',
            "metadata.files.p[0].hash",
        ),
    ],
)
def test_errors_name_the_key_path(text: str, key_path: str | None) -> None:
    if key_path is None:  # a well-formed package parses
        assert parse_poetry_lock(text).categories["default"][0].name == "p"
        return
    with pytest.raises(InputFileError) as info:
        parse_poetry_lock(text, "poetry.lock")
    assert info.value.key_path == key_path
    assert str(info.value).startswith(f"poetry.lock: {key_path}: ")


def test_bad_toml() -> None:
    with pytest.raises(InputFileError, match="line 1"):
        parse_poetry_lock("[[package]\n", "poetry.lock")
