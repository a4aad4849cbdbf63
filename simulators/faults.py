"""Fault rules and the latency model shared by both simulators."""

from __future__ import annotations

import dataclasses
import math
import random
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# Fault kinds both simulators understand.
COMMON_FAULT_KINDS = frozenset(
    {
        "status",
        "rate_limit",
        "server_error",
        "bad_gateway_html",
        "unavailable",
        "hang",
        "drop",
        "invalid_json",
        "unauthorized",
    }
)
# Tavily-only kinds: billing statuses, a search that finds nothing, and a result list topped
# by a page that tries to take over the model reading it (an answer, not an error).
TAVILY_FAULT_KINDS = COMMON_FAULT_KINDS | {
    "credits_exhausted",
    "paygo_cap",
    "empty_results",
    "prompt_injection",
}
# LLM-only kinds: answers that are HTTP 200 but unusable, and the fatal quota 429.
LLM_FAULT_KINDS = COMMON_FAULT_KINDS | {
    "length",
    "refusal",
    "schema_violation",
    "fenced",
    "insufficient_quota",
    "no_usage",
}
ALL_FAULT_KINDS = TAVILY_FAULT_KINDS | LLM_FAULT_KINDS

# How long a "hang" sleeps when the rule gives no delay: longer than any sane client timeout.
DEFAULT_HANG_SECONDS = 300.0


