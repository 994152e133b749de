"""A large JSON object read member by member: streamed arrays element by element, whatever the block boundaries."""

from __future__ import annotations

import io
import json

import pytest

from micro_thoth.knowledge import json_members
from micro_thoth.knowledge.json_members import members

DOCUMENT = {
    "format": "x", "version": 1, "numbers": [1, 22, 333, -4.5e3, 12345678901234567890], "empty": [], "nested": {"a": [1, {"b": "]"}]},
    "units": [{"name": f"U{i}", "text": "x" * i, "escaped": "\"},[\\u00e9" * (i % 3)} for i in range(40)],
    "last": "é",
}


@pytest.mark.parametrize("block", [1, 3, 7, 64, 1 << 16])
@pytest.mark.parametrize("indent", [None, 2])
def test_every_member_and_every_element_comes_back_as_json_reads_it(monkeypatch, block: int, indent) -> None:
    monkeypatch.setattr(json_members, "_BLOCK", block)
    text = json.dumps(DOCUMENT, indent=indent)
    seen = {}
    for key, value in members(io.StringIO(text), streamed=("units", "numbers", "empty")):
        seen[key] = list(value) if key in ("units", "numbers", "empty") else value
    assert seen == DOCUMENT and list(seen) == list(DOCUMENT)


def test_a_streamed_array_left_unread_is_skipped_to_the_next_member() -> None:
    found = [key for key, _value in members(io.StringIO(json.dumps(DOCUMENT)), streamed=("units",))]
    assert found == list(DOCUMENT)


def test_the_elements_are_read_as_they_are_asked_for_not_all_at_once(monkeypatch) -> None:
    monkeypatch.setattr(json_members, "_BLOCK", 64)
    stream = io.StringIO(json.dumps({"units": [{"text": "y" * 100} for _ in range(1000)]}))
    key, units = next(members(stream, streamed=("units",)))
    next(units)
    assert key == "units" and stream.tell() < 1000  # of ~110,000 characters


@pytest.mark.parametrize("text", ['{"a": [1, 2', '{"a": 1 "b": 2}', '[1, 2]', '{"a": [1 2]}', '{1: 2}', ''])
def test_malformed_text_is_a_value_error(text: str) -> None:
    with pytest.raises(ValueError):
        for _key, value in members(io.StringIO(text), streamed=("a",)):
            list(value) if not isinstance(value, int) else None


@pytest.mark.parametrize("streamed", [(), ("a",)])
def test_nesting_too_deep_for_json_is_a_value_error_not_a_recursion_error(streamed) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    with pytest.raises(ValueError, match="nested too deeply"):
        for _key, value in members(io.StringIO(f'{{"a": [{deep}]}}'), streamed=streamed):
            list(value)


@pytest.mark.parametrize("block", [4, 1 << 16])
@pytest.mark.parametrize(("text", "where"), [('{"a": 1, "b": 2 "c": 3}', "'}' at character 16"),
                                             ('{"a": 1, "b": [1, 2, x]}', "Expecting value at character 21")])
def test_an_error_names_its_place_in_the_file_not_in_the_block_read(monkeypatch, block: int, text: str, where: str) -> None:
    monkeypatch.setattr(json_members, "_BLOCK", block)
    with pytest.raises(ValueError, match=where):
        for _key, value in members(io.StringIO(text), streamed=("b",)):
            list(value) if not isinstance(value, int) else None
