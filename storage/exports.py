"""A territory's results as one flat row per company, written by DuckDB's own COPY (CSV or
Parquet): no row passes through Python. On 100,000 companies the rows in Python (dicts,
decoded JSON, the csv module) took 13-15 s of CPU; see the README's 100,000 section."""

from __future__ import annotations

import shutil
from pathlib import Path

from storage.overrides import ranked_rows
from storage.sql import Session, connected

# The result columns after the passthrough ones: their Parquet type and the SQL giving them
# from a ranked row `e` and its stored result `w` (the verdict in force, a reviewer's
# override first; the model's own beside it).
FLAT_COLUMNS: dict[str, tuple[str, str]] = {
    "rank": ("INTEGER", "e.rank"),
    "company": ("VARCHAR", "e.company"),
    "domain": ("VARCHAR", "e.domain"),
    "tier": ("VARCHAR", "e.tier"),
    "score": ("INTEGER", "e.score"),
    "confidence": ("VARCHAR", "e.confidence"),
    "status": ("VARCHAR", "e.status"),
    "error": ("VARCHAR", "e.error"),
    "reasoning": ("VARCHAR", "w.reasoning"),
    "top_signal": ("VARCHAR", "json_extract_string(w.signals, '$[0].excerpt')"),
    "top_signal_url": ("VARCHAR", "json_extract_string(w.signals, '$[0].url')"),
    # The list as stored (json.dumps of it); none is no cell, not "[]".
    "signals": (
        "VARCHAR",
        "CASE WHEN json_array_length(w.signals) > 0 THEN w.signals::VARCHAR END",
    ),
    "signals_dropped": ("INTEGER", "e.signals_dropped"),
    "rubric": ("VARCHAR", "e.rubric"),
    "model": ("VARCHAR", "e.model"),
    "cost_usd": ("DOUBLE", "e.cost_usd"),
    "updated_at": ("TIMESTAMPTZ", "e.updated_at"),
    "run_id": ("VARCHAR", "e.run_id"),
    "overridden": ("BOOLEAN", "coalesce(e.overridden, false)"),
    "model_tier": ("VARCHAR", "e.model_tier"),
    "model_score": ("INTEGER", "e.model_score"),
    "model_confidence": ("VARCHAR", "e.model_confidence"),
    "override_by": ("VARCHAR", "e.override_by"),
    "override_reason": ("VARCHAR", "e.override_reason"),
    "override_at": ("TIMESTAMPTZ", "e.override_at"),
    "override_disputed": ("BOOLEAN", "coalesce(e.override_disputed, false)"),
}
# In a JSON export the signals stay a list (none: an empty one).
JSON_COLUMNS = {"signals": "coalesce(w.signals, '[]'::JSON)"}
# With ranks per owner: after `rank`, the rank within the owner's book.
OWNER_RANK_COLUMN = ("owner_rank", ("INTEGER", "e.owner_rank"))
# Rows whose long text is joined and copied at once (a part file each).
FLAT_BATCH_ROWS = 20_000
COPY_BUFFER_BYTES = 1 << 20
# A spreadsheet runs a cell starting with one of these as a formula: CSV gets a leading quote.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_QUOTE = "''''"  # SQL for the one-character text '


def flat_columns(by_owner: bool) -> dict[str, tuple[str, str]]:
    """The result columns (type, SQL) after the passthrough ones, `owner_rank` if by owner."""
    if not by_owner:
        return FLAT_COLUMNS
    first, *rest = FLAT_COLUMNS.items()
    return dict([first, OWNER_RANK_COLUMN, *rest])


def _name(column: str) -> str:
    return '"' + column.replace('"', '""') + '"'


def _text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _csv_cell(sql: str, kind: str) -> str:
    """A column as the text a spreadsheet gets: ISO times in UTC, True/False, and a leading
    quote before what a spreadsheet would run as a formula ("=HYPERLINK(...)")."""
    if kind == "TIMESTAMPTZ":
        text = _iso(sql)
    elif kind == "BOOLEAN":
        text = f"CASE WHEN {sql} THEN 'True' ELSE 'False' END"
    else:
        text = f"CAST({sql} AS VARCHAR)"
    starts = ", ".join(_text(c) for c in FORMULA_START)
    return f"CASE WHEN left({text}, 1) IN ({starts}) THEN {_QUOTE} || {text} ELSE {text} END"


