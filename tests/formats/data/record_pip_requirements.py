"""Record how pip itself reads ``requirements/main.txt`` (and what it includes).

Not a test: run it with an interpreter that has pip (26.x was used) to refresh
``pip-requirements.json``:

    /work/tools/piptools/bin/python tests/formats/data/record_pip_requirements.py

For every requirement pip yields: name, specifier, sorted extras, markers, link
URL, editable, hashes (``algorithm:hex``), whether it is a constraint, and the
file and line it came from (relative to this directory).
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

HERE = Path(__file__).parent


def describe(parsed, ireq) -> dict[str, object]:  # type: ignore[no-untyped-def]
    where = re.fullmatch(r"-[rc] (.*) \(line (\d+)\)", parsed.comes_from)
    assert where, parsed.comes_from
    hashes = sorted(f"{alg}:{v}" for alg, values in ireq.hash_options.items() for v in values)
    if ireq.link is not None and ireq.link.hash:
        hashes.append(f"{ireq.link.hash_name}:{ireq.link.hash}")
    return {
        "name": ireq.name,
        "specifier": str(ireq.specifier),
        "extras": sorted(ireq.extras),
        "markers": str(ireq.markers) if ireq.markers else None,
        "link": ireq.link.url if ireq.link is not None and not ireq.link.is_file else None,
        "editable": ireq.editable,
        "hashes": sorted(set(hashes)),
        "constraint": parsed.constraint,
        "file": os.path.normpath(where.group(1)),
        "line": int(where.group(2)),
    }


def main() -> int:
    from pip._internal.network.session import PipSession
    from pip._internal.req.constructors import install_req_from_parsed_requirement
    from pip._internal.req.req_file import parse_requirements

    os.chdir(HERE)
    session = PipSession()
    out = []
    for parsed in parse_requirements("requirements/main.txt", session):
        out.append(describe(parsed, install_req_from_parsed_requirement(parsed)))
    import pip

    data = {"pip": pip.__version__, "requirements": out}
    (HERE / "pip-requirements.json").write_text(json.dumps(data, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
