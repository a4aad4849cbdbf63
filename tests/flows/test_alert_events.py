"""Tier-change alerts, fast: which events a finished run emits and what they carry, through the
recording sink and through Prefect's own asserting events client (no server). (Runs with no
moves, stopped, over the caps or failing part way: test_alert_run_outcomes.py.)"""

import json

import pytest

from domain.alerts import RUN_COMPLETED, TIER_CHANGED
from domain.models import CompanyResult
from flows.alerts import announce_run, read_run_news
from flows.events import PrefectEvents, RecordedEvents
from storage.duckdb_store import TerritoryStore
from tests.flows.alert_results import result

# Stand-ins for credentials in places a run could hold them (not the session's keys: those
# must never reach a file, and this test's database is a file).
PARAMETER_SECRET, COLUMN_SECRET = "tvly-alerts-PARAM-3c9d1e", "sk-alerts-COLUMN-8b2f7a"
FLOW_RUN = {"id": "0b0e3c1e-5d2a-4f7e-9a51-1c2d3e4f5a6b", "name": "east-refresh-2026-12-01-0600"}
OLD_SIGNAL = ("hiring", "https://helix.example/jobs", "Helix is hiring two ML engineers.")
NEW_SIGNAL = (
    "gpu_infrastructure",
    "https://news.example/helix",
    "Helix now runs a 1,024-GPU H100 cluster for its own models.",
)


@pytest.fixture
def two_runs(tmp_path):
    """A territory's first run, then a second one that moves two companies (one up to HOT,
    one down), changes a score only, meets a company for the first time and fails one."""
    with TerritoryStore.open(tmp_path / "t.duckdb") as store:
        first = store.start_run("east", "full", {}, None, 5, 0, 5)
        store.save_results(
            first,
            "east",
            [
                result("helix", "WARM", 55, signals=[OLD_SIGNAL]),
                result("quay", "HOT", 80),
                result("globex", "COLD", 10),
                result("umbrella", "WARM", 50),
                result("dormant", "COLD", 5),  # not in the second run at all
            ],
        )
        store.finish_run(first, "completed")
        second = store.start_run(
            "east", "full", {"note": f"a run's parameters: {PARAMETER_SECRET}"}, None, 5, 0, 5
        )
        store.save_results(
            second,
            "east",
            [
                result(
                    "helix",
                    "HOT",
                    91,
                    name="Helix AI",
                    domain="helix.example",
                    signals=[OLD_SIGNAL, NEW_SIGNAL],
                    reasoning="Helix trains its own models on a large H100 cluster.  It also "
                    "raised $40M.",
                    metadata={"Owner": "Dana", "crm_id": "7", "api_token": COLUMN_SECRET},
                ),
                result("quay", "WARM", 52, metadata={"owner": "Lee"}),
                result("globex", "COLD", 14),
                result("initech", "HOT", 88),  # new to the territory
                CompanyResult(
                    company_key="umbrella", name="Umbrella", status="failed", error="LLM 500"
                ),
            ],
        )
        store.finish_run(second, "completed")
        yield store, store.run(second) | {"elapsed_seconds": 4.2}


