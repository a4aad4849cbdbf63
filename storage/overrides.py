"""Overrides: reviewers' verdicts, kept beside the model's; and the results as they count (the
`effective_results` view: override first, ranked within the territory and each owner's book).
"""

from __future__ import annotations

import uuid
from collections.abc import Generator
from typing import Any

from domain.columns import owner_column
from domain.review import OverrideRequest
from storage.effective import RANK_ORDER
from storage.errors import StoreError
from storage.sql import (
    Session,
    connected,
    dicts,
    insert_rows,
    iter_batches,
    iter_dicts,
    transaction,
    utcnow,
)

OVERRIDE_COLUMNS = (
    "override_id", "territory", "company_key", "company", "action", "tier", "score", "reason",
    "set_by", "created_at", "source", "model_status", "model_tier", "model_score",
    "model_confidence", "model_run_id",
)  # fmt: skip


# effective_results' long text columns (what makes a row wide).
WIDE_COLUMNS = ("metadata", "reasoning", "signals", "evidence")
# The row id of a narrow row's stored result (in company_results), read and taken out again.
RESULT_ROW = "result_row"


def ranked_rows(territory: str | None, owner: str | None) -> tuple[str, list[Any], tuple[str, ...]]:
    """SQL for effective_results' narrow rows (no long text) of a territory (all if None),
    with `owner` and `owner_rank` (the rank in the owner's book) when ranked by the owner
    column named `owner`; its parameters; and the order to read them in."""
    # With the row id of its stored result: its long text is read by row id, not by a scan.
    narrow = (
        f"SELECT e.* EXCLUDE ({', '.join(WIDE_COLUMNS)}), r.rowid AS {RESULT_ROW} "
        "FROM effective_results e JOIN company_results r USING (territory, company_key)"
    )
    inner = f"SELECT * FROM ({narrow}) WHERE (?::VARCHAR IS NULL OR territory = ?)"
    args: list[Any] = [territory, territory]
    if owner is None:
        return inner, args, ("territory", "rank NULLS LAST", "company", "company_key")
    inner = (
        "SELECT *, CASE WHEN rank IS NOT NULL AND owner IS NOT NULL THEN row_number() "
        "OVER (PARTITION BY territory, owner, rank IS NOT NULL ORDER BY rank) END "
        "AS owner_rank FROM (SELECT e.*, nullif(trim(json_extract_string(c.metadata, "
        f"?)), '') AS owner FROM ({inner}) e "
        "JOIN company_results c USING (territory, company_key))"
    )
    order = ("territory", "owner NULLS LAST", "owner_rank NULLS LAST", "company", "company_key")
    return inner, [owner, *args], order


# A batch's long text, by the row ids its narrow rows carry, or by key.
_BY_ROW_ID = "rowid IN (SELECT unnest(?::BIGINT[]))"
_BY_KEY = "company_key IN (SELECT unnest(?::VARCHAR[]))"


