"""knowledge/compiled.py: the bundled prescriptions compiled ahead match their YAML, and a lock reads them without YAML."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from micro_thoth.guidance.prescriptions import parse_document, parse_units
from micro_thoth.knowledge.compiled import COMPILED_FILE, compile_texts, compiled_document, render
from micro_thoth.knowledge.locations import bundled_dir
from micro_thoth.knowledge.prescriptions import load_prescriptions

REGENERATE = "regenerate it: python -m micro_thoth.knowledge.compiled"


def _bundled_texts() -> list[tuple[str, str]]:
    root = bundled_dir()
    paths = sorted(p for p in root.rglob("*") if p.suffix in (".yaml", ".yml"))
    return [(p.relative_to(root).as_posix(), p.read_text(encoding="utf-8")) for p in paths]


def test_the_compiled_file_matches_the_yaml_it_was_made_from() -> None:
    committed = (bundled_dir() / COMPILED_FILE).read_text(encoding="utf-8")
    assert committed == render(compile_texts(_bundled_texts(), yaml.safe_load)), REGENERATE


def test_every_bundled_file_is_compiled_and_parses_to_the_same_units() -> None:
    texts = _bundled_texts()
    assert texts
    for name, text in texts:
        document = compiled_document(text, bundled_dir())
        assert document is not None, f"{name} is not in {COMPILED_FILE}: {REGENERATE}"
        assert json.dumps(document) == json.dumps(yaml.safe_load(text))  # keys in the same order too
        assert parse_document(document, path=name, origin="bundled") == parse_units(text, path=name, origin="bundled")


def test_an_edited_text_is_not_found_and_is_parsed_as_yaml(tmp_path: Path) -> None:
    name, text = _bundled_texts()[0]
    assert compiled_document(text + "\n# edited\n", bundled_dir()) is None
    edited = tmp_path / "rx"
    edited.mkdir()
    (edited / name).write_text(text.replace("adviser_pipeline: true", "adviser_pipeline: false", 1), encoding="utf-8")
    units = load_prescriptions(paths=[edited], bundled=False, user=False)
    assert units and units[0].should_include != parse_units(text, path=name)[0].should_include


def test_documents_json_cannot_carry_are_left_to_yaml() -> None:
    texts = [("dates.yaml", "units:\n  sieves: []\nwhen: 2024-01-01\n"), ("keys.yaml", "1: one\n"),
             ("plain.yaml", "units: {}\n")]
    assert list(compile_texts(texts, yaml.safe_load)["documents"]) == ["plain.yaml"]
