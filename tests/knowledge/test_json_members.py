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
