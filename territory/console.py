"""What every `territory` command shares: exit codes, the one-line error, and output helpers."""

from __future__ import annotations

import csv
import io
import json
import sys
from datetime import date, datetime
from typing import Any

EXIT_OK, EXIT_STOPPED, EXIT_USAGE, EXIT_BUSY = 0, 1, 2, 3
READ_LOCK_WAIT = 30.0  # seconds a read waits while a run writes a chunk


class CliError(Exception):
    """A one-line problem to report, with its exit code."""

    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.code = code


def print_table(rows: list[dict[str, Any]], columns: list[str]) -> None:
    if not rows:
        print("(nothing stored yet)")
        return
    cells = [[clip(text(r.get(c))) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    out = io.StringIO()
    out.write("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip() + "\n")
    for row in cells:
        out.write("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() + "\n")
    sys.stdout.write(out.getvalue())


def write_csv(rows: list[dict[str, Any]]) -> None:
    columns: list[str] = []
    for row in rows:
        columns.extend(k for k in row if k not in columns)
    writer = csv.DictWriter(sys.stdout, fieldnames=columns or ["company"], lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(
            {
                k: json.dumps(v, ensure_ascii=False) if isinstance(v, (list, dict)) else text(v)
                for k, v in row.items()
            }
        )


def text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def clip(text: str, width: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def quote(text: str) -> str:
    return text if text.replace("-", "").replace("_", "").isalnum() else json.dumps(text)
