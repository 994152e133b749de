"""``.thoth.yaml`` as Thamos writes it: loading, errors with key paths, selection, overlays, templates."""

from __future__ import annotations

from pathlib import Path

import pytest

from micro_thoth.environment.config import (
    Hardware,
    OperatingSystem,
    load_config,
    merge_labels,
    parse_config,
    parse_labels,
    write_config,
)
from micro_thoth.environment.detect import detect
from micro_thoth.errors import InputFileError, UsageError

from .conftest import MachineFactory

CONFIGS = Path(__file__).resolve().parent / "configs"


def test_a_config_generated_by_thamos_loads_unchanged() -> None:
    config = load_config(CONFIGS / "thamos-generated.yaml")
    assert config.warnings == ()
    assert (config.host, config.tls_verify, config.requirements_format) == ("khemenu.thoth-station.ninja", True, "pipenv")
    assert config.overlays_dir is None and config.virtualenv is False
    entry = config.select()
    assert entry.name == "fedora-35"
    assert entry.operating_system == OperatingSystem("fedora", "35")
    assert entry.hardware == Hardware(cpu_family=6, cpu_model=142, gpu_model=None)
    assert (entry.python_version, entry.platform, entry.recommendation_type) == ("3.9", "linux-x86_64", "latest")
    assert entry.cuda_version is None and entry.labels == {}
    assert [m["name"] for m in config.managers] == ["pipfile-requirements", "info", "version", "update"]


def test_thamos_unknown_cpu_reads_as_not_stated() -> None:
    entry = load_config(CONFIGS / "thamos-cpu-unknown.yaml").select()
    assert entry.hardware == Hardware(None, None, None)
    assert (entry.python_version, entry.platform) == ("3.10", "linux-aarch64")


def test_overlays_and_selection(tmp_path: Path) -> None:
    config = load_config(CONFIGS / "thamos-overlays.yaml")
    assert (config.requirements_format, config.tls_verify, config.virtualenv) == ("pip-tools", False, True)
    first = config.select()
    assert first.name == "ubi8-py38-cuda" and first.labels == {"team": "ml", "allow-cve": "CVE-2023-0001"}
    assert (first.cuda_version, first.cudnn_version, first.hardware.gpu_model) == ("11.8", "8.6", "Tesla T4")
    by_env = config.select(environ={"THAMOS_RUNTIME_ENVIRONMENT": "fedora-py311"})
    assert by_env.name == "fedora-py311"
    assert config.select("ubi8-py38-cuda", {"THAMOS_RUNTIME_ENVIRONMENT": "fedora-py311"}).name == "ubi8-py38-cuda"
    assert config.overlay_directory(tmp_path, by_env) == tmp_path / "overlays" / "fedora-py311"
    with pytest.raises(UsageError, match="no runtime environment named 'nope'") as info:
        config.select("nope")
    assert info.value.hint == "configured: ubi8-py38-cuda, fedora-py311"


def test_without_overlays_the_project_directory_is_used(tmp_path: Path) -> None:
    config = load_config(CONFIGS / "thamos-generated.yaml")
    assert config.overlay_directory(tmp_path, config.select()) == tmp_path


def test_unknown_keys_are_warnings() -> None:
    config = parse_config("host: h\nfancy: 1\nruntime_environments:\n  - name: a\n    gpu: x\n"
                          "    hardware: {cpu_family: 6, ram: 4}\n", path=".thoth.yaml")
    assert config.warnings == (
        ".thoth.yaml: unknown key fancy ignored",
        ".thoth.yaml: unknown key runtime_environments[0].gpu ignored",
        ".thoth.yaml: unknown key runtime_environments[0].hardware.ram ignored",
    )


@pytest.mark.parametrize(
    ("text", "key_path"),
    [
        ("runtime_environments:\n  - python_version: 3.10\n", "runtime_environments[0].python_version"),
        ("runtime_environments:\n  - python_version: '3'\n", "runtime_environments[0].python_version"),
        ("runtime_environments:\n  - name: a\n  - name: b\n    recommendation_type: fastest\n",
         "runtime_environments[1].recommendation_type"),
        ("runtime_environments:\n  - name: a\n  - name: a\n", "runtime_environments[1].name"),
        ("runtime_environments:\n  - name: a\n  - python_version: '3.9'\n", "runtime_environments[1].name"),
        ("runtime_environments:\n  - name: 'has space'\n", "runtime_environments[0].name"),
        ("runtime_environments:\n  - hardware: {cpu_family: six}\n", "runtime_environments[0].hardware.cpu_family"),
        ("runtime_environments:\n  - labels: [a, b]\n", "runtime_environments[0].labels"),
        ("runtime_environments:\n  - operating_system: rhel\n", "runtime_environments[0].operating_system"),
        ("requirements_format: poetry\n", "requirements_format"),
        ("tls_verify: maybe\n", "tls_verify"),
        ("runtime_environments: {name: a}\n", "runtime_environments"),
        ("runtime_environments:\n  - abi_symbols: GLIBC_2.34\n", "runtime_environments[0].abi_symbols"),
        ("runtime_environments:\n  - abi_symbols: [GLIBC_2.34, 3]\n", "runtime_environments[0].abi_symbols[1]"),
        ("runtime_environments:\n  - abi_symbols: [GLIBC_2.34, ' ']\n", "runtime_environments[0].abi_symbols[1]"),
    ],
)
def test_bad_values_name_their_key_path(text: str, key_path: str) -> None:
    with pytest.raises(InputFileError) as info:
        parse_config(text, path="/p/.thoth.yaml")
    assert info.value.key_path == key_path
    assert info.value.path == "/p/.thoth.yaml"
    assert str(info.value).startswith(f"/p/.thoth.yaml: {key_path}: ")


