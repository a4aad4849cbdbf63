"""`territory export`: a territory's latest results as CSV, Parquet or JSON, CRM columns kept.

One row per company, best rank first: the passthrough columns of the input (owner, CRM id,
region...) under their own names, then its rank, the verdict in force (a reviewer's override
first), its top signals, what it cost, and the model's own verdict beside any override. CSV and
Parquet get one
flat row (signals as JSON text, plus the top signal's excerpt and URL as plain columns, so a
spreadsheet or a CRM import can use them); JSON keeps the signals as a list.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
from collections.abc import Iterable, Iterator
from itertools import chain
from pathlib import Path
from typing import Any

import duckdb

from territory.console import EXIT_OK, CliError, write_json_list
from territory.files import replacing
from territory.read_commands import owner_for, passthrough, public_result, reader

FORMATS = ("csv", "parquet", "json")
# Result columns after the passthrough ones, with their Parquet types.
RESULT_TYPES = {
    "rank": "INTEGER",
    "company": "VARCHAR",
    "domain": "VARCHAR",
    "tier": "VARCHAR",
    "score": "INTEGER",
    "confidence": "VARCHAR",
    "status": "VARCHAR",
    "error": "VARCHAR",
    "reasoning": "VARCHAR",
    "top_signal": "VARCHAR",
    "top_signal_url": "VARCHAR",
    "signals": "VARCHAR",
    "signals_dropped": "INTEGER",
    "rubric": "VARCHAR",
    "model": "VARCHAR",
    "cost_usd": "DOUBLE",
    "updated_at": "TIMESTAMPTZ",
    "run_id": "VARCHAR",
    "overridden": "BOOLEAN",
    "model_tier": "VARCHAR",
    "model_score": "INTEGER",
    "model_confidence": "VARCHAR",
    "override_by": "VARCHAR",
    "override_reason": "VARCHAR",
    "override_at": "TIMESTAMPTZ",
    "override_disputed": "BOOLEAN",
}
# With --by owner, after `rank`: the rank within the owner's book.
OWNER_RANK_TYPE = {"owner_rank": "INTEGER"}
# The DuckDB that turns the rows into Parquet: one thread holds one row group at a time.
PARQUET_WRITER: dict[str, str | bool | int | float | list[str]] = {
    "memory_limit": "512MB",
    "threads": 1,
}
# Spreadsheets run a cell starting with one of these as a formula: CSV gets a leading quote.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cmd_export(args: argparse.Namespace) -> int:
    """Write the file; one line on stderr says what was written."""
    out = Path(args.out)
    fmt = args.format or out.suffix.lower().lstrip(".")
    if fmt == "crm-import" or getattr(args, "target", None):
        return cmd_crm_import(args, out, fmt)
    if fmt not in FORMATS:
        raise CliError(f"{out}: say --format csv, parquet or json (or use one of those extensions)")
    with reader() as store:  # rows are written as they are read: none is held for long
        owner = owner_for(store, args.territory, getattr(args, "by", "territory"))
        types = result_types(owner is not None)
        keys = store.metadata_keys(args.territory, owner=owner)
        results = store.iter_effective_results(territory=args.territory, owner=owner)
        first = next(results, None)
        if first is None:
            raise CliError(f"territory {args.territory!r} has no results to export")
        counted = _Counted(chain([first], results))
        columns = [*passthrough({"metadata": dict.fromkeys(keys)}, types), *types]
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            if fmt == "json":
                write_json(out, counted, columns, types)
            elif fmt == "csv":
                write_csv(out, (flatten(r, types) for r in counted), columns)
            else:
                write_parquet(out, (flatten(r, types) for r in counted), columns, types)
        except OSError as exc:
            raise CliError(f"{out}: cannot write the file ({exc.strerror or exc})") from None
    print(f"export: {counted.n} companies of {args.territory!r} -> {out} ({fmt})", file=sys.stderr)
    return EXIT_OK


def cmd_crm_import(args: argparse.Namespace, out: Path, fmt: str) -> int:
    """The CRM fields we own, as a CSV for HubSpot's import or Salesforce's Data Import
    Wizard / Data Loader (matching on the record id; HubSpot also on the domain)."""
    from flows.settings import load_settings
    from territory.crm import import_rows

    if fmt != "crm-import" or not getattr(args, "target", None):
        raise CliError("--format crm-import and --target hubspot|salesforce go together")
    with reader() as store:
        results = store.effective_results(territory=args.territory)
    if not results:
        raise CliError(f"territory {args.territory!r} has no results to export")
    columns, rows = import_rows(results, args.target, load_settings().crm_mapping_file)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with replacing(out) as tmp, tmp.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(columns)
            writer.writerows(rows)
    except OSError as exc:
        raise CliError(f"{out}: cannot write the file ({exc.strerror or exc})") from None
    print(
        f"export: {len(rows)} companies of {args.territory!r} -> {out} (crm-import, {args.target})",
        file=sys.stderr,
    )
    return EXIT_OK


class _Counted:
    """The results passing through, counted (the count is the message's, after the write)."""

    def __init__(self, rows: Iterator[dict[str, Any]]) -> None:
        self.rows, self.n = rows, 0

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for row in self.rows:
            self.n += 1
            yield row


def result_types(by_owner: bool) -> dict[str, str]:
    """The result columns after the passthrough ones, with their Parquet types."""
    if not by_owner:
        return RESULT_TYPES
    first, *rest = RESULT_TYPES.items()
    return dict([first, *OWNER_RANK_TYPE.items(), *rest])


def flatten(r: dict[str, Any], types: dict[str, str] = RESULT_TYPES) -> dict[str, Any]:
    """One flat row: passthrough columns first, then the result columns of `types`."""
    public = public_result(r)
    signals = public["signals"]
    result = {c: public[c] for c in types if c != "signals"}
    result["signals"] = json.dumps(signals, ensure_ascii=False) if signals else None
    return passthrough(r, types) | result


def write_json(
    out: Path, results: Iterable[dict[str, Any]], columns: list[str], types: dict[str, str]
) -> None:
    """A JSON list; signals stay a list of objects."""

    def records() -> Iterator[dict[str, Any]]:
        for result in results:
            row = flatten(result, types)
            record = {c: row.get(c) for c in columns}
            record["signals"] = result.get("signals") or []
            for stamp in ("updated_at", "override_at"):
                record[stamp] = row[stamp].isoformat() if row.get(stamp) else None
            yield record

    with replacing(out) as tmp, tmp.open("w", encoding="utf-8") as handle:
        write_json_list(records(), handle, end="")


def write_csv(out: Path, rows: Iterable[dict[str, Any]], columns: list[str]) -> None:
    """UTF-8 CSV (with a BOM, which Excel needs to read UTF-8), formulas defused."""
    with replacing(out) as tmp, tmp.open("w", newline="", encoding="utf-8-sig") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_csv_cell(row.get(c)) for c in columns])


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    text = value.isoformat() if hasattr(value, "isoformat") else str(value)
    # A company called "=HYPERLINK(...)" must stay text when a spreadsheet opens the file.
    return "'" + text if text.startswith(_FORMULA_START) else text


def write_parquet(
    out: Path,
    rows: Iterable[dict[str, Any]],
    columns: list[str],
    result: dict[str, str] = RESULT_TYPES,
) -> None:
    """Typed Parquet written by DuckDB: passthrough columns as text, result columns typed."""
    types = {c: result.get(c, "VARCHAR") for c in columns}
    with tempfile.TemporaryDirectory(dir=out.parent) as folder:
        lines = Path(folder) / "rows.jsonl"
        with lines.open("w", encoding="utf-8") as handle:
            for row in rows:
                record = {c: row.get(c) for c in columns}
                for stamp in ("updated_at", "override_at"):
                    value = record.get(stamp)
                    if value is not None:
                        record[stamp] = value.isoformat()
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        spec = "{" + ", ".join(f"{_sql_text(c)}: {_sql_text(t)}" for c, t in types.items()) + "}"
        with replacing(out) as tmp, duckdb.connect(config=PARQUET_WRITER) as conn:
            source = f"read_json({_sql_text(str(lines))}, format = 'newline_delimited', "
            conn.execute(
                f"COPY (SELECT * FROM {source}columns = {spec})) "
                f"TO {_sql_text(str(tmp))} (FORMAT PARQUET)"
            )


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"
