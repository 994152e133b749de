"""Discovery on fixture machines: Debian x86_64, UBI 8 with an NVIDIA GPU, Alpine (musl), Ubuntu aarch64."""

from __future__ import annotations

import time
from pathlib import Path

from micro_thoth.environment.detect import (
    CommandResult,
    Machine,
    detect,
    parse_os_release,
    probe_base_image,
    probe_cuda,
    probe_gpus,
)

from .conftest import MachineFactory


def test_plain_debian_x86_64(fixture_machine: MachineFactory) -> None:
    found = detect(fixture_machine("debian-x86_64"))
    assert (found.os_name, found.os_version) == ("debian", "12")
    assert (found.libc_family, found.libc_version, found.machine) == ("glibc", "2.36", "x86_64")
    assert found.platform == "linux-x86_64"
    assert (found.cpu_family, found.cpu_model) == (6, 85)
    assert found.cpu_model_name == "Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz"
    assert {"avx2", "avx512f", "sse4_2"} <= set(found.cpu_flags)
    assert found.gpu_models == ("Cirrus Logic GD 5446",)
    assert found.sources["gpu_model"] == "lspci"
    assert found.cuda_version is None and found.cudnn_version is None


def test_ubi8_with_nvidia_gpu_and_cuda_12(fixture_machine: MachineFactory) -> None:
    found = detect(fixture_machine("ubi8-nvidia"))
    assert (found.os_name, found.os_version) == ("rhel", "8")  # Thamos keeps RHEL's major version only
    assert (found.libc_family, found.libc_version) == ("glibc", "2.28")
    assert found.gpu_models == ("Tesla T4", "Tesla T4")
    assert found.sources["gpu_model"] == "nvidia-smi"
    assert found.cuda_version == "12.2" and found.sources["cuda_version"] == "nvcc --version"
    assert found.cudnn_version == "8.9.7"
    assert (found.cpu_family, found.cpu_model, found.cpu_model_name) == (23, 49, "AMD EPYC 7R32")


def test_cuda_version_sources_in_order(fixture_machine: MachineFactory) -> None:
    assert probe_cuda(fixture_machine("ubi8-nvidia", CUDA_VERSION="12.1.1")) == ("12.1", "CUDA_VERSION")
    without_tools = fixture_machine("ubi8-nvidia", tools=False)
    assert probe_cuda(without_tools) == ("12.2", "/usr/local/cuda/version.json")


def test_cuda_from_the_driver_when_there_is_no_toolkit(fixture_machine: MachineFactory, tmp_path: Path) -> None:
    machine = fixture_machine("ubi8-nvidia")
    (Path(machine.environ["PATH"]) / "nvcc").unlink()
    empty_root = tmp_path / "empty-root"
    empty_root.mkdir()
    bare = Machine(root=empty_root, environ=machine.environ, run=machine.run)
    assert probe_cuda(bare) == ("12.2", "nvidia-smi (driver)")


def test_thamos_disable_cuda(fixture_machine: MachineFactory) -> None:
    found = detect(fixture_machine("ubi8-nvidia", THAMOS_DISABLE_CUDA="1", CUDA_VERSION="12.2"))
    assert found.cuda_version is None and found.cudnn_version is None
    assert found.gpu_models == ("Tesla T4", "Tesla T4")  # the GPU is still reported


def test_gpu_fallbacks_proc_driver_then_lspci_3d_controller(fixture_machine: MachineFactory) -> None:
    machine = fixture_machine("ubi8-nvidia")
    (Path(machine.environ["PATH"]) / "nvidia-smi").unlink()
    assert probe_gpus(machine) == (("Tesla T4",), "/proc/driver/nvidia")
    no_driver = Machine(root=machine.root / "etc", environ=machine.environ, run=machine.run)
    models, source = probe_gpus(no_driver)
    assert source == "lspci"
    assert models == ("Amazon.com, Inc. Device 1111", "NVIDIA Corporation TU104GL [Tesla T4] (rev a1)")