def test_a_run_emits_one_event_per_tier_move_and_one_summary(two_runs):
    store, run = two_runs
    sink = RecordedEvents()
    told = announce_run(store, run, sink, FLOW_RUN)

    assert (told.moves, told.sent, told.new) == (2, 2, 1)
    assert [e.event for e in sink.sent] == [TIER_CHANGED, TIER_CHANGED, RUN_COMPLETED]
    up, down = sink.named(TIER_CHANGED)  # the move up first
    assert up.payload == {
        "territory": "east",
        "company": "Helix AI",
        "company_key": "helix",
        "domain": "helix.example",
        "owner": "Dana",
        "metadata": {"Owner": "Dana", "crm_id": "7"},  # the token-named column left out
        "old_tier": "WARM",
        "new_tier": "HOT",
        "direction": "up",
        "old_score": 55,
        "new_score": 91,
        "score_change": 36,
        "confidence": "high",
        "reason": "Helix trains its own models on a large H100 cluster.",
        "top_signal": {  # the news behind the move, not the signal it already had
            "kind": "gpu_infrastructure",
            "excerpt": NEW_SIGNAL[2],
            "url": NEW_SIGNAL[1],
            "published": None,
        },
        "unchecked": False,
        "run_id": run["run_id"],
    }
    assert up.resource == {
        "prefect.resource.id": "territory.company.east.helix",
        "prefect.resource.name": "Helix AI",
        "prefect.resource.role": "company",
        "territory.name": "east",
        "territory.tier": "HOT",
        "territory.previous-tier": "WARM",
        "territory.owner": "Dana",
    }
    assert up.related == [
        {
            "prefect.resource.id": "territory.territory.east",
            "prefect.resource.name": "east",
            "prefect.resource.role": "territory",
        },
        {
            "prefect.resource.id": f"prefect.flow-run.{FLOW_RUN['id']}",
            "prefect.resource.name": FLOW_RUN["name"],
            "prefect.resource.role": "flow-run",
        },
    ]
    assert (down.payload["company"], down.payload["old_tier"], down.payload["new_tier"]) == (
        "Quay",
        "HOT",
        "WARM",
    )
    assert down.payload["owner"] == "Lee" and down.payload["direction"] == "down"
    assert down.payload["top_signal"] is None and down.payload["unchecked"] is True


def test_pairs_the_flow_already_read_are_not_read_again(two_runs, monkeypatch):
    store, run = two_runs
    # What the flow reads once, for the summary too: the run's news of the territory's pairs.
    pairs = read_run_news(store, "east", run["run_id"])
    expected = RecordedEvents()
    announce_run(store, run, expected, FLOW_RUN)

    def read_again(*args, **kwargs):
        raise AssertionError("the result pairs were read a second time")

    for reading in ("result_pairs", "iter_result_pairs"):
        monkeypatch.setattr(store, reading, read_again)
    given = RecordedEvents()
    told = announce_run(store, run, given, FLOW_RUN, pairs)
    assert (told.moves, told.sent, told.new) == (2, 2, 1)
    assert [(e.event, e.payload) for e in given.sent] == [
        (e.event, e.payload) for e in expected.sent
    ]


# The summary's digest of `two_runs`: each owner's tier moves, none left over.
OWNERS_DIGEST = [
    {
        "owner": "Dana",
        "moves": [
            {
                "company": "Helix AI",
                "old_tier": "WARM",
                "new_tier": "HOT",
                "old_score": 55,
                "new_score": 91,
            }
        ],
        "more": 0,
    },
    {
        "owner": "Lee",
        "moves": [
            {
                "company": "Quay",
                "old_tier": "HOT",
                "new_tier": "WARM",
                "old_score": 80,
                "new_score": 52,
            }
        ],
        "more": 0,
    },
]


def test_the_summary_counts_the_run_and_digests_the_moves_per_owner(two_runs):
    store, run = two_runs
    sink = RecordedEvents()
    announce_run(store, run, sink)
    (summary,) = sink.named(RUN_COMPLETED)
    assert summary.resource == {
        "prefect.resource.id": f"territory.run.{run['run_id']}",
        "prefect.resource.name": f"east {run['run_id'][:8]}",
        "prefect.resource.role": "territory-run",
        "territory.name": "east",
        "territory.status": "completed",
        "territory.scope": "territory",
    }
    p = summary.payload
    assert (p["territory"], p["run_id"], p["status"], p["mode"]) == (
        "east",
        run["run_id"],
        "completed",
        "full",
    )
    assert p["counts"] == {
        "companies": 5,
        "ok": 4,
        "failed": 1,
        "ambiguous": 0,
        "skipped": 0,
        "hot": 2,
        "warm": 1,
        "cold": 1,
    }
    assert (p["moves"], p["moves_up"], p["moves_down"], p["moves_to_hot"]) == (2, 1, 1, 1)
    assert (p["moves_sent"], p["new"], p["message"], p["elapsed_seconds"]) == (2, 1, None, 4.2)
    assert p["cost"].startswith("$0.00")
    assert p["owners"] == OWNERS_DIGEST
    assert p["owners_more"] == 0


