"""Read the accounts CSV into clean, de-duplicated accounts (pure Python, no Prefect)."""

from __future__ import annotations

import csv
import dataclasses
import io
import itertools
import os
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from domain.account_metadata import Metadata
from domain.account_rows import Account, Row, merge
from domain.columns import header_key
from domain.export_footer import ReportFooter
from domain.names import INVISIBLE, is_domain, normalize_domain, normalize_name
from domain.workbook import OLE2_MAGIC, ZIP_MAGIC, WorkbookError, is_workbook, workbook_records

# Header keys (domain.columns.header_key) of the company's name and domain, as people and
# CRM exports spell them: HubSpot's company export has "Company name", "Company Domain Name"
# and "Website URL"; a Salesforce accounts report "Account Name" and "Website".
NAME_COLUMNS = ("name", "company", "company_name", "account_name")
# The most specific first: a bare domain wins over a web address, which passes through.
DOMAIN_COLUMNS = ("domain", "company_domain_name", "website", "website_url")
MAX_NAME_LENGTH = 300

# What is trimmed around a cell: white space, but not the separator controls (U+001C-U+001F,
# U+0085) that str.strip() also counts as space; a name holding one is refused instead.
_TRIMMED = "".join(
    ch for ch in map(chr, range(0x3000 + 1)) if ch.isspace() and ch not in "\x1c\x1d\x1e\x1f\x85"
)

# Long values are cut in messages so every message stays a readable single line.
_SHOW_LIMIT = 60


class InputError(ValueError):
    """Bad input: the message is one clear line meant for the user (no traceback needed)."""


@dataclass(frozen=True)
class AccountList:
    """The parsed file: accounts in order of first appearance plus what was folded away."""

    accounts: list[Account]
    merged: int
    blank_rows: int
    name_column: str
    domain_column: str | None
    footer_lines: int = 0  # a Salesforce report's footer, left out (domain.export_footer)


@dataclass(frozen=True)
class _Layout:
    """The header: where the name and domain are, and the columns passed through (their
    names one tuple, shared by every account's Metadata)."""

    header: list[str]
    name: int
    domain: int | None
    columns: list[tuple[int, str]]
    names: tuple[str, ...]
    # The other domain-like columns (passed through too): a row whose domain cell is empty
    # takes its domain from the first of them that holds one (HubSpot's export leaves
    # "Company Domain Name" empty where only "Website URL" was filled in).
    fallbacks: tuple[int, ...] = ()


def parse_accounts(
    data: bytes, source: str = "input", max_name_length: int = MAX_NAME_LENGTH
) -> AccountList:
    """Parse CSV (or .xlsx) bytes into merged accounts; raise InputError with a one-line
    message."""
    footer = ReportFooter()
    try:
        parsed = _accounts(footer.strip(_file_records(data, source)), source, max_name_length)
    except WorkbookError as exc:
        raise _error(source, str(exc)) from None
    return dataclasses.replace(parsed, footer_lines=footer.lines)


def _file_records(data: bytes, source: str) -> Iterator[tuple[int, list[str]]]:
    """A workbook's rows or a CSV's records, each trimmed, with the line (row) it starts on."""
    if is_workbook(data):
        return ((n, [c.strip(_TRIMMED) for c in row]) for n, row in workbook_records(data))
    delimiter = _delimiter(_decode(data, source))  # the whole text checked, then let go
    # Read as the csv module needs it (newline="": CRLF and quoted line breaks intact), a
    # few KB at a time: a StringIO of the text holds 4 bytes a character (87 MiB for a
    # 22 MB export), for a moment but as the run's high-water mark.
    lines = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8-sig", newline="")
    return _records(lines, delimiter, source)


def parse_rows(
    rows: list[dict[str, str]], source: str = "input", max_name_length: int = MAX_NAME_LENGTH
) -> AccountList:
    """Accounts from rows given as mappings (an inline list, a database table), with the
    same checks as a CSV; row N is reported as line N + 1 (after a header line)."""
    header: list[str] = []
    for row in rows:
        header.extend(c for c in row if c not in header)
    records = (
        (line, [_cell(row.get(column)) for column in header])
        for line, row in enumerate(rows, start=2)
    )
    return _accounts(itertools.chain([(1, header)], records), source, max_name_length)


def _cell(value: object) -> str:
    return "" if value is None else str(value).strip(_TRIMMED)