class ExportsMixin(Session):
    """Flat rows of `effective_results`, copied to a file by DuckDB."""

    @connected
    def copy_flat_results(
        self,
        out: Path,
        fmt: str,
        territory: str,
        passthrough: dict[str, str],
        owner: str | None = None,
        prefix: bytes = b"",
    ) -> int:
        """Write the territory's results, best rank first, to `out` as CSV (every cell text,
        formulas defused, a header, after the bytes `prefix`), typed Parquet or a JSON list
        (the signals a list);
        `passthrough` maps each metadata key to its column name (first, in order). Returns
        the number of rows written.

        The order comes from narrow rows; the long text is joined on a batch of them at a
        time, each batch copied to a part file: one query joining every row's text ran out
        of the reading 512 MB on 100,000 companies (its hash join held the text)."""
        inner, args, order = ranked_rows(territory, owner)
        self.conn.execute(
            "CREATE OR REPLACE TEMP TABLE flat_order AS SELECT row_number() OVER "
            f"(ORDER BY {', '.join(order)}) AS pos, * FROM ({inner})",
            args,
        )
        cells = self._cells(fmt, passthrough, owner is not None)
        parts: list[Path] = []
        try:
            (total,) = self.conn.execute("SELECT count(*) FROM flat_order").fetchone() or (0,)
            for start in range(0, max(total, 1), FLAT_BATCH_ROWS):
                parts.append(out.with_name(f"{out.name}.{len(parts)}"))
                header = ", HEADER" if start == 0 else ", HEADER false"
                options = f"FORMAT CSV{header}" if fmt == "csv" else f"FORMAT {fmt.upper()}"
                self.conn.execute(
                    f"COPY (SELECT {cells} FROM flat_order e "
                    "JOIN company_results w USING (territory, company_key) "
                    f"WHERE e.pos > {start} AND e.pos <= {start + FLAT_BATCH_ROWS} "
                    f"ORDER BY e.pos) TO {_text(str(parts[-1]))} ({options})"
                )
            self._join_parts(parts, out, fmt, prefix)
        finally:
            self.conn.execute("DROP TABLE IF EXISTS flat_order")
            for part in parts:
                part.unlink(missing_ok=True)
        return int(total)

    def _join_parts(self, parts: list[Path], out: Path, fmt: str, prefix: bytes) -> None:
        """The part files as one: CSV back to back; JSON lines as one list; Parquet read in
        order and written once (DuckDB keeps the order of the files it reads)."""
        if fmt == "parquet":
            files = "[" + ", ".join(_text(str(p)) for p in parts) + "]"
            self.conn.execute(
                f"COPY (SELECT * FROM read_parquet({files})) TO {_text(str(out))} (FORMAT PARQUET)"
            )
            return
        with out.open("wb") as handle:
            handle.write(prefix)
            if fmt == "csv":
                for part in parts:
                    with part.open("rb") as rows:
                        shutil.copyfileobj(rows, handle, COPY_BUFFER_BYTES)
                return
            # One record a line (JSON text never holds a raw line break): a list of them.
            first = True
            for part in parts:
                with part.open("rb") as lines:
                    for line in lines:
                        handle.write((b"[\n" if first else b",\n") + line.rstrip(b"\n"))
                        first = False
            handle.write(b"[]" if first else b"\n]")

    @staticmethod
    def _cells(fmt: str, passthrough: dict[str, str], by_owner: bool) -> str:
        """The SELECT list: passthrough columns, then the result columns."""
        picked: list[str] = []
        for key, column in passthrough.items():
            path = '$."' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'
            extract = f"json_extract_string(w.metadata, {_text(path)})"
            picked.append(_cell(extract, "VARCHAR", fmt, column))
        columns = flat_columns(by_owner)
        picked += [_cell(sql, kind, fmt, c) for c, (kind, sql) in columns.items()]
        return ", ".join(picked)


def _cell(sql: str, kind: str, fmt: str, column: str) -> str:
    if fmt == "csv":
        value = _csv_cell(sql, kind)
    elif fmt == "json" and column in JSON_COLUMNS:
        value = JSON_COLUMNS[column]
    elif fmt == "json" and kind == "TIMESTAMPTZ":
        value = _iso(sql)
    else:
        value = f"CAST({sql} AS {kind})"
    return f"{value} AS {_name(column)}"


def _iso(sql: str) -> str:
    """A time as ISO 8601 text in UTC (what Python's isoformat gives it)."""
    return f"strftime(timezone('UTC', {sql}), '%Y-%m-%dT%H:%M:%S.%f') || '+00:00'"
