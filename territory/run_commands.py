"""The commands that run the flow: run, rerun-failed, lookup, rescore, eval."""

from __future__ import annotations

import argparse
import os
import sys
from contextlib import ExitStack, nullcontext
from typing import Any, cast

from domain.accounts import InputError, read_accounts
from domain.costs import cost_line
from domain.errors import ConfigError, first_problem
from domain.export_footer import left_out
from flows.settings import load_settings
from storage.duckdb_store import RunConflictError, StoreError, TerritoryStore
from territory.console import (
    EXIT_BUSY,
    EXIT_OK,
    EXIT_STOPPED,
    EXIT_USAGE,
    READ_LOCK_WAIT,
    CliError,
    quote,
    text,
)
from territory.read_commands import reader


def _rubric_overrides(args: argparse.Namespace, settings: Any) -> dict[str, Any]:
    """The request fields for --rubric and --model, when given; the rubric that will be used
    is checked here, so a broken one fails in one line before any work."""
    from domain.rubric import load_rubric

    out: dict[str, Any] = {}
    load_rubric(args.rubric or settings.rubric_file)
    if getattr(args, "max_cost", None) is not None:
        if args.max_cost < 0:
            raise CliError("--max-cost must be 0 or more (USD)")
        out["max_cost"] = args.max_cost
    if args.rubric:
        out["rubric_file"] = os.path.abspath(args.rubric)
    if getattr(args, "model", None):
        out["llm_model"] = args.model
    return out


def cmd_run(args: argparse.Namespace) -> int:
    with ExitStack() as stack:
        settings = _prepare(stack, args.simulate)
        overrides = _rubric_overrides(args, settings)
        parsed = read_accounts(args.companies_csv)  # bad input fails here, before any work
        territory = args.territory or os.path.splitext(os.path.basename(args.companies_csv))[0]
        print(
            f"territory {territory!r}: {len(parsed.accounts)} companies"
            f" ({parsed.merged} duplicate rows merged{left_out(parsed.footer_lines)})",
            file=sys.stderr,
        )
        # The flow reads the file itself: this copy would stay in memory for the whole run
        # (67 MiB at 100,000 companies with two extra columns, measured).
        del parsed
        return _run_flow(
            companies_csv=os.path.abspath(args.companies_csv),
            territory=territory,
            refresh_cache=args.refresh,
            limit=args.limit,
            resume=args.resume,
            **overrides,
        )


def cmd_rerun_failed(args: argparse.Namespace) -> int:
    with ExitStack() as stack:
        settings = _prepare(stack, args.simulate)
        overrides = _rubric_overrides(args, settings)
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
        return _run_flow(
            territory=territory,
            rerun_failed=True,
            refresh_cache=args.refresh,
            **overrides,
        )


def cmd_lookup(args: argparse.Namespace) -> int:
    with ExitStack() as stack:
        settings = _prepare(stack, args.simulate)
        overrides = _rubric_overrides(args, settings)
        row = {"name": args.name, "domain": args.domain or ""}
        code = _run_flow(
            companies=[row],
            territory=args.territory,
            refresh_cache=args.refresh,
            quiet=True,
            **overrides,
        )
        from domain.names import normalize_name

        with TerritoryStore.open(
            settings.territory_db, read_only=True, lock_wait=READ_LOCK_WAIT
        ) as store:
            rows = store.latest_results(
                territory=args.territory, company_key=normalize_name(args.name)
            )
        for result in rows:
            _print_full(result)
        # A company that could not be classified is a failed lookup, for scripts as for people.
        if code == EXIT_OK and any(r["status"] != "ok" for r in rows):
            return EXIT_STOPPED
        return code


def cmd_rescore(args: argparse.Namespace) -> int:
    with ExitStack() as stack:
        settings = _prepare(stack, args.simulate)
        overrides = _rubric_overrides(args, settings)
        print(f"territory {args.territory!r}: re-scoring from stored searches", file=sys.stderr)
        return _run_flow(territory=args.territory, rescore=True, **overrides)


def cmd_eval(args: argparse.Namespace) -> int:
    from territory import evaluation

    if args.compare is not None or args.list:
        with reader() as store:
            print(
                evaluation.listing(store) if args.list else evaluation.compare(store, args.compare)
            )
        return EXIT_OK
    golden = _golden_set(args)  # bad input fails here, before any work
    with ExitStack() as stack:
        settings = _prepare(stack, args.simulate)
        overrides = _rubric_overrides(args, settings)
        territory = golden.territory
        rescore = False
        if settings.territory_db.exists():
            with TerritoryStore.open(
                settings.territory_db, read_only=True, lock_wait=READ_LOCK_WAIT
            ) as store:
                rescore = set(golden.expected) <= set(store.search_refs(territory))
        print(
            f"eval {golden.name}: {len(golden.accounts)} companies, "
            + ("re-scored from stored searches" if rescore else "researched"),
            file=sys.stderr,
        )
        if rescore:
            _run_flow(territory=territory, rescore=True, quiet=True, **overrides)
        else:
            rows = [{"name": a.name, "domain": a.domain or ""} for a in golden.accounts]
            _run_flow(companies=rows, territory=territory, resume=False, quiet=True, **overrides)
        with TerritoryStore.open(settings.territory_db, lock_wait=READ_LOCK_WAIT) as store:
            run = next(r for r in store.runs() if r["territory"] == territory)
            items, metrics = evaluation.score_golden(golden, store.latest_results(territory))
            model = overrides.get("llm_model") or settings.llm_model
            eval_id = evaluation.save(store, golden, run, items, metrics, model)
        print(evaluation.report(eval_id, golden, run, metrics, model))
    return EXIT_OK