def _accounts(
    records: Iterable[tuple[int, list[str]]], source: str, max_name_length: int
) -> AccountList:
    """Merged accounts from trimmed records (the first that is not blank is the header), each
    row checked and packed as it is read: nothing holds the whole file's cells."""
    blank_rows, layout, rows = 0, None, []
    for line, cells in records:
        if not any(cells):
            blank_rows += 1
        elif layout is None:
            layout = _columns([_one_line(cell) for cell in cells], source)
        else:
            rows.append(_row(line, cells, layout, max_name_length, source))
    if layout is None:
        raise _error(source, "no companies found (the file is empty)")
    if not rows:
        detail = "only blank rows after the header" if blank_rows else "only a header row"
        raise _error(source, f"no companies found ({detail})")
    accounts = merge(rows)
    return AccountList(
        accounts=accounts,
        merged=len(rows) - len(accounts),
        blank_rows=blank_rows,
        name_column=layout.header[layout.name],
        domain_column=None if layout.domain is None else layout.header[layout.domain],
    )


def read_accounts(path: str | os.PathLike, max_name_length: int = MAX_NAME_LENGTH) -> AccountList:
    """Read and parse an accounts CSV file; every failure is an InputError."""
    source = os.fsdecode(path)
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        raise _error(source, "file not found") from None
    except IsADirectoryError:
        raise _error(source, "is a directory, not a CSV file") from None
    except PermissionError:
        raise _error(source, "permission denied; cannot read the file") from None
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise _error(source, f"cannot read the file ({reason})") from None
    return parse_accounts(data, source=source, max_name_length=max_name_length)


def _error(source: str, message: str, line: int | None = None) -> InputError:
    """Build an InputError whose message is guaranteed to be a single line."""
    where = f"line {line}: " if line is not None else ""
    return InputError(" ".join(f"{_one_line(source)}: {where}{message}".split()))


def _one_line(text: str) -> str:
    """Collapse whitespace and drop control characters so text fits on one line."""
    return " ".join(_strip_invisible(text).split())


def _show(value: str) -> str:
    """Quote a user value for a message, shortened and on one line."""
    value = _one_line(value)
    if len(value) > _SHOW_LIMIT:
        value = value[: _SHOW_LIMIT - 1] + "…"
    return f"'{value}'"


def _strip_invisible(text: str) -> str:
    """For messages: whitespace controls become spaces, other controls and invisibles go."""
    out = []
    for ch in text:
        if ch in INVISIBLE:
            continue
        if unicodedata.category(ch) == "Cc":
            # A tab or newline inside a name separates words; other controls are just noise.
            if ch.isspace():
                out.append(" ")
            continue
        out.append(ch)
    return "".join(out)


