"""Where a run's companies come from: a CSV, a DuckDB table, a list, or the territory's own
failed or stored companies."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb

from domain.accounts import Account, AccountList, InputError, parse_rows, read_accounts
from domain.errors import first_line
from flows.parameters import ResearchRequest
from storage.duckdb_store import TerritoryStore

# A table reference we can safely splice into SQL: [schema.]table, plain identifiers only.
_TABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?")


def parse_given(request: ResearchRequest) -> AccountList | None:
    """The companies the request itself brings (a CSV or a list), parsed and checked before
    any database is opened; None when they come from a database."""
    if request.rescore or request.rerun_failed or request.accounts_table:
        return None
    if request.companies:
        return parse_rows(request.companies, "companies")
    assert request.companies_csv is not None  # the request model guarantees one source
    return read_accounts(request.companies_csv)


def load_accounts(
    store: TerritoryStore, request: ResearchRequest, given: AccountList | None = None
) -> tuple[str, list[Account], int, int]:
    """The companies to research: a territory's failed ones, its stored ones (to re-score),
    a DuckDB table, or those the request brings (`given`: already parsed)."""
    territory = request.territory
    if request.rescore:
        assert territory is not None  # the request model guarantees it
        rows = store.latest_results(territory=territory)
        if not rows:
            raise InputError(f"territory {territory!r} has no stored results to re-score")
        stored = [r for r in rows if r["search_key"]]
        if not stored:
            raise InputError(
                f"territory {territory!r} has no stored searches to re-score (every search "
                "failed); run it or rerun-failed first"
            )
        accounts = [
            Account(r["company_key"], r["company"], r["domain"], r["metadata"] or {}, ())
            for r in stored
        ]
        return territory, accounts[: request.limit], len(rows), 0
    if request.rerun_failed:
        territory = territory or "default"
        accounts = [
            Account(r["key"], r["name"], r["domain"], r["metadata"], ())
            for r in store.failed_companies(territory)
        ]
        return territory, accounts[: request.limit], len(accounts), 0
    if request.accounts_table:
        rows = read_accounts_table(store, request.accounts_table)
        parsed = parse_rows(rows, request.accounts_table)
        territory = territory or request.accounts_table.rsplit(":", 1)[-1]
    else:
        given = given or parse_given(request)
        assert given is not None  # the request model guarantees one source
        parsed = given
        territory = territory or (
            Path(request.companies_csv).stem if request.companies_csv else "lookups"
        )
    n_rows = sum(len(a.rows) for a in parsed.accounts)
    return territory, parsed.accounts[: request.limit], n_rows, parsed.merged


def read_accounts_table(store: TerritoryStore, spec: str) -> list[dict[str, str]]:
    """Rows of `table` in the territory database, or of `path.duckdb:table` elsewhere."""
    path, _, table = spec.rpartition(":")
    if not _TABLE_NAME.fullmatch(table):
        raise InputError(f"{spec}: not a table name (letters, digits, _ and one optional schema.)")
    try:
        if path:
            with duckdb.connect(path, read_only=True) as conn:
                return _string_rows(conn.execute(f"SELECT * FROM {table}"))
        with store.session() as conn:
            return _string_rows(conn.execute(f"SELECT * FROM {table}"))
    except duckdb.Error as exc:
        raise InputError(
            f"{spec}: cannot read the accounts table ({first_line(str(exc), type(exc).__name__)})"
        ) from None


def _string_rows(cursor: duckdb.DuckDBPyConnection) -> list[dict[str, str]]:
    names = [d[0] for d in cursor.description]
    return [
        {n: "" if v is None else str(v) for n, v in zip(names, row, strict=True)}
        for row in cursor.fetchall()
    ]
