"""cli/collector.py: the raised thresholds, and one exit freeze however often the command line runs."""

from __future__ import annotations

import gc
import subprocess
import sys
from collections.abc import Iterator

import pytest

from micro_thoth.cli import collector


@pytest.fixture
def thresholds() -> Iterator[None]:
    """The collector's thresholds as they were, back after the test (the rest of the session collects as before)."""
    before = gc.get_threshold()
    yield
    gc.set_threshold(*before)


@pytest.mark.usefixtures("thresholds")
def test_configure_raises_the_thresholds() -> None:
    collector.configure()
    collector.configure()  # again (as every in-process run does): one exit freeze, the same thresholds
    assert gc.get_threshold() == collector.THRESHOLDS


def test_the_heap_is_frozen_at_exit() -> None:
    code = (
        "import atexit, gc\n"
        "atexit.register(lambda: print(gc.get_freeze_count() > 0))\n"  # registered first, so run last
        "from micro_thoth.cli import collector\n"
        "collector.configure()\n"
        "collector.configure()\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "True"
