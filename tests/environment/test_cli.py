"""``thoth-pip env`` and ``thoth-pip config`` through ``micro_thoth.cli.main``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from micro_thoth.cli import main

CONFIGS = Path(__file__).resolve().parent / "configs"


def _env_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict:  # type: ignore[type-arg]
    assert main(["env", "--json", *argv]) == 0
    return json.loads(capsys.readouterr().out)  # type: ignore[no-any-return]


def test_env_json_shows_values_and_origins(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copy(CONFIGS / "thamos-overlays.yaml", tmp_path / ".thoth.yaml")
    data = _env_json(capsys, "-C", str(tmp_path), "--python-version", "3.9", "--labels", "team=infra;x=1")
    values = data["values"]
    assert data["runtime_environment"] == "ubi8-py38-cuda"
    assert data["overlay_dir"] == str(tmp_path / "overlays" / "ubi8-py38-cuda")
    assert values["python_version"] == {"value": "3.9", "origin": "flag"}
    assert values["cuda_version"] == {"value": "11.8", "origin": ".thoth.yaml"}
    assert values["os_name"] == {"value": "rhel", "origin": ".thoth.yaml"}
    assert values["labels"]["value"] == {"team": "infra", "allow-cve": "CVE-2023-0001", "x": "1"}
    assert values["implementation"]["origin"] in ("detected", "default")
    assert data["markers"]["python_version"] == "3.9"
    assert data["tags"][1] == "cp39-cp39-manylinux_2_28_x86_64"
    assert data["thoth"]["operating_system"] == {"name": "rhel", "version": "8"}


def test_env_selects_by_name_and_by_thamos_runtime_environment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copy(CONFIGS / "thamos-overlays.yaml", tmp_path / ".thoth.yaml")
    data = _env_json(capsys, "-C", str(tmp_path), "--runtime-environment", "fedora-py311")
    assert data["values"]["python_version"] == {"value": "3.11", "origin": ".thoth.yaml"}
    monkeypatch.setenv("THAMOS_RUNTIME_ENVIRONMENT", "fedora-py311")
    assert _env_json(capsys, "-C", str(tmp_path))["runtime_environment"] == "fedora-py311"


def test_env_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["env", "-C", str(tmp_path), "--os", "ubi:8", "--cuda-version", "12.2"]) == 0
    captured = capsys.readouterr()
    rows = {line.split()[0]: line.split() for line in captured.out.splitlines()[2:]}
    assert rows["os_name"][1:] == ["rhel", "flag"]
    assert rows["cuda_version"][1:] == ["12.2", "flag"]
    assert rows["libc_version"][1:] == ["2.28", "flag", "(operating_system)"]
    assert "overlay directory" in captured.err


def test_env_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["env", "-C", str(tmp_path), "--python-version", "three"]) == 2
    assert main(["env", "-C", str(tmp_path), "--runtime-environment", "gpu"]) == 2
    assert "needs a .thoth.yaml" in capsys.readouterr().err
    (tmp_path / ".thoth.yaml").write_text("runtime_environments:\n  - python_version: 3.10\n")
    assert main(["env", "-C", str(tmp_path)]) == 1
    assert "runtime_environments[0].python_version" in capsys.readouterr().err


def test_env_warns_about_unknown_keys(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / ".thoth.yaml").write_text("host: h\nruntime_environments:\n  - name: a\n    colour: blue\n")
    assert main(["env", "-C", str(tmp_path), "--json"]) == 0
    assert "unknown key runtime_environments[0].colour ignored" in capsys.readouterr().err


def test_config_writes_once_then_needs_force(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "-C", str(tmp_path)]) == 0
    written = (tmp_path / ".thoth.yaml").read_text()
    assert "runtime_environments:" in written
    assert main(["config", "-C", str(tmp_path)]) == 2
    assert "--force" in capsys.readouterr().err
    template = tmp_path / "team.yaml"
    template.write_text("host: team.example\nruntime_environments:\n  - name: {runtime_environment_name_yaml}\n"
                        "    python_version: {python_version_yaml}\n")
    assert main(["config", "-C", str(tmp_path), "--force", "--template", str(template)]) == 0
    assert (tmp_path / ".thoth.yaml").read_text().startswith("host: team.example\n")
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".thoth.yaml.")] == []
    data = _env_json(capsys, "-C", str(tmp_path))
    assert data["values"]["python_version"]["origin"] == ".thoth.yaml"


def test_config_template_from_thamos_config_template(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    template = tmp_path / "t.yaml"
    template.write_text("host: from-env.example\nruntime_environments:\n  - name: only\n")
    monkeypatch.setenv("THAMOS_CONFIG_TEMPLATE", str(template))
    assert main(["config", "-C", str(tmp_path)]) == 0
    assert (tmp_path / ".thoth.yaml").read_text() == template.read_text()
