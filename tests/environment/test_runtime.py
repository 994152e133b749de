"""The merged RuntimeEnvironment: precedence, origins, derived values, its Target and Thoth's shape."""

from __future__ import annotations

from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.specifiers import SpecifierSet
from packaging.tags import Tag

from micro_thoth.environment.config import load_config, parse_config
from micro_thoth.environment.detect import detect
from micro_thoth.environment.runtime import CONFIG, DETECTED, FLAG, RuntimeEnvironment, libc_for_os
from micro_thoth.environment.runtime import RuntimeEnvironment as Detected
from micro_thoth.environment.target import marker_environment
from micro_thoth.errors import EnvironmentError_, InputFileError, UsageError

from .conftest import MachineFactory

CONFIGS = Path(__file__).resolve().parent / "configs"

# What a Debian 12 x86_64 box with Python 3.11 reports.
DEBIAN_311 = Detected(
    os_name="debian", os_version="12", python_version="3.11", python_full_version="3.11.7", implementation="cpython",
    platform="linux-x86_64", libc_family="glibc", libc_version="2.36", machine="x86_64", cpu_family=6, cpu_model=85,
    cpu_flags=("avx", "avx2", "sse4_2"), gpu_models=("Tesla T4",), cuda_version="12.2",
)


def test_detected_only() -> None:
    env = RuntimeEnvironment.merge(DEBIAN_311)
    assert (env.python_version, env.python_full_version, env.gpu_model) == ("3.11", "3.11.7", "Tesla T4")
    assert env.origin("python_version") == DETECTED and env.origin("recommendation_type") == "default"
    assert env.origin("base_image") == ""


def test_flags_beat_config_beat_detection() -> None:
    entry = parse_config("runtime_environments:\n  - name: x\n    python_version: '3.10'\n    cuda_version: '11.8'\n"
                         "    recommendation_type: stable\n").select()
    env = RuntimeEnvironment.merge(DEBIAN_311, entry, {"python_version": "3.9", "recommendation_type": "security"})
    assert (env.python_version, env.cuda_version, env.recommendation_type, env.os_name) == \
        ("3.9", "11.8", "security", "debian")
    assert [env.origin(k) for k in ("python_version", "cuda_version", "recommendation_type", "os_name")] == \
        [FLAG, CONFIG, FLAG, DETECTED]
    assert env.name == "x" and env.origin("name") == CONFIG


def test_a_python_39_target_from_a_311_interpreter() -> None:
    env = RuntimeEnvironment.merge(DEBIAN_311, None, {"python_version": "3.9"})
    assert env.python_full_version is None
    target = env.target()
    assert target.markers["python_version"] == "3.9" and target.markers["python_full_version"] == "3.9.0"
    assert Marker('python_version < "3.10"').evaluate(dict(target.markers))
    assert target.python_full_version in SpecifierSet(">=3.8,<3.10")
    assert target.python_full_version not in SpecifierSet(">=3.10")
    assert target.tag_rank([Tag("cp39", "cp39", "manylinux_2_17_x86_64")]) is not None
    assert target.tag_rank([Tag("cp311", "cp311", "manylinux_2_17_x86_64")]) is None


def test_same_minor_keeps_the_detected_full_version_and_a_full_flag_is_split() -> None:
    assert RuntimeEnvironment.merge(DEBIAN_311, None, {"python_version": "3.11"}).python_full_version == "3.11.7"
    env = RuntimeEnvironment.merge(DEBIAN_311, None, {"python_version": "3.9.18"})
    assert (env.python_version, env.python_full_version) == ("3.9", "3.9.18")
    assert env.target().markers["python_full_version"] == "3.9.18"


def test_a_rhel8_entry_targets_glibc_228() -> None:
    entry = load_config(CONFIGS / "thamos-overlays.yaml").select()  # ubi 8, Python 3.8, CUDA 11.8
    env = RuntimeEnvironment.merge(DEBIAN_311, entry)
    assert (env.os_name, env.os_version) == ("rhel", "8")
    assert (env.libc_family, env.libc_version) == ("glibc", "2.28")
    assert env.origin("libc_version") == ".thoth.yaml (operating_system)"
    tags = [str(t) for t in env.target().tags]
    assert "cp38-cp38-manylinux_2_28_x86_64" in tags and "cp38-cp38-manylinux_2_31_x86_64" not in tags
    assert env.labels == {"team": "ml", "allow-cve": "CVE-2023-0001"}
    assert env.base_image == "quay.io/thoth-station/s2i-thoth-ubi8-py38:v0.35.1"


