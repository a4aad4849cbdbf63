"""A run's context: its settings, rubric, store, run row and accounts, validated and opened
once at the start and handed down as one object."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from prefect import get_run_logger, runtime

from domain.accounts import Account
from domain.export_footer import left_out
from domain.refresh import RefreshPolicy
from domain.rubric import Rubric, load_rubric
from flows.parameters import ResearchRequest
from flows.secrets import fill_keys_from_blocks
from flows.settings import Settings, load_settings
from flows.sources import load_accounts, parse_given
from storage.duckdb_store import TerritoryStore


@dataclass(frozen=True)
class RunContext:
    """Everything one run works from, once its run row exists."""

    request: ResearchRequest
    settings: Settings
    rubric: Rubric
    store: TerritoryStore
    run_id: str
    territory: str
    accounts: list[Account]  # still to research (an unfinished run's work is not redone)

    def take_accounts(self) -> list[Account]:
        """The accounts, handed over once: the run lets go of each chunk's accounts as it
        opens it, so nothing else may keep the list (100,000 accounts: about 60 MiB)."""
        taken = list(self.accounts)
        self.accounts.clear()
        return taken


def start_run(request: ResearchRequest) -> RunContext:
    """Settings, rubric, accounts and a run row; what an unfinished run did is not redone."""
    settings = load_settings(**request.settings_overrides())
    if settings.keys_missing:
        settings = fill_keys_from_blocks(settings)
    settings.require_keys()
    rubric = load_rubric(settings.rubric_file)
    given = parse_given(request)  # a bad file is refused before the database is touched
    # Each store call takes the file briefly, so other runs and readers share it; the run's
    # opening reads and writes take it once, with the check of the file.
    with TerritoryStore.opened(settings.territory_db) as store:
        territory, accounts, n_rows, n_merged = load_accounts(store, request, given)
        parameters = request.model_dump(exclude={"companies"}) | {
            "territory": territory,
            "rubric": rubric.label,
            "settings": settings.public_dict(),
        }
        run_id = store.start_run(
            territory,
            request.mode,
            parameters,
            _flow_run_id(),
            n_rows,
            n_merged,
            len(accounts),
            only_company=accounts[0].key if len(accounts) == 1 else None,
        )
        try:
            window = RefreshPolicy.of(rubric.refresh, settings.search_cache_ttl).shortest
            todo = _skip_done(store, run_id, territory, accounts, request, window)
        except BaseException as exc:
            store.finish_run(run_id, "failed", f"{type(exc).__name__}: {exc}"[:500])
            raise
    get_run_logger().info(
        "run %s: %d companies in territory %r (%d duplicate rows merged%s%s)",
        run_id,
        len(accounts),
        territory,
        n_merged,
        left_out(given.footer_lines if given else 0),
        f"; {len(accounts) - len(todo)} already classified by an unfinished run, not redone"
        if len(todo) < len(accounts)
        else "",
    )
    return RunContext(request, settings, rubric, store, run_id, territory, todo)


def _skip_done(
    store: TerritoryStore,
    run_id: str,
    territory: str,
    accounts: list[Account],
    request: ResearchRequest,
    window: timedelta,
) -> list[Account]:
    """The accounts still to research: a crashed or stopped run is picked up where it ended.

    Companies this flow run already classified (a retry) are skipped, and so, unless the run
    refreshes or is told not to resume, are those classified by unfinished runs of the
    territory since its last completed run, as long as that work is younger than `window`
    (the shortest refresh window: older work is refreshed like any other).
    """
    resume = request.resume and not request.refresh_cache and request.mode == "full"
    since = datetime.now(UTC) - window if resume else None
    done = store.carried_over(run_id, territory, since)
    todo = [a for a in accounts if a.key not in done]
    if len(todo) < len(accounts):
        store.set_carried_over(run_id, len(accounts) - len(todo))
    return todo


def _flow_run_id() -> str | None:
    value = runtime.flow_run.id
    return str(value) if value else None
