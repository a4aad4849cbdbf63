"""`territory export`: a territory's latest results as CSV, Parquet or JSON, CRM columns kept.

One row per company, best rank first: the passthrough columns of the input (owner, CRM id,
region...) under their own names, then its rank, the verdict in force (a reviewer's override
first), its top signals, what it cost, and the model's own verdict beside any override. CSV and
Parquet get one flat row (signals as JSON text, plus the top signal's excerpt and URL as plain
columns, so a spreadsheet or a CRM import can use them), written by DuckDB's COPY; JSON keeps
the signals as a list.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from storage.duckdb_store import TerritoryStore
from storage.exports import FORMULA_START, flat_columns
from territory.console import EXIT_OK, CliError
from territory.files import replacing
from territory.read_commands import owner_for, passthrough_names, reader

FORMATS = ("csv", "parquet", "json")
# Excel needs the byte order mark to read a CSV as UTF-8.
UTF8_BOM = "\ufeff".encode()


def cmd_export(args: argparse.Namespace) -> int:
    """Write the file; one line on stderr says what was written."""
    out = Path(args.out)
    fmt = args.format or out.suffix.lower().lstrip(".")
    if fmt == "crm-import" or getattr(args, "target", None):
        return cmd_crm_import(args, out, fmt)
    if fmt not in FORMATS:
        raise CliError(f"{out}: say --format csv, parquet or json (or use one of those extensions)")
    with reader() as store:
        owner = owner_for(store, args.territory, getattr(args, "by", "territory"))
        if not store.count_results(args.territory):
            raise CliError(f"territory {args.territory!r} has no results to export")
        keys = store.metadata_keys(args.territory, owner=owner)
        names = passthrough_names(keys, result_types(owner is not None))
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            written = _copy(store, out, fmt, args.territory, names, owner)
        except OSError as exc:
            raise CliError(f"{out}: cannot write the file ({exc.strerror or exc})") from None
    print(f"export: {written} companies of {args.territory!r} -> {out} ({fmt})", file=sys.stderr)
    return EXIT_OK


def _copy(
    store: TerritoryStore,
    out: Path,
    fmt: str,
    territory: str,
    names: dict[str, str],
    owner: str | None,
) -> int:
    """The file written by DuckDB's COPY, whole or not at all; a CSV starts with the byte
    order mark Excel needs."""
    prefix = UTF8_BOM if fmt == "csv" else b""
    with replacing(out) as tmp:
        return store.copy_flat_results(tmp, fmt, territory, names, owner, prefix)


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


def result_types(by_owner: bool) -> dict[str, str]:
    """The result columns after the passthrough ones, with their Parquet types (one
    definition, the store's: every format is written by its COPY)."""
    return {column: kind for column, (kind, _) in flat_columns(by_owner).items()}


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
    return "'" + text if text.startswith(FORMULA_START) else text