def _golden_set(args: argparse.Namespace) -> Any:
    """The labels to score: the golden CSV's, reviewers' overrides (--with-overrides), or both
    (the overrides win)."""
    from territory import evaluation

    if args.territory and not args.with_overrides:
        raise CliError("--territory goes with --with-overrides (whose overrides are labels)")
    if not args.golden_csv and not args.with_overrides:
        raise CliError(
            "give a golden CSV (company, expected tier, optional domain), --with-overrides "
            "--territory NAME, or --compare"
        )
    golden = evaluation.read_golden(args.golden_csv) if args.golden_csv else None
    if not args.with_overrides:
        return golden
    source = args.territory or (golden.territory if golden else None)
    if source is None:
        raise CliError("--with-overrides without a golden CSV needs --territory")
    labels = []
    if golden is None or load_settings().territory_db.exists():
        with reader() as store:
            labels = store.override_labels(source)
    if not labels and golden is None:
        raise CliError(f"no overrides in territory {source!r} to use as labels")
    return evaluation.with_overrides(golden, labels, source)


# What the search cache knows the bundled Tavily simulator by (Settings.tavily_cache_name).
SIMULATOR_CACHE_NAME = "simulator"


def _prepare(stack: ExitStack, simulate: bool):
    """Validate configuration before any work; with --simulate, start the simulators first."""
    if simulate:
        from simulators.server import start_simulators

        sims = stack.enter_context(
            start_simulators(tavily_keys={"tvly-sim-key"}, llm_keys={"sk-sim-key"}, latency="demo")
        )
        os.environ.update(
            {
                "TAVILY_BASE_URL": sims.tavily_url,
                # Its port is new each time: the name keeps the runs' searches one cache.
                "TAVILY_CACHE_NAME": SIMULATOR_CACHE_NAME,
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
    from prefect.states import State
    from pydantic import ValidationError

    from flows.parameters import ResearchRequest
    from flows.territory_research import research_territory
    from territory.progress_line import progress_display, quiet_task_run_lines

    try:
        request = ResearchRequest(**parameters)
    except ValidationError as exc:
        raise CliError(first_problem(exc)[1]) from None
    quiet_task_run_lines()
    # A live line on a terminal (none for a quiet command); else Prefect's line per chunk.
    with progress_display(request.territory or "territory") if not quiet else nullcontext():
        state = cast(State, research_territory(request, return_state=True))
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
    raise CliError(message or "the run failed", code)


def _print_summary(s: dict[str, Any]) -> None:
    resumed = (
        f"\n{s['n_resumed']} more were already classified by the unfinished run before this "
        "one (not redone)"
        if s.get("n_resumed")
        else ""
    )
    print(
        f"\n{s['territory']}: {s['n_companies']} companies, {s['n_ok']} classified "
        f"(HOT {s['n_hot']}, WARM {s['n_warm']}, COLD {s['n_cold']}), "
        + (f"{s['n_ambiguous']} ambiguous (give a domain), " if s.get("n_ambiguous") else "")
        + f"{s['n_failed']} failed, "
        + (f"{s['n_not_due']} not due for a refresh, " if s.get("n_not_due") else "")
        + f"{s['n_search_cached']} searches from cache, {s['elapsed_seconds']}s{resumed}"
        f"\ncost {cost_line(s)}"
        f"\nrun {s['run_id']} {s['status']}"
        + (f": {s['message']}" if s.get("message") else "")
        + f"\nsee: territory results --territory {quote(s['territory'])}"
    )
    if s.get("n_overrides_disputed"):
        print(
            f"{s['n_overrides_disputed']} reviewers' overrides kept that this run's verdicts "
            "dispute (the `override` column of results)"
        )
    if s.get("changes"):
        print(f"\n{s['n_changed']} changed since the last run, most important first:")
        for line in s["changes"][:5]:
            print(f"  {line}")
        if s["n_changed"] > 5:
            print(f"  ... territory changes --territory {quote(s['territory'])}")


def _print_full(r: dict[str, Any]) -> None:
    print(f"{r['company']}" + (f" ({r['domain']})" if r.get("domain") else ""))
    if r["status"] != "ok":
        print(f"  status: {r['status']}: {r['error']}")
        answer = (r.get("evidence") or {}).get("last_answer")
        if answer:
            print(f"  the model's last answer: {' '.join(str(answer).split())[:300]}")
        return
    print(f"  tier: {r['tier']}  score: {r['score']}  confidence: {r['confidence']}")
    print(f"  reasoning: {r['reasoning']}")
    for s in r.get("signals") or []:
        dated = f" ({s['published']})" if s.get("published") else ""
        print(f"  - [{s['kind']}] {s['excerpt']}\n    {s['url']}{dated}")
    e = r.get("evidence") or {}
    if e:
        print(
            f"  evidence: {e.get('pages_read', 0)} pages from {e.get('domains_read', 0)} domains "
            f"read, {e.get('sources', 0)} independent sources, {r['signals_dropped']} excerpts "
            f"dropped, {e.get('set_aside', 0)} pages about namesakes set aside"
        )
    print(
        f"  rubric: {r['rubric']}  model: {r['model']}  run: {r['run_id']}  "
        f"updated: {text(r['updated_at'])}"
    )
