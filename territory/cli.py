"""The `territory` command line: run, rerun-failed, lookup, rescore, eval, results, runs,
changes, export, report, override, review, alerts, crm. Each command's work lives in
territory/run_commands.py, read_commands.py, review_commands.py, alerts.py, export.py or
report.py."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from domain.accounts import InputError
from domain.errors import ConfigError
from domain.models import TIERS
from flows.allocator import hand_back_large_blocks
from flows.collector import collect_less_often
from storage.duckdb_store import RunConflictError, StoreError
from territory.console import EXIT_BUSY, EXIT_OK, EXIT_USAGE, CliError
from territory.read_commands import cmd_changes, cmd_results, cmd_runs
from territory.run_commands import (
    cmd_eval,
    cmd_lookup,
    cmd_rerun_failed,
    cmd_rescore,
    cmd_run,
)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `territory` command."""
    args = _parser().parse_args(argv)
    # Offline-friendly: the local Prefect server would otherwise try to send telemetry.
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    # A first run migrates a fresh Prefect database before the flow starts; Prefect's 20 s
    # for that timed out on this 2-core machine while another process was busy (a traceback
    # instead of a run). Waiting longer costs nothing when it is quick.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    hand_back_large_blocks()  # a run's or an export's freed buffers leave its memory
    collect_less_often()  # the cyclic collector's walks cost 6% of a run's CPU (flows/collector.py)
    try:
        return args.handler(args)
    except CliError as exc:
        print(f"territory: {exc}", file=sys.stderr)
        return exc.code
    except RunConflictError as exc:
        print(f"territory: {exc}", file=sys.stderr)
        return EXIT_BUSY
    except (ConfigError, InputError, StoreError) as exc:
        print(f"territory: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("territory: interrupted; companies already classified are kept", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`territory changes ... | head`): nothing more to say. Point
        # stdout at /dev/null so the interpreter's final flush does not fail as well.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="territory", description="Research a sales territory's need for GPU compute."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="research every company of a CSV (or an .xlsx workbook)")
    run.add_argument("companies_csv", metavar="COMPANIES.csv")
    run.add_argument("--territory", help="territory name (default: the CSV file's name)")
    run.add_argument("--refresh", action="store_true", help="ignore cached searches")
    run.add_argument("--limit", type=int, metavar="N", help="research only the first N companies")
    run.add_argument(
        "--no-resume",
        dest="resume",
        action="store_false",
        help="redo every company even if the territory's last run stopped part-way",
    )
    _rubric_flags(run)
    _cost_flag(run)
    _simulate_flag(run)
    run.set_defaults(handler=cmd_run)

    rerun = sub.add_parser(
        "rerun-failed", help="re-run the companies whose latest status is failed"
    )
    rerun.add_argument("--territory", help="territory (default: the most recently run one)")
    rerun.add_argument("--refresh", action="store_true", help="ignore cached searches")
    _rubric_flags(rerun)
    _cost_flag(rerun)
    _simulate_flag(rerun)
    rerun.set_defaults(handler=cmd_rerun_failed)

    lookup = sub.add_parser("lookup", help="research one company and print it in full")
    lookup.add_argument("name")
    lookup.add_argument("--domain")
    lookup.add_argument("--territory", default="lookups")
    lookup.add_argument("--refresh", action="store_true", help="ignore cached searches")
    _rubric_flags(lookup)
    _simulate_flag(lookup)
    lookup.set_defaults(handler=cmd_lookup)

    rescore = sub.add_parser(
        "rescore", help="re-classify a territory from stored search content (no Tavily)"
    )
    rescore.add_argument("--territory", required=True)
    _rubric_flags(rescore)
    _cost_flag(rescore)
    _simulate_flag(rescore)
    rescore.set_defaults(handler=cmd_rescore)

    _reading_commands(sub)
    from territory.alerts import add_parser as add_alerts

    add_alerts(sub)
    from territory.crm import add_parser as add_crm

    add_crm(sub)
    return parser


def _reading_commands(sub: argparse._SubParsersAction) -> None:
    """The commands that read what runs stored: changes, eval, export, report, results, runs."""
    changes = sub.add_parser("changes", help="what moved: tiers, scores, signals")
    changes.add_argument("--territory", required=True)
    changes.add_argument(
        "--since", metavar="RUN", help="compare with the territory as of this run (id or prefix)"
    )
    changes.add_argument("--format", choices=["table", "json"], default="table")
    changes.set_defaults(handler=cmd_changes)

    evaluate = sub.add_parser(
        "eval", help="score a labelled golden set; keep and compare the results"
    )
    evaluate.add_argument("golden_csv", metavar="GOLDEN.csv", nargs="?")
    evaluate.add_argument(
        "--compare",
        nargs="*",
        metavar="EVAL",
        help="show two stored evals side by side (default: the latest two of one golden set)",
    )
    evaluate.add_argument("--list", action="store_true", help="list the stored evals")
    evaluate.add_argument(
        "--with-overrides",
        action="store_true",
        help="reviewers' overrides as labels too (they win over the CSV's); without a CSV, "
        "the overrides of --territory alone",
    )
    evaluate.add_argument(
        "--territory",
        help="with --with-overrides: the territory whose overrides are labels "
        "(default: the golden set's own, eval-<file name>)",
    )
    _rubric_flags(evaluate)
    _simulate_flag(evaluate)
    evaluate.set_defaults(handler=cmd_eval)
    _file_commands(sub)

    results = sub.add_parser("results", help="the latest result per company")
    results.add_argument("--territory")
    results.add_argument("--tier", type=str.upper, choices=TIERS)
    results.add_argument("--format", choices=["table", "csv", "json"], default="table")
    _by_flag(results)
    results.set_defaults(handler=cmd_results)

    runs = sub.add_parser("runs", help="run history with counts")
    runs.add_argument("--format", choices=["table", "json"], default="table")
    runs.set_defaults(handler=cmd_runs)
    _review_commands(sub)


def _file_commands(sub: argparse._SubParsersAction) -> None:
    """The commands that write a territory to a file: export, report."""
    export = sub.add_parser(
        "export", help="write a territory's latest results to CSV, Parquet or JSON (for a CRM)"
    )
    export.add_argument("out", metavar="OUT", help="file to write (.csv, .parquet or .json)")
    export.add_argument("--territory", required=True)
    export.add_argument(
        "--format",
        choices=["csv", "parquet", "json", "crm-import"],
        help="default: from OUT's extension; crm-import: our CRM fields for a HubSpot or "
        "Salesforce import (with --target)",
    )
    export.add_argument(
        "--target", choices=["hubspot", "salesforce"], help="with --format crm-import"
    )
    _by_flag(export)
    export.set_defaults(handler=_cmd_export)

    report = sub.add_parser(
        "report", help="write a self-contained HTML report of a territory (charts, changes, table)"
    )
    report.add_argument("out", metavar="OUT.html")
    report.add_argument("--territory", required=True)
    _by_flag(report)
    report.set_defaults(handler=_cmd_report)


def _review_commands(sub: argparse._SubParsersAction) -> None:
    """The commands that record reviewers' verdicts: override, review."""
    override = sub.add_parser(
        "override", help="set a company's tier by hand (kept across refreshes), or --clear it"
    )
    override.add_argument("company", metavar="COMPANY", help="the company's name, as in results")
    override.add_argument("--territory", required=True)
    override.add_argument("--tier", type=str.upper, choices=TIERS)
    override.add_argument("--score", type=int, metavar="N", help="0-100 (optional)")
    override.add_argument("--reason", help="why (required with --tier)")
    override.add_argument("--by", metavar="NAME", help="who (default: your user name)")
    override.add_argument(
        "--clear", action="store_true", help="end the override: the model's verdict counts again"
    )
    override.set_defaults(handler=_cmd_override)

    review = sub.add_parser(
        "review", help="write the companies worth a human look, or apply a filled-in review file"
    )
    what = review.add_mutually_exclusive_group(required=True)
    what.add_argument("--export", metavar="FILE.csv", help="write the review file")
    what.add_argument(
        "--import", dest="import_file", metavar="FILE.csv", help="apply a filled-in review file"
    )
    review.add_argument("--territory", help="required with --export; --import reads the file's")
    review.add_argument(
        "--by", metavar="NAME", help="--import: who, for rows without review_by (default: you)"
    )
    review.set_defaults(handler=_cmd_review)


def _by_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--by",
        choices=["territory", "owner"],
        default="territory",
        help="rank within the territory (default) or within each owner's book (needs an owner "
        "column: owner, account_owner, owner_name or rep)",
    )


def _cost_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--max-cost",
        type=float,
        metavar="USD",
        help="stop starting new work once this much (Tavily + LLM) would be exceeded",
    )


def _rubric_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--rubric",
        metavar="FILE",
        help="scoring rubric (TOML; default: RUBRIC_FILE or the bundled one)",
    )
    parser.add_argument("--model", metavar="M", help="LLM model (default: LLM_MODEL)")


def _simulate_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--simulate",
        action="store_true",
        help="use the bundled Tavily and LLM simulators (no keys, no network)",
    )


def _cmd_export(args: argparse.Namespace) -> int:
    from territory.export import cmd_export

    return cmd_export(args)


def _cmd_report(args: argparse.Namespace) -> int:
    from territory.report import cmd_report

    return cmd_report(args)


def _cmd_override(args: argparse.Namespace) -> int:
    from territory.review_commands import cmd_override

    return cmd_override(args)


def _cmd_review(args: argparse.Namespace) -> int:
    from territory.review_commands import cmd_review

    return cmd_review(args)


if __name__ == "__main__":
    sys.exit(main())
