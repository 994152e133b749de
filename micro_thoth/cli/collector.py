"""The cyclic garbage collector of a command-line run: rare collections, and none at exit.

A lock holds tens of thousands of small objects (the files of every page, the resolver's
state) for the whole run and makes few cycles. Measured on a warm lock of the 56-package
``service`` benchmark project:

- collecting the youngest generation every 700 allocations (Python's default) walked that
  heap again and again: a fifth of the CPU. ``configure`` raises the thresholds for every
  command (``serve``, a long-lived process, included);
- the interpreter's last, full collection at exit walked every object the run made only to
  free memory the process gives back by exiting (≈ 0.1 s of CPU after a warm lock):
  ``configure`` freezes the heap at exit instead, so that collection finds nothing to walk.
  The heap is still torn down module by module as before; only objects left in reference
  cycles are not finalised, which Python never promises at exit (files and stores are
  closed by their ``with`` blocks long before).

Turning the collector off during a lock was tried and left out: no measurable CPU on a warm
lock once the exit collection is gone, and a cold lock's peak memory grew by ≈ 23 MB (the
cyclic garbage of its HTTP exchanges and page parses, which the young collections free).
"""

from __future__ import annotations

import atexit
import gc

THRESHOLDS = (50_000, 20, 100)


def configure() -> None:
    """Rare collections for this process, and no full collection at its exit (see the module's docstring)."""
    gc.set_threshold(*THRESHOLDS)
    atexit.unregister(gc.freeze)  # once, however often the command line runs in this process (tests)
    atexit.register(gc.freeze)
