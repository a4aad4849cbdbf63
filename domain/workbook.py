"""An accounts workbook (.xlsx) as the records a CSV would give: its active sheet's rows, each
cell as the text a spreadsheet shows (pure functions over bytes, no files). HubSpot and
Salesforce both export workbooks by default; a rep should not have to re-save one as CSV."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from datetime import date, datetime, time

ZIP_MAGIC = b"PK\x03\x04"
# The old binary Excel format (and other OLE2 files): openpyxl does not read it.
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


class WorkbookError(ValueError):
    """The bytes are no workbook this reader can open: the message says why, on one line."""


def is_workbook(data: bytes) -> bool:
    """A zip holding an Excel workbook (an .xlsx), not any zip."""
    if not data.startswith(ZIP_MAGIC):
        return False
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return "xl/workbook.xml" in archive.namelist()
    except zipfile.BadZipFile:
        return False


def workbook_records(data: bytes) -> Iterator[tuple[int, list[str]]]:
    """Each row of the active sheet with its row number, every cell as text (a number as
    written, a date as ISO 8601, an empty cell as ""); rows are read as they come."""
    from openpyxl import load_workbook  # only a workbook needs it

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # openpyxl raises many kinds (OSError, KeyError...) for a damaged file
        raise WorkbookError(
            "looks like an Excel workbook but cannot be read; save it again or export it as CSV"
        ) from None
    try:
        sheet = book.active
        if sheet is None:
            raise WorkbookError("the workbook has no sheet")
        for number, row in enumerate(sheet.iter_rows(values_only=True), start=1):
            yield number, [cell_text(value) for value in row]
    finally:
        book.close()


def cell_text(value: object) -> str:
    """A cell as a spreadsheet shows it: 9001, not 9001.0; TRUE; 2026-12-07."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time() else value.isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    return str(value)
