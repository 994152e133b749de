"""cli/collector.py: no automatic collection during a lock, the collector as it was after it."""

from __future__ import annotations

import gc

from micro_thoth.cli import collector


def test_paused_turns_the_collector_off_and_back_on() -> None:
    assert gc.isenabled()
    with collector.paused():
        assert not gc.isenabled()
        made = [[] for _ in range(1000)]
    assert gc.isenabled()
    assert gc.get_count()[0] < 1000  # what the block made was moved out of the young generation
    assert gc.get_freeze_count() == 0  # and nothing stays frozen: a full collection still reaches it
    del made


def test_paused_leaves_a_disabled_collector_disabled() -> None:
    gc.disable()
    try:
        with collector.paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_configure_raises_the_thresholds() -> None:
    collector.configure()
    collector.configure()  # again (as every in-process run does): one exit freeze, the same thresholds
    assert gc.get_threshold() == collector.THRESHOLDS
