"""The `crm_pushes` table: what each push did to each company's CRM record."""

from __future__ import annotations

import json
from typing import Any

from storage.sql import Session, connected, dicts, insert_rows, transaction

PUSH_COLUMNS = (
    "push_id", "territory", "target", "company_key", "company", "record_id", "matched_by",
    "status", "reason", "sent", "pushed_at",
)  # fmt: skip


class CrmPushesMixin(Session):
    """Per-record push statuses, written batch by batch (a crash keeps what was done)."""

    @connected
    def save_crm_statuses(self, rows: list[dict[str, Any]]) -> None:
        """Store push statuses (one row per company and push; a later row of the same push and
        company replaces the earlier one, as when a created record is then written)."""
        if not rows:
            return
        values = [
            [
                json.dumps(r[c], ensure_ascii=False)
                if c == "sent" and r.get(c) is not None
                else r.get(c)
                for c in PUSH_COLUMNS
            ]
            for r in rows
        ]
        with transaction(self.conn):
            insert_rows(
                self.conn,
                f"INSERT OR REPLACE INTO crm_pushes ({', '.join(PUSH_COLUMNS)})",
                values,
            )

    @connected
    def crm_statuses(
        self, territory: str, target: str, push_id: str | None = None
    ) -> list[dict[str, Any]]:
        """Each company's latest status for a target (or every row of one push), by name."""
        if push_id is not None:
            sql = "SELECT * FROM crm_pushes WHERE push_id = ? ORDER BY company, company_key"
            return _decoded(dicts(self.conn.execute(sql, [push_id])))
        sql = (
            "SELECT * FROM crm_pushes WHERE territory = ? AND target = ? QUALIFY row_number() "
            "OVER (PARTITION BY company_key ORDER BY pushed_at DESC, push_id DESC) = 1 "
            "ORDER BY company, company_key"
        )
        return _decoded(dicts(self.conn.execute(sql, [territory, target])))


def _decoded(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for row in rows:
        if isinstance(row.get("sent"), str):
            row["sent"] = json.loads(row["sent"])
    return rows