def test_amd_gpu_through_rocm_smi(fixture_machine: MachineFactory) -> None:
    machine = fixture_machine("debian-x86_64")
    tool = Path(machine.environ["PATH"]) / "rocm-smi"
    tool.write_text('#!/bin/sh\necho "GPU[0]		: Card series:		Instinct MI210"\n'
                    'echo "GPU[0]		: Card model:		0x0740"\n')
    tool.chmod(0o755)
    assert probe_gpus(machine) == (("Instinct MI210", "0x0740"), "rocm-smi")


def test_alpine_musl(fixture_machine: MachineFactory) -> None:
    found = detect(fixture_machine("alpine"))
    assert (found.os_name, found.os_version) == ("alpine", "3.19.1")
    assert (found.libc_family, found.libc_version, found.machine) == ("musl", "1.2", "x86_64")
    assert found.gpu_models == () and found.cuda_version is None


def test_ubuntu_aarch64(fixture_machine: MachineFactory) -> None:
    found = detect(fixture_machine("ubuntu-aarch64"))
    assert (found.os_name, found.os_version) == ("ubuntu", "22.04")
    assert (found.machine, found.platform, found.libc_version) == ("aarch64", "linux-aarch64", "2.35")
    assert found.cpu_family is None and found.cpu_model is None
    assert "asimd" in found.cpu_flags
    assert found.openblas_version == "0.3.20"


def test_a_hanging_tool_times_out(fixture_machine: MachineFactory) -> None:
    machine = fixture_machine("debian-x86_64", timeout=0.5)
    tool = Path(machine.environ["PATH"]) / "nvidia-smi"
    tool.write_text("#!/bin/sh\nexec /bin/sleep 30\n")
    tool.chmod(0o755)
    start = time.monotonic()
    assert probe_gpus(machine)[1] == "lspci"
    assert time.monotonic() - start < 5


def test_nothing_present_and_a_broken_runner_never_raise(tmp_path: Path) -> None:
    def broken(argv: object) -> CommandResult:
        raise RuntimeError("boom")

    found = detect(Machine(root=tmp_path, environ={}, run=broken))
    assert found.os_name is None and found.gpu_models == () and found.cuda_version is None
    assert found.cpu_family is None and found.cpu_flags == ()


def test_the_running_interpreter_is_described_on_the_real_machine() -> None:
    found = detect()
    assert found.python_version and found.platform and found.implementation


def test_python_facts_from_an_interpreter_info(fixture_machine: MachineFactory) -> None:
    class Info:
        markers = {"python_version": "3.9", "python_full_version": "3.9.18", "implementation_name": "cpython",
                   "platform_machine": "x86_64"}
        platform = "linux-x86_64"
        libc_family, libc_version, machine = "glibc", "2.28", "x86_64"

    found = detect(fixture_machine("debian-x86_64"), interpreter=Info())
    assert (found.python_version, found.python_full_version, found.libc_version) == ("3.9", "3.9.18", "2.28")


def test_base_image_from_s2i_and_ci_variables() -> None:
    assert probe_base_image({"THOTH_S2I_NAME": "quay.io/thoth-station/s2i-thoth-ubi8-py38",
                             "THOTH_S2I_VERSION": "0.35.1"}) == "quay.io/thoth-station/s2i-thoth-ubi8-py38:v0.35.1"
    assert probe_base_image({"IMAGE_NAME": "registry/app", "IMAGE_TAG": "1.2",
                             "THOTH_S2I_NAME": "other"}) == "registry/app:1.2"
    assert probe_base_image({"THOTH_S2I_NAME": "x"}) is None


def test_os_release_parsing() -> None:
    assert parse_os_release('ID="ubi"\n# c\nVERSION_ID=\'8.9\'\nbad line\n') == {"ID": "ubi", "VERSION_ID": "8.9"}


def test_a_root_with_glob_characters(tmp_path: Path) -> None:
    root = tmp_path / "odd[root]"
    (root / "lib").mkdir(parents=True)
    (root / "lib" / "ld-musl-aarch64.so.1").write_text("")
    assert Machine(root=root, environ={}, run=lambda argv: None).glob("/lib/ld-musl-*.so.1") == [
        "/lib/ld-musl-aarch64.so.1"]
