"""httpx without its command line: ``import httpx`` after ``lean_imports.install`` loads neither rich nor
pygments, and ``httpx.main`` still reaches the real command line."""

from __future__ import annotations

import subprocess
import sys

CODE = """
import sys
from micro_thoth.cli import lean_imports
lean_imports.install()
import httpx
print(sorted({m.split('.')[0] for m in sys.modules} & {'rich', 'pygments'}))
try:
    httpx.main(['--help'], standalone_mode=False)
except SystemExit:
    pass
print('pygments' in sys.modules)
"""


def test_httpx_is_imported_without_its_command_line() -> None:
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, check=True, timeout=60)
    lines = out.stdout.strip().splitlines()
    assert lines[0] == "[]"
    assert "Usage" in out.stdout and lines[-1] == "True"  # the real command line, loaded when called
