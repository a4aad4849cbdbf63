"""What an input's column names mean to a person: one spelling of a header, and which
passthrough column names the account's owner (ranks per owner, alerts per owner)."""

from __future__ import annotations

import re
from collections.abc import Iterable

# A passthrough column naming the account's owner, first listed wins ("Account Owner" in a
# Salesforce accounts report, "Company owner" in HubSpot's company export).
OWNER_COLUMNS = ("owner", "account_owner", "company_owner", "owner_name", "rep", "sales_rep")

# "Company Name", "company-name" and "company_name" are all the same header to a person.
_HEADER_SEPARATORS = re.compile(r"[\s_\-]+")


def header_key(cell: str) -> str:
    """A header as compared with the known column names: "Company Name" -> "company_name"."""
    return _HEADER_SEPARATORS.sub("_", cell.casefold().strip())


def owner_column(columns: Iterable[str]) -> str | None:
    """The column among `columns` (passthrough names as in the file) that names the account's
    owner: one of OWNER_COLUMNS, in any case and with spaces or dashes for underscores."""
    found = {header_key(c): c for c in reversed(list(columns))}
    return next((found[name] for name in OWNER_COLUMNS if name in found), None)
