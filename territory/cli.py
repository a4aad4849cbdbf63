"""The `territory` command line: run, rerun-failed, lookup, results, runs."""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import sys
from collections.abc import Sequence
from contextlib import ExitStack
from datetime import date, datetime
from typing import Any

from storage.duckdb_store import RunConflictError, StoreError, TerritoryStore
from tasks.accounts import InputError, read_accounts
from territory.settings import ConfigError, load_settings

EXIT_OK, EXIT_STOPPED, EXIT_USAGE, EXIT_BUSY = 0, 1, 2, 3
READ_LOCK_WAIT = 30.0  # seconds a read waits while a run writes a chunk


class CliError(Exception):
    """A one-line problem to report, with its exit code."""

    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.code = code


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `territory` command."""
    args = _parser().parse_args(argv)
    # Offline-friendly: the local Prefect server would otherwise try to send telemetry.
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
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
        print("territory: interrupted; chunks already stored are kept", file=sys.stderr)
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="territory", description="Research a sales territory's need for GPU compute."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="research every company of a CSV")
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
    _simulate_flag(run)
    run.set_defaults(handler=_cmd_run)

    rerun = sub.add_parser(
        "rerun-failed", help="re-run the companies whose latest status is failed"
    )
    rerun.add_argument("--territory", help="territory (default: the most recently run one)")
    rerun.add_argument("--refresh", action="store_true", help="ignore cached searches")
    _simulate_flag(rerun)
    rerun.set_defaults(handler=_cmd_rerun_failed)

    lookup = sub.add_parser("lookup", help="research one company and print it in full")
    lookup.add_argument("name")
    lookup.add_argument("--domain")
    lookup.add_argument("--territory", default="lookups")
    lookup.add_argument("--refresh", action="store_true", help="ignore cached searches")
    _simulate_flag(lookup)
    lookup.set_defaults(handler=_cmd_lookup)

    results = sub.add_parser("results", help="the latest result per company")
    results.add_argument("--territory")
    results.add_argument("--tier", type=str.upper, choices=["HOT", "WARM", "COLD"])
    results.add_argument("--format", choices=["table", "csv", "json"], default="table")
    results.set_defaults(handler=_cmd_results)

    runs = sub.add_parser("runs", help="run history with counts")
    runs.add_argument("--format", choices=["table", "json"], default="table")
    runs.set_defaults(handler=_cmd_runs)
    return parser


def _simulate_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--simulate",
        action="store_true",
        help="use the bundled Tavily and LLM simulators (no keys, no network)",
    )


# -- commands that run the flow ------------------------------------------------------------


def _cmd_run(args: argparse.Namespace) -> int:
    with ExitStack() as stack:
        _prepare(stack, args.simulate)
        parsed = read_accounts(args.companies_csv)  # bad input fails here, before any work
        territory = args.territory or os.path.splitext(os.path.basename(args.companies_csv))[0]
        print(
            f"territory {territory!r}: {len(parsed.accounts)} companies"
            f" ({parsed.merged} duplicate rows merged)",
            file=sys.stderr,
        )
        return _run_flow(
            companies_csv=os.path.abspath(args.companies_csv),
            territory=territory,
            refresh_cache=args.refresh,
            limit=args.limit,
            resume=args.resume,
        )


def _cmd_rerun_failed(args: argparse.Namespace) -> int:
    with ExitStack() as stack:
        settings = _prepare(stack, args.simulate)
        territory = args.territory
        with TerritoryStore.open(
            settings.territory_db, read_only=True, lock_wait=READ_LOCK_WAIT
        ) as store:
            if territory is None:
                history = store.runs(limit=1)
                if not history:
                    raise CliError("no runs recorded yet; nothing to re-run")
                territory = history[0]["territory"]
            failed = store.failed_companies(territory)
        if not failed:
            print(f"territory {territory!r}: no failed companies", file=sys.stderr)
            return EXIT_OK
        print(
            f"territory {territory!r}: re-running {len(failed)} failed companies", file=sys.stderr
        )
        return _run_flow(territory=territory, rerun_failed=True, refresh_cache=args.refresh)


def _cmd_lookup(args: argparse.Namespace) -> int:
    with ExitStack() as stack:
        settings = _prepare(stack, args.simulate)
        row = {"name": args.name, "domain": args.domain or ""}
        code = _run_flow(
            companies=[row], territory=args.territory, refresh_cache=args.refresh, quiet=True
        )
        from tasks.accounts import normalize_name

        with TerritoryStore.open(
            settings.territory_db, read_only=True, lock_wait=READ_LOCK_WAIT
        ) as store:
            rows = store.latest_results(
                territory=args.territory, company_key=normalize_name(args.name)
            )
        for result in rows:
            _print_full(result)
        return code


def _prepare(stack: ExitStack, simulate: bool):
    """Validate configuration before any work; with --simulate, start the simulators first."""
    if simulate:
        from territory.simulators.server import start_simulators

        sims = stack.enter_context(
            start_simulators(tavily_keys={"tvly-sim-key"}, llm_keys={"sk-sim-key"}, latency="demo")
        )
        os.environ.update(
            {
                "TAVILY_BASE_URL": sims.tavily_url,
                "TAVILY_API_KEY": "tvly-sim-key",
                "LLM_BASE_URL": sims.llm_url,
                "LLM_API_KEY": "sk-sim-key",
                "LLM_MODEL": os.environ.get("LLM_MODEL", "simulated-model"),
            }
        )
        print(f"simulators: Tavily {sims.tavily_url}, LLM {sims.llm_url}", file=sys.stderr)
    settings = load_settings()
    if settings.keys_missing:
        from flows.secrets import fill_keys_from_blocks

        settings = fill_keys_from_blocks(settings)
    settings.require_keys()
    return settings


def _run_flow(quiet: bool = False, **parameters: Any) -> int:
    from pydantic import ValidationError

    from flows.parameters import ResearchRequest
    from flows.territory_research import research_territory

    try:
        request = ResearchRequest(**parameters)
    except ValidationError as exc:
        raise CliError(str(exc.errors()[0]["msg"]).removeprefix("Value error, ")) from None
    _quiet_task_run_lines()
    state = research_territory(request, return_state=True)
    # The summary dict (also carried by a stopped run's Failed state), or the exception.
    summary = state.result(raise_on_failure=False) if state.data is not None else None
    if isinstance(summary, dict) and not quiet:
        _print_summary(summary)
    if state.is_completed():
        return EXIT_OK
    message = state.message or state.name
    if isinstance(summary, BaseException):
        message = str(summary) or type(summary).__name__
    if isinstance(summary, RunConflictError):
        code = EXIT_BUSY
    elif isinstance(summary, (InputError, ConfigError, StoreError)):
        code = EXIT_USAGE
    else:
        code = EXIT_STOPPED
    raise CliError(message, code)


def _quiet_task_run_lines() -> None:
    """Keep the terminal to one line per chunk: per-task state lines still reach the Prefect API."""
    import logging

    from prefect.logging.configuration import ensure_logging_setup

    ensure_logging_setup()

    def routine(record: logging.LogRecord) -> bool:
        text = record.getMessage()
        return not (record.name == "prefect.task_runs" and text.startswith("Finished in state"))

    for handler in logging.getLogger("prefect").handlers:
        if isinstance(handler, logging.StreamHandler) and not hasattr(handler, "_territory"):
            handler.addFilter(routine)
            handler._territory = True  # type: ignore[attr-defined]


def _print_summary(s: dict[str, Any]) -> None:
    resumed = (
        f"\n{s['n_resumed']} more were already classified by the unfinished run before this "
        "one (not redone)"
        if s.get("n_resumed")
        else ""
    )
    print(
        f"\n{s['territory']}: {s['n_companies']} companies, {s['n_ok']} classified "
        f"(HOT {s['n_hot']}, WARM {s['n_warm']}, COLD {s['n_cold']}), {s['n_failed']} failed, "
        f"{s['n_search_cached']} searches from cache, {s['elapsed_seconds']}s{resumed}"
        f"\nrun {s['run_id']} {s['status']}"
        + (f": {s['message']}" if s.get("message") else "")
        + f"\nsee: territory results --territory {_quote(s['territory'])}"
    )


def _print_full(r: dict[str, Any]) -> None:
    print(f"{r['company']}" + (f" ({r['domain']})" if r.get("domain") else ""))
    if r["status"] != "ok":
        print(f"  status: failed: {r['error']}")
        return
    print(f"  tier: {r['tier']}  score: {r['score']}  confidence: {r['confidence']}")
    print(f"  reasoning: {r['reasoning']}")
    for s in r.get("signals") or []:
        print(f"  - [{s['kind']}] {s['excerpt']}\n    {s['url']}")
    print(f"  model: {r['model']}  run: {r['run_id']}  updated: {_text(r['updated_at'])}")


# -- commands that read the database --------------------------------------------------------


def _cmd_results(args: argparse.Namespace) -> int:
    settings = load_settings()
    with TerritoryStore.open(
        settings.territory_db, read_only=True, lock_wait=READ_LOCK_WAIT
    ) as store:
        rows = [_public(r) for r in store.latest_results(territory=args.territory, tier=args.tier)]
    if args.format == "json":
        print(json.dumps(rows, ensure_ascii=False, indent=2, default=_text))
    elif args.format == "csv":
        _write_csv(rows)
    else:
        _print_table(
            rows,
            [
                "territory",
                "company",
                "domain",
                "tier",
                "score",
                "confidence",
                "status",
                "top_signal",
            ],
        )
    return EXIT_OK


def _cmd_runs(args: argparse.Namespace) -> int:
    settings = load_settings()
    with TerritoryStore.open(
        settings.territory_db, read_only=True, lock_wait=READ_LOCK_WAIT
    ) as store:
        rows = store.runs()
    if args.format == "json":
        print(json.dumps(rows, ensure_ascii=False, indent=2, default=_text))
    else:
        _print_table(
            rows,
            [
                "started_at",
                "territory",
                "mode",
                "status",
                "n_companies",
                "n_resumed",
                "n_ok",
                "n_failed",
                "n_hot",
                "n_warm",
                "n_cold",
                "n_search_cached",
                "run_id",
            ],
        )
    return EXIT_OK


def _public(r: dict[str, Any]) -> dict[str, Any]:
    """A result as users see it: passthrough columns at the top level, secrets never present."""
    signals = r.get("signals") or []
    out = {
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
        "run_id": r["run_id"],
        "updated_at": r["updated_at"],
    }
    for key, value in (r.get("metadata") or {}).items():
        out[f"meta_{key}" if key in out else key] = value  # never shadow a result field
    return out


def _write_csv(rows: list[dict[str, Any]]) -> None:
    columns: list[str] = []
    for row in rows:
        columns.extend(k for k in row if k not in columns)
    writer = csv.DictWriter(sys.stdout, fieldnames=columns or ["company"], lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(
            {
                k: json.dumps(v, ensure_ascii=False) if isinstance(v, list) else _text(v)
                for k, v in row.items()
            }
        )


def _print_table(rows: list[dict[str, Any]], columns: list[str]) -> None:
    if not rows:
        print("(nothing stored yet)")
        return
    cells = [[_clip(_text(r.get(c))) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    out = io.StringIO()
    out.write("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip() + "\n")
    for row in cells:
        out.write("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() + "\n")
    sys.stdout.write(out.getvalue())


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _clip(text: str, width: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _quote(text: str) -> str:
    return text if text.replace("-", "").replace("_", "").isalnum() else json.dumps(text)


if __name__ == "__main__":
    sys.exit(main())
