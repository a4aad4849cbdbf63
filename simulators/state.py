"""The thread-safe control surface shared by both simulators: config, faults, limits, stats."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterable, Mapping
from typing import Any

from simulators.faults import FaultBook, FaultRule, LatencyModel, resolve_latency
from simulators.limits import SlidingWindowLimiter, TokenBucketLimiter, WindowDecision
from simulators.stats import StatsRecorder


@dataclasses.dataclass(frozen=True)
class BaseConfig:
    """Settings every simulator has; `configure()` replaces fields of a copy."""

    keys: frozenset[str] = frozenset()
    latency: str | Mapping[str, float] = "none"
    time_scale: float = 1.0
    rpm_limit: int | None = None
    rpm_retry_after: float | None = None
    rpm_window: float = 60.0
    # None: a sliding window of rpm_limit per rpm_window. A number: a token bucket instead,
    # refilled at rpm_limit per rpm_window with room for this many (OpenAI's limits refill
    # continuously; a small burst is what gateways in front of vLLM often allow).
    rpm_burst: int | None = None
    seed: int = 0
    # True: every request waits at the door, counted in flight, until it is set back (a
    # test's gate, so that two runs' requests surely meet however slowly their processes start).
    held: bool = False

    def validate(self, service: str) -> None:
        """Raise ValueError if a field is out of range."""
        resolve_latency(self.latency, service)
        if not isinstance(self.held, bool):
            raise ValueError("held must be true or false")
        if self.time_scale < 0:
            raise ValueError("time_scale must be >= 0")
        if self.rpm_limit is not None and self.rpm_limit < 0:
            raise ValueError("rpm_limit must be >= 0 or None")
        if self.rpm_window <= 0:
            raise ValueError("rpm_window must be > 0")
        if self.rpm_burst is not None and self.rpm_burst < 1:
            raise ValueError("rpm_burst must be >= 1 or None")

    def public(self) -> dict[str, Any]:
        """The config as JSON-able data, with the accepted keys counted rather than shown."""
        data = dataclasses.asdict(self)
        data["keys"] = len(self.keys)
        if isinstance(self.latency, Mapping):
            data["latency"] = dict(self.latency)
        for name, value in data.items():
            if isinstance(value, frozenset):
                data[name] = sorted(value)
        return data


class SimulatorState:
    """Config, fault rules, rate windows and the request log of one simulator."""

    service = "base"

    def __init__(self, config: BaseConfig, fault_kinds: frozenset[str]) -> None:
        config.validate(self.service)
        self._lock = threading.Lock()
        self._default_config = config
        self._config = config
        self._faults = FaultBook(fault_kinds, seed=config.seed)
        self._latency = LatencyModel(self.service, seed=config.seed)
        self._limiter = SlidingWindowLimiter()
        self._bucket = TokenBucketLimiter()
        self.recorder = StatsRecorder()
        # Set while the server shuts down so long sleeps (hang, latency) end at once.
        self.closing = threading.Event()

    # --- configuration ----------------------------------------------------------------------
    @property
    def config(self) -> BaseConfig:
        """The current (immutable) configuration."""
        with self._lock:
            return self._config

    def configure(self, **changes: Any) -> BaseConfig:
        """Change settings, e.g. configure(latency="fast", rpm_limit=10); returns the result."""
        known = {f.name for f in dataclasses.fields(self._config)}
        unknown = set(changes) - known
        if unknown:
            raise TypeError(f"unknown {self.service} setting(s): {sorted(unknown)}")
        if "keys" in changes:
            changes["keys"] = frozenset(changes["keys"])
        if changes.get("models") is not None:
            changes["models"] = frozenset(changes["models"])
        with self._lock:
            updated = dataclasses.replace(self._config, **changes)
            updated.validate(self.service)
            self._config = updated
            return updated

    # --- faults -----------------------------------------------------------------------------
    def add_fault(self, rule: FaultRule) -> None:
        """Arm a fault rule (rules are checked in the order they were added)."""
        self._faults.add(rule)

    def add_faults(self, rules: Iterable[FaultRule | Mapping[str, Any]]) -> None:
        """Arm several rules, given as FaultRule objects or their JSON dicts."""
        for rule in rules:
            self.add_fault(rule if isinstance(rule, FaultRule) else FaultRule.from_dict(rule))

    def clear_faults(self) -> None:
        """Disarm every fault rule."""
        self._faults.clear(self.config.seed)

    def pick_fault(self, subject: str | None) -> FaultRule | None:
        """The fault (if any) that fires for a request about `subject`."""
        return self._faults.pick(subject)

    # --- limits and latency -----------------------------------------------------------------
    def check_rate(self, key: str) -> WindowDecision | None:
        """Take a slot in the key's RPM window or bucket; None when no limit is configured."""
        config = self.config
        if config.rpm_limit is None:
            return None
        with self._lock:
            now = time.monotonic()
            if config.rpm_burst is not None:
                per_minute = config.rpm_limit * 60.0 / config.rpm_window
                return self._bucket.try_acquire(key, per_minute, config.rpm_burst, now)
            return self._limiter.try_acquire(key, config.rpm_limit, config.rpm_window, now)

    def sample_latency(self, depth: str | None = None) -> float:
        """Seconds this request should take, per the latency profile and time scale."""
        config = self.config
        return self._latency.sample(config.latency, config.time_scale, depth)

    # --- stats ------------------------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        """A snapshot of counters and the request log (never contains keys)."""
        snapshot = self.recorder.snapshot()
        snapshot["faults"] = self._faults.snapshot()
        snapshot.update(self._extra_stats())
        return snapshot

    def _extra_stats(self) -> dict[str, Any]:
        return {}

    def requests_for(self, company_substring: str) -> list[dict[str, Any]]:
        """Log entries about companies (or queries) containing the substring."""
        return self.recorder.requests_for(company_substring)

    def reset(self) -> None:
        """Clear stats, faults and limits, and restore the configuration given at start."""
        with self._lock:
            self._config = self._default_config
            self._limiter.clear()
            self._bucket.clear()
            self._reset_extra()
        self.recorder.reset()
        self._faults.clear(self._default_config.seed)
        self._latency.reseed(self._default_config.seed)

    def _reset_extra(self) -> None:
        """Subclass hook, called with the lock held."""
