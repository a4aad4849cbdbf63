"""Tier-change alerts for the runs that are not the usual one: nothing moved, a territory's
first run, a stopped run, more moves than the caps let out, and a run that fails part way
(through the real flow). (What a run's events carry: test_alert_events.py.)"""

import pytest

import domain.alerts
import flows.alerts
from domain.alerts import RUN_COMPLETED, TIER_CHANGED
from flows.alerts import announce_run
from flows.events import RecordedEvents
from storage.duckdb_store import TerritoryStore
from tests.flows.alert_results import result


def test_a_run_that_moves_nothing_emits_only_its_summary(tmp_path):
    with TerritoryStore.open(tmp_path / "t.duckdb") as store:
        for _ in range(2):
            run = store.start_run("east", "full", {}, None, 1, 0, 1)
            store.save_results(run, "east", [result("acme", "WARM", 55), result("b", "HOT", 90)])
            store.finish_run(run, "completed")
        sink = RecordedEvents()
        announce_run(store, store.run(run), sink)
        # And a territory's first run: every company is new, none moved.
        first = store.start_run("west", "full", {}, None, 1, 0, 1)
        store.save_results(first, "west", [result("acme", "HOT", 90)])
        store.finish_run(first, "completed")
        announce_run(store, store.run(first), sink)
    assert [e.event for e in sink.sent] == [RUN_COMPLETED, RUN_COMPLETED]
    assert [(e.payload["moves"], e.payload["new"]) for e in sink.sent] == [(0, 0), (0, 1)]
    assert all(e.payload["owners"] == [] for e in sink.sent)


def test_a_stopped_run_says_so_and_still_announces_its_moves(tmp_path):
    with TerritoryStore.open(tmp_path / "t.duckdb") as store:
        first = store.start_run("east", "full", {}, None, 1, 0, 1)
        store.save_results(first, "east", [result("acme", "WARM", 55)])
        store.finish_run(first, "completed")
        second = store.start_run("east", "full", {}, None, 1, 0, 1)
        store.save_results(second, "east", [result("acme", "HOT", 85)])
        store.finish_run(second, "stopped", "Tavily credits exhausted (HTTP 432)")
        sink = RecordedEvents()
        announce_run(store, store.run(second), sink)
    move, summary = sink.sent
    assert move.payload["new_tier"] == "HOT" and move.payload["owner"] == "(no owner)"
    assert summary.payload["status"] == "stopped"
    assert summary.resource["territory.status"] == "stopped"
    assert summary.payload["message"] == "Tavily credits exhausted (HTTP 432)"


def test_moves_past_the_caps_are_counted_not_sent(tmp_path, monkeypatch):
    monkeypatch.setattr(flows.alerts, "MAX_MOVE_EVENTS", 3)
    monkeypatch.setattr(domain.alerts, "MAX_DIGEST_MOVES", 2)
    monkeypatch.setattr(domain.alerts, "MAX_DIGEST_OWNERS", 1)
    with TerritoryStore.open(tmp_path / "t.duckdb") as store:
        first = store.start_run("east", "full", {}, None, 6, 0, 6)
        store.save_results(first, "east", [result(f"c{i}", "COLD", 10) for i in range(6)])
        store.finish_run(first, "completed")
        second = store.start_run("east", "full", {}, None, 6, 0, 6)
        moved = [
            result(f"c{i}", "HOT" if i < 2 else "WARM", 80 - i, metadata={"owner": f"R{i % 2}"})
            for i in range(6)
        ]
        store.save_results(second, "east", moved)
        store.finish_run(second, "completed")
        sink = RecordedEvents()
        announce_run(store, store.run(second), sink)
    sent = sink.named(TIER_CHANGED)
    # The biggest moves first: the two COLD -> HOT, then the largest score change.
    assert [e.payload["company_key"] for e in sent] == ["c0", "c1", "c2"]
    summary = sink.named(RUN_COMPLETED)[0].payload
    assert (summary["moves"], summary["moves_sent"]) == (6, 3)
    (owner,) = summary["owners"]
    assert owner["owner"] == "R0" and len(owner["moves"]) == 2 and owner["more"] == 1
    assert summary["owners_more"] == 1


@pytest.mark.slow
def test_a_run_that_fails_part_way_still_announces_what_it_stored(territory_env, monkeypatch):
    """The flow's own wiring: moves and a `failed` summary, even when the run raises."""
    import flows.territory_research
    from domain.names import normalize_name
    from tests.helpers import run_flow

    with TerritoryStore.open(territory_env / "territory.duckdb") as store:
        first = store.start_run("east", "full", {}, None, 1, 0, 1)
        store.save_results(first, "east", [result(normalize_name("Alert Robotics"), "WARM", 50)])
        store.finish_run(first, "completed")
    real_run_chunks = flows.territory_research.run_chunks

    def run_chunks_then_crash(run, logger, clock):
        real_run_chunks(run, logger, clock)  # everything stored, then something breaks
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(flows.territory_research, "run_chunks", run_chunks_then_crash)
    recorded = RecordedEvents()
    monkeypatch.setattr(flows.alerts, "PrefectEvents", lambda: recorded)  # the live sink's seam
    csv = territory_env / "east.csv"
    csv.write_text("name,owner\nAlert Robotics,Dana\n")
    state = run_flow(companies_csv=str(csv), territory="east")

    assert state.is_failed()
    move, summary = recorded.sent
    assert (move.event, move.payload["company"], move.payload["new_tier"]) == (
        TIER_CHANGED,
        "Alert Robotics",
        "HOT",
    )
    assert move.payload["owner"] == "Dana"
    assert [r["prefect.resource.role"] for r in move.related] == ["territory", "flow-run"]
    assert move.related[1]["prefect.resource.id"] == (
        f"prefect.flow-run.{state.state_details.flow_run_id}"
    )
    assert summary.payload["status"] == "failed"
    assert summary.payload["message"] == "RuntimeError: disk on fire"
