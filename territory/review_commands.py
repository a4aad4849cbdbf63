"""`territory override` and `territory review`: reviewers' verdicts, one at a time or from a
review file; they are kept beside the model's and win over it wherever results are shown."""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path
from typing import Any

from domain.review import (
    OverrideRequest,
    check_score,
    read_review,
    review_columns,
    review_reasons,
)
from flows.settings import load_settings
from storage.duckdb_store import StoreError, TerritoryStore
from territory.console import EXIT_OK, READ_LOCK_WAIT, CliError
from territory.export import write_csv
from territory.read_commands import passthrough, public_result, reader


def writer() -> TerritoryStore:
    """The territory database, opened to record overrides (it must exist: runs made it)."""
    path = load_settings().territory_db
    if not path.exists():
        raise StoreError(f"no database at {path} yet; run `territory run` first")
    return TerritoryStore.open(path, lock_wait=READ_LOCK_WAIT)


def reviewer(given: str | None) -> str:
    """Who is making the override: --by, else the account running the command."""
    if given and given.strip():
        return given.strip()
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no user name in the environment or the password database
        return "unknown"


def cmd_override(args: argparse.Namespace) -> int:
    """Set (or clear) one company's verdict; the model's stays stored beside it."""
    if args.clear:
        if args.tier or args.score is not None:
            raise CliError("--clear takes no --tier or --score")
        request = OverrideRequest(args.company, "clear", reason=args.reason, by=reviewer(args.by))
    else:
        if not args.tier:
            raise CliError("give --tier HOT, WARM or COLD (or --clear to end an override)")
        if not (args.reason or "").strip():
            raise CliError("give --reason: why the verdict should be otherwise")
        try:
            score = check_score(args.score)
        except ValueError as exc:
            raise CliError(f"--score: {exc}") from None
        request = OverrideRequest(
            args.company, "set", args.tier, score, args.reason.strip(), reviewer(args.by)
        )
    with writer() as store:
        stored = store.save_overrides(args.territory, [request], source="cli")
    if not stored:
        print(f"override: {args.company!r} in {args.territory!r} has no override; nothing changed")
        return EXIT_OK
    print(describe(stored[0]))
    return EXIT_OK


def describe(row: dict[str, Any]) -> str:
    """One line for a stored override row: what is in force now, and what the model said."""
    model = row["model_tier"] or row["model_status"]
    if row["model_score"] is not None:
        model += f" {row['model_score']}, {row['model_confidence']} confidence"
    where = f"{row['company']} in {row['territory']!r}"
    if row["action"] == "clear":
        return f"override cleared: {where} is back to the model's verdict ({model})"
    score = f" (score {row['score']})" if row["score"] is not None else ""
    return (
        f"override: {where} is {row['tier']}{score}, by {row['set_by']}: {row['reason']} "
        f"(the model says {model})"
    )


def cmd_review(args: argparse.Namespace) -> int:
    """Write the companies worth a human look, or apply what a reviewer filled in."""
    if args.export:
        return export_review(args.territory, Path(args.export))
    return import_review(args.import_file, args.territory, reviewer(args.by))


def export_review(territory: str | None, out: Path) -> int:
    """Write the review file of a territory's companies worth a look (why in a column)."""
    if not territory:
        raise CliError("--export needs --territory")
    with reader() as store:
        rows = store.effective_results(territory=territory)
        before = {c["company_key"]: b["tier"] for c, b in store.result_pairs(territory) if b}
    if not rows:
        raise CliError(f"territory {territory!r} has no results to review")
    listed = []
    for row in rows:
        why = review_reasons(row, before.get(row["company_key"]))
        if why:
            listed.append(review_row(row, "; ".join(why), before.get(row["company_key"])))
    extra: list[str] = []
    for item in listed:
        extra.extend(k for k in item["passthrough"] if k not in extra)
    columns = review_columns(extra)
    flat = [item["row"] | item["passthrough"] for item in listed]
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        write_csv(out, flat, columns)
    except OSError as exc:
        raise CliError(f"{out}: cannot write the file ({exc.strerror or exc})") from None
    print(
        f"review: {len(listed)} of {len(rows)} companies of {territory!r} worth a look -> {out}; "
        "fill in review_tier (HOT, WARM, COLD or CLEAR), review_reason and optionally "
        f"review_score and review_by, then: territory review --import {out}",
        file=sys.stderr,
    )
    return EXIT_OK


def review_row(row: dict[str, Any], why: str, previous_tier: str | None) -> dict[str, Any]:
    """One company's line of the review file: the verdict in force, the model's, and why."""
    public = public_result(row)
    cells = {
        c: public.get(c)
        for c in review_columns([])
        if c in public and c not in ("previous_tier", "why")
    }
    cells |= {"why": why, "previous_tier": previous_tier}
    return {"row": cells, "passthrough": passthrough(row, review_columns([]))}


def import_review(path: str, territory: str | None, by: str) -> int:
    """Apply the rows a reviewer filled in: all of them, or none if one is bad."""
    review = read_review(path, territory, by)
    if review.requests:
        try:
            with writer() as store:
                stored = store.save_overrides(review.territory, review.requests, review.source)
        except StoreError as exc:
            raise CliError(f"{exc}; nothing applied") from None
    else:
        stored = []
    print(f"review: {review.describe(stored)}", file=sys.stderr)
    return EXIT_OK