def test_events_never_carry_a_secret(two_runs):
    store, run = two_runs
    sink = RecordedEvents()
    announce_run(store, run, sink, FLOW_RUN)
    # The run's parameters and a token-named passthrough column held them.
    text = json.dumps([e.__dict__ for e in sink.sent], default=str)
    assert PARAMETER_SECRET not in text and COLUMN_SECRET not in text
    assert "parameters" not in sink.named(RUN_COMPLETED)[0].payload


def test_event_ids_are_stable_so_a_retried_run_does_not_alert_twice(two_runs):
    store, run = two_runs
    once, again = RecordedEvents(), RecordedEvents()
    announce_run(store, run, once)
    announce_run(store, run, again)
    assert [e.id for e in once.sent] == [e.id for e in again.sent]
    assert len({e.id for e in once.sent}) == 3


def test_the_live_sink_hands_prefect_the_events_as_built(two_runs, monkeypatch):
    """Through Prefect's emit_event and its events worker, into Prefect's asserting client."""
    from prefect.events.clients import AssertingEventsClient
    from prefect.events.worker import EventsWorker
    from prefect.settings import PREFECT_API_URL, temporary_settings

    store, run = two_runs
    recorded = RecordedEvents()
    announce_run(store, run, recorded, FLOW_RUN)
    AssertingEventsClient.reset()
    with temporary_settings({PREFECT_API_URL: "http://127.0.0.1:9/api"}):  # never contacted
        worker = EventsWorker.instance(AssertingEventsClient)
        monkeypatch.setattr(EventsWorker, "instance", lambda *_: worker)
        try:
            announce_run(store, run, PrefectEvents(), FLOW_RUN)
        finally:
            worker.drain()
    assert AssertingEventsClient.last is not None
    events = AssertingEventsClient.last.events
    assert [e.event for e in events] == [e.event for e in recorded.sent]
    for got, built in zip(events, recorded.sent, strict=True):
        assert got.id == built.id
        assert dict(got.resource) == built.resource
        assert [dict(r) for r in got.related] == built.related
        assert got.payload == json.loads(json.dumps(built.payload))


def test_alerts_follow_the_verdict_in_force(two_runs):
    from domain.review import OverrideRequest

    store, run = two_runs
    # A reviewer holds Helix at WARM (the model moved it to HOT) and Quay at HOT (the model
    # moved it down); Globex, COLD both times, is put at HOT by hand.
    store.save_overrides(
        "east",
        [
            OverrideRequest("Helix AI", "set", tier="WARM", reason="pilot only", by="dana"),
            OverrideRequest("Quay", "set", tier="HOT", reason="signed", by="lee"),
            OverrideRequest("Globex", "set", tier="HOT", reason="met them", by="lee"),
        ],
        "cli",
    )
    sink = RecordedEvents()
    told = announce_run(store, run, sink)
    # No tier in force moved: a reviewer's own call is no news, and the model moving under an
    # override moves nothing a rep acts on.
    assert (told.moves, told.sent) == (0, 0)
    assert [e.event for e in sink.sent] == [RUN_COMPLETED]

    store.save_overrides("east", [OverrideRequest("Helix AI", "clear", by="dana")], "cli")
    sink = RecordedEvents()
    announce_run(store, run, sink)
    (move,) = sink.named(TIER_CHANGED)
    assert (move.payload["company"], move.payload["old_tier"], move.payload["new_tier"]) == (
        "Helix AI",
        "WARM",
        "HOT",
    )
