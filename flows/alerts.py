"""Tier-change alerts: when a run ends, one Prefect event per company whose tier moved and one
summary event of the run, for automations to turn into Slack or webhook messages (see
automations/ and `territory alerts install`)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from domain.alerts import (
    MAX_MOVE_EVENTS,
    RUN_COMPLETED,
    TIER_CHANGED,
    TierMove,
    company_resource,
    move_event_id,
    move_payload,
    run_resource,
    summary_event_id,
    summary_payload,
    territory_related,
    tier_moves,
)
from domain.changes import ResultPair, RunNews, news_of
from domain.verdicts import effective_verdict
from flows.events import EventSink, OutgoingEvent, PrefectEvents
from storage.duckdb_store import TerritoryStore


def read_run_news(store: TerritoryStore, territory: str, run_id: str) -> RunNews:
    """The run's news among the territory's result pairs (`news_of`), read a batch at a time
    inside the caller's session: the others are never held."""
    return news_of(store.iter_result_pairs(territory), run_id)


def read_tier_pairs(store: TerritoryStore, territory: str, news: RunNews) -> list[ResultPair]:
    """The tiers alerts compare, per company whose tier the run moved (`news.moved`):
    its latest result and the one before (rows with company_key, company, tier, score,
    confidence, signals, run_id), each with the verdict in force. The override in force now
    stands on both sides: a reviewer's own override is no news to them, and a model moving
    under an override moves nothing a rep acts on (the run's summary lists the overrides it
    now disputes)."""
    in_force = store.overrides_in_force(territory)
    return [
        (_with_override(now, in_force.get(now["company_key"])), before and
         _with_override(before, in_force.get(now["company_key"])))
        for now, before in news.moved
    ]  # fmt: skip


def _with_override(row: dict[str, Any], override: dict[str, Any] | None) -> dict[str, Any]:
    """A classified result row with the override's tier and score in force, if there is one."""
    if override is None:
        return row
    verdict = effective_verdict({**row, "status": "ok"}, override)
    return {**row, "tier": verdict.tier, "score": verdict.score}


@dataclass(frozen=True)
class Announced:
    """What a run's alerts said: moves found, tier-changed events sent, new companies."""

    moves: int
    sent: int
    new: int


def announce_run(
    store: TerritoryStore,
    run: dict[str, Any],
    sink: EventSink,
    flow_run: dict[str, str] | None = None,
    news: RunNews | None = None,
) -> Announced:
    """Emit a tier-changed event per move this run made (most important first, at most
    MAX_MOVE_EVENTS) and the run's summary event. `run` is the finished run's row; `news`
    the run's news among its territory's result pairs, if already read."""
    territory, run_id = run["territory"], run["run_id"]
    with store.session():  # one brief hold of the file for the reads
        if news is None:
            news = read_run_news(store, territory, run_id)
        moves, _ = tier_moves(read_tier_pairs(store, territory, news), run_id)
        n_new = news.n_new  # counted as read: the new companies are not all kept
        details = store.results_of(territory, [m.key for m in moves])
    # The pairs' tier and score win; the full row adds the domain, owner and reasoning.
    moves = [TierMove({**details.get(m.key, {}), **m.current}, m.before) for m in moves]
    payloads = [move_payload(m, territory, run_id) for m in moves]
    related = [territory_related(territory)]
    if flow_run:
        related.append(
            {
                "prefect.resource.id": f"prefect.flow-run.{flow_run['id']}",
                "prefect.resource.name": flow_run.get("name", ""),
                "prefect.resource.role": "flow-run",
            }
        )
    sent = payloads[:MAX_MOVE_EVENTS]
    for payload in sent:
        resource = company_resource(payload)
        sink.emit(OutgoingEvent(TIER_CHANGED, resource, related, payload, move_event_id(payload)))
    status = run["status"]
    sink.emit(
        OutgoingEvent(
            RUN_COMPLETED,
            run_resource(run),
            related,
            summary_payload(run, payloads, n_new, len(sent)),
            summary_event_id(run_id, status),
        )
    )
    return Announced(moves=len(payloads), sent=len(sent), new=n_new)


def send_run_alerts(
    store: TerritoryStore,
    run_id: str,
    logger: logging.Logger | logging.LoggerAdapter,
    run: dict[str, Any] | None = None,
    news: RunNews | None = None,
) -> Announced | None:
    """`announce_run` through Prefect's event API, for the flow run in progress (`run`: the
    finished run's row, and `news` the run's news among its territory's result pairs, read
    when not given).
    Never raises: alerts that cannot be sent must not fail a run whose results are stored."""
    from prefect import runtime

    flow_run = None
    if runtime.flow_run.id:
        flow_run = {"id": runtime.flow_run.id, "name": runtime.flow_run.name}
    try:
        told = announce_run(store, run or store.run(run_id), PrefectEvents(), flow_run, news)
    except Exception as exc:  # reported, and the run's outcome stands
        logger.warning("tier-change alerts not sent: %s: %s", type(exc).__name__, exc)
        return None
    more = f" (the first {told.sent} as events)" if told.sent < told.moves else ""
    logger.info(
        "alerts: %s tier move%s%s and the run's summary sent as Prefect events (%s, %s)",
        told.moves,
        "" if told.moves == 1 else "s",
        more,
        TIER_CHANGED,
        RUN_COMPLETED,
    )
    return told
