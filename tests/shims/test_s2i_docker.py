"""The s2i assemble script against example apps, and the Dockerfile's steps run as a script (no engine)."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.shims.conftest import SHIMS, imports, run

ASSEMBLE = SHIMS / "s2i" / "assemble"
DOCKERFILE = SHIMS / "docker" / "Dockerfile"


@dataclass
class Image:
    """A scratch stand-in for a builder image: its Python (first on PATH), HOME, and /tmp/src."""

    python: Path
    home: Path
    source: Path
    env: dict[str, str] = field(default_factory=dict)

    def assemble(self, **extra: str) -> subprocess.CompletedProcess[str]:
        return run(["bash", str(ASSEMBLE)], cwd=self.home, env={**self.env, **extra})

    def has(self, module: str) -> bool:
        return imports(self.python, f"import {module}").returncode == 0


@pytest.fixture
def image(tmp_path, scratch_venv, shell_env, indexes) -> Image:
    home, source = tmp_path / "app-root", tmp_path / "src"
    home.mkdir()
    source.mkdir()
    one, two = indexes
    env = {**shell_env, "THOTH_TEST_INDEX": one.url, "THOTH_TEST_INDEX_2": two.url, "HOME": str(home), "S2I_SOURCE_DIR": str(source),
           "PATH": f"{scratch_venv / 'bin'}:{shell_env['PATH']}"}
    return Image(scratch_venv / "bin" / "python", home, source, env)


def copy_fixture(project, name: str, into: Path) -> None:
    for item in project(name).iterdir():
        shutil.copy(item, into / item.name)


def test_pipfile_lock_app_installs_with_deploy(image, project) -> None:
    copy_fixture(project, "pipenv-made/small", image.source)
    (image.source / ".s2i").mkdir()
    (image.source / "app.py").write_text("print('hi')\n")
    result = image.assemble(ENABLE_PIPENV="1", UPGRADE_PIP_TO_LATEST="1")
    assert result.returncode == 0, result.stdout + result.stderr
    assert (image.home / "app.py").exists() and (image.home / ".s2i").is_dir()  # dotfiles moved too
    assert not any(image.source.iterdir())
    assert image.has("alpha") and image.has("gamma") and not image.has("devtool")
    assert "UPGRADE_PIP_TO_LATEST is set: nothing to do" in result.stdout
    assert "Installing dependencies from Pipfile.lock" in result.stdout


def test_pipfile_only_app_is_locked_then_installed(image, project) -> None:
    copy_fixture(project, "pipenv-made/small", image.source)
    (image.source / "Pipfile.lock").unlink()
    result = image.assemble()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "locking first" in result.stdout
    assert (image.home / "Pipfile.lock").exists() and image.has("alpha") and image.has("gamma")


def test_stale_lock_fails_the_build(image, project) -> None:
    copy_fixture(project, "pipenv-made/small", image.source)
    pipfile = image.source / "Pipfile"
    pipfile.write_text(pipfile.read_text().replace("[dev-packages]", "[dev-packages]\nzeta = '*'"))
    result = image.assemble()
    assert result.returncode != 0 and "out of date" in result.stderr
    assert not image.has("alpha")


def test_pipenv_and_micropipenv_together_is_an_error(image) -> None:
    result = image.assemble(ENABLE_PIPENV="1", ENABLE_MICROPIPENV="1")
    assert result.returncode == 3 and "cannot be enabled at the same time" in result.stderr


def test_hashed_requirements_txt_is_synced(image, project, thoth) -> None:
    app = project("pipenv-made/small")
    text = thoth("requirements", "--hash", "-C", str(app)).out
    (image.source / "requirements.txt").write_text("\n".join(line for line in text.splitlines() if line != "win_only") + "\n")
    result = image.assemble(ENABLE_MICROPIPENV="1")
    assert result.returncode == 0, result.stdout + result.stderr
    assert image.has("alpha") and image.has("delta")


def test_unpinned_requirements_txt_is_locked_first(image) -> None:
    (image.source / "requirements.txt").write_text("alpha[fast]\n")
    result = image.assemble(PIP_INDEX_URL=image.env["THOTH_TEST_INDEX"])
    assert "Package index for locks that name none: PIP_INDEX_URL" in result.stdout
    assert result.returncode == 0, result.stdout + result.stderr
    assert "locking it first" in result.stdout
    assert image.has("alpha") and image.has("beta") and image.has("gamma")


def test_poetry_lock_app(image, project, tmp_path) -> None:
    # a lock that names only packages of the local index: made from the pipenv-made one
    lock = json.loads((project("pipenv-made/small") / "Pipfile.lock").read_text())
    entries = []
    for name in ("alpha", "beta"):
        entry = lock["default"][name]
        files = ", ".join(f'{{file = "{name}-{entry["version"][2:]}.whl", hash = "{h}"}}' for h in entry["hashes"])
        entries.append(f'[[package]]\nname = "{name}"\nversion = "{entry["version"][2:]}"\ndescription = ""\n'
                       f'optional = false\npython-versions = "*"\nfiles = [{files}]\n')
    (image.source / "poetry.lock").write_text(
        "\n".join(entries) + '\n[metadata]\nlock-version = "2.0"\npython-versions = "^3.9"\ncontent-hash = "x"\n'
    )
    result = image.assemble(PIP_INDEX_URL=image.env["THOTH_TEST_INDEX"])
    assert result.returncode == 0, result.stdout + result.stderr
    assert image.has("alpha") and image.has("beta") and not image.has("gamma")


def test_thoth_advise_dry_run_installs_the_repository_lock(image, project) -> None:
    copy_fixture(project, "pipenv-made/small", image.source)
    before = (image.source / "Pipfile.lock").read_text()
    result = image.assemble(THOTH_ADVISE="1", THOTH_DRY_RUN="1")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "THOTH_DRY_RUN is set" in result.stdout
    assert (image.home / "Pipfile.lock").read_text() == before
    assert image.has("alpha")


def test_thoth_advise_failure_falls_back_only_when_asked(image, project, tmp_path) -> None:
    from micro_thoth.formats.pipfile import hash_text

    app = tmp_path / "app"
    app.mkdir()
    copy_fixture(project, "pipenv-made/small", app)
    # a Pipfile no index can satisfy, and a repository lock that (by its hash) was made from it
    pipfile = (app / "Pipfile").read_text().replace('devtool = "*"', 'devtool = "*"\nno-such-project-anywhere = "*"')
    (app / "Pipfile").write_text(pipfile)
    lock = json.loads((app / "Pipfile.lock").read_text())
    lock["_meta"]["hash"]["sha256"] = hash_text(pipfile)[0]
    (app / "Pipfile.lock").write_text(json.dumps(lock, indent=4))
    shutil.copytree(app, image.source, dirs_exist_ok=True)
    failed = image.assemble(THOTH_ADVISE="1")
    assert failed.returncode == 1 and "guided resolution failed" in failed.stderr
    assert not image.has("alpha")
    shutil.copytree(app, image.source, dirs_exist_ok=True)
    fallback = image.assemble(THOTH_ADVISE="1", THOTH_ERROR_FALLBACK="1")
    assert fallback.returncode == 0, fallback.stdout + fallback.stderr
    assert "THOTH_ERROR_FALLBACK is set" in fallback.stderr
    assert image.has("alpha")


def test_setup_py_processing_can_be_disabled(image, project) -> None:
    copy_fixture(project, "pipenv-made/small", image.source)
    (image.source / "setup.py").write_text("raise SystemExit('setup.py must not run')\n")
    result = image.assemble(DISABLE_SETUP_PY_PROCESSING="1")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "---> Installing application ...\n" not in result.stdout


# --- the Dockerfile, step by step -------------------------------------------------------------


def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    logical, current = [], ""
    for line in text.splitlines():
        if not current and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.lstrip().startswith("#"):
            continue
        current += line.rstrip()
        if current.endswith("\\"):
            current = current[:-1] + " "
            continue
        logical.append(current.strip())
        current = ""
    return [(item.split(None, 1)[0].upper(), item.split(None, 1)[1] if " " in item else "") for item in logical]


def expand(text: str, env: dict[str, str]) -> str:
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: env.get(m.group(1) or m.group(2), ""), text)


def test_dockerfile_build_steps_run_as_a_script(indexes, project, tmp_path, shell_env) -> None:
    app = project("pipenv-made/small")
    (app / "app.py").write_text("import alpha\nprint(alpha.__version__)\n")
    root = tmp_path / "image-root"
    overrides = {"APP_VENV": str(root / "opt" / "venv"), "THOTH_PIP_VENV": str(root / "opt" / "thoth-pip"),
                 "THOTH_PIP_CACHE_DIR": str(tmp_path / "cache")}
    env, workdir, steps = dict(shell_env), root, []
    for instruction, args in dockerfile_instructions(DOCKERFILE.read_text()):
        if instruction in ("ARG", "ENV"):
            for key, value in (pair.split("=", 1) for pair in shlex.split(args) if "=" in pair):
                env[key] = overrides.get(key) or expand(value, env)
        elif instruction == "FROM":
            steps.append(f"FROM {args}")
        elif instruction == "WORKDIR":
            workdir = root / args.lstrip("/")
            workdir.mkdir(parents=True, exist_ok=True)
        elif instruction == "COPY" and not args.startswith("--from"):
            *sources, _dest = shlex.split(args)
            for source in sources:
                item = app / source if source != "." else app
                shutil.copytree(item, workdir, dirs_exist_ok=True) if item.is_dir() else shutil.copy(item, workdir)
        elif instruction == "RUN":
            command = re.sub(r"^(--mount=\S+\s+)+", "", args)
            result = subprocess.run(["sh", "-ec", command], cwd=workdir, env=env, capture_output=True, text=True)
            assert result.returncode == 0, f"RUN {command}\n{result.stdout}\n{result.stderr}"
            steps.append("RUN")
    assert steps.count("RUN") == 3 and steps[0].startswith("FROM ${PYTHON_IMAGE} AS build")
    venv_python = Path(overrides["APP_VENV"]) / "bin" / "python"
    assert imports(venv_python, "import alpha, beta, gamma, delta").returncode == 0
    assert imports(venv_python, "import devtool").returncode != 0
    assert imports(venv_python, "import pip").returncode != 0  # nothing but the lock in the app's venv
    ran = subprocess.run([str(venv_python), "app.py"], cwd=workdir, capture_output=True, text=True)
    assert ran.stdout.strip() == "1.1"
    assert env["PATH"].startswith(f"{overrides['APP_VENV']}/bin:")  # the final stage's PATH


def test_dockerfile_readme_exists_and_names_the_build() -> None:
    readme = (SHIMS / "docker" / "README.md").read_text()
    assert "docker build" in readme and "Pipfile.lock" in readme
    assert os.access(ASSEMBLE, os.X_OK)
