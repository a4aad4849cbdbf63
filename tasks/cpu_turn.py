"""A company's CPU-heavy work takes its turn: one thread of the process at a time.

Python runs one thread at a time (the GIL), handing it over every 5 ms to a thread that asks.
A chunk opens 50 company threads at once, and each first trims its pages (tens of ms of pure
Python). Trimming side by side, they took the GIL from each other in turn, and every request
thread that needed it for a moment (to send a paced request, to read an answer) waited behind
all of them: live, requests reached the provider up to 0.8-1.7 s after the pacer let them go,
in bursts a token bucket refused (the e2e token-bucket test, 46-62 429s of 240 with another
core busy). Taking turns, a request thread waits behind one of them at most: 0.17-0.44 s at
worst, 0.015-0.05 s at the 90th percentile, and 18-33 429s (5 runs, our simulators). The CPU
is the same: the GIL ran them one at a time anyway.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

_TURN = threading.Lock()


@contextmanager
def cpu_turn() -> Iterator[None]:
    """Wait for the turn, then run the block alone: only around pure work that never waits for
    anything else (no I/O, no other lock). A function, not the lock itself: a task run on
    Dask is pickled with the globals it uses, and a lock cannot be."""
    with _TURN:
        yield
