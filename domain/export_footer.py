"""What a Salesforce report export writes below its rows, told apart from the rows (pure
functions, no I/O). A report exported as CSV ends, after a blank line or two, with lines of
one cell each: the report's title, its copyright and confidentiality notice, who ran it and
the org's name, sometimes "Grand Totals (N records)" in a paragraph of its own. Read as rows
they are companies to research, or, under a column other than the name's, a refused file."""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable, Iterator

Record = tuple[int, list[str]]  # the line a record starts on, and its trimmed cells

# The notice every report export carries; a footer is only ever taken for one holding it.
_NOTICE = re.compile(
    r"(?:copyright (?:\(c\)|©) \d{4}(?:\s*-\s*\d{4})? salesforce\.com, inc\. all rights"
    r" reserved\.?|confidential information - do not distribute)",
    re.IGNORECASE,
)
_GRAND_TOTALS = re.compile(r"grand totals? \([\d,.\s]+ records?\)", re.IGNORECASE)
# The footer's paragraph: at most its title before the notice, and the notice, who ran the
# report and the org's name after it (public readers of these exports show 2-5 lines).
TITLE_LINES = 2
FOOTER_LINES = 8
# Records held back while they could still be a footer (one-cell and blank ones): a footer
# and the blank lines before it fit.
HELD = 16


def left_out(lines: int) -> str:
    """What a run says of a footer it left out ("" when there was none)."""
    return f"; the {lines} lines of a Salesforce report's footer left out" if lines else ""


def _one_cell(cells: list[str]) -> bool:
    return not any(cells[1:])


class ReportFooter:
    """Passes records through, leaving out a Salesforce report's footer at the end; `lines`
    says how many non-blank lines were left out."""

    def __init__(self) -> None:
        self.lines = 0

    def strip(self, records: Iterable[Record]) -> Iterator[Record]:
        held: deque[Record] = deque()
        after_rows = False  # was the first held record preceded by a row of several cells?
        for record in records:
            if _one_cell(record[1]):
                held.append(record)
                if len(held) > HELD:
                    yield held.popleft()
                    after_rows = False
                continue
            yield from held
            held.clear()
            after_rows = True
            yield record
        kept = list(held)
        start = footer_start(kept, after_rows)
        self.lines = sum(1 for _, cells in kept[start:] if any(cells))
        yield from kept[:start]


def footer_start(held: list[Record], after_rows: bool) -> int:
    """Where the footer begins among the last one-cell and blank records (len(held): none).
    Its paragraph must be parted from the rows by a blank line, unless a row of several cells
    comes right before it (a name-only file's names are one cell each too)."""
    text = [cells[0] if cells else "" for _, cells in held]
    first = next((i for i, t in enumerate(text) if _NOTICE.fullmatch(t)), None)
    if first is None:
        return len(held)
    start = _paragraph_start(text, first)
    if first - start > TITLE_LINES or sum(1 for t in text[start:] if t) > FOOTER_LINES:
        return len(held)
    if start == 0 and not after_rows:
        return len(held)
    # "Grand Totals (N records)" stands alone between the rows and the notice.
    before = start
    while before > 0 and not text[before - 1]:
        before -= 1
    if before > 0 and _GRAND_TOTALS.fullmatch(text[before - 1]):
        totals = _paragraph_start(text, before - 1)
        if totals == before - 1 and (totals > 0 or after_rows):
            start = totals
    return start


def _paragraph_start(text: list[str], i: int) -> int:
    while i > 0 and text[i - 1]:
        i -= 1
    return i
