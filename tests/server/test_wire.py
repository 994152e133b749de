"""The wire schema: validation with key paths, the cache digest, credential scrubbing, problems."""

from __future__ import annotations

import json

import pytest

from micro_thoth import errors
from micro_thoth.resolve.problem import Problem
from micro_thoth.resolve.scrub import scrub_text
from micro_thoth.resolve.wire import (
    AdviseRequest,
    AdviseResult,
    JobView,
    digest,
)

PIPFILE = '[[source]]\nurl = "https://bob:tok3n@private.example/simple"\nname = "p"\n\n[packages]\nrequests = "*"\n'


def request(**changes: object) -> dict:
    data: dict = {"requirements": PIPFILE, "requirements_format": "pipenv"}
    data.update(changes)
    return data


def test_defaults_and_round_trip() -> None:
    parsed = AdviseRequest.from_dict(request(labels={"b": "2", "a": "1"}, exclude_newer="2024-01-02T03:04:05Z"))
    assert parsed.recommendation_type == "latest"
    assert parsed.exclude_newer == "2024-01-02T03:04:05+00:00"
    assert list(parsed.labels) == ["a", "b"]
    again = AdviseRequest.from_dict(json.loads(json.dumps(parsed.to_dict())))
    assert again == parsed


@pytest.mark.parametrize(
    ("changes", "key_path"),
    [
        ({"requirements": None}, "requirements"),
        ({"requirements": "  \n"}, "requirements"),
        ({"requirements_format": "poetry"}, "requirements_format"),
        ({"recommendation_type": "fastest"}, "recommendation_type"),
        ({"exclude_newer": "yesterday"}, "exclude_newer"),
        ({"labels": {"team": 3}}, "labels.team"),
        ({"prescriptions": ["ok", 4]}, "prescriptions[1]"),
        ({"dev": "maybe"}, "dev"),
        ({"runtime_environment": {"hardware": {"cpu_family": "six"}}}, "runtime_environment.hardware.cpu_family"),
        ({"runtime_environment": {"python_version": "three"}}, "runtime_environment.python_version"),
        ({"runtime_environment": {"operating_system": []}}, "runtime_environment.operating_system"),
        ({"runtime_environment": {"platform": ["linux", 1]}}, "runtime_environment.platform[1]"),
        ({"no_binary": "numpy"}, "no_binary"),
        ({"only_binary": ["ok", "not a name"]}, "only_binary[1]"),
        ({"only_binary": ["numpy"], "no_binary": ["NumPy"]}, "only_binary"),
        ({"only_binary": [":all:"], "no_binary": [":all:"]}, "only_binary"),
        ({"prefer_binary": "often"}, "prefer_binary"),
    ],
)
def test_invalid_input_names_the_key_path(changes: dict, key_path: str) -> None:
    with pytest.raises(errors.InputFileError) as info:
        AdviseRequest.from_dict(request(**changes))
    assert info.value.key_path == key_path


def test_unsupported_api_version_is_a_usage_error() -> None:
    with pytest.raises(errors.UsageError, match="api_version 3"):
        AdviseRequest.from_dict(request(api_version=3))


def test_thoth_runtime_environment_is_accepted() -> None:
    env = {
        "name": "ubi9", "operating_system": {"name": "rhel", "version": "9"},
        "hardware": {"cpu_family": 6, "cpu_model": 94, "gpu_model": None},
        "python_version": "3.9", "cuda_version": "12.1", "platform": "linux-x86_64", "base_image": None,
    }  # fmt: skip
    parsed = AdviseRequest.from_dict(request(runtime_environment=env, requirements_format="pip-compile"))
    assert parsed.requirements_format == "pip-tools"
    assert parsed.to_dict()["runtime_environment"] == env


def test_digest_ignores_force_and_whitespace_but_not_content() -> None:
    base = AdviseRequest.from_dict(request())
    assert digest(base) == digest(AdviseRequest.from_dict(request(force=True)))
    assert digest(base) == digest(AdviseRequest.from_dict(request(requirements=PIPFILE.replace("\n", "  \r\n"))))
    assert digest(base) != digest(base, "knowledge-2")
    assert digest(base) != digest(AdviseRequest.from_dict(request(dev=True)))
    assert digest(base) != digest(AdviseRequest.from_dict(request(requirements=PIPFILE.replace("tok3n", "other"))))