def _decode(data: bytes, source: str) -> str:
    """Decode UTF-8 (optional BOM), rejecting binary and UTF-16 files with a clear hint."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise _error(source, "is UTF-16 text; save the file as UTF-8")
    if data.startswith(OLE2_MAGIC):
        raise _error(source, "is an old Excel .xls workbook; save it as .xlsx or CSV")
    if b"\x00" in data:
        if data.startswith(ZIP_MAGIC):
            raise _error(source, "is a zip archive (or a damaged workbook), not CSV text")
        raise _error(source, "is a binary file (it contains NUL bytes), not CSV text")
    bom = 3 if data.startswith(b"\xef\xbb\xbf") else 0
    try:
        return data[bom:].decode("utf-8")
    except UnicodeDecodeError as exc:
        offset = exc.start + bom
        raise _error(
            source,
            f"not valid UTF-8 text (byte 0x{data[offset]:02x} at offset {offset}); "
            "save the file as UTF-8",
        ) from None


def _delimiter(text: str) -> str:
    """Comma, unless a comma-free header uses ';' or tab (Excel in some locales)."""
    header = _first_line(text)
    if "," in header:
        return ","
    semicolons, tabs = header.count(";"), header.count("\t")
    if not semicolons and not tabs:
        return ","
    return ";" if semicolons >= tabs else "\t"


def _first_line(text: str, size: int = 4096) -> str:
    """The first line that is not blank, from as little of the text as holds it whole."""
    while True:
        lines = text[:size].splitlines()
        whole = lines if size >= len(text) else lines[:-1]  # the last may be cut short
        found = next((line for line in whole if line.strip()), None)
        if found is not None or size >= len(text):
            return found or ""
        size *= 2


def _records(lines: Iterable[str], delimiter: str, source: str) -> Iterator[tuple[int, list[str]]]:
    """Each record trimmed, blank ones too, with the line it starts on."""
    reader = csv.reader(lines, delimiter=delimiter, strict=True, skipinitialspace=True)
    end = 0
    while True:
        start = end + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise _error(source, _csv_problem(str(exc)), start) from None
        end = reader.line_num
        yield start, [cell.strip(_TRIMMED) for cell in cells]


def _csv_problem(message: str) -> str:
    """Translate a csv module error into plain words."""
    if "unexpected end of data" in message or "EOF" in message:
        return "a quoted value starting here is never closed"
    if "field larger than field limit" in message:
        return f"a value is longer than {csv.field_size_limit()} characters"
    return "badly quoted value; a closing quote must be followed by a delimiter"


def _columns(header: list[str], source: str) -> _Layout:
    """Locate the name and domain columns and list the passthrough columns."""
    seen: dict[str, int] = {}
    for index, cell in enumerate(header):
        if not cell:
            continue
        folded = cell.casefold()
        if folded in seen:
            raise _error(
                source,
                f"duplicate column {_show(cell)} (columns {seen[folded] + 1} and {index + 1}); "
                "column names must be unique",
            )
        seen[folded] = index
    keys = [header_key(cell) for cell in header]

    names = [i for i, key in enumerate(keys) if key in NAME_COLUMNS]
    if not names:
        named = [_show(cell) for cell in header if cell]
        found = ", ".join(named[:10]) + (f" and {len(named) - 10} more" if len(named) > 10 else "")
        raise _error(
            source,
            f"no company name column; found columns: {found}; "
            f"expected one of: {', '.join(NAME_COLUMNS)} (any case, spaces for underscores)",
        )
    if len(names) > 1:
        # "Name" next to "Company" is often a contact's name: refuse to guess.
        both = " and ".join(_show(header[i]) for i in names)
        raise _error(source, f"columns {both} both look like the company name; keep only one")
    domains = [keys.index(c) for c in DOMAIN_COLUMNS if c in keys]
    domain = domains[0] if domains else None
    columns = [(i, cell) for i, cell in enumerate(header) if cell and i not in (names[0], domain)]
    passed = tuple(cell for _, cell in columns)
    return _Layout(header, names[0], domain, columns, passed, tuple(domains[1:]))


def _fallback_domain(cells: list[str], columns: tuple[int, ...]) -> str | None:
    """The first valid domain in the other domain-like columns (passed through as they are:
    a value there that is no domain is theirs to hold, not an error)."""
    for index in columns:
        domain = normalize_domain(cells[index]) if cells[index] else None
        if domain is not None and is_domain(domain):
            return domain
    return None


def _row(line: int, cells: list[str], layout: _Layout, max_name_length: int, source: str) -> Row:
    """Validate one data row and turn it into a Row."""
    header, name_index, domain_index = layout.header, layout.name, layout.domain
    if len(cells) > len(header):
        # Trailing empty cells are harmless (spreadsheets add them); real extra values
        # usually mean an unquoted delimiter inside a value.
        if any(cells[len(header) :]):
            raise _error(
                source,
                f"{len(cells)} values but the header has {len(header)} columns; "
                "quote values that contain the delimiter",
                line,
            )
        cells = cells[: len(header)]
    cells = cells + [""] * (len(header) - len(cells))
    for index, cell in enumerate(header):
        if not cell and cells[index]:
            raise _error(source, f"value in column {index + 1}, which has no header name", line)

    # Stored exactly as written (the cell is already trimmed): what the user typed is what
    # lands in DuckDB, byte for byte. Control characters are pasting accidents (ANSI colours,
    # a line break in a cell) that would garble terminal and CSV output; silently dropping
    # them would change the name, so they are refused.
    name = cells[name_index]
    # An ASCII name is printable unless it holds a control (the only ASCII category Cc).
    plain = name.isascii() and name.isprintable()
    control = None if plain else next((c for c in name if unicodedata.category(c) == "Cc"), None)
    if control is not None:
        raise _error(
            source,
            f"the company name contains a control character (U+{ord(control):04X}); remove it",
            line,
        )
    if not (name if plain else "".join(ch for ch in name if ch not in INVISIBLE)).strip():
        raise _error(source, "empty company name", line)
    if len(name) > max_name_length:
        raise _error(
            source,
            f"company name is {len(name)} characters long (the limit is {max_name_length})",
            line,
        )

    domain = None
    if domain_index is not None and cells[domain_index]:
        domain = normalize_domain(cells[domain_index])
        if domain is not None and not is_domain(domain):
            raise _error(
                source,
                f"{_show(cells[domain_index])} is not a valid domain "
                "(leave the cell empty if there is none)",
                line,
            )
    elif domain_index is not None:
        domain = _fallback_domain(cells, layout.fallbacks)
    metadata = Metadata(layout.names, [cells[index] for index, _ in layout.columns])
    return Row(line, name, normalize_name(name), domain, metadata)
