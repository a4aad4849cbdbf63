"""A territory's results as one flat row per company, written by DuckDB's own COPY (`export`
as CSV, Parquet or JSON; `results --format csv`): no row passes through Python. On 100,000
companies the rows in Python (dicts, decoded JSON, the csv module) took 13-16 s of CPU; see
the README's 100,000 section."""

from __future__ import annotations

import contextlib
import shutil
from dataclasses import dataclass
from pathlib import Path

import duckdb

from domain.errors import first_line
from storage.errors import StoreError
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
# `territory results` as CSV: what `public_result` gives, in its order (every field of the
# result as users see it, the signals and the evidence as JSON text), then the passthrough.
# tests/cli/test_export_copy.py holds the two to the same text, byte for byte.
_PUBLIC_EXTRA = {
    "territory": ("VARCHAR", "e.territory"),
    "signals": ("VARCHAR", "coalesce(w.signals::VARCHAR, '[]')"),
    "evidence": ("VARCHAR", "w.evidence::VARCHAR"),
}
PUBLIC_ORDER = (
    "rank", "territory", "company", "domain", "tier", "score", "confidence", "status", "error",
    "reasoning", "signals", "top_signal", "top_signal_url", "signals_dropped", "evidence",
    "rubric", "model", "cost_usd", "run_id", "updated_at", "overridden", "model_tier",
    "model_score", "model_confidence", "override_by", "override_reason", "override_at",
    "override_disputed",
)  # fmt: skip
PUBLIC_COLUMNS = {c: _PUBLIC_EXTRA.get(c) or FLAT_COLUMNS[c] for c in PUBLIC_ORDER}


@dataclass(frozen=True)
class FlatForm:
    """What a flat file of results holds and how its CSV cells are written."""

    columns: dict[str, tuple[str, str]]  # name: (type, SQL), `owner_rank` going after `rank`
    passthrough_first: bool
    defuse: bool  # for spreadsheets: a leading quote before what would run as a formula
    stamp: str  # times in UTC, ISO 8601 to this strftime format, then "+00:00"


EXPORT = FlatForm(FLAT_COLUMNS, passthrough_first=True, defuse=True, stamp="%Y-%m-%dT%H:%M:%S.%f")
RESULTS = FlatForm(PUBLIC_COLUMNS, passthrough_first=False, defuse=False, stamp="%Y-%m-%dT%H:%M:%S")
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


def flat_columns(by_owner: bool, form: FlatForm = EXPORT) -> dict[str, tuple[str, str]]:
    """The result columns (type, SQL) of a form, `owner_rank` after `rank` if by owner."""
    if not by_owner:
        return form.columns
    first, *rest = form.columns.items()
    return dict([first, OWNER_RANK_COLUMN, *rest])


def _name(column: str) -> str:
    return '"' + column.replace('"', '""') + '"'


def _text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _csv_cell(sql: str, kind: str, form: FlatForm) -> str:
    """A column as CSV text: ISO times in UTC, True/False; for a spreadsheet, a leading
    quote before what it would run as a formula ("=HYPERLINK(...)")."""
    if kind == "TIMESTAMPTZ":
        text = _iso(sql, form.stamp)
    elif kind == "BOOLEAN":
        text = f"CASE WHEN {sql} THEN 'True' ELSE 'False' END"
    else:
        text = f"CAST({sql} AS VARCHAR)"
    if form.defuse:
        starts = ", ".join(_text(c) for c in FORMULA_START)
        text = f"CASE WHEN left({text}, 1) IN ({starts}) THEN {_QUOTE} || {text} ELSE {text} END"
    # An empty text is an empty cell, as Python's csv writes it (DuckDB's writes "").
    return f"nullif({text}, '')"


class ExportsMixin(Session):
    """Flat rows of `effective_results`, copied to a file by DuckDB."""

    @connected
    def copy_flat_results(
        self,
        out: Path,
        fmt: str,
        territory: str | None,
        passthrough: dict[str, str],
        owner: str | None = None,
        prefix: bytes = b"",
        form: FlatForm = EXPORT,
        tier: str | None = None,
    ) -> int:
        """Write the territory's results (all territories' if None; of `tier` only, if
        given), best rank first, to `out` with `form`'s columns: as CSV (every cell text, a
        header, after the bytes `prefix`), typed Parquet or a JSON list (the signals a
        list). `passthrough` maps each metadata key to its column name, in order. Returns
        the number of rows written.

        The order comes from narrow rows; the long text is joined on a batch of them at a
        time, each batch copied to a part file: one query joining every row's text ran out
        of the reading 512 MB on 100,000 companies (its hash join held the text)."""
        inner, args, order = ranked_rows(territory, owner)
        self.conn.execute(
            "CREATE OR REPLACE TEMP TABLE flat_order AS SELECT row_number() OVER "
            f"(ORDER BY {', '.join(order)}) AS pos, * FROM ({inner}) "
            "WHERE (?::VARCHAR IS NULL OR tier = ?)",
            [*args, tier, tier],
        )
        cells = _cells(fmt, passthrough, flat_columns(owner is not None, form), form)
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
        except duckdb.IOException as exc:  # a full disk, a path taken: one line, not a trace
            raise StoreError(f"cannot write in {out.parent}: {first_line(str(exc))}") from None
        finally:
            self.conn.execute("DROP TABLE IF EXISTS flat_order")
            for part in parts:
                with contextlib.suppress(OSError):  # not there, or not ours to remove
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


def _cells(
    fmt: str, passthrough: dict[str, str], columns: dict[str, tuple[str, str]], form: FlatForm
) -> str:
    """The SELECT list: the passthrough columns and the result columns, in the form's order."""
    extracted: list[str] = []
    for key, column in passthrough.items():
        path = '$."' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'
        extract = f"json_extract_string(w.metadata, {_text(path)})"
        extracted.append(_cell(extract, "VARCHAR", fmt, column, form))
    results = [_cell(sql, kind, fmt, c, form) for c, (kind, sql) in columns.items()]
    return ", ".join([*extracted, *results] if form.passthrough_first else [*results, *extracted])


def _cell(sql: str, kind: str, fmt: str, column: str, form: FlatForm) -> str:
    if fmt == "csv":
        value = _csv_cell(sql, kind, form)
    elif fmt == "json" and column in JSON_COLUMNS:
        value = JSON_COLUMNS[column]
    elif fmt == "json" and kind == "TIMESTAMPTZ":
        value = _iso(sql, form.stamp)
    else:
        value = f"CAST({sql} AS {kind})"
    return f"{value} AS {_name(column)}"


def _iso(sql: str, stamp: str) -> str:
    """A time as ISO 8601 text in UTC (what Python's isoformat gives it)."""
    return f"strftime(timezone('UTC', {sql}), '{stamp}') || '+00:00'"
