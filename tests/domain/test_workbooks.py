"""An accounts workbook (.xlsx) is read like its CSV: HubSpot and Salesforce export workbooks
by default. The workbooks here are written by openpyxl, as Excel stores cells (numbers as
numbers, dates as dates); the headers are HubSpot's company export's."""

from __future__ import annotations

import io
import zipfile
from datetime import datetime

import pytest
from openpyxl import Workbook

from domain.accounts import InputError, parse_accounts, read_accounts
from domain.crm import load_mapping, record_id
from domain.workbook import cell_text


def workbook(rows: list[list[object]], sheets: int = 1) -> bytes:
    book = Workbook()
    book.active.title = "Companies"
    for row in rows:
        book.active.append(row)
    for n in range(1, sheets):
        book.create_sheet(f"Other {n}").append(["name"])
        book.worksheets[n].append(["Not This One Inc"])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


HUBSPOT = [
    ["Record ID", "Company name", "Company Domain Name", "Website URL", "Create Date",
     "Number of Employees", "Is public"],
    [9001, " Bluebay Gaming Ltd ", "bluebay.example", None, datetime(2024, 2, 1, 9, 30), 250.0,
     False],
    [9002, "Harbour Lotteries Ltd", None, "https://www.harbour.example/", datetime(2023, 11, 12),
     12.5, True],
]  # fmt: skip


def test_a_hubspot_workbook_reads_as_its_csv_would(tmp_path) -> None:
    path = tmp_path / "hubspot-companies.xlsx"
    path.write_bytes(workbook(HUBSPOT, sheets=2))
    found = read_accounts(path)
    bluebay, harbour = found.accounts
    assert (bluebay.name, bluebay.domain) == ("Bluebay Gaming Ltd", "bluebay.example")
    assert harbour.domain == "harbour.example"  # from Website URL, its domain cell empty
    # Cells as a spreadsheet shows them, not as Python holds them.
    assert dict(bluebay.metadata) == {
        "Record ID": "9001",
        "Website URL": "",
        "Create Date": "2024-02-01T09:30:00",
        "Number of Employees": "250",
        "Is public": "FALSE",
    }
    assert harbour.metadata["Create Date"] == "2023-11-12"
    assert harbour.metadata["Number of Employees"] == "12.5"
    assert record_id({"metadata": bluebay.metadata}, load_mapping("hubspot")) == "9001"


def test_a_workbooks_rows_are_checked_like_a_csvs() -> None:
    with pytest.raises(InputError) as caught:
        parse_accounts(workbook([["Company name", "Domain"], ["Acme", "n/a"]]), "x.xlsx")
    assert str(caught.value) == (
        "x.xlsx: line 2: 'n/a' is not a valid domain (leave the cell empty if there is none)"
    )
    with pytest.raises(InputError, match="x.xlsx: no company name column"):
        parse_accounts(workbook([["Owner"], ["Jo"]]), "x.xlsx")
    with pytest.raises(InputError, match="only a header row"):
        parse_accounts(workbook([["name"]]), "x.xlsx")


def test_what_is_no_workbook_is_refused_in_one_line() -> None:
    old_excel = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64
    with pytest.raises(InputError, match=r"old Excel \.xls workbook; save it as \.xlsx or CSV"):
        parse_accounts(old_excel, "x.xls")
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.writestr("companies.csv", "name\nAcme\n\x00")
    with pytest.raises(InputError, match=r"is a zip archive \(or a damaged workbook\)"):
        parse_accounts(zipped.getvalue(), "x.zip")


def test_cells_read_as_shown() -> None:
    assert [cell_text(v) for v in (None, 3, 3.0, 2.5, True, "x", 1e20)] == [
        "", "3", "3", "2.5", "TRUE", "x", "1e+20",
    ]  # fmt: skip
