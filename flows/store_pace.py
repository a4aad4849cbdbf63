"""When the run's one writer stores the companies that finished: in batches big enough to be
cheap, and never long after they finished."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from flows.settings import Settings

# A store session costs about the same CPU whether it holds 10 companies or 50 (135 against
# 167 ms on the 100,000 benchmark's file, our simulators): opening the file, and closing it,
# whose checkpoint writes a table's last row group again whole after a commit of fewer than
# about 30 rows (24-25 ms a results table at 10 or 20 rows, 4-5 at 30-50). So companies that
# finished wait for a batch of STORE_AT_LEAST, or for STORE_WAIT seconds at most: a crash
# loses no more than that, and the progress shown moves at least that often. A batch counts
# searches and results together: a chunk's searches end in a burst, its results as each
# company finishes, and counted apart each set off stores of their own (2,000 companies at
# time scale 0.3, our simulators: 47 stores counted apart, 39 together). A batch is four
# chunks' worth: a store script saving 20,000 companies' searches through the store's own
# methods took 3.3-3.5 ms of CPU a company in sessions of 50, 2.2-2.3 in sessions of 100 and
# 1.5-1.9 in sessions of 200, and a session's highest memory was no higher (+38-62 MiB over
# its start at each size; our simulators' pages). At a provider-bound pace STORE_WAIT comes
# first: about 10 s of companies a session.
STORE_EVERY = 2.0  # seconds between stores at most once a batch is waiting
STORE_CHUNKS = 4  # a batch: this many chunks' searches and results
# At the default chunk (BATCH_SIZE), as StorePace.for_chunks gives it.
STORE_AT_LEAST = 2 * Settings.model_fields["batch_size"].default * STORE_CHUNKS
STORE_WAIT = 10.0  # seconds between stores at most while anything waits


@dataclass
class StorePace:
    """Whether a store of what finished is due; the scheduler says when it stored."""

    every: float = STORE_EVERY
    at_least: int = STORE_AT_LEAST
    wait: float = STORE_WAIT
    last: float = field(default_factory=lambda: time.monotonic())  # the last store, or the start

    @classmethod
    def for_chunks(cls, batch: int) -> StorePace:
        """A run's pace: a batch is STORE_CHUNKS chunks of `batch` companies, each company a
        search and a result."""
        return cls(at_least=2 * batch * STORE_CHUNKS)

    def due(self, waiting: int) -> bool:
        """Whether to store now what waits: `waiting` searches and results in all."""
        if not waiting:
            return False
        since = time.monotonic() - self.last
        return since >= self.wait or (since >= self.every and waiting >= self.at_least)

    def stored(self) -> None:
        """A store happened (when due, or forced: a capped run's chunk closing, the run's end)."""
        self.last = time.monotonic()