@dataclass(kw_only=True)
class FaultRule:
    """One injected failure: which requests it hits, what it does, and how often."""

    kind: str
    match: str | None = None
    times: int | None = None
    probability: float = 1.0
    retry_after: float | None = None
    status: int | None = None
    delay: float | None = None
    # Fires only this many seconds after it was armed (an outage of that length), then never.
    seconds: float | None = None
    armed_at: float | None = None  # set when a FaultBook arms it

    def __post_init__(self) -> None:
        if self.kind not in ALL_FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; known: {sorted(ALL_FAULT_KINDS)}")
        if self.kind == "status" and self.status is None:
            raise ValueError("a 'status' fault needs status=<HTTP code>")
        if not 0.0 <= self.probability <= 1.0:
            raise ValueError("probability must be between 0 and 1")
        if self.times is not None and self.times < 0:
            raise ValueError("times must be >= 0 or None")
        if self.seconds is not None and self.seconds < 0:
            raise ValueError("seconds must be >= 0 or None")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FaultRule:
        """Build a rule from its JSON form (as posted to /_sim/faults)."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown fault rule fields: {sorted(unknown)}")
        return cls(**dict(data))

    def to_dict(self) -> dict[str, Any]:
        """The rule as plain JSON-able data (as it was posted: when it was armed is ours)."""
        data = dataclasses.asdict(self)
        del data["armed_at"]
        return data

    def matches(self, subject: str | None) -> bool:
        """True when this rule applies to a request about `subject` (query or company)."""
        if self.match is None:
            return True
        return subject is not None and self.match.casefold() in subject.casefold()

    @property
    def exhausted(self) -> bool:
        """True once the rule has fired as many times (or for as long) as it was allowed to."""
        if self.seconds is not None and self.armed_at is not None:
            if time.monotonic() - self.armed_at >= self.seconds:
                return True
        return self.times is not None and self.times <= 0


class FaultBook:
    """An ordered, thread-safe list of fault rules; the first rule that fires wins."""

    def __init__(self, allowed_kinds: frozenset[str], seed: int = 0) -> None:
        self._allowed = allowed_kinds
        self._rules: list[FaultRule] = []
        self._lock = threading.Lock()
        # A private generator so `probability` is reproducible and independent of other code.
        self._rng = random.Random(seed)

    def add(self, rule: FaultRule) -> None:
        """Append a copy of `rule` (copied so one rule object can arm several simulators)."""
        if rule.kind not in self._allowed:
            raise ValueError(f"fault kind {rule.kind!r} is not supported by this simulator")
        with self._lock:
            self._rules.append(dataclasses.replace(rule, armed_at=time.monotonic()))

    def pick(self, subject: str | None) -> FaultRule | None:
        """Return the rule that fires for this request (decrementing its `times`), or None."""
        with self._lock:
            for rule in self._rules:
                if rule.exhausted or not rule.matches(subject):
                    continue
                if rule.probability < 1.0 and self._rng.random() >= rule.probability:
                    continue
                if rule.times is not None:
                    rule.times -= 1
                return dataclasses.replace(rule)
        return None

    def snapshot(self) -> list[dict[str, Any]]:
        """The armed rules with their remaining `times`."""
        with self._lock:
            return [rule.to_dict() for rule in self._rules]

    def clear(self, seed: int = 0) -> None:
        """Remove every rule and reseed the probability generator."""
        with self._lock:
            self._rules.clear()
            self._rng = random.Random(seed)


@dataclass(frozen=True)
class LatencyProfile:
    """A clipped lognormal distribution of response times, in seconds."""

    median: float
    sigma: float = 0.0
    max: float = math.inf
    min: float = 0.0

    def sample(self, rng: random.Random) -> float:
        """Draw one latency; zero when the median is zero."""
        if self.median <= 0:
            return 0.0
        value = (
            self.median * math.exp(self.sigma * rng.gauss(0.0, 1.0)) if self.sigma else self.median
        )
        return min(max(value, self.min), self.max)


# Named profiles per service. "search" medians are for search_depth="advanced"; other depths
# are scaled by SEARCH_DEPTH_FACTOR because the real service answers them faster.
LATENCY_PROFILES: dict[str, dict[str, LatencyProfile]] = {
    "none": {"search": LatencyProfile(0.0), "llm": LatencyProfile(0.0)},
    "fast": {
        "search": LatencyProfile(0.05, 0.3, 0.3),
        "llm": LatencyProfile(0.1, 0.3, 0.6),
    },
    "demo": {
        "search": LatencyProfile(0.3, 0.35, 1.5),
        "llm": LatencyProfile(1.0, 0.35, 4.0),
    },
    "realistic": {
        # Tavily advanced: ~2 s median with a long tail; LLM structured answers 5-30 s.
        "search": LatencyProfile(2.0, 0.6, 15.0, 0.3),
        "llm": LatencyProfile(12.0, 0.35, 30.0, 5.0),
    },
}
SEARCH_DEPTH_FACTOR = {"advanced": 1.0, "basic": 0.5, "fast": 0.3, "ultra-fast": 0.15}


def resolve_latency(latency: str | Mapping[str, float], service: str) -> LatencyProfile:
    """Turn a profile name or a {"median","sigma","max"[,"min"]} dict into a LatencyProfile."""
    if isinstance(latency, str):
        try:
            return LATENCY_PROFILES[latency][service]
        except KeyError:
            raise ValueError(
                f"unknown latency profile {latency!r}; use one of {sorted(LATENCY_PROFILES)} "
                "or a dict with median/sigma/max"
            ) from None
    if isinstance(latency, Mapping):
        unknown = set(latency) - {"median", "sigma", "max", "min"}
        if unknown or "median" not in latency:
            raise ValueError("a latency dict needs 'median' and may have 'sigma', 'max', 'min'")
        return LatencyProfile(
            median=float(latency["median"]),
            sigma=float(latency.get("sigma", 0.0)),
            max=float(latency.get("max", math.inf)),
            min=float(latency.get("min", 0.0)),
        )
    raise ValueError(f"latency must be a profile name or a dict, not {type(latency).__name__}")


class LatencyModel:
    """Samples per-request latencies from a profile, scaled by `time_scale`, reproducibly."""

    def __init__(self, service: str, seed: int = 0) -> None:
        self._service = service
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def sample(
        self, latency: str | Mapping[str, float], time_scale: float, depth: str | None = None
    ) -> float:
        """Seconds to wait before answering this request."""
        profile = resolve_latency(latency, self._service)
        with self._lock:
            seconds = profile.sample(self._rng)
        # Depth only shapes the named profiles; an explicit dict means exactly what it says.
        if isinstance(latency, str) and depth is not None:
            seconds *= SEARCH_DEPTH_FACTOR.get(depth, 1.0)
        return seconds * time_scale

    def reseed(self, seed: int) -> None:
        """Restart the random sequence (used by reset)."""
        with self._lock:
            self._rng = random.Random(seed)