def test_an_alpine_target_gets_musllinux_tags_and_a_libc_flag_wins() -> None:
    env = RuntimeEnvironment.merge(DEBIAN_311, None, {"os_name": "alpine", "os_version": "3.19"})
    tags = [str(t) for t in env.target().tags]
    assert "cp311-cp311-musllinux_1_2_x86_64" in tags and not any("manylinux" in t for t in tags)
    pinned = RuntimeEnvironment.merge(DEBIAN_311, None, {"os_name": "rhel", "os_version": "9",
                                                         "libc_family": "glibc", "libc_version": "2.17"})
    assert pinned.libc_version == "2.17" and pinned.origin("libc_version") == FLAG


def test_platform_flag_moves_the_machine() -> None:
    env = RuntimeEnvironment.merge(DEBIAN_311, None, {"platform": "linux-aarch64"})
    assert env.machine == "aarch64" and env.origin("machine") == FLAG
    target = env.target()
    assert target.markers["platform_machine"] == "aarch64"
    assert str(target.tags[1]) == "cp311-cp311-manylinux_2_36_aarch64"


def test_detected_fixture_machines_give_their_own_tags(fixture_machine: MachineFactory) -> None:
    alpine = RuntimeEnvironment.merge(detect(fixture_machine("alpine")), None, {"python_version": "3.12"})
    assert str(alpine.target().tags[1]) == "cp312-cp312-musllinux_1_2_x86_64"
    arm = RuntimeEnvironment.merge(detect(fixture_machine("ubuntu-aarch64")), None, {"python_version": "3.10"})
    assert str(arm.target().tags[1]) == "cp310-cp310-manylinux_2_35_aarch64"


def test_target_uses_the_interpreter_when_nothing_was_overridden() -> None:
    class Info:
        markers = marker_environment(python_version="3.11.7", platform="linux", machine="x86_64",
                                     platform_release="6.1.0", platform_version="#1 SMP")
        platform, soabi, libc_family, libc_version, machine = (
            "linux-x86_64", "cpython-311-x86_64-linux-gnu", "glibc", "2.36", "x86_64")

    env = RuntimeEnvironment.merge(DEBIAN_311, None, {"cuda_version": "11.8"})
    assert env.target(Info()).markers["platform_release"] == "6.1.0"
    moved = RuntimeEnvironment.merge(DEBIAN_311, None, {"python_version": "3.9"})
    assert moved.target(Info()).markers["python_version"] == "3.9"


def test_target_needs_a_python_version_and_platform() -> None:
    with pytest.raises(EnvironmentError_):
        RuntimeEnvironment.merge(Detected(), None, {"cuda_version": "12.2"}).target()


def test_bad_overrides() -> None:
    with pytest.raises(UsageError, match="not a runtime environment value"):
        RuntimeEnvironment.merge(DEBIAN_311, None, {"pyhton_version": "3.9"})
    with pytest.raises(UsageError, match=r"3\.x"):
        RuntimeEnvironment.merge(DEBIAN_311, None, {"python_version": "3.x"})
    with pytest.raises(UsageError):
        RuntimeEnvironment.merge(DEBIAN_311, None, {"recommendation_type": "fastest"})


def test_labels_merge_config_then_flags() -> None:
    entry = parse_config("runtime_environments:\n  - labels: {a: '1', b: '2'}\n").select()
    env = RuntimeEnvironment.merge(DEBIAN_311, entry, {"labels": {"b": "3"}})
    assert env.labels == {"a": "1", "b": "3"} and env.origin("labels") == ".thoth.yaml + flag"


def test_thoth_shape() -> None:
    entry = load_config(CONFIGS / "thamos-overlays.yaml").select()
    data = RuntimeEnvironment.merge(DEBIAN_311, entry).to_thoth_dict()
    # the fields of thoth-common's RuntimeEnvironment, nested like its to_dict()
    assert set(data) == {"hardware", "operating_system", "python_version", "cuda_version", "openblas_version",
                         "openmpi_version", "cudnn_version", "mkl_version", "labels", "base_image", "name",
                         "platform", "recommendation_type"}
    assert data["hardware"] == {"cpu_family": 6, "cpu_model": 85, "gpu_model": "Tesla T4"}
    assert data["operating_system"] == {"name": "rhel", "version": "8"}
    assert (data["python_version"], data["recommendation_type"]) == ("3.8", "performance")


def test_describe_and_to_dict() -> None:
    env = RuntimeEnvironment.merge(DEBIAN_311, None, {"python_version": "3.9"})
    rows = {key: (value, origin) for key, value, origin in env.describe()}
    assert rows["python_version"] == ("3.9", FLAG)
    assert rows["os_name"] == ("debian", DETECTED)
    assert rows["base_image"] == ("-", "-")
    assert rows["cpu_flags"] == ("sse4_2 avx avx2 (3 flags)", DETECTED)
    assert env.to_dict()["cpu_flags"] == {"value": ["avx", "avx2", "sse4_2"], "origin": DETECTED}


