"""Pipfile parsing, pipenv's _meta hash (checked against hashes real pipenv computed), editing."""

from __future__ import annotations

import json

import pytest
import tomlkit

from micro_thoth.errors import InputFileError
from micro_thoth.formats.pipfile import (
    category_name,
    hash_text,
    parse_pipfile,
    parse_toml,
    section_name,
)
from micro_thoth.formats.pipfile_edit import add_package, new_pipfile_text, remove_package
from micro_thoth.models import DirectReference, Source

from .conftest import DATA

RECORDED = json.loads((DATA / "pipfile-hashes.json").read_text())["cases"]
CASES = sorted(RECORDED)


def pipfile(text: str) -> str:
    return (
        '[[source]]\nname = "local"\nurl = "http://127.0.0.1/simple"\nverify_ssl = false\n\n' + text
    )


# -- hashes against real pipenv --------------------------------------------------------------


@pytest.mark.parametrize("case", CASES)
def test_current_hash_matches_pipenv(case: str, default_index_url: str) -> None:
    text = (DATA / "pipfiles" / f"{case}.toml").read_text("utf-8")
    parsed = parse_pipfile(text, default_index_url=default_index_url)
    assert parsed.hash == RECORDED[case]["current"]


@pytest.mark.parametrize("case", CASES)
def test_legacy_hash_matches_plette(case: str, default_index_url: str) -> None:
    text = (DATA / "pipfiles" / f"{case}.toml").read_text("utf-8")
    hashes = hash_text(text, default_index_url=default_index_url)
    assert hashes[-1] == RECORDED[case]["legacy"]


def test_hashes_are_deduplicated_when_names_are_canonical() -> None:
    assert len(hash_text(pipfile('[packages]\nalpha = "*"\n'))) == 1


def test_hashes_differ_when_a_name_is_not_canonical() -> None:
    current, legacy = hash_text(pipfile('[packages]\nAlpha = "*"\n'))
    assert current != legacy


def test_current_hash_ignores_name_spelling() -> None:
    a = hash_text(pipfile('[packages]\nMy_Pkg = "*"\n'))[0]
    b = hash_text(pipfile('[packages]\nmy-pkg = "*"\n'))[0]
    assert a == b


def test_hash_ignores_comments_scripts_and_pipenv_section() -> None:
    base = hash_text(pipfile('[packages]\nalpha = "*"\n'))
    noisy = hash_text(
        pipfile(
            '# hi\n[packages]\nalpha = "*" # c\n\n[scripts]\nx = "y"\n\n[pipenv]\nallow_prereleases = true\n'
        )
    )
    assert base == noisy


def test_hash_changes_with_requirements() -> None:
    assert hash_text(pipfile('[packages]\nalpha = "*"\n')) != hash_text(
        pipfile('[packages]\nalpha = "==1"\n')
    )


def test_hash_keeps_source_url_unexpanded(monkeypatch: pytest.MonkeyPatch) -> None:
    text = '[[source]]\nname = "x"\nurl = "${IDX}"\nverify_ssl = true\n'
    monkeypatch.setenv("IDX", "http://a/simple")
    first = hash_text(text)
    monkeypatch.setenv("IDX", "http://b/simple")
    assert hash_text(text) == first


def test_missing_source_uses_default_index(default_index_url: str) -> None:
    parsed = parse_pipfile('[packages]\nalpha = "*"\n', default_index_url=default_index_url)
    assert parsed.sources == (Source("pypi", default_index_url, True),)


def test_missing_source_without_default_has_no_sources() -> None:
    assert parse_pipfile('[packages]\nalpha = "*"\n').sources == ()


# -- parsing ---------------------------------------------------------------------------------


def test_sources_are_kept_as_written() -> None:
    parsed = parse_pipfile((DATA / "pipfiles" / "mixed-case.toml").read_text())
    assert parsed.sources[0] == Source("local", "${THOTH_TEST_INDEX}", False)
    assert parsed.sources[1].url == "https://${USER}:${TOKEN}@example.invalid/simple"


