"""Concurrency slots for one provider, shared by every run on a Prefect server when there is one.

Inside a run, slots are handed out locally. When the run shares a Prefect global concurrency
limit, it borrows slots from the server a block at a time (one round trip per block, not per
request) under a lease that a background thread renews; a block goes back when local demand
falls, and every block goes back when the run ends. If the process dies, its leases expire and
the server reclaims the slots, so a crash or a cancellation cannot leak them.
"""

from __future__ import annotations

import heapq
import itertools
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from uuid import UUID

import httpx
from prefect.client.orchestration import SyncPrefectClient, get_client
from prefect.client.schemas.responses import GlobalConcurrencyLimitResponse
from prefect.exceptions import ObjectNotFound, PrefectHTTPStatusError

from tasks.slots import QUEUED_LOOK_SECONDS, StopSignal, slot_priority

LEASE_SECONDS = 60.0
IDLE_CHECK_SECONDS = 1.0
# A run kept waiting this long for slots held by other runs says so (and again every 5 min):
# otherwise a run queued behind another, or behind a dead run's lease, looks hung.
STARVED_WARN_SECONDS = 30.0
STARVED_REPEAT_SECONDS = 300.0
# A SQLite-backed Prefect server answers 503 when a write of ours meets one of its own (the
# task-run recorder's, most often as a chunk's task starts): the transaction failed, and goes
# through at the next try. Prefect's client waits 2 s, then 4 s...; slots are borrowed on the
# way to a run's first requests, so they are asked for again sooner first.
QUICK_RETRY_DELAYS = (0.05, 0.1, 0.2, 0.4, 0.8)
# The first waiter for a slot looks at the server (shared mode) and at its stop signal this
# often; the others sleep until woken (tasks.slots.QUEUED_LOOK_SECONDS). Each of 150 threads
# waiting for 50 slots held 3.8 s each looking twice a second cost 0.47 ms of CPU an acquire,
# against 0.09 now.
HEAD_POLL_SECONDS = 0.5


class LimitError(RuntimeError):
    """A shared concurrency limit could not be created, read back or used."""


class QuickRetries(httpx.BaseTransport):
    """Sends a request again after a 503, a few times in quick succession, before handing the
    503 to Prefect's client (and its slower retries)."""

    def __init__(self, inner: httpx.BaseTransport, delays: tuple[float, ...] = QUICK_RETRY_DELAYS):
        self.inner, self.delays = inner, delays

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        for delay in self.delays:
            response = self.inner.handle_request(request)
            if response.status_code != 503:
                return response
            response.close()
            time.sleep(delay)
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


def limits_client() -> SyncPrefectClient:
    """A Prefect client for the concurrency-limit API, retrying a busy server's 503s quickly."""
    client = get_client(sync_client=True)
    # Wrapped once built, as Prefect adds its own transport retries: the transport keeps the
    # TLS, proxy and HTTP/2 settings Prefect gave it.
    http = client._client
    http._transport = QuickRetries(http._transport)
    return client


def ensure_limit(client: SyncPrefectClient, name: str, slots: int) -> None:
    """Create the global limit `name` with `slots` slots, or set it to that (first use wins
    nothing: the latest run's setting is the server's)."""
    try:
        limit = _read_limit(client, name)
        # Read first: nearly every run finds the limit as the last one left it, and Prefect's
        # upsert reads it too, so upserting then checking cost two reads a limit and run.
        if limit is None or limit.limit != slots:
            client.upsert_global_concurrency_limit_by_name(name, slots)
            limit = client.read_global_concurrency_limit_by_name(name)
    except Exception as exc:
        raise LimitError(f"could not create the Prefect concurrency limit {name!r}: {exc}") from exc
    if limit.limit != slots or not limit.active:
        raise LimitError(
            f"Prefect concurrency limit {name!r} is {limit.limit} slots"
            f"{'' if limit.active else ' (inactive)'}, expected {slots} active"
        )


