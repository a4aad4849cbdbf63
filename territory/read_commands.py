"""The commands that read the database: results, runs, changes."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from domain.columns import OWNER_COLUMNS
from domain.costs import per_thousand
from domain.passages import readable
from domain.verdicts import override_note
from flows.settings import load_settings
from storage.duckdb_store import TerritoryStore
from storage.exports import COPY_BUFFER_BYTES, RESULTS, flat_columns
from tasks.phase_clock import total_per_company
from territory.console import (
    EXIT_OK,
    READ_LOCK_WAIT,
    CliError,
    print_table,
    text,
    write_csv,
    write_json_list,
)


def reader() -> TerritoryStore:
    """The territory database, opened to read (waiting briefly while a run writes a chunk)."""
    return TerritoryStore.open(
        load_settings().territory_db, read_only=True, lock_wait=READ_LOCK_WAIT
    )


def cmd_results(args: argparse.Namespace) -> int:
    """Print the results, streamed from the database a batch at a time."""
    with reader() as store:
        owner = owner_for(store, args.territory, args.by)
        if args.format == "csv":
            _write_results_csv(store, args.territory, args.tier, owner)
            return EXIT_OK
        found = store.iter_effective_results(territory=args.territory, tier=args.tier, owner=owner)
        if args.format == "json":
            write_json_list(_public(r) for r in found)
        else:
            head = ["owner", "owner_rank", "rank", "territory"] if owner else ["rank", "territory"]
            columns = [*head, "company", "domain", "tier", "score", "confidence", "status",
                       "override", "top_signal"]  # fmt: skip
            print_table((_table_row(r, owner is not None) for r in found), columns)
    return EXIT_OK


def _table_row(result: dict[str, Any], by_owner: bool) -> dict[str, Any]:
    row = public_result(result)
    row["top_signal"] = readable(row["top_signal"]) or None  # for people; JSON keeps it verbatim
    row["override"] = override_note(result, reason=False)
    if by_owner:
        row["owner"] = result.get("owner")
    return row


def _write_results_csv(
    store: TerritoryStore, territory: str | None, tier: str | None, owner: str | None
) -> None:
    """CSV of the results on stdout, written by DuckDB's COPY: the result fields, then the
    passthrough columns in the order they first appear."""
    keys = store.metadata_keys(territory, tier, owner)
    names = passthrough_names(keys, flat_columns(owner is not None, RESULTS))
    with tempfile.TemporaryDirectory(prefix="territory-results-") as folder:
        out = Path(folder) / "results.csv"
        written = store.copy_flat_results(
            out, "csv", territory, names, owner, form=RESULTS, tier=tier
        )
        if not written:
            write_csv([])
            return
        sys.stdout.flush()
        with out.open("rb") as rows:
            shutil.copyfileobj(rows, sys.stdout.buffer, COPY_BUFFER_BYTES)
        sys.stdout.buffer.flush()


def owner_for(store: TerritoryStore, territory: str | None, by: str) -> str | None:
    """The owner column to rank by with `--by owner` (None for `--by territory`); a clear
    error when the territory's input had no owner column."""
    if by != "owner":
        return None
    column = store.owner_column(territory)
    if column is None:
        where = f"territory {territory!r}" if territory else "no territory"
        raise CliError(
            f"--by owner: {where} has no owner column in its input "
            f"(one of {', '.join(OWNER_COLUMNS)})"
        )
    return column


def cmd_runs(args: argparse.Namespace) -> int:
    with reader() as store:
        rows = store.runs()
    for row in rows:
        row["cost_per_1k_usd"] = per_thousand(row)
        row["cpu_ms_per_company"] = total_per_company(row["cpu_ms"])  # every phase (cpu_ms)
    if args.format == "json":
        print(json.dumps(rows, ensure_ascii=False, indent=2, default=text))
    else:
        for row in rows:  # to the cent, as every cost line says it; JSON keeps it whole
            row["cost_usd"] = None if row["cost_usd"] is None else round(row["cost_usd"], 2)
        print_table(
            rows,
            [
                "started_at",
                "territory",
                "mode",
                "status",
                "n_companies",
                "n_resumed",
                "n_not_due",
                "n_ok",
                "n_failed",
                "n_hot",
                "n_warm",
                "n_cold",
                "n_search_cached",
                "cost_usd",
                "cost_per_1k_usd",
                "cpu_ms_per_company",
                "run_id",
            ],
        )
    return EXIT_OK


def cmd_changes(args: argparse.Namespace) -> int:
    from domain.changes import changes_in

    with reader() as store:  # only the changes are kept, not every company's two results
        changes = changes_in(store.iter_result_pairs(args.territory, args.since))
    if args.format == "json":
        rows = [
            {
                "company": c.company,
                "old_tier": c.old_tier,
                "new_tier": c.new_tier,
                "old_score": c.old_score,
                "new_score": c.new_score,
                "appeared": c.appeared,
                "disappeared": c.disappeared,
                "summary": c.describe(),
            }
            for c in changes
        ]
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return EXIT_OK
    if not changes:
        print("(no changes)")
    width = max((len(c.company) for c in changes), default=0)
    for change in changes:
        print(f"{change.company:<{width}}  {change.describe()}")
    return EXIT_OK


def public_result(r: dict[str, Any]) -> dict[str, Any]:
    """A stored result as users see it (no passthrough columns, never a secret): the verdict
    in force (a reviewer's override first), its rank, and the model's own verdict."""
    signals = r.get("signals") or []
    ranks = {"rank": r.get("rank")}
    if "owner_rank" in r:
        ranks["owner_rank"] = r["owner_rank"]
    return ranks | {
        "territory": r["territory"],
        "company": r["company"],
        "domain": r["domain"],
        "tier": r["tier"],
        "score": r["score"],
        "confidence": r["confidence"],
        "status": r["status"],
        "error": r["error"],
        "reasoning": r["reasoning"],
        "signals": signals,
        "top_signal": signals[0]["excerpt"] if signals else None,
        "top_signal_url": signals[0]["url"] if signals else None,
        "signals_dropped": r["signals_dropped"],
        "evidence": r.get("evidence"),
        "rubric": r.get("rubric"),
        "model": r.get("model"),
        "cost_usd": r.get("cost_usd"),
        "run_id": r["run_id"],
        "updated_at": r["updated_at"],
        "overridden": bool(r.get("overridden")),
        "model_tier": r.get("model_tier", r["tier"]),
        "model_score": r.get("model_score", r["score"]),
        "model_confidence": r.get("model_confidence", r["confidence"]),
        "override_by": r.get("override_by"),
        "override_reason": r.get("override_reason"),
        "override_at": r.get("override_at"),
        "override_disputed": bool(r.get("override_disputed")),
    }


def passthrough(r: dict[str, Any], taken: Iterable[str]) -> dict[str, Any]:
    """The input's other columns, under their own names (`meta_` only if a name is taken, in
    any case: spreadsheets and CRMs take `Tier` and `tier` for one column)."""
    folded = {name.casefold() for name in taken}
    return {
        (f"meta_{k}" if k.casefold() in folded else k): v
        for k, v in (r.get("metadata") or {}).items()
    }


def passthrough_names(keys: list[str], taken: Iterable[str]) -> dict[str, str]:
    """Each passthrough key with the column name it gets beside the columns `taken`."""
    return dict(zip(keys, passthrough({"metadata": dict.fromkeys(keys)}, taken), strict=True))


def _public(r: dict[str, Any]) -> dict[str, Any]:
    """A result with its passthrough columns after the result fields."""
    out = public_result(r)
    return out | passthrough(r, out)
