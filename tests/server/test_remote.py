"""The backend client: RemoteResolver against a real backend process, and its retry/timeout rules."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from micro_thoth import errors
from micro_thoth.resolve.remote import RemoteResolver, base_url
from micro_thoth.resolve.wire import AdviseRequest
from tests.server.conftest import PIPFILE, Backend, free_port
from tests.server.resolvers import resolve


def request(text: str = PIPFILE, **changes: object) -> AdviseRequest:
    return AdviseRequest.from_dict({"requirements": text, **changes})


def test_same_result_as_calling_the_resolver_directly(backend: Backend) -> None:
    wanted = request(dev=True, labels={"a": "b"})
    with RemoteResolver(backend.url, retry_sleep=0.1) as remote:
        result = remote.advise(wanted)
    local = resolve(wanted)
    assert result.lock == local.lock  # credentials put back by the client
    assert "alice:s3cr3t-token@" in result.lock
    assert result.to_dict()["report"]["labels"] == {"a": "b"}


def test_errors_come_back_as_the_same_classes(backend: Backend) -> None:
    with RemoteResolver(backend.url) as remote:
        with pytest.raises(errors.ResolutionImpossible) as conflict:
            remote.advise(request('[packages]\nconflict-b = "==1"\n'))
        with pytest.raises(errors.PackageNotFound) as missing:
            remote.advise(request('[packages]\nmissing-pkg = "*"\n'))
    assert conflict.value.causes[0].requirement == "conflict-b>=2"
    assert missing.value.hint == "did you mean 'requests'?"


def test_invalid_request_is_an_input_error_with_key_path(backend: Backend) -> None:
    bad = AdviseRequest(requirements=PIPFILE, runtime_environment={"hardware": {"cpu_family": "x"}})
    with RemoteResolver(backend.url) as remote, pytest.raises(errors.InputFileError) as info:
        remote.advise(bad)
    assert info.value.key_path == "runtime_environment.hardware.cpu_family"


def test_token_from_thamos_token(backend_factory: object, tmp_path: Path) -> None:
    (tmp_path / "token").write_text("abc")
    backend = backend_factory("--token-file", str(tmp_path / "token"))  # type: ignore[operator]
    with RemoteResolver(backend.url, environ={}, retries=0) as anonymous, pytest.raises(errors.RemoteResolutionError) as info:
        anonymous.advise(request())
    assert info.value.status == 401 and "THAMOS_TOKEN" in (info.value.hint or "")
    with RemoteResolver(backend.url, environ={"THAMOS_TOKEN": "abc"}) as member:
        assert "requests" in member.advise(request()).lock


def test_thamos_timeout_bounds_the_wait(backend: Backend) -> None:
    env = {"THAMOS_TIMEOUT": "1"}
    with RemoteResolver(backend.url, environ=env) as remote, pytest.raises(errors.RemoteResolutionError) as info:
        remote.advise(request('[packages]\nsleepy = "==5"\n'))
    assert "within 1s" in str(info.value)


def test_server_time_limit_is_not_retried(backend_factory: object) -> None:
    backend = backend_factory("--timeout", "1")  # type: ignore[operator]
    with RemoteResolver(backend.url) as remote, pytest.raises(errors.RemoteResolutionError) as info:
        remote.advise(request('[packages]\nsleepy = "==5"\n'))
    assert info.value.status == 504


def test_unreachable_backend_retries_then_fails() -> None:
    slept: list[float] = []
    url = f"http://127.0.0.1:{free_port()}"
    env = {"THAMOS_RETRY_ON_ERROR_COUNT": "2", "THAMOS_RETRY_ON_ERROR_SLEEP": "0.5"}
    with RemoteResolver(url, environ=env, sleep=slept.append) as remote, pytest.raises(errors.RemoteResolutionError) as info:
        remote.advise(request())
    assert slept == [0.5, 0.5]
    assert "cannot reach the backend" in str(info.value)
    assert isinstance(info.value.__cause__, httpx.ConnectError)


def test_busy_backend_is_retried_after_retry_after() -> None:
    answers = iter([
        httpx.Response(503, headers={"Retry-After": "2", "content-type": "application/problem+json"},
                       json={"status": 503, "title": "Backend busy", "detail": "busy", "error_class": "RemoteResolutionError"}),
        httpx.Response(202, json={"id": "adviser-1-2"}),
        httpx.Response(200, json={"id": "adviser-1-2", "state": "running"}),
        httpx.Response(200, json={"id": "adviser-1-2", "state": "succeeded",
                                  "result": {"lock": "{}", "report": {}, "knowledge_version": "k"}}),
    ])  # fmt: skip
    seen: list[str] = []

    def handler(req: httpx.Request) -> httpx.Response:
        seen.append(f"{req.method} {req.url.path} {req.headers.get('authorization')}")
        return next(answers)

    slept: list[float] = []
    client = httpx.Client(transport=httpx.MockTransport(handler))
    remote = RemoteResolver("backend.example:9000", client=client, sleep=slept.append, token="tk", environ={})
    assert remote.advise(request()).lock == "{}"
    assert seen[0] == "POST /api/v2/advise Bearer tk" and seen[1] == "POST /api/v2/advise Bearer tk"
    assert slept[0] == 2.0 and len(seen) == 4


def test_non_json_error_is_a_remote_error() -> None:
    client = httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(418, text="teapot")))
    with pytest.raises(errors.RemoteResolutionError) as info:
        RemoteResolver("http://h.example", client=client, environ={}).advise(request())
    assert info.value.status == 418 and "teapot" in str(info.value)


def test_base_url_and_bad_env() -> None:
    assert base_url("127.0.0.1:9000/") == "https://127.0.0.1:9000"
    assert base_url("http://h.example/") == "http://h.example"
    with pytest.raises(errors.UsageError, match="THAMOS_TIMEOUT"):
        RemoteResolver("h", environ={"THAMOS_TIMEOUT": "soon"})


def test_results_survive_json_round_trip(backend: Backend) -> None:
    with RemoteResolver(backend.url) as remote:
        result = remote.advise(request("six==1.16\n", requirements_format="pip"))
    assert json.loads(json.dumps(result.to_dict()))["lock"].startswith("six==1.16")


def test_tls_is_verified(backend_factory: object, tls: tuple[str, str]) -> None:
    backend = backend_factory("--ssl-certfile", tls[0], "--ssl-keyfile", tls[1], scheme="https")  # type: ignore[operator]
    host = backend.url.removeprefix("https://")
    with RemoteResolver(host, retries=0, environ={}) as untrusted, pytest.raises(errors.RemoteResolutionError) as info:
        untrusted.advise(request())
    assert "CERTIFICATE_VERIFY_FAILED" in str(info.value)
    with RemoteResolver(host, verify=tls[0], environ={}) as trusted:
        assert "requests" in trusted.advise(request()).lock
