"""Shared helpers for the format tests: data paths and the default index URL as pip reports it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"
FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session")
def default_index_url() -> str:
    """The default index URL, read from pip's own help text (never written down here)."""
    env = {"PIP_CONFIG_FILE": "/dev/null", "PATH": "/usr/bin:/bin"}
    out = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--help"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout
    match = re.search(r"\(default\s+(\S+?)\)", " ".join(out.split()))
    assert match, "pip's help no longer names its default index"
    return match.group(1)