def test_source_without_name_or_verify_ssl_is_completed() -> None:
    parsed = parse_pipfile('[[source]]\nurl = "https://user@mirror.invalid:8443/simple"\n')
    assert parsed.sources == (
        Source("mirror.invalid", "https://user@mirror.invalid:8443/simple", True),
    )


def test_source_verify_ssl_defaults_to_false_for_http() -> None:
    assert (
        parse_pipfile('[[source]]\nname = "x"\nurl = "http://h/simple"\n').sources[0].verify_ssl
        is False
    )


def test_source_verify_ssl_as_string() -> None:
    parsed = parse_pipfile(
        '[[source]]\nname = "x"\nurl = "https://h/simple"\nverify_ssl = "False"\n'
    )
    assert parsed.sources[0].verify_ssl is False


def test_categories_map_to_lock_names() -> None:
    parsed = parse_pipfile((DATA / "pipfiles" / "custom-categories.toml").read_text())
    assert list(parsed.categories) == ["default", "develop", "Tests", "lint"]
    assert [d.name for d in parsed.categories["Tests"]] == ["Gamma_Ray"]


def test_empty_pipfile_has_default_and_develop() -> None:
    parsed = parse_pipfile("")
    assert parsed.categories == {"default": (), "develop": ()}
    assert parsed.requires == {}
    assert parsed.allow_prereleases is False


def test_non_category_sections_are_not_categories() -> None:
    text = '[scripts]\nt = "pytest"\n[build-system]\nrequires = ["x"]\n[pipenv]\nallow_prereleases = true\n'
    parsed = parse_pipfile(text)
    assert list(parsed.categories) == ["default", "develop"]
    assert parsed.allow_prereleases is True


def test_requires() -> None:
    parsed = parse_pipfile('[requires]\npython_version = "3.11"\npython_full_version = "3.11.4"\n')
    assert parsed.requires == {"python_version": "3.11", "python_full_version": "3.11.4"}


@pytest.mark.parametrize(
    ("value", "specifier"),
    [
        ('"*"', ""),
        ('""', ""),
        ('"==1.0"', "==1.0"),
        ('">=1,<2"', ">=1,<2"),
        ('"1.0"', "==1.0"),
        ('"~=2.1"', "~=2.1"),
    ],
)
def test_string_entries(value: str, specifier: str) -> None:
    dep = parse_pipfile(f"[packages]\nalpha = {value}\n").categories["default"][0]
    assert (dep.name, dep.specifier) == ("alpha", specifier)


def test_table_entry_with_everything() -> None:
    text = '[packages]\nAlpha = {version = ">=1", extras = ["b", "a"], markers = "os_name == \\"nt\\"", index = "private"}\n'
    dep = parse_pipfile(text).categories["default"][0]
    assert dep.name == "Alpha"
    assert dep.specifier == ">=1"
    assert dep.extras == ("b", "a")
    assert dep.markers == "os_name == 'nt'"
    assert dep.index == "private"
    assert dep.direct is None


def test_table_entry_without_version_is_any() -> None:
    assert (
        parse_pipfile('[packages]\nalpha = {extras = ["x"]}\n').categories["default"][0].specifier
        == ""
    )


def test_extras_as_a_single_string() -> None:
    assert parse_pipfile('[packages]\nalpha = {extras = "x"}\n').categories["default"][
        0
    ].extras == ("x",)


def test_marker_keys_are_folded_into_markers() -> None:
    text = '[packages]\nalpha = {version = "*", sys_platform = "== \'linux\'", markers = "python_version >= \'3.8\'"}\n'
    dep = parse_pipfile(text).categories["default"][0]
    assert dep.markers == "python_version >= '3.8' and sys_platform == 'linux'"


