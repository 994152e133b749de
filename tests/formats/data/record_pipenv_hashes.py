"""Record the ``_meta`` hashes real pipenv computes for ``pipfiles/*.toml``.

Not a test: run it with a venv holding pipenv (2026.10.3 was used) to refresh
``pipfile-hashes.json``:

    /work/tools/pipenv/bin/python tests/formats/data/record_pipenv_hashes.py

"current" is ``Project.pipfile.calculate_hash()`` (names canonicalised, pipenv
>= 2026.4), "legacy" is plette's ``Pipfile.get_hash()`` (names as written).
"markers" is what pipenv's ``translate_markers`` makes of each package table
(``markers`` and marker keys such as ``sys_platform = "== 'win32'"``).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).parent


def record(pipfile: Path) -> dict[str, str | None]:
    from pipenv.project import Project
    from pipenv.vendor import plette

    with tempfile.TemporaryDirectory() as tmp:
        shutil.copy(pipfile, Path(tmp) / "Pipfile")
        os.chdir(tmp)
        current = Project(chdir=False).pipfile.calculate_hash()
        with open("Pipfile") as f:
            legacy = plette.Pipfile.load(f).get_hash().value
    return {"current": current, "legacy": legacy, "markers": translated_markers(pipfile)}


def translated_markers(pipfile: Path) -> dict[str, str | None]:
    from pipenv.utils.dependencies import translate_markers
    from pipenv.vendor import tomlkit

    data = tomlkit.parse(pipfile.read_text("utf-8")).unwrap()
    out: dict[str, str | None] = {}
    for section, table in data.items():
        if section in ("source", "requires", "pipenv", "scripts") or not isinstance(table, dict):
            continue
        for name, entry in table.items():
            if isinstance(entry, dict):
                out[f"{section}.{name}"] = translate_markers(entry).get("markers")
    return out


def main() -> int:
    os.environ.update(PIPENV_IGNORE_VIRTUALENVS="1", PIP_CONFIG_FILE=os.devnull)
    import pipenv

    cases = {p.stem: record(p) for p in sorted((HERE / "pipfiles").glob("*.toml"))}
    out = {"pipenv": pipenv.__version__, "cases": cases}
    (HERE / "pipfile-hashes.json").write_text(json.dumps(out, indent=2, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
