"""How many processors this process may run on: the bound of the CPU-bound pools (unpack, place, compile).

More threads than that only trade the GIL back and forth (a futex call per switch) while each
waits for the kernel; downloads, which wait for the network, keep their own bound.
"""

from __future__ import annotations

import os


def cores() -> int:
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1