def test_os_name_key_is_kept() -> None:
    dep = parse_pipfile("[packages]\nalpha = {os_name = \"== 'posix'\"}\n").categories["default"][0]
    assert dep.markers == "os_name == 'posix'"


def test_or_markers_are_parenthesised_when_combined() -> None:
    text = "[packages]\nalpha = {markers = \"os_name == 'nt' or os_name == 'posix'\", python_version = \">= '3.8'\"}\n"
    dep = parse_pipfile(text).categories["default"][0]
    assert dep.markers == "(os_name == 'nt' or os_name == 'posix') and python_version >= '3.8'"


def test_empty_markers_are_none() -> None:
    assert (
        parse_pipfile('[packages]\nalpha = {markers = ""}\n').categories["default"][0].markers
        is None
    )


def test_vcs_entry() -> None:
    text = '[packages]\nlib = {git = "https://g.invalid/lib.git", ref = "v1", subdirectory = "py", editable = true}\n'
    dep = parse_pipfile(text).categories["default"][0]
    assert dep.direct == DirectReference("git", "https://g.invalid/lib.git", "v1", "py", True)


@pytest.mark.parametrize("kind", ["hg", "svn", "bzr"])
def test_other_vcs_entries(kind: str) -> None:
    dep = parse_pipfile(f'[packages]\nlib = {{{kind} = "https://v.invalid/lib"}}\n').categories[
        "default"
    ][0]
    assert dep.direct == DirectReference(kind, "https://v.invalid/lib")  # type: ignore[arg-type]


def test_path_entry() -> None:
    dep = parse_pipfile('[packages]\napp = {path = ".", editable = true}\n').categories["default"][
        0
    ]
    assert dep.direct == DirectReference("path", ".", editable=True)


def test_file_entry() -> None:
    dep = parse_pipfile(
        '[packages]\nw = {file = "https://f.invalid/w-1.0-py3-none-any.whl"}\n'
    ).categories["default"][0]
    assert dep.direct == DirectReference("file", "https://f.invalid/w-1.0-py3-none-any.whl")


def test_ref_is_ignored_for_paths() -> None:
    dep = parse_pipfile('[packages]\napp = {path = ".", ref = "x"}\n').categories["default"][0]
    assert dep.direct is not None and dep.direct.ref is None


def test_unknown_keys_are_ignored() -> None:
    dep = parse_pipfile('[packages]\nalpha = {version = "*", no_binary = true}\n').categories[
        "default"
    ][0]
    assert dep.specifier == ""


def test_path_is_kept_on_the_model() -> None:
    assert parse_pipfile("", "/p/Pipfile").path == "/p/Pipfile"


# -- errors ----------------------------------------------------------------------------------


def error(text: str) -> InputFileError:
    with pytest.raises(InputFileError) as info:
        parse_pipfile(text, "Pipfile")
    return info.value


def test_bad_toml_names_line_and_column() -> None:
    err = error('[packages]\nalpha = "*\n')
    assert err.path == "Pipfile"
    assert "line 2" in err.message


