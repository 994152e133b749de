"""The cyclic garbage collector of a command-line run: rare collections, none during a lock, none at exit.

A lock holds tens of thousands of small objects (the files of every page, the resolver's
state) for the whole run and makes few cycles. Measured on a warm lock of the 56-package
``service`` benchmark project:

- collecting the youngest generation every 700 allocations (Python's default) walked that
  heap again and again: a fifth of the CPU. ``configure`` raises the thresholds for every
  command (``serve``, a long-lived process, included);
- even so, the collections during a lock freed about 900 objects of the 1.4 million they
  walked (≈ 10 % of its CPU): ``paused`` turns the collector off while a lock runs (the
  cycles it leaves, ≈ 56,000 objects, are those the raised thresholds left for the end anyway);
- the interpreter's last, full collection at exit walks every object the run made only to
  free memory the process gives back by exiting (≈ 0.1 s after a warm lock): ``configure``
  freezes the heap at exit instead, so that collection finds nothing to walk. The heap is
  still torn down module by module as before; only objects left in reference cycles are not
  finalised, which Python never promises at exit (files and stores are closed by their
  ``with`` blocks long before).
"""

from __future__ import annotations

import atexit
import gc
from collections.abc import Iterator
from contextlib import contextmanager

THRESHOLDS = (50_000, 20, 100)


def configure() -> None:
    """Rare collections for this process, and no full collection at its exit (see the module's docstring)."""
    gc.set_threshold(*THRESHOLDS)
    atexit.unregister(gc.freeze)  # once, however often the command line runs in this process (tests)
    atexit.register(gc.freeze)


@contextmanager
def paused() -> Iterator[None]:
    """No automatic collection inside the block. After it, what the block made joins the oldest
    generation (``gc.freeze`` then ``gc.unfreeze``: two list splices), else the first young
    collection after it would walk all of it at once; a full collection still reaches it."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.unfreeze()
        if enabled:
            gc.enable()
