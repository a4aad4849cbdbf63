"""Evals: `territory eval` results, kept so that two rubrics or models can be compared."""

from __future__ import annotations

import json
import uuid
from typing import Any

from storage.schema import has_table
from storage.sql import Session, connected, dicts, insert_rows, transaction, utcnow


class EvalsMixin(Session):
    """The `evals` and `eval_items` tables."""

    @connected
    def save_eval(self, row: dict[str, Any], items: list[dict[str, Any]]) -> str:
        """Store one evaluation and its items; returns its id."""
        eval_id = str(uuid.uuid4())
        with transaction(self.conn):
            self.conn.execute(
                "INSERT INTO evals (eval_id, created_at, golden, golden_sha256, territory, "
                "run_id, rubric, model, n, agreement, metrics) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    eval_id,
                    utcnow(),
                    row["golden"],
                    row["golden_sha256"],
                    row["territory"],
                    row["run_id"],
                    row["rubric"],
                    row["model"],
                    row["metrics"]["n"],
                    row["metrics"]["agreement"],
                    json.dumps(row["metrics"]),
                ],
            )
            insert_rows(
                self.conn,
                "INSERT INTO eval_items (eval_id, company_key, company, expected, predicted, "
                "confidence, status, correct)",
                [
                    [
                        eval_id,
                        i["company_key"],
                        i["company"],
                        i["expected"],
                        i["predicted"],
                        i["confidence"],
                        i["status"],
                        i["correct"],
                    ]
                    for i in items
                ],
            )
        return eval_id

    @connected
    def evals(self, limit: int = 20) -> list[dict[str, Any]]:
        """Stored evaluations, newest first."""
        if not has_table(self.conn, "evals"):
            return []  # a file from before evals existed, opened read-only
        rows = dicts(
            self.conn.execute(
                "SELECT eval_id, created_at, golden, golden_sha256, territory, run_id, rubric, "
                "model, n, agreement, metrics FROM evals ORDER BY created_at DESC LIMIT ?",
                [limit],
            )
        )
        for row in rows:
            if isinstance(row["metrics"], str):
                row["metrics"] = json.loads(row["metrics"])
        return rows

    @connected
    def eval_items(self, eval_id: str) -> dict[str, dict[str, Any]]:
        """One evaluation's items by company key."""
        rows = dicts(self.conn.execute("SELECT * FROM eval_items WHERE eval_id = ?", [eval_id]))
        return {r["company_key"]: r for r in rows}
