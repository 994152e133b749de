"""requirements.in/.txt: pip's reading rules, to_lock, and pip-compile's layout (golden files by pip-compile)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from packaging.utils import canonicalize_name

from micro_thoth.errors import InputFileError, NotLockedError
from micro_thoth.format_control import Formats
from micro_thoth.formats.requirements import (
    RequirementLine,
    RequirementsFile,
    ResolvedEntry,
    dump_requirements,
    logical_lines,
    nested_path,
    parse_requirement_line,
    parse_requirements,
    to_lock,
)
from micro_thoth.models import DirectReference, Hash, Pin, Source

from .conftest import DATA

PIP_COMPILE_MADE = Path(__file__).parents[1] / "fixtures" / "pip-compile-made"
A, B, C = "sha256:" + "a" * 64, "sha256:" + "b" * 64, "sha256:" + "c" * 64


def parse(
    text: str, files: dict[str, str] | None = None, path: str = "requirements.txt"
) -> RequirementsFile:
    def read(name: str) -> str:
        if name not in (files or {}):
            raise FileNotFoundError(2, "No such file or directory", name)
        return (files or {})[name]

    return parse_requirements(text, path, read=read)


def one(line: str):  # type: ignore[no-untyped-def]
    return parse_requirement_line(line, "requirements.txt", "line 1")


# -- lines -----------------------------------------------------------------------------------


def test_comments_and_blank_lines_are_dropped() -> None:
    text = "# top\n\nalpha  # why\n   # indented comment\nbeta#not-a-comment\n"
    assert list(logical_lines(text)) == [(3, "alpha"), (5, "beta#not-a-comment")]


def test_continuations_are_joined_and_keep_the_first_line_number() -> None:
    text = "x\nalpha==1 \\\n  --hash=sha256:aa \\\n  --hash=sha256:bb\ny\n"
    assert list(logical_lines(text)) == [
        (1, "x"),
        (2, "alpha==1   --hash=sha256:aa   --hash=sha256:bb"),
        (5, "y"),
    ]


def test_continuation_ended_by_a_comment_line() -> None:
    assert list(logical_lines("alpha \\\n# comment\nbeta\n")) == [(1, "alpha"), (3, "beta")]


def test_continuation_at_end_of_file() -> None:
    assert list(logical_lines("alpha==1 \\")) == [(1, "alpha==1")]


def test_crlf_line_endings() -> None:
    assert parse("alpha==1\r\nbeta\r\n").dependencies[1].name == "beta"


# -- requirements ----------------------------------------------------------------------------


def test_named_requirement_with_extras_and_markers() -> None:
    dep = one('Beta[x,a]>=2,<3 ; python_version < "3.10"')
    assert (dep.name, dep.specifier, dep.extras) == ("Beta", "<3,>=2", ("a", "x"))
    assert dep.markers == 'python_version < "3.10"'


def test_hashes_in_both_spellings_are_collected() -> None:
    dep = one(f"alpha==1.0 --hash={A} --hash {B} --hash={A}")
    assert dep.hashes == (Hash.parse(A), Hash.parse(B))
    assert dep.pinned_version() == "1.0"


@pytest.mark.parametrize("option", ["--config-settings=k=v", "-C k=v", "--global-option x", "--install-option x"])
def test_per_requirement_options_we_cannot_honour_are_refused_by_name(option: str) -> None:
    with pytest.raises(InputFileError) as err:
        parse(f"beta\nalpha==1 {option} --hash={A}\n")
    assert "is not supported" in str(err.value) and option.split()[0].split("=")[0] in str(err.value)
    assert err.value.key_path == "line 2"


def test_vcs_requirement_with_ref_egg_and_subdirectory() -> None:
    dep = one("git+https://user@git.invalid/org/repo.git@v1.2#egg=Repo&subdirectory=py")
    assert dep.name == "Repo"
    assert dep.direct == DirectReference(
        "git", "https://user@git.invalid/org/repo.git", "v1.2", "py"
    )


def test_vcs_requirement_without_ref() -> None:
    dep = one("hg+https://hg.invalid/repo#egg=thing")
    assert dep.direct == DirectReference("hg", "https://hg.invalid/repo")


def test_named_vcs_requirement() -> None:
    dep = one("lib @ git+https://g.invalid/lib.git@abc123")
    assert dep.name == "lib"
    assert dep.direct == DirectReference("git", "https://g.invalid/lib.git", "abc123")


def test_editable_vcs_requirement() -> None:
    dep = one("-e git+https://g.invalid/lib.git#egg=lib")
    assert dep.direct is not None and dep.direct.editable and dep.name == "lib"


def test_editable_local_path_with_extras() -> None:
    dep = one("--editable=.[dev,docs]")
    assert dep.direct == DirectReference("path", ".", editable=True)
    assert dep.extras == ("dev", "docs")
    assert dep.name == ""


def test_url_requirement_takes_the_name_from_the_file() -> None:
    dep = one('https://f.invalid/thing-3.0.tar.gz ; os_name == "nt"')
    assert dep.name == "thing"
    assert dep.markers == 'os_name == "nt"'
    assert dep.direct == DirectReference("file", "https://f.invalid/thing-3.0.tar.gz")


def test_named_url_with_hash_fragment() -> None:
    dep = one(f"wheel @ https://f.invalid/wheel-2.0-py3-none-any.whl#sha256={'C' * 64}")
    assert dep.hashes == (Hash.parse(C),)
    assert (
        dep.direct is not None
        and dep.direct.location == "https://f.invalid/wheel-2.0-py3-none-any.whl"
    )


def test_local_wheel_path() -> None:
    dep = one("./dist/pkg_name-1.0-py3-none-any.whl")
    assert dep.name == "pkg-name"
    assert dep.direct == DirectReference("path", "./dist/pkg_name-1.0-py3-none-any.whl")


def test_file_url_to_a_directory_is_a_path() -> None:
    dep = one("file:///src/project#egg=project")
    assert dep.direct == DirectReference("path", "file:///src/project")
    assert dep.name == "project"


def test_egg_fragment_with_extras() -> None:
    dep = one("git+https://g.invalid/x.git#egg=x[fast]")
    assert (dep.name, dep.extras) == ("x", ("fast",))


def test_env_vars_are_kept_as_written() -> None:
    reqs = parse("--index-url https://${USER}:${TOKEN}@idx.invalid/simple\nalpha\n")
    assert reqs.index_url == "https://${USER}:${TOKEN}@idx.invalid/simple"


# -- options and nested files ----------------------------------------------------------------


def test_index_options_in_every_spelling() -> None:
    text = "-i https://a/simple\n--extra-index-url=https://b/simple\n--extra-index-url https://c/simple\n-fhttps://links/\n--find-links ./wheels\n--trusted-host a\n"
    reqs = parse(text)
    assert reqs.index_url == "https://a/simple"
    assert reqs.extra_index_urls == ("https://b/simple", "https://c/simple")
    assert reqs.find_links == ("https://links/", "./wheels")
    assert reqs.trusted_hosts == ("a",)
    assert reqs.index_urls == ("https://a/simple", "https://b/simple", "https://c/simple")


def test_last_index_url_wins() -> None:
    assert (
        parse("-i https://a/simple\n--index-url=https://b/simple\n").index_url == "https://b/simple"
    )


def test_flags() -> None:
    reqs = parse("--pre\n--no-index\n--require-hashes\n--prefer-binary\n--only-binary :all:\n--no-binary x\n")
    assert (reqs.pre, reqs.no_index, reqs.require_hashes) == (True, True, True)
    assert reqs.formats_after() == Formats(no_binary=frozenset({"x"}), only_binary=frozenset({":all:"}), prefer_binary=True)


# pip's documented requirements-file options (pip's "Requirements File Format" page): each is
# honoured (parsed into the value) or refused naming the line; none is ignored.
PIP_FILE_OPTIONS = {
    "-i {url}": lambda r: r.index_url == "http://127.0.0.1:1/simple/",
    "--index-url {url}": lambda r: r.index_url == "http://127.0.0.1:1/simple/",
    "--extra-index-url {url}": lambda r: r.extra_index_urls == ("http://127.0.0.1:1/simple/",),
    "--no-index": lambda r: r.no_index,
    "-c other.txt": lambda r: [d.name for d in r.constraints] == ["zeta"],
    "--constraint other.txt": lambda r: [d.name for d in r.constraints] == ["zeta"],
    "-r other.txt": lambda r: "zeta" in [d.name for d in r.dependencies],
    "--requirement other.txt": lambda r: "zeta" in [d.name for d in r.dependencies],
    "-e ./app": lambda r: any(d.direct is not None and d.direct.editable for d in r.dependencies),
    "--editable ./app": lambda r: any(d.direct is not None and d.direct.editable for d in r.dependencies),
    "-f ./wheels": lambda r: r.find_links == ("./wheels",),
    "--find-links ./wheels": lambda r: r.find_links == ("./wheels",),
    "--pre": lambda r: r.pre,
    "--prefer-binary": lambda r: r.formats_after().prefer_binary,
    "--only-binary :all:": lambda r: r.formats_after().only_binary == {":all:"},
    "--no-binary alpha,Beta_Two": lambda r: r.formats_after().no_binary == {"alpha", "beta-two"},
    "--require-hashes": lambda r: r.require_hashes,
    "--trusted-host 127.0.0.1": lambda r: r.trusted_hosts == ("127.0.0.1",),
    f"alpha==1 --hash=sha256:{'a' * 64}": lambda r: r.dependencies[-1].hashes == (Hash.parse(f"sha256:{'a' * 64}"),),
}
PIP_FILE_OPTIONS_REFUSED = ["--use-feature truststore", "alpha==1 --config-settings k=v", "alpha==1 -C k=v",
                            "alpha==1 --global-option --x", "--some-new-option"]


@pytest.mark.parametrize("line", sorted(PIP_FILE_OPTIONS))
def test_every_documented_pip_option_is_honoured(line: str) -> None:
    reqs = parse("beta\n" + line.format(url="http://127.0.0.1:1/simple/") + "\n", {"other.txt": "zeta\n"})
    assert PIP_FILE_OPTIONS[line](reqs), line


@pytest.mark.parametrize("line", PIP_FILE_OPTIONS_REFUSED)
def test_every_other_option_is_refused_naming_the_line(line: str) -> None:
    with pytest.raises(InputFileError) as err:
        parse("beta\n" + line + "\n")
    assert err.value.key_path == "line 2"
    assert line.replace("alpha==1 ", "").split()[0] in str(err.value)


def test_defaults() -> None:
    reqs = parse("")
    assert reqs == RequirementsFile(path="requirements.txt")
    assert reqs.index_urls == ()


def test_nested_requirements_are_relative_to_the_including_file() -> None:
    files = {"reqs/sub/more.txt": "gamma\n-r ../other.txt\n", "reqs/other.txt": "delta\n"}
    reqs = parse("alpha\n-r sub/more.txt\nbeta\n", files, path="reqs/requirements.txt")
    assert [d.name for d in reqs.dependencies] == ["alpha", "gamma", "delta", "beta"]
    assert [(r.path, r.lineno) for r in reqs.requirements][1:3] == [
        ("reqs/sub/more.txt", 1),
        ("reqs/other.txt", 1),
    ]


def test_constraints_and_their_includes_are_constraints() -> None:
    files = {"c.txt": "alpha<2\n-r c2.txt\n", "c2.txt": "beta!=3\n"}
    reqs = parse("alpha\n-c c.txt\n", files)
    assert [d.name for d in reqs.dependencies] == ["alpha"]
    assert [(d.name, d.specifier) for d in reqs.constraints] == [("alpha", "<2"), ("beta", "!=3")]


def test_options_of_nested_files_apply() -> None:
    reqs = parse("-r more.txt\n", {"more.txt": "--extra-index-url https://x/simple\n--pre\n"})
    assert reqs.extra_index_urls == ("https://x/simple",) and reqs.pre


@pytest.mark.parametrize(
    ("parent", "target", "expected"),
    [
        ("requirements.txt", "dev.txt", "dev.txt"),
        ("a/b/requirements.in", "../c.in", "a/c.in"),
        ("a/requirements.in", "/abs/c.in", "/abs/c.in"),
        (None, "x.txt", "x.txt"),
        ("https://h/reqs/r.txt", "more.txt", "https://h/reqs/more.txt"),
        ("r.txt", "https://h/x.txt", "https://h/x.txt"),
    ],
)
def test_nested_path(parent: str | None, target: str, expected: str) -> None:
    assert nested_path(parent, target) == expected


def test_requirement_with_equals_form_of_option() -> None:
    reqs = parse("--requirement=more.txt\n-rmore.txt\n", {"more.txt": "x\n"})
    assert [d.name for d in reqs.dependencies] == ["x", "x"]


# -- errors ----------------------------------------------------------------------------------


def req_error(text: str, files: dict[str, str] | None = None) -> InputFileError:
    with pytest.raises(InputFileError) as info:
        parse(text, files)
    return info.value


@pytest.mark.parametrize(
    ("text", "key_path", "words"),
    [
        ("alpha\n\nbeta=>1\n", "line 3", "not a valid requirement"),
        ("alpha ; python_version >>> '3'\n", "line 1", "not a valid requirement"),
        ("--bogus\n", "line 1", "unknown option"),
        ("-i\n", "line 1", "needs a value"),
        ("alpha --hash=md5:abc\n", "line 1", "not a hash"),
        ("alpha --hash=sha256:xyz\n", "line 1", "not a hash"),
        ("alpha --hash\n", "line 1", "needs a value"),
        ("alpha --frobnicate=1\n", "line 1", "unknown option"),
        ("x\n-r 'unterminated\n", "line 2", "cannot split"),
        ("-r missing.txt\n", "line 1", "cannot read missing.txt"),
    ],
)
def test_errors_name_file_and_line(text: str, key_path: str, words: str) -> None:
    err = req_error(text, {})
    assert (err.path, err.key_path) == ("requirements.txt", key_path)
    assert words in err.reason


def test_missing_file_error_names_the_including_line() -> None:
    def read(path: str) -> str:
        raise FileNotFoundError(2, "No such file or directory", path)

    with pytest.raises(InputFileError) as info:
        parse_requirements("a\n-r nope.txt\n", "reqs.txt", read=read)
    assert str(info.value) == "reqs.txt: line 2: cannot read nope.txt: No such file or directory"


def test_error_in_nested_file_names_that_file() -> None:
    err = req_error("-r more.txt\n", {"more.txt": "ok\nbad=>1\n"})
    assert (err.path, err.key_path) == ("more.txt", "line 2")


def test_include_cycle_is_an_error() -> None:
    err = req_error("-r a.txt\n", {"a.txt": "-r requirements.txt\n"})
    assert "includes itself" in err.reason and err.path == "a.txt"


def test_include_without_reader_is_an_error() -> None:
    with pytest.raises(InputFileError, match="no reader"):
        parse_requirements("-r x.txt\n", "r.txt")


# -- to_lock ---------------------------------------------------------------------------------


def test_to_lock_pins_hashes_and_sources() -> None:
    text = f"-i https://a/simple\n--extra-index-url https://b/simple\nAlpha[x]==1.0 ; os_name == 'nt' --hash={A} --hash={B}\nw @ https://f/w-1.0-py3-none-any.whl --hash={C}\n"
    lock = to_lock(parse(text))
    assert lock.kind == "requirements" and lock.path == "requirements.txt"
    assert lock.sources == (
        Source("index-0", "https://a/simple"),
        Source("index-1", "https://b/simple"),
    )
    alpha, w = lock.categories["default"]
    assert alpha == Pin(
        "Alpha", "1.0", (Hash.parse(A), Hash.parse(B)), markers='os_name == "nt"', extras=("x",)
    )
    assert w.version is None and w.direct is not None and w.hashes == (Hash.parse(C),)


def test_to_lock_without_index_has_no_sources() -> None:
    assert to_lock(parse(f"alpha==1 --hash={A}\n")).sources == ()


def test_to_lock_accepts_a_hashed_local_archive() -> None:
    lock = to_lock(parse(f"./dist/pkg-1.0-py3-none-any.whl --hash={A}\n"))
    assert lock.categories["default"][0].name == "pkg"


@pytest.mark.parametrize(
    ("line", "lineno"),
    [
        ("alpha>=1 --hash=" + A, 2),
        ("alpha==1", 2),
        ("alpha==1.*  --hash=" + A, 2),
        ("-e git+https://g/x.git#egg=x", 2),
        ("git+https://g/x.git@abc#egg=x", 2),
        (". --hash=" + A, 2),
    ],
)
def test_to_lock_refuses_unpinned_or_unhashed(line: str, lineno: int) -> None:
    reqs = parse(f"ok==1 --hash={A}\n{line}\nlater\n")
    with pytest.raises(NotLockedError) as info:
        to_lock(reqs)
    assert info.value.path == "requirements.txt"
    assert info.value.key_path == f"line {lineno}"
    assert line.split()[0] in info.value.reason


def test_to_lock_names_the_nested_file() -> None:
    reqs = parse("-r more.txt\n", {"more.txt": "\n\nalpha\n"})
    with pytest.raises(NotLockedError) as info:
        to_lock(reqs)
    assert str(info.value).startswith("more.txt: line 3: ")


def test_pip_compile_output_is_a_lock() -> None:
    text = (PIP_COMPILE_MADE / "hashes" / "requirements.txt").read_text()
    lock = to_lock(parse_requirements(text, "requirements.txt"))
    assert [(p.name, p.version, len(p.hashes)) for p in lock.categories["default"]] == [
        ("alpha", "1.1", 2), ("beta", "2.0", 2), ("delta", "3.0", 1), ("devtool", "4.2", 1), ("gamma", "0.5", 1)
    ]  # fmt: skip


# -- writer ----------------------------------------------------------------------------------

VIA = {"alpha": ("-r requirements.in",), "beta": ("devtool", "alpha"), "delta": ("-r requirements.in",),
       "devtool": ("-r requirements.in",), "gamma": ("alpha",)}  # fmt: skip


def entries_from(text: str, with_hashes: bool) -> list[ResolvedEntry]:
    deps = parse_requirements(text, "requirements.txt").dependencies
    return [
        ResolvedEntry(
            d.name,
            d.pinned_version(),
            d.hashes if with_hashes else (),
            d.markers,
            VIA[d.name],
            d.extras,
        )
        for d in reversed(deps)
    ]


@pytest.mark.parametrize("case", ["hashes", "plain"])
def test_writer_matches_pip_compile(case: str) -> None:
    golden = (PIP_COMPILE_MADE / case / "requirements.txt").read_text()
    entries = entries_from(golden, with_hashes=case == "hashes")
    ours = dump_requirements(
        entries,
        header="thoth-pip compile requirements.in",
        python_version="3.11",
        hashes=case == "hashes",
    )
    assert ours == golden.replace("autogenerated by pip-compile", "autogenerated by thoth-pip")


def test_writer_without_header_or_annotations() -> None:
    entries = [
        ResolvedEntry("B_eta", "2.0", (Hash.parse(B), Hash.parse(A)), via=("x",)),
        ResolvedEntry("alpha", "1"),
    ]
    assert dump_requirements(entries, annotate=False) == (
        f"alpha==1\nb-eta==2.0 \\\n    --hash={A} \\\n    --hash={B}\n"
    )


def test_writer_hashes_off() -> None:
    assert dump_requirements([ResolvedEntry("a", "1", (Hash.parse(A),))], hashes=False) == "a==1\n"


def test_writer_index_options_then_blank_line() -> None:
    text = dump_requirements(
        [ResolvedEntry("a", "1")],
        index_url="https://a/simple",
        extra_index_urls=["https://b/simple", "https://b/simple"],
        find_links=["./wheels"],
    )
    assert (
        text
        == "--index-url https://a/simple\n--extra-index-url https://b/simple\n--find-links ./wheels\n\na==1\n"
    )


def test_writer_header_without_python_version() -> None:
    assert dump_requirements([], header="thoth-pip compile").startswith(
        "#\n# This file is autogenerated by thoth-pip\n# by the following command:\n#\n#    thoth-pip compile\n#\n"
    )


def test_writer_empty_is_one_newline() -> None:
    assert dump_requirements([]) == "\n"


def test_writer_editables_first_and_direct_references() -> None:
    entries = [
        ResolvedEntry("zed", "1"),
        ResolvedEntry("lib", None, direct=DirectReference("git", "https://g/lib.git", "abc")),
        ResolvedEntry("app", None, direct=DirectReference("path", ".", editable=True)),
        ResolvedEntry("w", None, direct=DirectReference("file", "https://f/w-1-py3-none-any.whl")),
        ResolvedEntry("local", None, direct=DirectReference("path", "./local")),
    ]
    assert dump_requirements(entries, annotate=False).splitlines() == [
        "-e .",
        "lib @ git+https://g/lib.git@abc",
        "./local",
        "w @ https://f/w-1-py3-none-any.whl",
        "zed==1",
    ]


def test_writer_markers_are_normalised() -> None:
    assert (
        dump_requirements([ResolvedEntry("a", "1", markers="os_name=='nt'")])
        == 'a==1 ; os_name == "nt"\n'
    )


def test_written_file_parses_back() -> None:
    entries = [
        ResolvedEntry("a", "1", (Hash.parse(A),), "python_version < '3.9'", ("-r r.in",), ("x",))
    ]
    dep = parse_requirements(dump_requirements(entries, header="cmd")).dependencies[0]
    assert (dep.name, dep.pinned_version(), dep.hashes, dep.extras) == (
        "a",
        "1",
        (Hash.parse(A),),
        ("x",),
    )


# -- against pip itself ----------------------------------------------------------------------

PIP_READ = json.loads((DATA / "pip-requirements.json").read_text())["requirements"]


def ours_by_place() -> dict[tuple[str, int], tuple[RequirementLine, bool]]:
    root = DATA / "requirements"
    reqs = parse_requirements(
        (root / "main.txt").read_text(),
        "requirements/main.txt",
        read=lambda p: (DATA / p).read_text(),
    )
    places = {(r.path or "", r.lineno): (r, False) for r in reqs.requirements}
    places.update({(r.path or "", r.lineno): (r, True) for r in reqs.constraint_lines})
    return places


def pip_url_without_egg(url: str) -> str:
    base, _sep, fragment = url.partition("#")
    keep = [p for p in fragment.split("&") if p.startswith("subdirectory=")]
    return base + ("#" + "&".join(keep) if keep else "")


def test_we_read_the_same_lines_as_pip_in_the_same_order() -> None:
    ours = ours_by_place()
    assert set(ours) == {(r["file"], r["line"]) for r in PIP_READ}
    requirements = [place for place, (_line, constraint) in ours.items() if not constraint]
    assert requirements == [(r["file"], r["line"]) for r in PIP_READ if not r["constraint"]]


@pytest.mark.parametrize("recorded", PIP_READ, ids=lambda r: f"{r['file']}:{r['line']}")
def test_each_requirement_reads_as_pip_reads_it(recorded: dict[str, Any]) -> None:
    line, constraint = ours_by_place()[(recorded["file"], recorded["line"])]
    dep = line.dependency
    assert constraint == recorded["constraint"]
    assert canonicalize_name(dep.name) == canonicalize_name(recorded["name"])
    assert sorted(map(canonicalize_name, dep.extras)) == sorted(
        map(canonicalize_name, recorded["extras"])
    )
    assert dep.markers == recorded["markers"]
    assert sorted(str(h) for h in dep.hashes) == recorded["hashes"]
    assert (dep.direct is not None and dep.direct.editable) == recorded["editable"]
    if recorded["link"] is None:
        assert dep.direct is None and dep.specifier == recorded["specifier"]
    else:
        assert dep.direct is not None and dep.direct.pip_url() == pip_url_without_egg(
            recorded["link"]
        )


def test_bare_editable_flag_is_an_error() -> None:
    assert "-e needs" in req_error("-e\n").reason


def test_local_path_with_egg_fragment() -> None:
    dep = one("-e ./pkg#egg=thing&subdirectory=src")
    assert dep.name == "thing"
    assert dep.direct == DirectReference("path", "./pkg", None, "src", True)


def test_a_subdirectory_joins_a_digest_fragment() -> None:
    """``#sha256=...`` then ``subdirectory``: one fragment, ``&``-joined, as pip parses it."""
    direct = DirectReference("file", "https://x.invalid/mono.zip#sha256=ab", subdirectory="pkg")
    assert direct.pip_url() == "https://x.invalid/mono.zip#sha256=ab&subdirectory=pkg"
    assert DirectReference("file", "https://x.invalid/mono.zip", subdirectory="pkg").pip_url().endswith(".zip#subdirectory=pkg")


def test_named_local_path() -> None:
    dep = one("name @ ./local")
    assert dep.name == "name" and dep.direct == DirectReference("path", "./local")


def test_url_without_a_name_has_an_empty_name() -> None:
    assert one("https://x.invalid/").name == ""
