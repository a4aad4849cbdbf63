"""Request recording: a log of what each client sent, status counts and in-flight tracking."""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any

# Request headers worth keeping. Anything that could carry a secret is never recorded.
RECORDED_HEADERS = frozenset(
    {
        "user-agent",
        "content-type",
        "x-client-source",
        "x-tavily-access-mode",
        "x-project-id",
        "x-session-id",
        "x-client-name",
        "x-stainless-retry-count",
        "x-stainless-helper-method",
        "x-stainless-read-timeout",
        "x-stainless-timeout",
        "x-stainless-lang",
        "x-stainless-package-version",
        "x-stainless-async",
        "x-stainless-runtime",
        "x-stainless-os",
        "x-stainless-arch",
    }
)
# Body fields that are credentials (old Tavily clients sent the key in the JSON body).
SECRET_BODY_FIELDS = frozenset({"api_key", "apikey", "key", "authorization", "token"})


def recordable_headers(raw_headers: list[tuple[bytes, bytes]]) -> dict[str, str]:
    """Pick the non-secret headers we log from an ASGI header list."""
    kept: dict[str, str] = {}
    for raw_name, raw_value in raw_headers:
        name = raw_name.decode("latin-1").lower()
        if name in RECORDED_HEADERS:
            kept[name] = raw_value.decode("latin-1")
    return kept


def scrub_body(body: Any) -> Any:
    """Drop credential fields from a top-level JSON object body."""
    if isinstance(body, dict):
        return {k: v for k, v in body.items() if k.lower() not in SECRET_BODY_FIELDS}
    return body


class RequestRecord:
    """The live log entry of one request; the handler fills it in as it learns more."""

    def __init__(self, entry: dict[str, Any], generation: int) -> None:
        self.entry = entry
        self.generation = generation
        self.counted_in_flight = False
        self.finished = False

    def set(self, **fields: Any) -> None:
        """Add or overwrite fields of the log entry."""
        self.entry.update(fields)


class StatsRecorder:
    """Thread-safe request log with exact in-flight accounting."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # Bumped by reset() so requests that straddle a reset do not leak into the new counts.
        self._generation = 0
        self._clear()

    def _clear(self) -> None:
        self._requests = 0
        self._by_status: Counter[int] = Counter()
        self._in_flight = 0
        self._max_in_flight = 0
        self._log: list[dict[str, Any]] = []

    def begin(self, path: str, headers: dict[str, str]) -> RequestRecord:
        """Start logging a request as soon as it arrives."""
        entry: dict[str, Any] = {
            "t": time.monotonic(),
            "t_end": None,
            "path": path,
            "company": None,
            "query": None,
            "status": None,
            "fault": None,
            "headers": headers,
            "body": None,
        }
        with self._lock:
            self._requests += 1
            self._log.append(entry)
            return RequestRecord(entry, self._generation)

    def enter_in_flight(self, record: RequestRecord) -> None:
        """Count the request as in flight (called once it has passed authentication)."""
        with self._lock:
            if record.counted_in_flight or record.finished:
                return
            record.counted_in_flight = True
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)

    def finish(self, record: RequestRecord, status: int | None = None) -> None:
        """Close the entry and leave the in-flight count; safe to call more than once."""
        with self._lock:
            if record.finished:
                return
            record.finished = True
            if status is not None:
                record.entry["status"] = status
            record.entry["t_end"] = time.monotonic()
            if record.generation == self._generation:
                self._by_status[record.entry["status"]] += 1
            if record.counted_in_flight:
                self._in_flight -= 1

    def snapshot(self) -> dict[str, Any]:
        """A copy of the counters and log that later requests will not change."""
        with self._lock:
            # Entries are copied; request bodies are never mutated after recording.
            log = [{**entry, "headers": dict(entry["headers"])} for entry in self._log]
            return {
                "requests": self._requests,
                "by_status": dict(self._by_status),
                "max_in_flight": self._max_in_flight,
                "in_flight": self._in_flight,
                "log": log,
            }

    def requests_for(self, company_substring: str) -> list[dict[str, Any]]:
        """Log entries whose company (or query) contains the substring, case-insensitively."""
        needle = company_substring.casefold()
        with self._lock:
            return [
                {**entry, "headers": dict(entry["headers"])}
                for entry in self._log
                if needle in (entry.get("company") or "").casefold()
                or needle in (entry.get("query") or "").casefold()
            ]

    def reset(self) -> None:
        """Forget everything except requests still in flight (they finish normally)."""
        with self._lock:
            in_flight = self._in_flight
            self._generation += 1
            self._clear()
            self._in_flight = in_flight
            self._max_in_flight = in_flight
