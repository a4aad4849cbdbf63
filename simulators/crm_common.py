"""What the HubSpot and Salesforce simulators share: records, the fields a portal/org has,
accepted tokens, injected faults (429 with Retry-After, 5xx, at the Nth matching request),
and a log of every request (method, path, JSON body) for tests to compare with."""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import Response


@dataclass
class Fault:
    """Answer the request matching `path` after `skip` matching ones with `status`."""

    method: str
    path: str  # a substring of the path
    status: int
    retry_after: float | None = None
    skip: int = 0
    body: Any = None


@dataclass
class SeenRequest:
    """One request as the simulator received it (the token left out)."""

    method: str
    path: str
    query: dict[str, str]
    body: Any
    status: int = 0


@dataclass
class CrmSimState:
    """A CRM's records (id -> fields) and the fields writes may name."""

    tokens: frozenset[str]
    writable: frozenset[str]
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    requests: list[SeenRequest] = field(default_factory=list)
    closing: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    next_id: int = 1

    def __post_init__(self) -> None:
        self._start = (self.tokens, self.writable)

    def reset(self) -> None:
        """No records, faults or requests; the start tokens and fields again."""
        with self.lock:
            self.tokens, self.writable = self._start
            self.records.clear()
            self.faults.clear()
            self.requests.clear()

    def add(self, record_id: str, **fields: Any) -> None:
        """A record the CRM already holds."""
        with self.lock:
            self.records[record_id] = dict(fields)

    def inject(
        self,
        method: str,
        path: str,
        status: int,
        retry_after: float | None = None,
        skip: int = 0,
        body: Any = None,
    ) -> None:
        """Fail one matching request (after `skip` of them) with `status`."""
        with self.lock:
            self.faults.append(Fault(method, path, status, retry_after, skip, body))

    def fault_for(self, method: str, path: str) -> Fault | None:
        """The fault this request triggers, if any (used up once triggered)."""
        with self.lock:
            for fault in self.faults:
                if fault.method == method and fault.path in path:
                    if fault.skip:
                        fault.skip -= 1
                        continue
                    self.faults.remove(fault)
                    return fault
        return None

    def record(self, seen: SeenRequest) -> None:
        with self.lock:
            self.requests.append(seen)

    def snapshot(self) -> dict[str, dict[str, Any]]:
        """A copy of every record."""
        with self.lock:
            return copy.deepcopy(self.records)

    def seen(self, method: str, path: str) -> list[SeenRequest]:
        """The requests received with this method and a path containing `path`."""
        with self.lock:
            return [r for r in self.requests if r.method == method and path in r.path]


async def guarded(
    state: CrmSimState,
    request: Request,
    call_next: Callable[[Request], Awaitable[Response]],
    refused: Callable[[], Response],
    faulted: Callable[[Fault], Response],
) -> Response:
    """Record the request; answer `refused()` to a token not accepted, `faulted(fault)` (with
    its Retry-After) to an injected fault, else let the endpoint answer."""
    raw = await request.body()
    seen = SeenRequest(
        request.method, request.url.path, dict(request.query_params),
        json.loads(raw) if raw else None,
    )  # fmt: skip
    state.record(seen)
    token = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
    response: Response
    if token not in state.tokens:
        response = refused()
    elif (fault := state.fault_for(request.method, request.url.path)) is not None:
        response = faulted(fault)
        if fault.retry_after is not None:
            response.headers["Retry-After"] = f"{fault.retry_after:g}"
    else:
        response = await call_next(request)
    seen.status = response.status_code
    return response