def test_not_yaml_and_not_a_mapping() -> None:
    with pytest.raises(InputFileError, match="not valid YAML"):
        parse_config("a: [", path="x")
    with pytest.raises(InputFileError, match="mapping at the top level"):
        parse_config("- a\n", path="x")


def test_unquoted_versions_are_accepted_as_text() -> None:
    entry = parse_config("runtime_environments:\n  - cuda_version: 11.8\n    operating_system: {name: rhel, "
                         "version: 8}\n").select()
    assert (entry.cuda_version, entry.operating_system.version) == ("11.8", "8")


def test_env_expansion_is_off_by_default_and_on_with_thamos_config_expand_env() -> None:
    text = "host: h\nruntime_environments:\n  - name: '{ENV_NAME}'\n    python_version: '{PY}'\n"
    environ = {"ENV_NAME": "from-env", "PY": "3.12"}
    with pytest.raises(InputFileError):  # '{PY}' is not a version: nothing was expanded
        parse_config(text, environ=environ)
    entry = parse_config(text, environ={**environ, "THAMOS_CONFIG_EXPAND_ENV": "1"}).select()
    assert (entry.name, entry.python_version) == ("from-env", "3.12")
    with pytest.raises(InputFileError, match=r"\{PY\} has no value"):
        parse_config(text, environ={"ENV_NAME": "x", "THAMOS_CONFIG_EXPAND_ENV": "1"})


def test_expansion_never_reaches_attributes() -> None:
    text = "host: '{PY.__class__}'\n"
    config = parse_config(text, environ={"PY": "3", "THAMOS_CONFIG_EXPAND_ENV": "1"})
    assert config.host == "{PY.__class__}"


def test_written_config_round_trips(fixture_machine: MachineFactory) -> None:
    detected = detect(fixture_machine("ubi8-nvidia"))
    text = write_config(detected)
    entry = parse_config(text).select()
    assert entry.name == "rhel-8"
    assert entry.operating_system == OperatingSystem("rhel", "8")
    assert entry.hardware == Hardware(23, 49, "Tesla T4")
    assert (entry.cuda_version, entry.cudnn_version) == ("12.2", "8.9.7")
    assert entry.python_version == detected.python_version
    assert entry.platform == "linux-x86_64"
    assert "# AMD EPYC 7R32" in text


def test_thamos_shaped_template(fixture_machine: MachineFactory) -> None:
    detected = detect(fixture_machine("debian-x86_64"))
    template = (CONFIGS / "thamos-template.yaml").read_text()
    text = write_config(detected, template, environ={"THAMOS_REQUIREMENTS_FORMAT": "pip"})
    config = parse_config(text)
    entry = config.select()
    assert (config.host, config.requirements_format) == ("thoth.example.internal", "pip")
    assert (entry.name, entry.operating_system) == ("debian-12", OperatingSystem("debian", "12"))
    assert entry.hardware == Hardware(6, 85, "Cirrus Logic GD 5446")
    assert entry.cuda_version is None and entry.base_image is None
    assert entry.labels == {"literal-braces": "{not-a-placeholder}"}


def test_template_env_placeholders_only_when_enabled(fixture_machine: MachineFactory) -> None:
    detected = detect(fixture_machine("alpine"))
    template = "host: {THOTH_HOST_FOR_TEST}\nruntime_environments:\n  - name: {runtime_environment_name}\n"
    with pytest.raises(InputFileError, match="THOTH_HOST_FOR_TEST"):
        write_config(detected, template, environ={"THOTH_HOST_FOR_TEST": "t.example"})
    text = write_config(detected, template, environ={"THOTH_HOST_FOR_TEST": "t.example",
                                                     "THAMOS_CONFIG_EXPAND_ENV": "1"})
    assert parse_config(text).host == "t.example"
    assert parse_config(text).select().name == "alpine-3-19-1"


def test_a_template_giving_bad_yaml_names_the_template(fixture_machine: MachineFactory) -> None:
    detected = detect(fixture_machine("alpine"))
    with pytest.raises(InputFileError) as info:
        write_config(detected, "runtime_environments:\n  - python_version: {cpu_family}\n", template_path="t.yaml")
    assert info.value.path == "t.yaml"
    assert info.value.key_path == "runtime_environments[0].python_version"


def test_labels() -> None:
    assert parse_labels("team=ml; env = prod;;") == {"team": "ml", "env": "prod"}
    assert parse_labels("") == {}
    with pytest.raises(UsageError):
        parse_labels("team")
    assert merge_labels({"a": "1", "b": "2"}, {"b": "3"}) == {"a": "1", "b": "3"}
