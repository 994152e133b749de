"""The C allocator of this process told to hand big freed buffers back to the system (glibc only; elsewhere nothing).

A cold lock reads megabytes of project pages, each turned into rows and written
to the store within a second: buffers of hundreds of kilobytes to megabytes,
allocated and freed from several threads. glibc raises its mmap threshold each
time such a buffer is freed (up to 32 MB), so the next ones come from heaps it
keeps, and gives every thread an arena of its own: together ≈ 25 MB of resident
memory (a fifth of the cold lock's peak) that nothing uses. A fixed threshold of
1 MB (freed page-sized buffers are unmapped at once; 128 kB measured the same
peak for more system time, zeroing pages again) and two arenas keep the peak to
what is alive. ``ctypes`` is imported only then: a warm run never calls this.
"""

from __future__ import annotations

import functools
import sys

_M_MMAP_THRESHOLD = -3  # glibc's mallopt parameters (malloc.h)
_M_ARENA_MAX = -8


@functools.cache  # asked once per process, without a lock on every later call (one per page read)
def return_big_buffers() -> bool:
    """Ask once per process (later calls give the first answer); True when glibc took the settings."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes  # deferred: ≈ 5 ms, only on the path that reads pages from the network

    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (AttributeError, OSError):  # not glibc (musl has no mallopt)
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, 1024 * 1024)) and bool(mallopt(_M_ARENA_MAX, 2))
