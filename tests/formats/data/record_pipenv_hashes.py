"""Record the ``_meta`` hashes real pipenv computes for ``pipfiles/*.toml``.

Not a test: run it with a venv holding pipenv (2026.10.3 was used) to refresh
``pipfile-hashes.json``:

    /work/tools/pipenv/bin/python tests/formats/data/record_pipenv_hashes.py

"current" is ``Project.pipfile.calculate_hash()`` (names canonicalised, pipenv
>= 2026.4), "legacy" is plette's ``Pipfile.get_hash()`` (names as written).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).parent


def record(pipfile: Path) -> dict[str, str]:
    from pipenv.project import Project
    from pipenv.vendor import plette

    with tempfile.TemporaryDirectory() as tmp:
        shutil.copy(pipfile, Path(tmp) / "Pipfile")
        os.chdir(tmp)
        current = Project(chdir=False).pipfile.calculate_hash()
        with open("Pipfile") as f:
            legacy = plette.Pipfile.load(f).get_hash().value
    return {"current": current, "legacy": legacy}


def main() -> int:
    os.environ.update(PIPENV_IGNORE_VIRTUALENVS="1", PIP_CONFIG_FILE=os.devnull)
    import pipenv

    cases = {p.stem: record(p) for p in sorted((HERE / "pipfiles").glob("*.toml"))}
    out = {"pipenv": pipenv.__version__, "cases": cases}
    (HERE / "pipfile-hashes.json").write_text(json.dumps(out, indent=2, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
