"""The bundled prescriptions compiled ahead: each YAML file's document as JSON, keyed by the sha256 of its text.

The YAML files under ``micro_thoth/data/prescriptions/`` stay the source of truth;
``compiled.json`` beside them holds what ``yaml.safe_load`` makes of each, so a lock
reads them without YAML (neither the parse nor pyyaml's import: ≈ 20 ms of every
lock). A text is looked up by its digest: an edited file, or one that is not
bundled, is simply not found and is parsed as YAML. ``tests/knowledge/test_compiled.py``
fails when the JSON no longer matches the YAML; regenerate it with
``python -m micro_thoth.knowledge.compiled``.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Optional

from .locations import bundled_dir

COMPILED_FILE = "compiled.json"
FORMAT = 1


def text_digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def compiled_document(text: str, directory: Path) -> Optional[Any]:
    """The loaded YAML document of ``text`` if ``directory``'s compiled file holds it, else None."""
    return _compiled(str(directory)).get(text_digest(text))


@functools.lru_cache(maxsize=4)
def _compiled(directory: str) -> dict[str, Any]:
    try:
        data = json.loads((Path(directory) / COMPILED_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("documents"), dict):
        return {}
    return {entry["sha256"]: entry["document"] for entry in data["documents"].values()}


def compile_texts(texts: Iterable[tuple[str, str]], load: Any) -> dict[str, Any]:
    """The compiled file's content for ``(name, YAML text)`` pairs; ``load`` is ``yaml.safe_load``.

    A document JSON cannot carry unchanged (dates, non-string keys...) is left out: it is parsed as YAML.
    """
    documents = {}
    for name, text in sorted(texts):
        document = load(text)
        if _json_types(document) and _same(json.loads(json.dumps(document)), document):
            documents[name] = {"sha256": text_digest(text), "document": document}
    return {"format": FORMAT, "documents": documents}


def _same(a: Any, b: Any) -> bool:
    """Equal, mapping keys in the same order (a unit file's sections are read in file order)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def _json_types(value: Any) -> bool:
    """Whether ``value`` is made of the types JSON gives back (so the round trip is exact, types included)."""
    if isinstance(value, dict):
        return all(isinstance(k, str) and _json_types(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_json_types(v) for v in value)
    return value is None or isinstance(value, (str, bool, int, float))


def render(content: dict[str, Any]) -> str:
    return json.dumps(content, indent=1, ensure_ascii=False) + "\n"  # keys in the YAML's order


def main() -> None:  # pragma: no cover - a maintainer's command, checked by the test that compares
    import yaml  # imported here: the point of this module is that a lock does not import it

    directory = bundled_dir()
    paths = sorted(p for p in directory.rglob("*") if p.suffix in (".yaml", ".yml"))
    texts = [(p.relative_to(directory).as_posix(), p.read_text(encoding="utf-8")) for p in paths]
    (directory / COMPILED_FILE).write_text(render(compile_texts(texts, yaml.safe_load)), encoding="utf-8")


if __name__ == "__main__":  # pragma: no cover
    main()
