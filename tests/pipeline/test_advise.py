"""End to end: guidance in ``thoth-pip advise`` / ``lock``, and the backend's resolver function."""

from __future__ import annotations

import json

from micro_thoth.pipeline.advise import advise_request
from micro_thoth.resolve.wire import AdviseRequest
from tests.support.builder import Dist

SIEVE = """\
units:
  sieves:
  - name: BrokenWidget2Sieve
    type: sieve
    should_include:
      adviser_pipeline: true
    match:
      package_version: {name: widget, version: "==2.0"}
    run:
      stack_info:
      - type: WARNING
        message: widget 2.0 corrupts its cache
        link: https://example.invalid/widget/issues/1
"""


def _project(tmp_path, index, packages: str = 'widget = "*"'):
    (tmp_path / "Pipfile").write_text(
        f'[[source]]\nurl = "{index.url}"\nverify_ssl = false\nname = "local"\n\n[packages]\n{packages}\n'
    )
    return tmp_path


def _locked(path) -> dict[str, str]:
    lock = json.loads((path / "Pipfile.lock").read_text())
    return {name: entry["version"] for name, entry in lock["default"].items()}


def test_project_prescription_sieves_a_version_and_says_why(index, tmp_path, thoth) -> None:
    index.add(Dist("widget", "1.0"))
    index.add(Dist("widget", "2.0"))
    app = _project(tmp_path, index)
    assert thoth("lock", "-C", str(app)).code == 0
    assert _locked(app)["widget"] == "==2.0"  # no knowledge yet: newest
    (app / ".thoth" / "prescriptions").mkdir(parents=True)
    (app / ".thoth" / "prescriptions" / "widget.yaml").write_text(SIEVE)
    result = thoth("advise", "--json", "-C", str(app))
    assert result.code == 0, result.err
    assert _locked(app)["widget"] == "==1.0"
    report = result.json()
    assert "products" in report
    assert "widget 2.0 corrupts its cache" in json.dumps(report)


def test_cooldown_skips_a_fresh_release_under_stable(index, tmp_path, thoth) -> None:
    index.add(Dist("fresh", "1.0"), upload_time="2024-01-01T00:00:00Z")
    index.add(Dist("fresh", "1.1"), upload_time="2030-01-01T00:00:00Z")  # "now" is earlier: too young
    app = _project(tmp_path, index, 'fresh = "*"')
    assert thoth("lock", "--recommendation-type", "stable", "-C", str(app)).code == 0
    assert _locked(app)["fresh"] == "==1.0"
    assert thoth("lock", "--recommendation-type", "latest", "-C", str(app)).code == 0
    assert _locked(app)["fresh"] == "==1.0"  # an existing pin stays (minimal churn)...
    assert thoth("lock", "--upgrade", "--recommendation-type", "latest", "-C", str(app)).code == 0
    assert _locked(app)["fresh"] == "==1.1"  # ...until asked to move


def test_backend_resolver_gives_the_embedded_lock(index, tmp_path, thoth) -> None:
    index.add(Dist("alpha", "1.0", requires_dist=["beta"]))
    index.add(Dist("beta", "3.1"))
    app = _project(tmp_path, index, 'alpha = "*"')
    assert thoth("advise", "-C", str(app)).code == 0
    embedded = (app / "Pipfile.lock").read_text()
    result = advise_request(
        AdviseRequest(requirements=(app / "Pipfile").read_text(), recommendation_type="stable")
    )
    assert result.lock == embedded
    assert result.report["products"]


CUDA_WRAP = """\
units:
  boots:
  - name: CudaButNoGpuBoot
    type: boot
    should_include:
      adviser_pipeline: true
      runtime_environments:
        cuda_version: ">=0.0"
    run:
      stack_info:
      - type: WARNING
        message: a CUDA is available on the target
        link: cuda
"""


def _messages(report: dict) -> list[str]:
    return [entry["message"] for entry in report.get("stack_info", [])]


def test_the_backend_never_fills_what_the_request_leaves_unknown_from_its_own_machine(
    index, tmp_path, monkeypatch
) -> None:
    """Issue 19: a CPU-only client (``cuda_version: null``) must not be judged by the server's CUDA, CPU
    or OS; a request that states its CUDA is."""
    from micro_thoth.environment.runtime import RuntimeEnvironment
    from micro_thoth.pipeline import environment as environment_module

    server = RuntimeEnvironment(os_name="fedora", os_version="39", cuda_version="12.4", cpu_family=6, cpu_model=85,
                                gpu_models=("NVIDIA A100",), origins={"cuda_version": "detected"})
    real = environment_module._kept_detection
    monkeypatch.setattr(environment_module, "_kept_detection",
                        lambda *args, **kwargs: replace_detected(real(*args, **kwargs), server))
    index.add(Dist("alpha", "1.0"))
    app = _project(tmp_path, index, 'alpha = "*"')
    requirements = (app / "Pipfile").read_text()
    unknown = advise_request(AdviseRequest(requirements=requirements, recommendation_type="stable",
                                           runtime_environment={"python_version": None, "cuda_version": None},
                                           prescriptions=(CUDA_WRAP,)))
    assert not any("CUDA" in message for message in _messages(unknown.report))
    stated = advise_request(AdviseRequest(requirements=requirements, recommendation_type="stable",
                                          runtime_environment={"cuda_version": "12.4"}, prescriptions=(CUDA_WRAP,)))
    assert any("CUDA is available" in message for message in _messages(stated.report))


def replace_detected(detected, server):
    from dataclasses import replace

    return replace(detected, os_name=server.os_name, os_version=server.os_version, cuda_version=server.cuda_version,
                   cpu_family=server.cpu_family, cpu_model=server.cpu_model, gpu_models=server.gpu_models,
                   origins={**detected.origins, **server.origins})