@pytest.mark.parametrize(
    ("text", "key_path"),
    [
        ("[packages]\nrequests = {version = 2}\n", "packages.requests.version"),
        ('[packages]\nrequests = "=>1"\n', "packages.requests"),
        ('[packages]\nrequests = {version = "bogus!"}\n', "packages.requests.version"),
        ("[packages]\nrequests = {extras = 3}\n", "packages.requests.extras"),
        ('[packages]\nrequests = {extras = ["a", 1]}\n', "packages.requests.extras[1]"),
        (
            '[packages]\nrequests = {markers = "python_version >>> 3"}\n',
            "packages.requests.markers",
        ),
        ('[packages]\nrequests = {sys_platform = "linux"}\n', "packages.requests.sys_platform"),
        ('[packages]\nrequests = {editable = "yes", path = "."}\n', "packages.requests.editable"),
        ("[packages]\nrequests = {git = 1}\n", "packages.requests.git"),
        ("[packages]\nrequests = {index = false}\n", "packages.requests.index"),
        ("[packages]\nrequests = 1\n", "packages.requests"),
        ("[dev-packages]\npytest = {version = []}\n", "dev-packages.pytest.version"),
        ("[docs]\nsphinx = {version = 1.5}\n", "docs.sphinx.version"),
        ("packages = 1\n", "packages"),
        ('[[source]]\nname = "x"\n', "source[0].url"),
        ('[[source]]\nname = "x"\nurl = ""\n', "source[0].url"),
        ('[[source]]\nname = 1\nurl = "http://h"\n', "source[0].name"),
        ('source = "x"\n', "source"),
        ("source = [1]\n", "source[0]"),
        ("[requires]\npython_version = 3.11\n", "requires.python_version"),
        ('requires = "3"\n', "requires"),
        ('[pipenv]\nallow_prereleases = "yes"\n', "pipenv.allow_prereleases"),
        ('pipenv = "x"\n', "pipenv"),
    ],
)
def test_errors_name_the_key_path(text: str, key_path: str) -> None:
    err = error(text)
    assert err.key_path == key_path
    assert str(err).startswith(f"Pipfile: {key_path}: ")


def test_type_errors_say_what_was_found() -> None:
    assert "got a number" in error("[packages]\nrequests = {version = 2}\n").reason


# -- editing ---------------------------------------------------------------------------------

BASE = """\
# top comment
[[source]]
url = "http://127.0.0.1/simple"
verify_ssl = false
name = "local"

[packages]
Requests = "*"  # keep me

[dev-packages]

[requires]
python_version = "3.11"
"""


def test_add_package_appends_and_keeps_comments() -> None:
    out = add_package(BASE, "default", "alpha", "==1.0")
    assert 'Requests = "*"  # keep me\nalpha = "==1.0"\n' in out
    assert out.startswith("# top comment\n")


def test_add_package_to_empty_dev_section() -> None:
    out = add_package(BASE, "develop", "pytest", "*")
    assert '[dev-packages]\npytest = "*"\n' in out
    assert parse_pipfile(out).categories["develop"][0].name == "pytest"


def test_add_package_replaces_same_canonical_name_in_place() -> None:
    out = add_package(BASE, "default", "requests", ">=2")
    assert 'Requests = ">=2"' in out
    assert [d.specifier for d in parse_pipfile(out).categories["default"]] == [">=2"]


def test_add_package_with_a_table() -> None:
    out = add_package(BASE, "default", "alpha", {"version": "*", "extras": ["x"], "index": "local"})
    assert 'alpha = {version = "*", extras = ["x"], index = "local"}' in out
    dep = parse_pipfile(out).categories["default"][-1]
    assert (dep.extras, dep.index) == (("x",), "local")


def test_add_package_creates_missing_section() -> None:
    out = add_package('[packages]\nalpha = "*"\n', "docs", "sphinx", "*")
    assert out == '[packages]\nalpha = "*"\n\n[docs]\nsphinx = "*"\n'


def test_add_package_creates_packages_in_empty_file() -> None:
    assert (
        parse_pipfile(add_package("", "default", "alpha", "*")).categories["default"][0].name
        == "alpha"
    )


def test_add_package_rejects_non_table_section() -> None:
    with pytest.raises(InputFileError):
        add_package('packages = "x"\n', "default", "alpha", "*")


def test_remove_package_any_spelling_everywhere() -> None:
    text = add_package(BASE, "develop", "requests", "*")
    out = remove_package(text, "REQUESTS")
    parsed = parse_pipfile(out)
    assert parsed.categories["default"] == () and parsed.categories["develop"] == ()
    assert out.startswith("# top comment\n")


