"""What every `territory` command shares: exit codes, the one-line error, and output helpers."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any, TextIO

EXIT_OK, EXIT_STOPPED, EXIT_USAGE, EXIT_BUSY = 0, 1, 2, 3
READ_LOCK_WAIT = 30.0  # seconds a read waits while a run writes a chunk
WRITE_ROWS = 1_000  # table lines per write


class CliError(Exception):
    """A one-line problem to report, with its exit code."""

    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.code = code


def print_table(rows: Iterable[dict[str, Any]], columns: list[str]) -> None:
    """An aligned text table. Only the clipped cells are kept (the widths need every row
    before the first line), not the rows: 100,000 companies stay a few MB of text."""
    cells = [[clip(text(r.get(c))) for c in columns] for r in rows]
    if not cells:
        print("(nothing stored yet)")
        return
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    out = sys.stdout
    out.write("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip() + "\n")
    for start in range(0, len(cells), WRITE_ROWS):
        out.write(
            "".join(
                "  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() + "\n"
                for row in cells[start : start + WRITE_ROWS]
            )
        )


def write_csv(rows: Iterable[dict[str, Any]], columns: list[str] | None = None) -> None:
    """CSV on stdout, lists and dicts as JSON. Without `columns`, the union of the rows' keys
    in the order they first appear (the rows are then held until the header is written)."""
    if columns is None:
        rows = list(rows)
        columns = []
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


def write_json_list(rows: Iterable[Any], out: TextIO | None = None, end: str = "\n") -> None:
    """A JSON list, indented by 2, written one item at a time: the same text as
    `print(json.dumps(list(rows), indent=2))`, without the list or the whole text in memory."""
    out = out or sys.stdout
    first = True
    for row in rows:
        item = json.dumps(row, ensure_ascii=False, indent=2, default=text)
        # Strings in JSON never hold a raw line break, so this indents lines, not text.
        out.write(("[\n  " if first else ",\n  ") + item.replace("\n", "\n  "))
        first = False
    out.write(("[]" if first else "\n]") + end)


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
