"""Requests are checked before any job exists, and no request text can stall the server.

The 1 MiB adversarial texts are bounded at one second of CPU per stage: a
correctness bound (the quadratic URL scan took minutes on these), with a wide
margin, not a benchmark.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable

import httpx
import pytest

from micro_thoth import errors
from micro_thoth.resolve.scrub import scrub_text, url_spans
from micro_thoth.resolve.wire import AdviseRequest, digest
from micro_thoth.server import thoth_v1
from micro_thoth.server.intake import check_files
from tests.server.conftest import Backend

MIB = 1 << 20
ADVERSARIAL = {
    "letters": "a" * MIB,
    "scheme-run-then-mark": "a" * MIB + "://",
    "marks": "a://" * (MIB // 4),
    "digits-then-url": "1" * MIB + "://x",
    "colons-slashes": ":/" * (MIB // 2),
    "credentials": "https://u:p@h/ " * (MIB // 16),
}
OLD_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s\"'<>]+")


def _within_a_second(stage: Callable[[], object]) -> None:
    """CPU time of this process, not wall time: the bound must hold on a machine busy with others."""
    started = time.process_time()
    stage()
    assert time.process_time() - started < 1.0


@pytest.mark.parametrize("name", sorted(ADVERSARIAL))
def test_url_scan_is_linear_on_adversarial_text(name: str) -> None:
    text = ADVERSARIAL[name]
    _within_a_second(lambda: scrub_text(text))
    _within_a_second(lambda: list(url_spans(text)))


def test_url_scan_finds_what_the_old_pattern_found() -> None:
    samples = ["see https://u:p@h.example/x and git+ssh://git@h/r.git", "1a2://x 9://y a://", "x://y://z 'http://q'<a>"]
    for text in samples:
        assert list(url_spans(text)) == [m.span() for m in OLD_URL.finditer(text)]
    assert scrub_text("https://alice:pw@h.example/simple") == "https://h.example/simple"


def test_every_stage_of_a_1_mib_request_is_fast() -> None:
    pipfile = '[packages]\nsix = "*"\n# ' + "a" * MIB + "\n"
    body = {"application_stack": {"requirements": pipfile, "requirements_lock": ""}, "runtime_environment": {}}
    box: dict[str, AdviseRequest] = {}
    _within_a_second(lambda: box.setdefault("request", thoth_v1.to_request(body, {})))
    request = box["request"]
    _within_a_second(lambda: check_files(request, "application_stack."))
    _within_a_second(lambda: digest(request))
    _within_a_second(request.scrubbed)
    _within_a_second(request.credential_urls)


@pytest.mark.parametrize(
    ("body", "query", "key_path"),
    [
        ({"application_stack": {"requirements": "[packages\nsix = 1"}}, {}, "application_stack.requirements"),
        ({"application_stack": {"requirements": '[packages]\nsix = "not a spec"'}}, {}, "application_stack.requirements.packages.six"),
        ({"application_stack": {"requirements": '[packages]\nsix = "*"', "requirements_lock": "garbage"}}, {}, "application_stack.requirements_lock"),
        ({"application_stack": {"requirements": '[packages]\nsix = "*"'}}, {"recommendation_type": "fastest"}, "recommendation_type"),
        ({"application_stack": {"requirements": '[packages]\nsix = "*"'}, "runtime_environment": {"python_version": "three"}}, {}, "runtime_environment.python_version"),
        ({"application_stack": {"requirements": '[packages]\nsix = "*"'}, "runtime_environment": {"hardware": {"cpu_family": "x"}}}, {}, "runtime_environment.hardware.cpu_family"),
    ],
)  # fmt: skip
def test_bad_input_is_refused_naming_the_field(body: dict, query: dict, key_path: str) -> None:
    with pytest.raises(errors.InputFileError) as info:
        check_files(thoth_v1.to_request(body, query), "application_stack.")
    assert info.value.key_path == key_path


@pytest.mark.parametrize(
    ("entry", "key_path"),
    [
        ('app = {path = "./app"}', "requirements.packages.app"),
        ('app = {file = "file:///etc/app-1.0.tar.gz"}', "requirements.packages.app"),
        ('app = {file = "../app-1.0-py3-none-any.whl"}', "requirements.packages.app"),
    ],
)
def test_a_file_of_the_clients_machine_is_refused(entry: str, key_path: str) -> None:
    """The backend never reads its own files for a request: a path or file:// entry names the client's."""
    with pytest.raises(errors.InputFileError, match="local path") as info:
        check_files(AdviseRequest(requirements=f"[packages]\n{entry}\n"))
    assert info.value.key_path == key_path
    with pytest.raises(errors.InputFileError, match="local path") as info:
        check_files(AdviseRequest(requirements="six\napp @ file:///srv/app-1.0.tar.gz\n", requirements_format="pip"))
    assert info.value.key_path == "requirements.line 2"
    url = "app @ https://files.example.invalid/app-1.0.tar.gz"  # a URL both can read is fine
    check_files(AdviseRequest(requirements=f"{url}\n", requirements_format="pip"))


def test_v1_bad_input_is_400_before_any_job(backend: Backend) -> None:
    with backend.client() as client:
        before = client.get("/health").json()
        for lock in ("garbage", '{"_meta": {}, "default": {"six": {"version": 3}}}'):
            body = {"application_stack": {"requirements": '[packages]\nsix = "*"\n', "requirements_lock": lock}}
            refused = client.post("/api/v1/advise/python", json=body)
            assert refused.status_code == 400, refused.text
            assert refused.headers["content-type"].startswith("application/problem+json")
            assert refused.json()["key_path"].startswith("application_stack.requirements_lock")
        broken = client.post("/api/v2/advise", json={"requirements": "[packages\n"})
        assert broken.status_code == 422 and broken.json()["key_path"] == "requirements"
        after = client.get("/health").json()
    log = backend.output.read_text()
    assert after["queued"] == before["queued"] and log.count("POST /api/v") == 3


def test_a_large_request_does_not_stall_other_requests(backend_factory) -> None:
    backend: Backend = backend_factory("--max-body", str(4 * MIB))
    pipfile = '[packages]\nsix = "*"\n# ' + "see http://" + "a" * (2 * MIB) + "\n"
    answers: list[int] = []
    sender = threading.Thread(
        target=lambda: answers.append(httpx.post(f"{backend.url}/api/v2/advise", json={"requirements": pipfile}, timeout=60).status_code)
    )
    sender.start()
    with backend.client() as client:
        for _ in range(5):
            assert client.get("/health", timeout=5).status_code == 200
    sender.join(60)
    assert answers == [202]


def test_the_empty_source_list_thamos_writes_means_the_default_index() -> None:
    from micro_thoth.formats.pipfile import parse_pipfile

    text = 'source = []\n\n[packages]\nsix = "*"\n'
    parsed = parse_pipfile(text, "Pipfile", default_index_url="https://index.invalid/simple")
    assert [source.url for source in parsed.sources] == ["https://index.invalid/simple"]
    assert parse_pipfile(text, "Pipfile").sources == ()