def _read_limit(client: SyncPrefectClient, name: str) -> GlobalConcurrencyLimitResponse | None:
    try:
        return client.read_global_concurrency_limit_by_name(name)
    except ObjectNotFound:
        return None


@dataclass(eq=False)
class _Waiter:
    """A thread queued for a slot: woken when handed one, or when it is first in line."""

    event: threading.Event = field(default_factory=threading.Event)
    granted: bool = False


@dataclass
class _Lease:
    id: UUID
    slots: int


class SlotPool:
    """At most `limit` holders at once in this run; with `shared_name`, also across runs."""

    def __init__(
        self,
        limit: int,
        shared_name: str | None = None,
        warn: Callable[[str], None] | None = None,
    ) -> None:
        self.limit = limit
        self.shared_name = shared_name
        self._warn = warn
        self.block = max(1, math.ceil(limit / 4))
        self._lock = threading.Lock()
        # Waiters in turn order: (priority, arrival, waiter), a heap.
        self._waiters: list[tuple[int, int, _Waiter]] = []
        self._arrivals = itertools.count()
        self._in_use = 0
        self._held = 0  # slots borrowed from the server (shared mode)
        self._leases: list[_Lease] = []
        self._closed = threading.Event()
        self._client = None
        if shared_name:
            # One client for the pool's life (each new one costs 40 ms of CPU: Prefect loads
            # the CA bundle for it, whatever the URL).
            self._client = limits_client()
            self._client.__enter__()
            try:
                ensure_limit(self._client, shared_name, limit)
            except BaseException:
                self._client.__exit__(None, None, None)
                raise
            self._renewer = threading.Thread(target=self._renew_forever, daemon=True)
            self._renewer.start()

    # -- taking and giving back ------------------------------------------------------------

    def try_acquire(self) -> bool:
        """Take a slot if one is free now and nobody is queued for one."""
        with self._lock:
            return not self._waiters and self._take()

    def acquire(self, stop: StopSignal | None = None) -> bool:
        """Wait for a slot, oldest chunk first; False only if `stop` is set while waiting.

        Order matters: the companies of the oldest chunk (`slot_priority`, then arrival) get
        slots first, so chunks finish (and are stored) in order instead of all at once at the
        end, and a run that must stop early has finished its oldest chunks, not bits of many.
        """
        with self._lock:
            if not self._waiters and self._take():
                return True
            waiter = _Waiter()
            entry = (slot_priority.get(), next(self._arrivals), waiter)
            heapq.heappush(self._waiters, entry)
        while True:
            # A release hands its slot straight to the first waiter and wakes it. Only the
            # first waiter polls: for slots freed by other runs (shared mode), and for its stop.
            with self._lock:
                first = bool(self._waiters) and self._waiters[0] is entry
            waiter.event.wait(HEAD_POLL_SECONDS if first else QUEUED_LOOK_SECONDS)
            with self._lock:
                if waiter.granted:
                    return True
                waiter.event.clear()
                if stop is not None and stop.is_set():
                    self._waiters.remove(entry)
                    heapq.heapify(self._waiters)
                    self._wake_first()
                    return False
                if self._waiters[0] is entry and self._take():
                    heapq.heappop(self._waiters)
                    self._wake_first()
                    return True

    def release(self) -> None:
        """Give a slot back: to the first waiter if any, else whole idle blocks to the server."""
        with self._lock:
            self._in_use -= 1
            if self._waiters and self._take():
                handed = heapq.heappop(self._waiters)[2]
                handed.granted = True
                handed.event.set()
                self._wake_first()
                return
            while self._leases and self._held - self._in_use >= self._leases[-1].slots + self.block:
                self._give_back(self._leases.pop())

    def _wake_first(self) -> None:
        """Wake the (new) first waiter, so that it starts polling (called under the lock)."""
        if self._waiters:
            self._waiters[0][2].event.set()

    def _take(self) -> bool:
        """Count one more slot in use if the local cap (and, shared, the server) allows it."""
        if self._in_use >= self.limit:
            return False
        if self.shared_name and self._in_use >= self._held and not self._borrow():
            return False
        self._in_use += 1
        return True

    def close(self) -> None:
        """Return every borrowed slot; called when the run ends, however it ends."""
        self._closed.set()
        with self._lock:
            while self._leases:
                self._give_back(self._leases.pop())
        if self._client is not None:
            self._client.__exit__(None, None, None)
            self._client = None

    # -- the server side -------------------------------------------------------------------

    def _borrow(self) -> bool:
        """Lease a block of slots (or a single one) from the shared limit; False if none free."""
        assert self._client is not None and self.shared_name is not None
        want = min(self.block, self.limit - self._held)
        for size in dict.fromkeys((want, 1)):
            try:
                response = self._client.increment_concurrency_slots_with_lease(
                    names=[self.shared_name],
                    slots=size,
                    mode="concurrency",
                    lease_duration=LEASE_SECONDS,
                )
            except PrefectHTTPStatusError as exc:
                if exc.response.status_code == 423:  # not enough free slots right now
                    continue
                raise LimitError(f"cannot take slots of {self.shared_name!r}: {exc}") from exc
            body = response.json()
            if not body.get("limits"):
                # Never run unlimited because a limit vanished: that would be a silent no-op.
                raise LimitError(f"the Prefect concurrency limit {self.shared_name!r} is missing")
            self._leases.append(_Lease(UUID(body["lease_id"]), size))
            self._held += size
            return True
        return False

    def _give_back(self, lease: _Lease) -> None:
        self._held -= lease.slots
        try:
            assert self._client is not None
            self._client.release_concurrency_slots_with_lease(lease.id)
        except Exception:
            pass  # the lease expires on its own; the server then reclaims the slots

    def _say_starved(self, waited: float) -> None:
        if self._warn is not None:
            self._warn(
                f"waiting {waited:.0f} s for slots of the Prefect concurrency limit "
                f"{self.shared_name!r}: other runs hold all of them (a crashed run's slots "
                f"come back when its lease expires, {LEASE_SECONDS:.0f} s after it died)"
            )

    def _renew_forever(self) -> None:
        """Renew held leases, and hand back slots that stayed idle (other runs may need them)."""
        last_renewal, idle_before = time.monotonic(), 0
        starved_since: float | None = None
        warned_at = float("-inf")
        while not self._closed.wait(IDLE_CHECK_SECONDS):
            now = time.monotonic()
            with self._lock:
                # Waiting under the local cap means waiting for the server's slots.
                starved = bool(self._waiters) and self._in_use < self.limit
            if not starved:
                starved_since = None
            else:
                if starved_since is None:
                    starved_since = now
                waited = now - starved_since
                if waited >= STARVED_WARN_SECONDS and now - warned_at >= STARVED_REPEAT_SECONDS:
                    warned_at = now
                    self._say_starved(waited)
            with self._lock:
                idle = self._held - self._in_use
                # Idle at two checks in a row: this run does not need them now.
                while self._leases and min(idle, idle_before) >= self._leases[-1].slots:
                    lease = self._leases.pop()
                    self._give_back(lease)
                    idle -= lease.slots
                idle_before = idle
            if time.monotonic() - last_renewal < LEASE_SECONDS / 3:
                continue
            last_renewal = time.monotonic()
            with self._lock:
                leases = list(self._leases)
            for lease in leases:
                try:
                    assert self._client is not None
                    self._client.renew_concurrency_lease(lease.id, LEASE_SECONDS)
                except PrefectHTTPStatusError as exc:
                    if exc.response.status_code == 404:  # expired: the server took it back
                        with self._lock:
                            if lease in self._leases:
                                self._leases.remove(lease)
                                self._held -= lease.slots
                except Exception:
                    pass  # a passing error; the next round renews it (leases outlive 3 rounds)
