"""An in-process CRM for tests of the push logic: records in a dict, a queue of failures to
raise, and a history of calls. It refuses properties outside `writable`, as a CRM without
those custom properties does. Nothing goes over HTTP (the wire is tested on the simulators)."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any


@dataclass
class CrmCall:
    """One request the push made: the method and what it carried."""

    method: str
    payload: Any


@dataclass
class FakeCrmTarget:
    """A `CrmTarget` over `records` (id -> properties, `domain` and `name` among them)."""

    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    writable: set[str] | None = None  # None: any property may be written
    name: str = "FakeCRM"
    batch_size: int = 100
    failures: dict[str, deque[BaseException]] = field(default_factory=dict)  # per method
    calls: list[CrmCall] = field(default_factory=list)
    _next_id: int = 1000

    def fail_next(self, method: str, *errors: BaseException) -> None:
        """The next calls of `method` raise these, in order (then succeed again)."""
        self.failures.setdefault(method, deque()).extend(errors)

    def _request(self, method: str, payload: Any) -> None:
        self.calls.append(CrmCall(method, payload))
        queued = self.failures.get(method)
        if queued:
            raise queued.popleft()

    def read(self, ids: list[str], properties: list[str]) -> dict[str, dict[str, Any]]:
        """The asked properties of the records that exist."""
        self._request("read", list(ids))
        return {
            i: {p: self.records[i].get(p) for p in properties} for i in ids if i in self.records
        }

    def find_by_domain(self, domains: list[str]) -> dict[str, list[str]]:
        """Record ids by domain."""
        self._request("find_by_domain", list(domains))
        found: dict[str, list[str]] = {}
        for record_id, record in self.records.items():
            domain = str(record.get("domain") or "").lower()
            if domain in domains:
                found.setdefault(domain, []).append(record_id)
        return found

    def update(self, records: list[tuple[str, dict[str, Any]]]) -> dict[str, str | None]:
        """Write the properties; a property outside `writable` refuses the whole request."""
        from domain.errors import PermanentError

        self._request("update", [(i, dict(p)) for i, p in records])
        for _, props in records:
            self._check(props, PermanentError)
        out: dict[str, str | None] = {}
        for record_id, props in records:
            if record_id in self.records:
                self.records[record_id].update(props)
                out[record_id] = None
            else:
                out[record_id] = f"no record {record_id}"
        return out

    def create(
        self, records: list[tuple[str, str | None, dict[str, Any]]]
    ) -> list[tuple[str | None, str | None]]:
        """New records with a name, a domain and the properties."""
        from domain.errors import PermanentError

        self._request("create", [(n, d, dict(p)) for n, d, p in records])
        out: list[tuple[str | None, str | None]] = []
        for name, domain, props in records:
            self._check(props, PermanentError)
            self._next_id += 1
            self.records[str(self._next_id)] = {"name": name, "domain": domain, **props}
            out.append((str(self._next_id), None))
        return out

    def _check(self, props: dict[str, Any], error: type[Exception]) -> None:
        unknown = sorted(set(props) - self.writable) if self.writable is not None else []
        if unknown:
            raise error(f"{self.name} 400: property {unknown[0]!r} does not exist")

    def sent(self, method: str = "update") -> list[Any]:
        """Every payload of `method` calls, in order."""
        return [c.payload for c in self.calls if c.method == method]
