"""A territory's results into a CRM: plan (match each company to a record, read what the record
holds, work out what would change), then write batch by batch, storing each record's status.

Used by `territory crm push` and by the `crm-push` flow. The CRM is any `CrmTarget`
(tasks/crm_client.py); every request goes through the shared RetryPolicy (429 Retry-After,
5xx), so a batch is sent again rather than lost, and statuses are stored after each batch.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

from domain.crm import CrmMapping, FieldChange, changes, property_values, record_id
from domain.errors import FatalProviderError, PermanentError, TransientError
from storage.duckdb_store import StoreError, TerritoryStore
from storage.sql import utcnow
from tasks.crm_client import CrmTarget
from tasks.retry import RetryPolicy

T = TypeVar("T")


@dataclass(frozen=True)
class PushOptions:
    """What a push does: --dry-run, --only-changed, --create-missing, --retry-failed."""

    dry_run: bool = False
    only_changed: bool = False
    create_missing: bool = False
    retry_failed: bool = False


@dataclass
class Planned:
    """One company of the territory on its way to the CRM."""

    company_key: str
    company: str
    domain: str | None
    values: dict[str, Any]
    record_id: str | None = None
    matched_by: str | None = None  # id | domain | created
    status: str | None = None  # set once decided: pushed | unchanged | unmatched | ...
    reason: str | None = None
    creatable: bool = False  # no id and no domain match: --create-missing may create it
    changes: list[FieldChange] = field(default_factory=list)
    sent: dict[str, Any] | None = None


@dataclass
class PushReport:
    """What a push did (or, dry, would do)."""

    push_id: str
    territory: str
    target: str
    dry_run: bool
    records: list[Planned]

    def counts(self) -> dict[str, int]:
        """Companies per status (a dry run's writes count as `would_push`)."""
        out: dict[str, int] = {}
        for r in self.records:
            status = r.status or ("would_create" if r.creatable else "would_push")
            out[status] = out.get(status, 0) + 1
        return out

    def diff_rows(self) -> list[dict[str, Any]]:
        """One row per property to write: company, record, property, CRM value now, ours."""
        return [
            {
                "company": r.company,
                "record_id": r.record_id or "(new)",
                "matched_by": r.matched_by or "create",
                "property": c.property,
                "crm_now": c.now,
                "to_write": c.to,
            }
            for r in self.records
            if r.status is None
            for c in r.changes
        ]


@dataclass
class Pusher:
    """One push of one territory to one target."""

    store: TerritoryStore
    target: CrmTarget
    mapping: CrmMapping
    policy: RetryPolicy = RetryPolicy()
    sleep: Callable[[float], None] = time.sleep
    note: Callable[[str], None] = lambda line: None
    push_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    territory: str = ""

    def push(self, territory: str, options: PushOptions) -> PushReport:
        """Plan the push, then (unless dry) write it; a bad token raises FatalProviderError
        after the records not yet written are stored as failed."""
        self.territory = territory
        planned = self._companies(territory, options.retry_failed)
        report = PushReport(self.push_id, territory, self.mapping.target, options.dry_run, planned)
        self._match(planned)
        self._read_current(planned, options)
        if options.dry_run:
            return report
        self._save([p for p in planned if p.status is not None])
        try:
            self._write(planned)
        except FatalProviderError as exc:
            left = [p for p in planned if p.status is None]
            for p in left:
                p.status, p.reason = "failed", str(exc)
            self._save(left)
            raise
        return report

    def _companies(self, territory: str, retry_failed: bool) -> list[Planned]:
        results = self.store.effective_results(territory=territory)
        if not results:
            raise StoreError(f"territory {territory!r} has no results to push")
        if retry_failed:
            latest = self.store.crm_statuses(territory, self.mapping.target)
            failed = {r["company_key"] for r in latest if r["status"] == "failed"}
            results = [r for r in results if r["company_key"] in failed]
        planned = []
        for r in results:
            p = Planned(r["company_key"], r["company"], r.get("domain"), {})
            if r.get("tier") is None:
                p.status, p.reason = "skipped", f"no verdict in force (status {r['status']})"
            else:
                p.values = property_values(r, self.mapping)
                p.record_id = record_id(r, self.mapping)
                p.matched_by = "id" if p.record_id else None
            planned.append(p)
        return planned

    def _match(self, planned: list[Planned]) -> None:
        """Companies without an id: by domain where the mapping says so, else unmatched."""
        columns = ", ".join(self.mapping.id_columns) or "(none)"
        pending = [p for p in planned if p.status is None and p.record_id is None]
        by_domain = [p for p in pending if self.mapping.match_domain and p.domain]
        for p in pending:
            if p not in by_domain:
                p.status, p.creatable = "unmatched", True
                p.reason = f"no CRM id (columns {columns})" + (
                    " and no domain" if self.mapping.match_domain else ""
                )
        if not by_domain:
            return
        domains = sorted({str(p.domain).lower() for p in by_domain})
        try:
            found = self._call(lambda: self.target.find_by_domain(domains))
        except (PermanentError, TransientError) as exc:
            for p in by_domain:
                p.status, p.reason = "failed", f"domain lookup failed: {exc}"
            return
        name = self.target.name
        for p in by_domain:
            ids = found.get(str(p.domain).lower(), [])
            if len(ids) == 1:
                p.record_id, p.matched_by = ids[0], "domain"
            elif ids:
                p.status = "unmatched"
                p.reason = f"{len(ids)} {name} records have domain {p.domain}: say which by id"
            else:
                p.status, p.creatable = "unmatched", True
                p.reason = f"no {name} record with domain {p.domain}"

    def _read_current(self, planned: list[Planned], options: PushOptions) -> None:
        """What each matched record holds now: the diff, and --only-changed's test."""
        matched = [p for p in planned if p.status is None and p.record_id]
        claimed: dict[str, str] = {}
        for p in matched:
            if p.record_id in claimed:
                p.status = "unmatched"
                p.reason = f"record {p.record_id} is already {claimed[p.record_id]}'s"
            else:
                claimed[str(p.record_id)] = p.company
        matched = [p for p in matched if p.status is None]
        properties = self.mapping.property_names
        for batch in _batches(matched, self.target.batch_size):
            ids = [str(p.record_id) for p in batch]
            try:
                current = self._call(partial(self.target.read, ids, properties))
            except (PermanentError, TransientError) as exc:
                for p in batch:
                    p.status, p.reason = "failed", f"reading the record failed: {exc}"
                continue
            for p in batch:
                if p.record_id not in current:
                    p.status = "unmatched"
                    p.reason = f"no {self.target.name} record with id {p.record_id}"
                    continue
                now = current[str(p.record_id)]
                if options.only_changed:
                    p.changes = changes(now, p.values)
                    p.status = None if p.changes else "unchanged"
                else:  # every mapped property is written, the same or not
                    p.changes = [FieldChange(n, now.get(n), v) for n, v in p.values.items()]
        for p in planned:
            if p.status == "unmatched" and p.creatable and options.create_missing:
                p.status, p.reason = None, None
                p.changes = changes({}, p.values)
        for p in planned:
            if p.status is None:
                full = not options.only_changed or p.record_id is None
                p.sent = dict(p.values) if full else {c.property: c.to for c in p.changes}

    def _write(self, planned: list[Planned]) -> None:
        updates = [p for p in planned if p.status is None and p.record_id]
        creates = [p for p in planned if p.status is None and not p.record_id]
        batches = _batches(updates, self.target.batch_size)
        for n, batch in enumerate(batches, 1):
            records = [(str(p.record_id), p.sent or {}) for p in batch]
            try:
                outcome = self._call(partial(self.target.update, records))
            except (PermanentError, TransientError) as exc:
                outcome = {str(p.record_id): str(exc) for p in batch}
            for p in batch:
                error = outcome.get(str(p.record_id), "not in the CRM's answer")
                p.status, p.reason = ("failed", error) if error else ("pushed", None)
            self._save(batch)
            self.note(f"batch {n}/{len(batches)}: {len(batch)} records sent")
        for batch in _batches(creates, self.target.batch_size):
            rows = [(p.company, p.domain, p.sent or {}) for p in batch]
            try:
                made = self._call(partial(self.target.create, rows))
            except (PermanentError, TransientError) as exc:
                made = [(None, str(exc))] * len(batch)
            for p, (new_id, error) in zip(batch, made, strict=True):
                p.record_id, p.matched_by = new_id, "created" if new_id else None
                p.status, p.reason = ("pushed", None) if new_id else ("failed", error)
            self._save(batch)
            self.note(f"created {sum(p.status == 'pushed' for p in batch)} records")

    def _call(self, request: Callable[[], T]) -> T:
        return self.policy.call(request, sleep=self.sleep)

    def _save(self, planned: list[Planned]) -> None:
        now = utcnow()
        self.store.save_crm_statuses(
            [
                {
                    "push_id": self.push_id,
                    "territory": self.territory,
                    "target": self.mapping.target,
                    "company_key": p.company_key,
                    "company": p.company,
                    "record_id": p.record_id,
                    "matched_by": p.matched_by,
                    "status": p.status,
                    "reason": p.reason,
                    "sent": p.sent if p.status in ("pushed", "failed") else None,
                    "pushed_at": now,
                }
                for p in planned
            ]
        )


def _batches(items: list[T], size: int) -> list[list[T]]:
    return [items[i : i + size] for i in range(0, len(items), size)]