class OverridesMixin(Session):
    """The `overrides` table and the `effective_results` view."""

    @connected
    def save_overrides(
        self, territory: str, requests: list[OverrideRequest], source: str
    ) -> list[dict[str, Any]]:
        """Record overrides (and clears) of companies of `territory`, with the model's verdict
        at the time; all or none. A company not in the territory is a StoreError naming it.
        Returns the rows stored; a clear of a company with no override in force stores nothing.
        """
        found = dicts(
            self.conn.execute(
                "SELECT company_key, company, status, model_tier, model_score, "
                "model_confidence, run_id, overridden FROM effective_results "
                "WHERE territory = ? AND (company_key IN (SELECT unnest(?::VARCHAR[])) "
                "OR lower(company) IN (SELECT unnest(?::VARCHAR[])))",
                [territory, [r.key for r in requests], [r.company.lower() for r in requests]],
            )
        )
        # By key (the name as normalised when stored), else by the name in any case.
        by_key = {row["company_key"]: row for row in found}
        by_name = {row["company"].lower(): row for row in found}
        for request in requests:
            if request.key not in by_key and request.company.lower() not in by_name:
                where = f"{request.where}: " if request.where else ""
                raise StoreError(
                    f"{where}no company {request.company!r} in territory {territory!r}"
                )
        now, rows = utcnow(), []
        for request in requests:
            model = by_key.get(request.key) or by_name[request.company.lower()]
            if request.action == "clear" and not model["overridden"]:
                continue
            model["overridden"] = request.action == "set"  # a set then a clear in one batch
            rows.append(_override_row(territory, request, model, source, now))
        with transaction(self.conn):
            insert_rows(self.conn, f"INSERT INTO overrides ({', '.join(OVERRIDE_COLUMNS)})", rows)
        return [dict(zip(OVERRIDE_COLUMNS, row, strict=True)) for row in rows]

    @connected
    def override_history(self, territory: str, company_key: str | None = None) -> list[dict]:
        """Every override row of a territory (or one company), oldest first."""
        return dicts(
            self.conn.execute(
                "SELECT * EXCLUDE (seq) FROM overrides WHERE territory = ? "
                "AND (?::VARCHAR IS NULL OR company_key = ?) ORDER BY seq",
                [territory, company_key, company_key],
            )
        )

    @connected
    def overrides_in_force(self, territory: str) -> dict[str, dict[str, Any]]:
        """The latest override row of each company of a territory whose override is in force
        (action 'set'), by company key."""
        rows = dicts(
            self.conn.execute(
                "SELECT * EXCLUDE (seq) FROM overrides WHERE territory = ? "
                "QUALIFY row_number() OVER (PARTITION BY company_key ORDER BY seq DESC) = 1",
                [territory],
            )
        )
        return {r["company_key"]: r for r in rows if r["action"] == "set"}

    @connected
    def effective_results(
        self,
        territory: str | None = None,
        tier: str | None = None,
        company_key: str | None = None,
        owner: str | None = None,
    ) -> list[dict[str, Any]]:
        """Each company's latest result with the verdict in force, best rank first (companies
        without a tier last, by name). `tier` filters on the effective tier.

        With `owner` (a passthrough column, see `owner_column`), each row also has `owner` (its
        value, None when empty) and `owner_rank` (1 = the best account of that owner's book in
        the territory; None without an owner or a tier), ordered by owner then owner_rank.
        """
        return list(self.iter_effective_results(territory, tier, company_key, owner))

    def iter_effective_results(
        self,
        territory: str | None = None,
        tier: str | None = None,
        company_key: str | None = None,
        owner: str | None = None,
        columns: list[str] | None = None,
        limit: int | None = None,
    ) -> Generator[dict[str, Any], None, None]:
        """`effective_results` a batch at a time (only `columns` of them, if given), for
        commands that write each row out as it comes: a territory of 100,000 companies is
        never a list in memory. Runs inside the caller's session (`with store:`).

        The order and ranks come from narrow rows (no long text); each batch's long text
        columns are read after, by row id: DuckDB's window and sort then hold keys and
        verdicts, not every reasoning and signal (a fifth of the memory on 100,000
        companies), and a batch's text costs no scan of the table (by key, the batches of
        100,000 companies took 3.9 s; by row id 0.6). `limit`: the first rows only."""
        wide = [c for c in WIDE_COLUMNS if columns is None or c in columns]
        inner, args, order = ranked_rows(territory, owner)
        picked = (
            "*"
            if columns is None
            else ", ".join(
                [
                    "territory",
                    "company_key",
                    RESULT_ROW,
                    *(c for c in columns if c not in WIDE_COLUMNS),
                ]
            )
        )
        cursor = self.cursor()  # its own cursor: two streams can run side by side
        cursor.execute(
            f"SELECT {picked} FROM ({inner}) WHERE (?::VARCHAR IS NULL OR tier = ?) "
            f"AND (?::VARCHAR IS NULL OR company_key = ?) ORDER BY {', '.join(order)} LIMIT ?",
            [*args, tier, tier, company_key, company_key, limit],
        )
        for batch in iter_batches(cursor):
            yield from self._with_text(batch, wide)

    def _with_text(self, rows: list[dict[str, Any]], wide: list[str]) -> list[dict[str, Any]]:
        """Rows of effective_results with their long text columns (`wide`) read by row id; by
        key for a row whose result was written anew since the narrow rows were read (an
        upsert keeps its row id, a delete and an insert would not)."""
        ids = [row.pop(RESULT_ROW) for row in rows]
        if not rows or not wide:
            return rows
        text = ", ".join(wide)
        by_id = {
            t.pop(RESULT_ROW): t
            for t in self._text_rows(f"rowid AS {RESULT_ROW}, {text}", _BY_ROW_ID, ids)
        }
        moved = [r["company_key"] for r, i in zip(rows, ids, strict=True) if i not in by_id]
        by_key = {
            (t.pop("territory"), t.pop("company_key")): t
            for t in self._text_rows(f"territory, company_key, {text}", _BY_KEY, moved)
        }
        gone = dict.fromkeys(wide)  # deleted meanwhile: no text
        return [
            row | (by_id.get(i) or by_key.get((row["territory"], row["company_key"])) or gone)
            for row, i in zip(rows, ids, strict=True)
        ]

    def _text_rows(self, columns: str, where: str, values: list[Any]) -> list[dict[str, Any]]:
        if not values:
            return []
        query = f"SELECT {columns} FROM company_results WHERE {where}"
        return list(iter_dicts(self.conn.execute(query, [values])))

    @connected
    def count_results(self, territory: str) -> int:
        """How many companies of the territory have a result (rows of effective_results)."""
        query = "SELECT count(*) FROM company_results WHERE territory = ?"
        (count,) = self.conn.execute(query, [territory]).fetchone() or (0,)
        return int(count)

    @connected
    def metadata_keys(
        self, territory: str | None, tier: str | None = None, owner: str | None = None
    ) -> list[str]:
        """The passthrough columns of the territory's results in the order they first appear
        (best rank first): what a file of them needs as its header before the first row."""
        inner, args, order = ranked_rows(territory, owner)
        # The first row naming a key, then the key's place in it (json_keys keeps the order
        # the keys were written in): what reading every row's metadata in order gives.
        found = self.conn.execute(
            f"SELECT key FROM (SELECT territory, company_key, row_number() OVER "
            f"(ORDER BY {', '.join(order)}) AS pos FROM ({inner}) "
            "WHERE (?::VARCHAR IS NULL OR tier = ?)) e "
            "JOIN company_results w USING (territory, company_key), "
            "unnest(json_keys(w.metadata)) WITH ORDINALITY AS k(key, place) "
            "GROUP BY key ORDER BY min(pos), arg_min(place, pos)",
            [*args, tier, tier],
        ).fetchall()
        return [key for (key,) in found]

    @connected
    def owner_column(self, territory: str | None = None) -> str | None:
        """The passthrough column naming each account's owner (owner, account_owner,
        owner_name or rep, in any case), or None if the territory's input had none."""
        keys = self.conn.execute(
            "SELECT DISTINCT unnest(json_keys(metadata)) FROM company_results "
            "WHERE (?::VARCHAR IS NULL OR territory = ?) AND metadata IS NOT NULL",
            [territory, territory],
        ).fetchall()
        return owner_column(sorted(k for (k,) in keys))

    @connected
    def disputed_overrides(self, territory: str, run_id: str | None = None) -> list[dict]:
        """Overrides in force that the model's latest verdict disagrees with (with `run_id`:
        only where that run gave the verdict), best rank first."""
        return dicts(
            self.conn.execute(
                "SELECT company_key, company, tier, override_by, override_reason, override_at, "
                "override_model_tier, model_tier, model_score, model_confidence, run_id, rank "
                "FROM effective_results WHERE territory = ? AND override_disputed "
                f"AND (?::VARCHAR IS NULL OR run_id = ?) ORDER BY {RANK_ORDER}",
                [territory, run_id, run_id],
            )
        )

    @connected
    def override_counts(self, territory: str, run_id: str) -> dict[str, int]:
        """For a run's summary: overrides in force in the territory, and those the run's own
        verdicts now dispute."""
        found = self.conn.execute(
            "SELECT count(*) FILTER (overridden), "
            "count(*) FILTER (override_disputed AND run_id = ?) "
            "FROM effective_results WHERE territory = ?",
            [run_id, territory],
        ).fetchone()
        n, disputed = found if found else (0, 0)
        return {"n_overrides": int(n), "n_overrides_disputed": int(disputed)}

    @connected
    def override_labels(self, territory: str) -> list[dict[str, Any]]:
        """The tiers reviewers set in a territory (overrides in force), as golden labels:
        company_key, company, domain, tier."""
        return dicts(
            self.conn.execute(
                "SELECT company_key, company, domain, override_tier AS tier "
                "FROM effective_results WHERE territory = ? AND overridden ORDER BY company",
                [territory],
            )
        )

    @connected
    def territory_names(self) -> list[str]:
        """Territories with stored results."""
        rows = self.conn.execute(
            "SELECT DISTINCT territory FROM company_results ORDER BY 1"
        ).fetchall()
        return [t for (t,) in rows]


def _override_row(
    territory: str, request: OverrideRequest, model: dict[str, Any], source: str, now: Any
) -> list[Any]:
    """One override as the values of OVERRIDE_COLUMNS, in their order."""
    setting = request.action == "set"
    values = {
        "override_id": str(uuid.uuid4()),
        "territory": territory,
        "company_key": model["company_key"],
        "company": model["company"],
        "action": request.action,
        "tier": request.tier if setting else None,
        "score": request.score if setting else None,
        "reason": request.reason,
        "set_by": request.by,
        "created_at": now,
        "source": source,
        "model_status": model["status"],
        "model_tier": model["model_tier"],
        "model_score": model["model_score"],
        "model_confidence": model["model_confidence"],
        "model_run_id": model["run_id"],
    }
    return [values[c] for c in OVERRIDE_COLUMNS]