def test_remove_package_only_from_given_categories() -> None:
    text = add_package(BASE, "develop", "requests", "*")
    parsed = parse_pipfile(remove_package(text, "requests", ["develop"]))
    assert [d.name for d in parsed.categories["default"]] == ["Requests"]
    assert parsed.categories["develop"] == ()


def test_remove_missing_package_changes_nothing() -> None:
    assert remove_package(BASE, "nope") == BASE


def test_remove_from_missing_section_is_fine() -> None:
    assert remove_package(BASE, "requests", ["docs"]) == BASE


def test_new_pipfile_text() -> None:
    text = new_pipfile_text("3.11", [Source("local", "${IDX}", False)])
    assert text == (
        '[[source]]\nurl = "${IDX}"\nverify_ssl = false\nname = "local"\n\n'
        '[packages]\n\n[dev-packages]\n\n[requires]\npython_version = "3.11"\n'
    )


def test_new_pipfile_without_python_or_sources() -> None:
    assert new_pipfile_text(None) == "[packages]\n\n[dev-packages]\n"


def test_new_pipfile_round_trips() -> None:
    parsed = parse_pipfile(new_pipfile_text("3.9", [Source("a", "https://a/simple", True)]))
    assert parsed.requires == {"python_version": "3.9"}
    assert parsed.sources == (Source("a", "https://a/simple", True),)


def test_section_and_category_names() -> None:
    assert section_name("default") == "packages"
    assert section_name("develop") == "dev-packages"
    assert section_name("docs") == "docs"
    assert category_name("dev-packages") == "develop"
    assert category_name("docs") == "docs"


def recorded_markers() -> list[tuple[str, str, str | None]]:
    return [
        (case, key, value) for case in CASES for key, value in RECORDED[case]["markers"].items()
    ]


@pytest.mark.parametrize(("case", "key", "expected"), recorded_markers())
def test_markers_are_folded_like_pipenv(case: str, key: str, expected: str | None) -> None:
    section, name = key.split(".", 1)
    text = (DATA / "pipfiles" / f"{case}.toml").read_text("utf-8")
    category = category_name(section)
    dep = next(d for d in parse_pipfile(text).categories[category] if d.name == name)
    if "os_name" in parse_toml(text)[section][name]:
        assert (
            dep.markers is not None and "os_name" in dep.markers
        )  # pipenv drops an os_name key; we keep it
    else:
        assert dep.markers == expected


def test_add_package_to_a_file_without_final_newline() -> None:
    assert add_package('[packages]\nalpha = "*"', "develop", "beta", "*") == (
        '[packages]\nalpha = "*"\n\n[dev-packages]\nbeta = "*"\n'
    )


def test_editing_keeps_crlf_line_endings() -> None:
    text = '[packages]\r\nalpha = "*"\r\n'
    assert (
        add_package(text, "default", "beta", "*") == '[packages]\r\nalpha = "*"\r\nbeta = "*"\r\n'
    )
    assert remove_package(text, "alpha") == "[packages]\r\n"


def test_parse_toml_reads_what_tomlkit_reads_and_names_line_and_column_of_an_error() -> None:
    text = (
        '[[source]]\nurl = "https://example.invalid/simple"\nverify_ssl = true\nname = "x"\n\n'
        '[packages]\nrequests = {version = ">=2", extras = ["socks"]}\n"Zope.Interface" = "*"\n'
        'a = {git = "https://example.invalid/a.git", ref = "v1", editable = true}\n\n'
        "[dev-packages]\npytest = '*'\n\n[requires]\npython_version = \"3.11\"\n\n"
        '[pipenv]\nallow_prereleases = false\n[scripts]\nt = "pytest -x"\n[packages.nested]\nversion = "1"\n'
    )
    assert parse_toml(text) == tomlkit.parse(text).unwrap()
    with pytest.raises(InputFileError, match=r"not valid TOML at line 2, column \d+"):
        parse_toml('[packages]\nrequests = "*\n')
