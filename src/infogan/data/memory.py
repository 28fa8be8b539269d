"""Whether a dataset held in memory as one float32 tensor would fit this machine.

Every loader (a folder of images, an IDX dataset at any size) asks before it allocates
the tensor, so that a dataset too large is refused with the estimate instead of running
out of memory halfway, or failing in the allocator with an error that names no cause.
"""

from __future__ import annotations

import os

from infogan.errors import DataError

#: Memory left for the networks, their optimizers and activations besides the images.
MEMORY_RESERVE_BYTES = 1 << 30


def memory_available() -> int | None:
    """Bytes of memory available to a new allocation (Linux's MemAvailable), if known."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _size(n_bytes: float) -> str:
    if n_bytes >= 1 << 30:
        return f"{n_bytes / (1 << 30):.2f} GiB"
    return f"{n_bytes / (1 << 20):.2f} MiB"


def check_memory(
    count: int,
    channels: int,
    image_size: int,
    *,
    available: int | None,
    source: str,
    remedy: str = "use fewer images",
) -> int:
    """The bytes (N, C, S, S) float32 images take; :class:`DataError` if they would not fit.

    They fit when they leave :data:`MEMORY_RESERVE_BYTES` of ``available`` free for
    the networks; ``available=None`` (unknown) lets them through. ``remedy`` ends the
    error's message.
    """
    needed = count * channels * image_size * image_size * 4
    if available is not None and needed + MEMORY_RESERVE_BYTES > available:
        raise DataError(
            f"{source}: {count:,} images of {channels}x{image_size}x{image_size} need about "
            f"{_size(needed)} in memory (float32), but only {_size(available)} is available "
            f"and {_size(MEMORY_RESERVE_BYTES)} is kept for training; {remedy}"
        )
    return needed