def test_scrubbing_removes_userinfo_everywhere() -> None:
    parsed = AdviseRequest.from_dict(request(requirements_lock='{"url": "https://x:y@h.example/s"}'))
    clean = parsed.scrubbed().to_dict()
    text = json.dumps(clean)
    assert "tok3n" not in text and "bob" not in text and "x:y@" not in text
    assert "https://private.example/simple" in clean["requirements"]
    assert scrub_text("-i https://__token__:abc@h.example/simple/ pkg") == "-i https://h.example/simple/ pkg"
    assert parsed.credential_urls() == {
        "https://private.example/simple": "https://bob:tok3n@private.example/simple",
        "https://h.example/s": "https://x:y@h.example/s",
    }


def test_result_credentials_come_back_on_the_client() -> None:
    parsed = AdviseRequest.from_dict(request())
    served = AdviseResult(lock='{"url": "https://private.example/simple"}', report={"a": [1]}).scrubbed()
    restored = served.with_credentials(parsed.credential_urls())
    assert restored.lock == '{"url": "https://bob:tok3n@private.example/simple"}'
    assert restored.to_dict()["report"] == {"a": [1]}


def test_problem_round_trip_keeps_class_and_data() -> None:
    cause = errors.ConflictCause("b>=2", ("Pipfile", "a==1"))
    original = errors.ResolutionImpossible("a and b conflict", causes=[cause], hint="relax b")
    problem = Problem.from_error(original, 409)
    body = json.loads(json.dumps(problem.to_dict()))
    assert body["error_class"] == "ResolutionImpossible" and body["status"] == 409
    assert body["type"].endswith("resolution-impossible")
    back = Problem.from_dict(body).to_error()
    assert type(back) is errors.ResolutionImpossible
    assert (back.message, back.hint, back.causes) == ("a and b conflict", "relax b", (cause,))


def test_problem_round_trip_of_input_and_index_errors() -> None:
    for original, attrs in [
        (errors.InputFileError("bad", path="Pipfile", key_path="packages.x"), ("path", "key_path", "reason")),
        (errors.PackageNotFound("reqests", suggestions=["requests"]), ("name", "suggestions", "hint")),
        (errors.RemoteResolutionError("slow", status=504), ("status",)),
    ]:
        back = Problem.from_dict(Problem.from_error(original, 422).to_dict()).to_error()
        assert type(back) is type(original) and str(back) == str(original)
        for attr in attrs:
            expected = getattr(original, attr)
            if attr == "status":
                expected = 422
            assert getattr(back, attr) == expected


def test_problem_of_unknown_class_is_remote_error() -> None:
    back = Problem.from_dict({"status": 418, "detail": "teapot", "error_class": "NoSuchError"}).to_error()
    assert type(back) is errors.RemoteResolutionError and back.status == 418


def test_problem_detail_is_scrubbed() -> None:
    problem = Problem.from_error(errors.IndexUnreachable("https://u:pw@h.example/simple", "refused"), 502)
    assert "pw" not in json.dumps(problem.to_dict())


def test_job_view_round_trip_and_validation() -> None:
    view = JobView("adviser-1", "succeeded", cached=True, created_at=1.0, result=AdviseResult("lock", {"k": "v"}, "kv1"))
    assert JobView.from_dict(view.to_dict()) == view
    with pytest.raises(errors.InputFileError) as info:
        JobView.from_dict({"id": "x", "state": "exploded"})
    assert info.value.key_path == "job.state"


def test_the_typed_environment_of_a_parsed_request() -> None:
    env = {"platform": ["linux-x86_64"], "abi_symbols": ["GLIBC_2.17"], "hardware": {"cpu_family": 6}}
    typed = AdviseRequest.from_dict(request(runtime_environment=env)).environment
    assert (typed.platform, typed.abi_symbols, typed.cpu_family, typed.os_name) == ("linux-x86_64", ("GLIBC_2.17",), 6, None)


def test_binary_options_travel_as_pip_means_them_and_are_absent_by_default() -> None:
    from micro_thoth.format_control import Formats

    plain = AdviseRequest.from_dict(request())
    assert plain.formats == Formats()
    assert not {"no_binary", "only_binary", "prefer_binary"} & set(plain.to_dict())  # old digests hold
    given = AdviseRequest.from_dict(request(no_binary=[":all:"], only_binary=["Zope.Interface"], prefer_binary=True))
    assert given.formats == Formats(frozenset({":all:"}), frozenset({"zope-interface"}), True)
    assert not given.formats.allows("other", wheel=True) and given.formats.allows("zope_interface", wheel=True)
    assert AdviseRequest.from_dict(json.loads(json.dumps(given.to_dict()))) == given
    assert digest(given) != digest(plain)
