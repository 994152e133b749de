"""A direct reference in an index package's metadata (``evil @ file:///...``): the backend's resolver
refuses it, naming the package that declares it, and reads nothing of its own machine; the embedded
resolver (a client locking for itself) follows it, as pip does."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from micro_thoth.cli import main
from micro_thoth.pipeline.advise import advise_request
from micro_thoth.resolve.wire import AdviseRequest
from micro_thoth.server.runners import ProcessRunner
from tests.support.builder import Dist, build_wheel
from tests.support.index_server import LocalIndex


def _pipfile(index: LocalIndex) -> str:
    return f'[[source]]\nurl = "{index.url}"\nverify_ssl = false\nname = "local"\n\n[packages]\ninnocent = "*"\n'


@pytest.fixture
def declares_a_file(index: LocalIndex, tmp_path: Path) -> Path:
    """``innocent`` on the index needs ``evil @ file:///<a real wheel>``: only a refusal stops it."""
    evil = tmp_path / "evil-1.0-py3-none-any.whl"
    evil.write_bytes(build_wheel(Dist("evil", "1.0")))
    index.add(Dist("innocent", "1.0", requires_dist=[f"evil @ {evil.as_uri()}"]))
    return evil


def test_backend_refuses_a_file_url_a_package_declares(index: LocalIndex, declares_a_file: Path) -> None:
    request = AdviseRequest(requirements=_pipfile(index), runtime_environment={"python_version": "3.11"}, search_limit=0)
    runner = ProcessRunner({"advise": advise_request})  # the backend's resolver process
    try:
        kind, problem = runner.run("advise", request, 120, lambda line: None)
    finally:
        runner.stop()
    assert kind == "error", problem
    assert (problem["status"], problem["error_class"]) == (409, "ResolutionImpossible")
    assert f"innocent 1.0 depends on evil @ {declares_a_file.as_uri()}" in problem["detail"]
    assert problem["causes"] == [{"requirement": f"evil @ {declares_a_file.as_uri()}", "chain": ["innocent==1.0"]}]
    assert "lock without a backend" in problem["hint"]


@pytest.mark.parametrize(
    "reference", ["file:///etc/passwd", "git+https://127.0.0.1:9/evil.git", "https://127.0.0.1:9/evil-1.0.tar.gz"]
)
def test_backend_follows_no_reference_a_package_declares(index: LocalIndex, reference: str) -> None:
    index.add(Dist("innocent", "1.0", requires_dist=[f"evil @ {reference}"]))
    request = AdviseRequest(requirements=_pipfile(index), runtime_environment={"python_version": "3.11"}, search_limit=0)
    with pytest.raises(Exception) as refused:
        advise_request(request)
    assert type(refused.value).__name__ == "ResolutionImpossible"
    assert "innocent 1.0 depends on evil @ " in str(refused.value)


def test_embedded_lock_follows_it_as_pip_does(
    index: LocalIndex, declares_a_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = tmp_path / "app"
    project.mkdir()
    (project / "Pipfile").write_text(_pipfile(index))
    assert main(["lock", "-C", str(project)]) == 0, capsys.readouterr().err
    locked = json.loads((project / "Pipfile.lock").read_text())["default"]
    assert locked["innocent"]["version"] == "==1.0"
    assert declares_a_file.as_uri() in json.dumps(locked["evil"])
