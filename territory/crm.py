"""`territory crm push`: a territory's verdicts into HubSpot or Salesforce, and the
`--format crm-import` file for teams that import by hand."""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path
from typing import Any

from domain.crm import TARGETS, as_text, property_values, record_id
from domain.errors import FatalProviderError
from territory.console import EXIT_OK, EXIT_STOPPED, CliError, print_table
from territory.files import replacing

SHOWN_PROBLEMS = 20  # failed/unmatched records listed after a push


def add_parser(sub: argparse._SubParsersAction) -> None:
    """The `crm` command and its `push` subcommand."""
    crm = sub.add_parser("crm", help="write verdicts into HubSpot or Salesforce (fields we own)")
    actions = crm.add_subparsers(dest="crm_command", required=True)
    push = actions.add_parser(
        "push", help="match each company to its CRM record and write our fields to it"
    )
    push.add_argument("--territory", required=True)
    push.add_argument("--target", required=True, choices=TARGETS)
    push.add_argument(
        "--dry-run", action="store_true", help="show (and write as CSV) the diff; send nothing"
    )
    push.add_argument(
        "--only-changed", action="store_true", help="send only properties whose value differs"
    )
    push.add_argument(
        "--create-missing",
        action="store_true",
        help="create a record for a company with no CRM id and no domain match",
    )
    push.add_argument(
        "--retry-failed", action="store_true", help="only the records the last push failed"
    )
    push.add_argument(
        "--diff",
        metavar="FILE.csv",
        help="where --dry-run writes the diff (default: crm-diff-<territory>-<target>.csv)",
    )
    push.set_defaults(handler=cmd_push)


def cmd_push(args: argparse.Namespace) -> int:
    """Push (or with --dry-run, show) and report each record's outcome."""
    from flows.crm_push import run_push, summary
    from flows.crm_sync import PushOptions
    from flows.settings import load_settings

    options = PushOptions(args.dry_run, args.only_changed, args.create_missing, args.retry_failed)

    def note(line: str) -> None:
        print(f"crm push: {line}", file=sys.stderr)

    try:
        report = run_push(load_settings(), args.territory, args.target, options, note=note)
    except FatalProviderError as exc:
        raise CliError(f"{exc}; records not written are stored as failed", EXIT_STOPPED) from None
    if args.dry_run:
        rows = report.diff_rows()
        out = Path(args.diff or f"crm-diff-{_slug(args.territory)}-{args.target}.csv")
        _write_diff(out, rows)
        if rows:
            columns = ["company", "record_id", "matched_by", "property", "crm_now", "to_write"]
            print_table(rows, columns)
        else:
            print("(no property would be written)")
        print(f"{summary(report)}; nothing sent; diff -> {out}", file=sys.stderr)
        return EXIT_OK
    problems = [r for r in report.records if r.status in ("failed", "unmatched")]
    if problems:
        print_table(
            [{"company": r.company, "status": r.status, "reason": r.reason} for r in problems][
                :SHOWN_PROBLEMS
            ],
            ["company", "status", "reason"],
        )
    print(summary(report), file=sys.stderr)
    failed = sum(r.status == "failed" for r in report.records)
    if failed:
        raise CliError(
            f"{failed} record(s) failed; `territory crm push --territory {args.territory} "
            f"--target {args.target} --retry-failed` sends them again",
            EXIT_STOPPED,
        )
    return EXIT_OK


def _write_diff(out: Path, rows: list[dict[str, Any]]) -> None:
    columns = ["company", "record_id", "matched_by", "property", "crm_now", "to_write"]
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with replacing(out) as tmp, tmp.open("w", newline="", encoding="utf-8-sig") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(columns)
            writer.writerows([[_text(r[c]) for c in columns] for r in rows])
    except OSError as exc:
        raise CliError(f"{out}: cannot write the diff ({exc.strerror or exc})") from None


def import_rows(
    results: list[dict[str, Any]], target: str, mapping_file: Path | None
) -> tuple[list[str], list[list[str]]]:
    """The crm-import file: the record id, name (and for HubSpot domain) columns an import
    matches on, then our mapped properties; companies with a verdict only."""
    from domain.crm import load_mapping

    mapping = load_mapping(target, mapping_file)
    head = (
        ["Record ID", "Company name", "Company Domain Name"]
        if target == "hubspot"
        else ["Id", "Name"]
    )
    rows = []
    for r in results:
        if r.get("tier") is None:
            continue
        values = property_values(r, mapping)
        keys = [record_id(r, mapping) or "", r["company"]]
        if target == "hubspot":
            keys.append(r.get("domain") or "")
        rows.append(keys + [_text(v) for v in values.values()])
    return head + mapping.property_names, rows


def _text(value: Any) -> str:
    text = as_text(value) if not isinstance(value, str) else value
    # A cell starting like a formula stays text when a spreadsheet opens the file.
    return "'" + text if text.startswith(("=", "+", "-", "@")) else text


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in name).strip("-") or "territory"
