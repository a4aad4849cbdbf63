"""The push logic through the in-process fake CRM: matching, only our fields, dry run,
--only-changed, retries that lose nothing, statuses in DuckDB equal to what the CRM holds."""

import pytest

from domain.crm import load_mapping
from domain.errors import FatalProviderError, PermanentError, RateLimitedError, TransientError
from flows.crm_sync import Pusher, PushOptions
from tasks.crm_fakes import FakeCrmTarget
from tasks.retry import RetryPolicy
from tests.helpers import query
from tests.helpers import seed_territory as seed

MAPPING = load_mapping("hubspot")
OURS = set(MAPPING.property_names)


def pusher(store, crm, **kw):
    return Pusher(
        store,
        crm,
        MAPPING,
        policy=RetryPolicy(base_delay=0, max_delay=0),
        sleep=kw.pop("sleep", lambda s: None),
        **kw,
    )


def statuses(db):
    return {
        r[0]: r[1:]
        for r in query(db, "SELECT company, status, record_id, matched_by, reason FROM crm_pushes")
    }


@pytest.fixture
def db(tmp_path):
    return tmp_path / "t.duckdb"


def test_matches_by_id_then_domain_and_writes_only_our_fields(db):
    store = seed(
        db,
        [
            ("Alpha", "alpha.example", {"crm_id": "1"}, "HOT"),
            ("Beta", "beta.example", {}, "WARM"),
            ("Gamma", None, {"owner": "x"}, "COLD"),
            ("Delta", "delta.example", {}, "COLD"),
            ("Omega", None, {"crm_id": "9"}, None),
        ],
    )
    crm = FakeCrmTarget(
        {"1": {"name": "Alpha", "industry": "AI"}, "2": {"name": "Beta", "domain": "BETA.example"}},
        writable=OURS,
    )
    report = pusher(store, crm).push("t", PushOptions())
    assert report.counts() == {"pushed": 2, "unmatched": 2, "skipped": 1}
    assert crm.records["1"]["gpu_tier"] == "HOT" and crm.records["1"]["industry"] == "AI"
    assert crm.records["2"]["gpu_tier"] == "WARM" and crm.records["2"]["gpu_score"] == 50
    (update,) = crm.sent("update")
    assert all(set(props) == OURS for _, props in update)
    assert crm.records["1"]["gpu_reason"] == "Alpha reasons over two lines."
    assert crm.records["1"]["gpu_evidence_url"] == "https://Alpha.example/gpu"
    assert crm.records["1"]["gpu_override"] is False
    assert crm.sent("create") == []  # unmatched companies are never created blindly
    found = statuses(db)
    assert found["Alpha"][:3] == ("pushed", "1", "id")
    assert found["Beta"][:3] == ("pushed", "2", "domain")
    assert found["Gamma"][0] == "unmatched" and "no CRM id" in found["Gamma"][3]
    assert found["Delta"][0] == "unmatched" and "domain delta.example" in found["Delta"][3]
    assert found["Omega"][0] == "skipped"


def test_create_missing_is_explicit(db):
    store = seed(db, [("Gamma", "gamma.example", {}, "COLD")])
    crm = FakeCrmTarget(writable=OURS | {"name", "domain"})
    pusher(store, crm).push("t", PushOptions(create_missing=True))
    ((name, domain, props),) = crm.sent("create")[0]
    assert (name, domain) == ("Gamma", "gamma.example") and set(props) == OURS
    assert statuses(db)["Gamma"][:3] == ("pushed", "1001", "created")


def test_dry_run_writes_nothing_and_shows_the_diff(db):
    store = seed(db, [("Alpha", None, {"crm_id": "1"}, "HOT")])
    crm = FakeCrmTarget({"1": {"gpu_tier": "COLD"}})
    report = pusher(store, crm).push("t", PushOptions(dry_run=True))
    assert crm.sent("update") == [] and query(db, "SELECT count(*) FROM crm_pushes") == [(0,)]
    rows = {r["property"]: r for r in report.diff_rows()}
    assert rows["gpu_tier"]["crm_now"] == "COLD" and rows["gpu_tier"]["to_write"] == "HOT"
    assert report.counts() == {"would_push": 1}


def test_only_changed_sends_nothing_the_second_time(db):
    store = seed(
        db, [("Alpha", None, {"crm_id": "1"}, "HOT"), ("Beta", None, {"crm_id": "2"}, "COLD")]
    )
    crm = FakeCrmTarget({"1": {"gpu_tier": "HOT"}, "2": {}})
    pusher(store, crm).push("t", PushOptions(only_changed=True))
    (first,) = crm.sent("update")
    assert dict(first)["1"].keys() == OURS - {"gpu_tier"}  # the tier was already right
    # What HubSpot gives back is text: "90", "true", dates with milliseconds.
    for record in crm.records.values():
        record.update(
            {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in record.items()}
        )
    report = pusher(store, crm).push("t", PushOptions(only_changed=True))
    assert len(crm.sent("update")) == 1 and report.counts() == {"unchanged": 2}


def test_429_and_5xx_mid_batch_lose_nothing(db):
    companies = [(f"C{i}", None, {"crm_id": str(i)}, "WARM") for i in range(5)]
    store = seed(db, companies)
    crm = FakeCrmTarget({str(i): {} for i in range(5)}, batch_size=2)
    crm.fail_next("update", RateLimitedError("429", retry_after=2.5), TransientError("HTTP 503"))
    waits = []
    report = pusher(store, crm, sleep=waits.append).push("t", PushOptions())
    assert report.counts() == {"pushed": 5}
    assert waits[0] >= 2.5  # Retry-After honoured
    # The first batch sent three times (429, 503, then written), all within the batch size.
    assert [len(batch) for batch in crm.sent("update")] == [2, 2, 2, 2, 1]
    assert all(r.get("gpu_tier") == "WARM" for r in crm.records.values())
    assert sorted(s[0] for s in statuses(db).values()) == ["pushed"] * 5


def test_refused_writes_fail_with_the_reason_and_retry_failed_sends_only_those(db):
    store = seed(
        db, [("Alpha", None, {"crm_id": "1"}, "HOT"), ("Beta", None, {"crm_id": "2"}, "COLD")]
    )
    crm = FakeCrmTarget({"1": {}, "2": {}}, batch_size=1)
    crm.fail_next("update", PermanentError("HubSpot HTTP 400: Property gpu_rank does not exist"))
    pusher(store, crm).push("t", PushOptions())
    found = statuses(db)
    assert found["Alpha"][0] == "failed" and "gpu_rank" in found["Alpha"][3]
    assert found["Beta"][0] == "pushed"
    report = pusher(store, crm).push("t", PushOptions(retry_failed=True))
    assert [r.company for r in report.records] == ["Alpha"]
    assert [i for i, _ in crm.sent("update")[-1]] == ["1"]
    assert {
        r[0]
        for r in query(
            db,
            "SELECT status FROM crm_pushes WHERE company = 'Alpha' ORDER BY pushed_at DESC LIMIT 1",
        )
    } == {"pushed"}


def test_a_bad_token_stops_and_keeps_what_is_left_as_failed(db):
    store = seed(db, [("Alpha", None, {"crm_id": "1"}, "HOT")])
    crm = FakeCrmTarget({"1": {}})
    crm.fail_next("update", FatalProviderError("HubSpot rejected the access token (401)"))
    with pytest.raises(FatalProviderError):
        pusher(store, crm).push("t", PushOptions())
    assert statuses(db)["Alpha"][0] == "failed"