def test_libc_for_os() -> None:
    assert libc_for_os("rhel", "9") == ("glibc", "2.34")
    assert libc_for_os("ubuntu", "22.04") == ("glibc", "2.35")
    assert libc_for_os("alpine", "3.12") == ("musl", "1.1")
    assert libc_for_os("alpine", "3.19.1") == ("musl", "1.2")
    assert libc_for_os("plan9", "4") is None and libc_for_os(None, None) is None


def test_an_explicit_null_in_the_config_means_none_an_absent_key_means_detected() -> None:
    generated = load_config(CONFIGS / "thamos-generated.yaml").select()  # cuda_version: null, gpu_model: null
    env = RuntimeEnvironment.merge(DEBIAN_311, generated)
    assert (env.cuda_version, env.origin("cuda_version")) == (None, CONFIG)
    assert (env.gpu_model, env.origin("gpu_model")) == (None, CONFIG)
    assert (env.cpu_family, env.cpu_model) == (6, 142)
    sparse = parse_config("runtime_environments:\n  - name: s\n    python_version: '3.10'\n    platform: null\n").select()
    env = RuntimeEnvironment.merge(DEBIAN_311, sparse)
    assert (env.cuda_version, env.origin("cuda_version")) == ("12.2", DETECTED)
    assert (env.platform, env.origin("platform")) == ("linux-x86_64", DETECTED)  # null platform: not stated
    assert RuntimeEnvironment.merge(DEBIAN_311, generated, {"cuda_version": "11.8"}).cuda_version == "11.8"


def test_origins_name_the_probe(fixture_machine: MachineFactory) -> None:
    env = RuntimeEnvironment.merge(detect(fixture_machine("ubi8-nvidia")))
    rows = {key: origin for key, _, origin in env.describe()}
    assert rows["cuda_version"] == "detected (nvcc --version)"
    assert rows["gpu_model"] == "detected (nvidia-smi)"
    assert rows["cudnn_version"] == DETECTED
    assert env.to_dict()["gpu_model"] == {"value": "Tesla T4", "origin": "detected (nvidia-smi)"}


def test_detection_is_a_partial_runtime_environment(fixture_machine: MachineFactory) -> None:
    found = detect(fixture_machine("ubi8-nvidia"))
    assert isinstance(found, RuntimeEnvironment)
    assert found.gpu_model == found.gpu_models[0] == "Tesla T4"
    assert found.origin("cuda_version") == DETECTED and found.name is None and found.origin("name") == ""
    assert found.recommendation_type is None  # unknown until merged


def test_thoth_dict_round_trip_keeps_the_unknown_unknown() -> None:
    env = RuntimeEnvironment.merge(DEBIAN_311, None, {"python_version": "3.9", "labels": {"team": "ml"}})
    back = RuntimeEnvironment.from_thoth_dict(env.to_thoth_dict())
    assert back.to_thoth_dict() == env.to_thoth_dict()
    sparse = RuntimeEnvironment.from_thoth_dict({"python_version": "3.11", "hardware": {"gpu_model": None}})
    assert (sparse.python_version, sparse.platform, sparse.os_name, sparse.gpu_models) == ("3.11", None, None, ())
    assert (sparse.implementation, sparse.recommendation_type, sparse.origins) == (None, None, {})
    flagged = RuntimeEnvironment.from_thoth_dict({"hardware": {"cpu_flags": ["avx2"]}, "platform": ["linux-x86_64"]})
    assert (flagged.cpu_flags, flagged.platform) == (("avx2",), "linux-x86_64")


@pytest.mark.parametrize(
    ("data", "key_path"),
    [
        ({"hardware": {"cpu_family": "six"}}, "runtime_environment.hardware.cpu_family"),
        ({"hardware": {"cpu_flags": ["avx", 2]}}, "runtime_environment.hardware.cpu_flags[1]"),
        ({"operating_system": {"version": 9}}, "runtime_environment.operating_system.version"),
        ({"python_version": "3.11\n"}, "runtime_environment.python_version"),
        ({"labels": {"a": {"b": "c"}}}, "runtime_environment.labels.a"),
    ],
)
def test_thoth_dict_errors_name_the_member(data: dict, key_path: str) -> None:
    with pytest.raises(InputFileError) as info:
        RuntimeEnvironment.from_thoth_dict(data, path="advise request")
    assert info.value.key_path == key_path and info.value.path == "advise request"


def test_gpu_model_is_the_first_of_gpu_models() -> None:
    assert RuntimeEnvironment(gpu_model="A").gpu_models == ("A",)
    assert RuntimeEnvironment(gpu_models=("A", "B")).gpu_model == "A"
    with pytest.raises(ValueError):
        RuntimeEnvironment(gpu_model="B", gpu_models=("A",))
