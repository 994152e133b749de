"""End to end: requirements, verify, clean, graph, check, run, --where/--venv/--py on pipenv-made fixtures."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from micro_thoth.errors import InputFileError
from micro_thoth.formats import dotenv
from tests.pipeline.conftest import FIXTURES, venv_python

SMALL_DEFAULT = """\
-i ${THOTH_TEST_INDEX}
alpha[fast]==1.1
beta==2.0
delta==3.0; python_version >= '3.8'
gamma==0.5
win_only
"""
H_ALPHA = "--hash=sha256:0c515b70096c94b1e726249c21145bc25120867953f389d145145253b2b5f5d5 --hash=sha256:6b10e042d6f3da051ac850fcfc01657034e53ba4f97504be794ccc28ee03b24d"
H_BETA = "--hash=sha256:76a83245c4b92c9cb5e2b211806bb62018c1334d0b4c13564e3bcacf8e058dfe --hash=sha256:93a11f36a55834be3e17f0d62b067473148ce30fc23932ab9d68b5708cec7d42"
H_DEVTOOL = "--hash=sha256:c27d247d88a8f487f97f155eaa4005ca9d24ce79b53a35883cbcbd3a1862f4b9"


def site_packages(app: Path) -> Path:
    return next((app / ".venv").rglob("site-packages"))


# --- requirements ------------------------------------------------------------------------------


def test_requirements_default_is_pipenvs_output(project, thoth) -> None:
    app = project("pipenv-made/small")
    result = thoth("requirements", "-C", str(app))
    assert result.code == 0, result.err
    assert result.out == SMALL_DEFAULT
    assert thoth("requirements", "--json", "-C", str(app)).json() == {"format": "pipenv", "lines": SMALL_DEFAULT.splitlines()}
    assert thoth("requirements", "--clear", "-C", str(app)).code == 2  # no cache to clear: refused, not ignored


def test_requirements_dev_with_hashes_orders_like_pipenv(project, thoth) -> None:
    app = project("pipenv-made/small")
    out = thoth("requirements", "--dev", "--hash", "-C", str(app)).out.splitlines()
    # pipenv merges develop first, then default: shared names keep develop's place
    assert out[:3] == ["-i ${THOTH_TEST_INDEX}", f"beta==2.0 {H_BETA}", f"devtool==4.2 {H_DEVTOOL}"]
    assert out[3] == f"alpha[fast]==1.1 {H_ALPHA}"
    assert out[-1] == "win_only"


def test_requirements_dev_only_markers_and_index_excluded(project, thoth) -> None:
    app = project("pipenv-made/small")
    assert thoth("requirements", "--dev-only", "--exclude-index", "-C", str(app)).out == "beta==2.0\ndevtool==4.2\n"
    out = thoth("requirements", "--exclude-markers", "-C", str(app)).out
    assert "delta==3.0\n" in out and "python_version" not in out


def test_requirements_categories_sources_and_paths(project, thoth) -> None:
    docs = project("pipenv-made/custom-category")
    assert thoth("requirements", "--categories", "docs", "--exclude-index", "-C", str(docs)).out.splitlines() == [
        "alpha==1.1", "beta==2.0", "docgen==7.0"
    ]
    two = thoth("requirements", "-C", str(project("pipenv-made/two-sources"))).out.splitlines()
    assert two[:2] == ["-i ${THOTH_TEST_INDEX}", "--extra-index-url ${THOTH_TEST_INDEX_2}"]
    local = thoth("requirements", "-C", str(project("pipenv-made/local-path"))).out
    assert "\n./app\n" in local
    assert "gamma==0.5; os_name == 'posix' or os_name == 'nt'\n" in local


def test_requirements_from_pipfile_and_no_lock(project, thoth) -> None:
    app = project("pipenv-made/small")
    declared = thoth("requirements", "--from-pipfile", "--exclude-index", "-C", str(app)).out.splitlines()
    assert declared == ["alpha[fast]==1.1", "delta==3.0; python_version >= '3.8'", "win_only"]
    loose = thoth("requirements", "--no-lock", "-C", str(app)).out.splitlines()
    assert loose == ["-i ${THOTH_TEST_INDEX}", "Alpha[fast]", "win_only; sys_platform == 'win32'",
                     "delta==3.0; python_version >= '3.8'"]  # pipenv's --no-lock output, verbatim


def test_requirements_micropipenv_format(project, thoth, monkeypatch) -> None:
    monkeypatch.setenv("THOTH_TEST_INDEX", "http://127.0.0.1:9/simple/")
    app = project("pipenv-made/small")
    out = thoth("requirements", "--format", "micropipenv", "-C", str(app)).out
    assert out.startswith("--index-url http://127.0.0.1:9/simple/\n--trusted-host 127.0.0.1:9\n#\n# Default dependencies\n#\n")
    assert "alpha[fast]==1.1 \\\n    --hash=sha256:0c515b" in out
    assert "#\n# Dev dependencies\n#\ndevtool==4.2 \\\n" in out
    assert out.count("beta==2.0") == 1  # the first section to name a package wins
    bare = thoth("requirements", "--format", "micropipenv", "--no-hashes", "--no-indexes", "--no-comments",
                 "--no-dev", "-C", str(app)).out
    assert bare == "alpha[fast]==1.1\nbeta==2.0\ndelta==3.0; python_version >= '3.8'\ngamma==0.5\nwin_only\n"
    dev_only = thoth("requirements", "--format", "micropipenv", "--dev-only", "--no-hashes", "--no-indexes", "-C", str(app))
    assert dev_only.out == "#\n# Dev dependencies\n#\nbeta==2.0\ndevtool==4.2\n"
    both = thoth("requirements", "--format", "micropipenv", "--no-default", "--no-dev", "-C", str(app))
    assert both.code == 2 and "both" in both.err


def test_requirements_from_poetry_lock(tmp_path, thoth) -> None:
    (tmp_path / "poetry.lock").write_text(
        '[[package]]\nname = "alpha"\nversion = "1.1"\ndescription = ""\noptional = false\npython-versions = "*"\n'
        'files = [{file = "alpha-1.1-py3-none-any.whl", hash = "sha256:' + "a" * 64 + '"}]\n\n'
        '[[package]]\nname = "pytest"\nversion = "8.0"\ndescription = ""\noptional = false\npython-versions = "*"\n'
        'groups = ["dev"]\nfiles = []\n\n'
        '[metadata]\nlock-version = "2.1"\npython-versions = "^3.9"\ncontent-hash = "x"\n'
    )
    out = thoth("requirements", "--format", "micropipenv", "--no-indexes", "-C", str(tmp_path)).out
    assert out == ("#\n# Default dependencies\n#\nalpha==1.1 \\\n    --hash=sha256:" + "a" * 64 + "\n"
                   "#\n# Dev dependencies\n#\npytest==8.0\n")
    assert thoth("requirements", "-C", str(tmp_path)).out == "alpha==1.1\n"


def test_requirements_without_lock_fails_with_hint(tmp_path, thoth) -> None:
    (tmp_path / "Pipfile").write_text("[packages]\n")
    result = thoth("requirements", "-C", str(tmp_path))
    assert result.code == 1 and "no Pipfile.lock" in result.err and "Traceback" not in result.err


# --- verify ---------------------------------------------------------------------------------


def test_verify_up_to_date_and_stale(project, thoth) -> None:
    app = project("pipenv-made/small")
    ok = thoth("verify", "-C", str(app))
    assert ok.code == 0 and ok.out == "Pipfile.lock is up-to-date.\n"
    pipfile = app / "Pipfile"
    pipfile.write_text(pipfile.read_text().replace('devtool = "*"', 'devtool = "*"\nepsilon = "*"'))
    stale = thoth("verify", "-C", str(app))
    assert stale.code == 1 and "Pipfile.lock is out-of-date" in stale.err
    data = thoth("verify", "--json", "-C", str(app))
    assert data.code == 1 and data.json()["up_to_date"] is False


def test_verify_needs_a_pipfile(tmp_path, thoth) -> None:
    result = thoth("verify", "-C", str(tmp_path))
    assert result.code == 1 and "No Pipfile present at project home." in result.err


# --- environments: sync first ---------------------------------------------------------------


@pytest.fixture
def synced(indexes, project, thoth):
    """The small fixture project, synced with --dev into its .venv."""
    app = project("pipenv-made/small")
    result = thoth("sync", "--dev", "-C", str(app))
    assert result.code == 0, result.err
    return app


def fake_dist(site: Path, name: str, version: str, requires: tuple[str, ...] = ()) -> Path:
    info = site / f"{name}-{version}.dist-info"
    info.mkdir()
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}", *(f"Requires-Dist: {r}" for r in requires)]
    (info / "METADATA").write_text("\n".join(lines) + "\n")
    (site / f"{name}.py").write_text("x = 1\n")
    (info / "RECORD").write_text(f"{name}.py,,\n{info.name}/METADATA,,\n{info.name}/RECORD,,\n")
    return info


def test_where_venv_py(synced, thoth, monkeypatch, tmp_path) -> None:
    monkeypatch.chdir(synced)
    assert thoth("--where").out.strip() == str(synced)
    assert thoth("--venv").out.strip() == str(synced / ".venv")
    assert thoth("--py").out.strip() == str(synced / ".venv" / "bin" / "python")
    monkeypatch.chdir(tmp_path)
    none = thoth("--venv")
    assert none.code == 1 and "No virtualenv has been created for this project" in none.err
    assert thoth("--where").code == 1
    monkeypatch.setenv("PIPENV_PIPFILE", str(synced / "Pipfile"))
    assert thoth("--venv").out.strip() == str(synced / ".venv")


def test_clean_removes_only_what_the_lock_does_not_name(synced, thoth) -> None:
    site = site_packages(synced)
    fake_dist(site, "stray", "1.0")
    dry = thoth("clean", "--dry-run", "-C", str(synced))
    assert dry.code == 0 and dry.out == "stray\n"
    assert (site / "stray-1.0.dist-info").exists()
    done = thoth("clean", "-C", str(synced))
    assert done.code == 0, done.err
    assert not (site / "stray-1.0.dist-info").exists() and not (site / "stray.py").exists()
    assert (site / "alpha-1.1.dist-info").exists() and (site / "devtool-4.2.dist-info").exists()
    assert "Nothing to clean" in thoth("clean", "-C", str(synced)).err


def test_clean_warns_about_a_stale_lock_and_uses_it(synced, thoth) -> None:
    pipfile = synced / "Pipfile"
    pipfile.write_text(pipfile.read_text().replace('devtool = "*"', 'devtool = "*"\nzeta = "*"'))
    result = thoth("clean", "--dry-run", "-C", str(synced))
    assert result.code == 0 and result.out == ""
    assert "out of date" in result.err


def test_clean_without_environment_says_so(project, thoth) -> None:
    result = thoth("clean", "-C", str(project("pipenv-made/small")))
    assert result.code == 1 and "No virtualenv has been created" in result.err


def test_graph_text_json_tree_reverse(synced, thoth) -> None:
    text = thoth("graph", "-C", str(synced)).out.splitlines()
    assert text[0] == "alpha==1.1"
    assert text[1] == "└── beta [required: >=1, installed: 2.0]"
    assert "devtool==4.2" in text and "beta==2.0" not in text  # beta is below alpha and devtool
    flat = thoth("graph", "--json", "-C", str(synced)).json()
    alpha = next(e for e in flat if e["package"]["key"] == "alpha")
    assert alpha == {
        "package": {"key": "alpha", "package_name": "alpha", "installed_version": "1.1"},
        "dependencies": [{"key": "beta", "package_name": "beta", "installed_version": "2.0", "required_version": ">=1"}],
    }
    tree = thoth("graph", "--json-tree", "-C", str(synced)).json()
    root = next(e for e in tree if e["key"] == "devtool")
    assert root["required_version"] == "4.2" and root["dependencies"][0]["required_version"] == "Any"
    reverse = thoth("graph", "--reverse", "-C", str(synced)).out.splitlines()
    at = reverse.index("beta==2.0")
    assert reverse[at + 1:at + 3] == ["├── alpha==1.1 [requires: beta>=1]", "└── devtool==4.2 [requires: beta]"]
    assert thoth("graph", "--json", "--json-tree", "-C", str(synced)).code == 2


def test_graph_nested_branches_draw_like_pipdeptree(synced, thoth) -> None:
    site = site_packages(synced)
    fake_dist(site, "top", "1.0", ("alpha>=1", "zeta"))
    lines = thoth("graph", "-C", str(synced)).out.splitlines()
    at = lines.index("top==1.0")
    assert lines[at + 1:at + 4] == [
        "├── alpha [required: >=1, installed: 1.1]",
        "│   └── beta [required: >=1, installed: 2.0]",
        "└── zeta [required: Any, installed: ?]",
    ]


def test_graph_closure_of_installed_packages(synced) -> None:
    from micro_thoth.install import environment_for, installed_distributions
    from micro_thoth.pipeline.graph import build_graph, closure

    env = environment_for(venv_python(synced))
    graph = build_graph(installed_distributions(env).values(), env.interpreter.markers)
    assert sorted(closure(graph, "DevTool")) == ["beta", "devtool"]
    assert closure(graph, "not-installed") == []


def test_check_passes_then_finds_each_kind_of_problem(synced, thoth) -> None:
    ok = thoth("check", "--dev", "-C", str(synced))
    assert ok.code == 0, ok.err
    site = site_packages(synced)
    (site / "gamma" / "__init__.py").write_text("tampered = True\n")
    shutil.rmtree(site / "devtool-4.2.dist-info")
    fake_dist(site, "needy", "1.0", ("beta>=3", "absent"))
    result = thoth("check", "--dev", "--json", "-C", str(synced))
    assert result.code == 1
    data = result.json()
    kinds = {(p["kind"], p["package"]) for p in data["problems"]}
    assert ("record", "gamma") in kinds
    assert ("missing", "devtool") in kinds
    assert ("dependency", "needy") in kinds
    messages = " ".join(p["message"] for p in data["problems"])
    assert "needy 1.0 has requirement beta>=3, but you have beta 2.0" in messages
    assert "needy 1.0 requires absent, which is not installed" in messages
    assert [w["package"] for w in data["warnings"]] == ["needy"]  # extraneous: a warning
    assert thoth("check", "--dev", "--strict", "-C", str(synced)).code == 1


def test_check_reports_another_version(synced, thoth) -> None:
    site = site_packages(synced)
    (site / "gamma-0.5.dist-info").rename(site / "gamma-0.4.dist-info")
    meta = site / "gamma-0.4.dist-info" / "METADATA"
    meta.write_text(meta.read_text().replace("Version: 0.5", "Version: 0.4"))
    result = thoth("check", "-C", str(synced))
    assert result.code == 1 and "gamma 0.4 is installed, the lock pins 0.5" in result.err


def test_check_names_a_recorded_path_that_is_not_a_regular_file(synced, thoth) -> None:
    """A FIFO, a directory or a device a RECORD lists is a finding naming the package and the path,
    hashed or not, shared-object name or not: never opened (a FIFO would block, a device never end)."""
    site = site_packages(synced)
    (synced / ".thoth.yaml").write_text("runtime_environments:\n- name: here\n  abi_symbols: [GLIBC_2.17]\n")
    os.mkfifo(site / "gamma" / "pipe.py")
    os.mkfifo(site / "gamma" / "_pipe.so")  # the ABI check reads files named like shared objects
    (site / "gamma" / "_dir.so").mkdir()
    (site / "gamma" / "null.py").symlink_to(os.devnull)
    empty = "sha256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU"  # the digest of no bytes: what a device may give
    with open(site / "gamma-0.5.dist-info" / "RECORD", "a") as record:
        record.write(f"gamma/pipe.py,{empty},0\ngamma/_pipe.so,,\ngamma/_dir.so,{empty},0\ngamma/null.py,{empty},0\n")
    result = thoth("check", "--json", "-C", str(synced))
    assert result.code == 1, result.err
    assert "Traceback" not in result.err
    assert sorted(p["message"] for p in result.json()["problems"] if p["package"] == "gamma") == [
        "gamma 0.5: gamma/_dir.so is not a regular file (a directory)",
        "gamma 0.5: gamma/_pipe.so is not a regular file (a FIFO)",
        "gamma 0.5: gamma/null.py is not a regular file (a character device)",
        "gamma 0.5: gamma/pipe.py is not a regular file (a FIFO)",
    ]


# --- run --------------------------------------------------------------------------------------


def run_thoth(app: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "micro_thoth", "run", *args], cwd=app, capture_output=True, text=True,
                          env={**os.environ, **(env or {})})


PROBE = "import os, sys; print(sys.prefix); print(os.environ.get('VIRTUAL_ENV')); print(os.environ.get('GREETING'))"


def test_run_uses_the_environment_and_loads_dotenv(synced) -> None:
    (synced / ".env").write_text('# comment\nexport NAME=world\nGREETING="hello ${NAME}"\n')
    proc = run_thoth(synced, "python", "-c", PROBE)
    assert proc.returncode == 0, proc.stderr
    prefix, venv, greeting = proc.stdout.splitlines()
    assert Path(prefix) == synced / ".venv" and Path(venv) == synced / ".venv"
    assert greeting == "hello world"
    assert "Loading .env environment variables..." in proc.stderr
    quiet = run_thoth(synced, "python", "-c", PROBE, env={"PIPENV_DONT_LOAD_ENV": "1"})
    assert quiet.stdout.splitlines()[2] == "None"
    other = synced / "other.env"
    other.write_text("GREETING=elsewhere\n")
    moved = run_thoth(synced, "python", "-c", PROBE, env={"PIPENV_DOTENV_LOCATION": str(other)})
    assert moved.stdout.splitlines()[2] == "elsewhere"


def test_run_overlay_dotenv_scripts_and_exit_code(synced) -> None:
    (synced / ".thoth.yaml").write_text(
        "host: localhost\noverlays_dir: overlays\nruntime_environments:\n  - name: ubi8\n    python_version: '3.11'\n"
    )
    (synced / "overlays" / "ubi8").mkdir(parents=True)
    (synced / "overlays" / "ubi8" / ".env").write_text("GREETING=from-overlay\n")
    (synced / ".env").write_text("GREETING=from-project\n")
    proc = run_thoth(synced, "python", "-c", PROBE)
    assert proc.stdout.splitlines()[2] == "from-overlay", proc.stderr
    pipfile = synced / "Pipfile"
    pipfile.write_text(pipfile.read_text() + '\n[scripts]\nversion = "python -c \'import alpha; print(alpha.__version__)\'"\n')
    assert run_thoth(synced, "version").stdout.strip() == "1.1"
    assert run_thoth(synced, "python", "-c", "raise SystemExit(7)").returncode == 7
    assert run_thoth(synced, "alpha-missing-program").returncode == 127


def test_run_without_environment_or_command(project) -> None:
    app = project("pipenv-made/small")
    proc = run_thoth(app, "python", "-V")
    assert proc.returncode == 1 and "No virtualenv has been created" in proc.stderr
    assert run_thoth(app).returncode == 2


# --- .env syntax ------------------------------------------------------------------------------


def test_dotenv_syntax() -> None:
    text = (
        "A=plain value # trailing comment\n"
        "export B='single ${A} \\n'\n"
        'C="double\\n${A} ${MISSING:-dflt} ${ENV_ONLY}"\n'
        "D=\n"
        'E="multi\nline"\n'
        "\n# full-line comment\n"
    )
    values = dotenv.resolve(dotenv.parse_dotenv(text), {"ENV_ONLY": "env", "A": "overridden"})
    assert values == {
        "A": "plain value",
        "B": "single ${A} \\n",
        "C": "double\nplain value dflt env",
        "D": "",
        "E": "multi\nline",
    }
    with pytest.raises(InputFileError, match="line 2"):
        dotenv.parse_dotenv("OK=1\nnot a line\n", "x/.env")
    with pytest.raises(InputFileError, match="unterminated"):
        dotenv.parse_dotenv('A="open\n', "x/.env")


def test_fixture_lock_is_the_one_tests_expect() -> None:
    lock = json.loads((FIXTURES / "pipenv-made" / "small" / "Pipfile.lock").read_text())
    assert lock["default"]["alpha"]["version"] == "==1.1"  # the literal outputs above depend on it
    assert venv_python(Path("/x")) == Path("/x/.venv/bin/python")
