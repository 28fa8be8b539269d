"""Keep the CPU memory that a step's tensors free for the next step's tensors.

A training step on a CPU allocates and frees the same large activations every time
(seed64 at batch 128: dozens of tensors of 4 to 32 MB). glibc's malloc gives blocks above
its threshold (adaptive, at most 32 MB) back to the kernel when they are freed
(``munmap``), so the next step takes a page fault on every 4 KiB page of them it writes
again: 12,000 to 72,000 faults a step, 3% to 6% of its time on 2 Xeon cores
(benchmarks/malloc_reuse.py). :func:`keep_freed_memory` tells malloc to serve every block
from its heap and to keep the heap's free memory, so the pages stay mapped and the next
step reuses them. The process then holds on to its peak memory until it ends (measured
0% to 8% above glibc's defaults).

Elsewhere than glibc (macOS, musl) it does nothing.
"""

from __future__ import annotations

import ctypes
import platform

# mallopt's parameters and glibc's defaults for them (malloc.h, malloc/malloc.c)
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD, M_MMAP_MAX = -1, -3, -4
DEFAULTS = {M_MMAP_MAX: 65536, M_MMAP_THRESHOLD: 128 * 1024, M_TRIM_THRESHOLD: 128 * 1024}
#: free memory at the top of the heap kept, not returned (mallopt takes an int)
KEEP_BYTES = 2**31 - 1


def _mallopt():
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        return ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return None


def keep_freed_memory(keep: bool = True) -> bool:
    """Serve large blocks from malloc's heap and keep its free memory (``keep``), or go
    back to glibc's initial fixed thresholds (``keep=False``; the adaptive threshold does
    not come back once a setting is made). Returns whether malloc took the setting
    (glibc only)."""
    mallopt = _mallopt()
    if mallopt is None:
        return False
    settings = {M_MMAP_MAX: 0, M_TRIM_THRESHOLD: KEEP_BYTES} if keep else DEFAULTS
    return all(mallopt(param, value) == 1 for param, value in settings.items())
