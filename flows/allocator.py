"""Large blocks handed back to the system once freed (glibc on Linux; elsewhere nothing)."""

from __future__ import annotations

import ctypes
import os
import sys

# mallopt's number for the size from which a block gets a mapping of its own (glibc's malloc.h).
M_MMAP_THRESHOLD = -3
# glibc starts at 128 KiB, then raises that size to each such block freed (up to 32 MiB): once
# the first large buffer of a run was freed (a search answer is 120-200 KB of JSON), later ones
# went into the heaps of its arenas (up to 16 on two cores), where the space they left was too
# scattered to give back. In a 10,000-company run the heaps grew from 144 to 255 MiB (177 free),
# at 100,000 from 186 to 359 MiB: most of the flow process's rise over a run. Fixed at 128 KiB
# (which stops the raising), they stayed at 120-134 MiB and the flow process peaked at 491 MiB
# against 591 at 10,000, with no more CPU (our simulators). mallopt(3) documents the raising.
LARGE_BLOCK = 128 * 1024
# The same setting for the processes started from this one (the ephemeral Prefect server, local
# Dask workers), which glibc reads from the environment as they start.
THRESHOLD_VARIABLE = "MALLOC_MMAP_THRESHOLD_"


def hand_back_large_blocks() -> bool:
    """Give each block of LARGE_BLOCK or more its own mapping, returned when freed, here and in
    the processes started from here. True if this call set it (glibc); False where it was
    set already (by the user, or an earlier call) or where the C library is not glibc."""
    if not sys.platform.startswith("linux") or THRESHOLD_VARIABLE in os.environ:
        return False  # not glibc's platform, or the user's own value (read at start) stands
    os.environ[THRESHOLD_VARIABLE] = str(LARGE_BLOCK)
    mallopt = getattr(ctypes.CDLL(None), "mallopt", None)  # the process's own C library
    if mallopt is None:
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, LARGE_BLOCK))
