"""Overrides in DuckDB: rows of their own, kept across refreshes, the verdict in force and the
rank computed by SQL (checked against the pure rule in domain/verdicts.py)."""

import random

import duckdb
import pytest

from domain.models import Classification, CompanyResult
from domain.review import OverrideRequest
from domain.verdicts import effective_verdict, ranks
from storage.duckdb_store import StoreError, TerritoryStore
from storage.schema import EVAL_TABLES, MIGRATIONS, SCHEMA_VERSION
from storage.sql import FETCH_ROWS
from tests.storage.old_layouts import KEYED_TABLES, SCHEMA_V11


def result(key, tier=None, score=50, confidence="high", status="ok", owner=None):
    verdict = (
        Classification(tier=tier, score=score, confidence=confidence, reasoning="r", signals=[])
        if tier
        else None
    )
    return CompanyResult(
        company_key=key,
        name=key.title(),
        status=status,
        classification=verdict,
        error=None if status == "ok" else "boom",
        metadata={"Account Owner": owner} if owner is not None else {"crm_id": key},
    )


def stored_run(store, territory, results):
    run = store.start_run(territory, "full", {}, None, len(results), 0, len(results))
    store.save_results(run, territory, results)
    store.finish_run(run, "completed")
    return run


def set_(company, tier, score=None, by="Dana", reason="knows them"):
    return OverrideRequest(company, "set", tier, score, reason, by)


def clear(company):
    return OverrideRequest(company, "clear", by="Lee")


def by_key(rows):
    return {r["company_key"]: r for r in rows}


def test_an_override_is_a_row_of_its_own_and_a_clear_keeps_history(tmp_path):
    with TerritoryStore.open(tmp_path / "t.duckdb") as store:
        run = stored_run(store, "emea", [result("acme", "COLD", 10, "medium")])
        before = store.conn.execute("SELECT * FROM company_results").fetchall()
        (row,) = store.save_overrides("emea", [set_("ACME", "HOT", 80)], "cli")
        assert store.conn.execute("SELECT * FROM company_results").fetchall() == before
        assert store.conn.execute(
            "SELECT company_key, action, tier, score, reason, set_by, source, model_status, "
            "model_tier, model_score, model_confidence, model_run_id FROM overrides"
        ).fetchall() == [
            ("acme", "set", "HOT", 80, "knows them", "Dana", "cli", "ok", "COLD", 10, "medium", run)
        ]
        assert row["created_at"] is not None and row["company"] == "Acme"
        (acme,) = store.effective_results("emea")
        assert (acme["tier"], acme["score"], acme["model_tier"], acme["overridden"]) == (
            "HOT",
            80,
            "COLD",
            True,
        )
        assert store.save_overrides("emea", [clear("acme")], "cli")[0]["action"] == "clear"
        assert store.effective_results("emea")[0]["tier"] == "COLD"
        assert store.save_overrides("emea", [clear("acme")], "cli") == []  # nothing in force
        store.save_overrides("emea", [set_("acme", "WARM", by="Sam")], "review:r.csv")
        history = store.override_history("emea")
        assert [(h["action"], h["tier"], h["set_by"]) for h in history] == [
            ("set", "HOT", "Dana"),
            ("clear", None, "Lee"),
            ("set", "WARM", "Sam"),
        ]
        (acme,) = store.effective_results("emea")
        assert (acme["tier"], acme["score"], acme["override_by"]) == ("WARM", None, "Sam")


def test_a_refresh_keeps_the_override_and_flags_when_the_model_disagrees(tmp_path):
    with TerritoryStore.open(tmp_path / "t.duckdb") as store:
        stored_run(store, "emea", [result("acme", "HOT", 90), result("globex", "WARM", 50)])
        store.save_overrides("emea", [set_("acme", "HOT")], "cli")  # a reviewer agrees
        first = by_key(store.effective_results("emea"))
        assert first["acme"]["override_disputed"] is False and first["acme"]["score"] == 90
        refresh = stored_run(store, "emea", [result("acme", "COLD", 12), result("globex", "WARM")])
        acme = by_key(store.effective_results("emea"))["acme"]
        assert (acme["tier"], acme["model_tier"], acme["override_model_tier"]) == (
            "HOT",
            "COLD",
            "HOT",
        )
        assert acme["override_disputed"] is True and acme["score"] is None
        assert store.override_counts("emea", refresh) == {
            "n_overrides": 1,
            "n_overrides_disputed": 1,
        }
        assert store.override_counts("emea", "another-run") == {
            "n_overrides": 1,
            "n_overrides_disputed": 0,
        }
        (disputed,) = store.disputed_overrides("emea", refresh)
        assert (disputed["company"], disputed["tier"], disputed["model_tier"]) == (
            "Acme",
            "HOT",
            "COLD",
        )
        # A failed refresh of the company is no disagreement; the override still counts.
        stored_run(store, "emea", [result("acme", status="failed")])
        acme = by_key(store.effective_results("emea"))["acme"]
        assert (acme["tier"], acme["status"], acme["override_disputed"]) == ("HOT", "failed", False)
        assert store.conn.execute("SELECT count(*) FROM overrides").fetchone() == (1,)


def test_a_company_not_in_the_territory_stores_nothing(tmp_path):
    with TerritoryStore.open(tmp_path / "t.duckdb") as store:
        stored_run(store, "emea", [result("acme", "HOT")])
        stored_run(store, "apac", [result("globex", "HOT")])
        bad = OverrideRequest("Globex", "set", "COLD", None, "x", "me", "review.csv line 3")
        with pytest.raises(StoreError) as caught:
            store.save_overrides("emea", [set_("acme", "COLD"), bad], "cli")
        assert str(caught.value) == "review.csv line 3: no company 'Globex' in territory 'emea'"
        assert store.conn.execute("SELECT count(*) FROM overrides").fetchone() == (0,)


def test_the_view_follows_the_pure_rule_for_every_kind_of_company(tmp_path):
    """The SQL view and domain/verdicts.py agree: verdict in force and rank, 300 companies."""
    pick = random.Random(7)
    with TerritoryStore.open(tmp_path / "t.duckdb") as store:
        results = []
        for i in range(300):
            status = pick.choice(["ok"] * 6 + ["failed", "ambiguous", "skipped"])
            tier = pick.choice(["HOT", "WARM", "COLD"]) if status == "ok" else None
            score, confidence = pick.choice([0, 40, 40, 77, 100]), pick.choice(["high", "low"])
            results.append(result(f"co{i:03d}", tier, score, confidence, status))
        stored_run(store, "emea", results)
        stored_run(store, "apac", [result("other", "HOT", 100)])  # ranked on its own
        latest = {}
        for r in results:
            for _ in range(pick.choice([0, 0, 1, 2])):
                if pick.random() < 0.3:
                    request = clear(r.company_key)
                else:
                    tier = pick.choice(["HOT", "WARM", "COLD"])
                    request = set_(r.company_key, tier, pick.choice([None, 10, 95]))
                if store.save_overrides("emea", [request], "cli"):
                    latest[r.company_key] = {
                        "action": request.action,
                        "tier": request.tier,
                        "score": request.score,
                    }
        rows = by_key(store.effective_results("emea"))
        expected = {}
        for r in results:
            stored = rows[r.company_key]
            model = {
                "status": stored["status"],
                "tier": stored["model_tier"],
                "score": stored["model_score"],
                "confidence": stored["model_confidence"],
            }
            verdict = effective_verdict(model, latest.get(r.company_key))
            expected[r.company_key] = (verdict, stored["company"])
            got = (stored["tier"], stored["score"], stored["confidence"])
            assert got == (verdict.tier, verdict.score, verdict.confidence), r.company_key
            assert stored["overridden"] == verdict.overridden
            assert stored["override_disputed"] == verdict.disputed
        assert {k: rows[k]["rank"] for k in rows} == ranks(expected)
        assert sum(v.overridden for v, _ in expected.values()) > 50  # the grid covered them
        assert store.effective_results("apac")[0]["rank"] == 1
        # The first rows alone (the run's results table) are the first rows of them all.
        every = list(store.iter_effective_results("emea"))
        for limit in (1, 57, 300, 400):
            assert list(store.iter_effective_results("emea", limit=limit)) == every[:limit]


def test_ranks_within_each_owners_book(tmp_path):
    with TerritoryStore.open(tmp_path / "t.duckdb") as store:
        stored_run(
            store,
            "emea",
            [
                result("a", "HOT", 90, owner="Dana"),
                result("b", "HOT", 95, owner="Lee"),
                result("c", "WARM", 60, owner="Dana"),
                result("d", "COLD", 5, owner=" "),  # no owner: ranked in the territory only
                result("e", status="failed", owner="Dana"),
                result("f", "WARM", 70, "low", owner="Lee"),
            ],
        )
        stored_run(store, "plain", [result("x", "HOT")])
        assert store.owner_column("emea") == "Account Owner"
        assert store.owner_column("plain") is None
        rows = store.effective_results("emea", owner="Account Owner")
        assert [(r["owner"], r["owner_rank"], r["rank"], r["company_key"]) for r in rows] == [
            ("Dana", 1, 2, "a"),
            ("Dana", 2, 3, "c"),
            ("Dana", None, None, "e"),
            ("Lee", 1, 1, "b"),
            ("Lee", 2, 4, "f"),
            (None, None, 5, "d"),
        ]
        # Filtering by tier keeps the ranks of the whole territory and book.
        warm = store.effective_results("emea", tier="WARM", owner="Account Owner")
        assert [(r["company_key"], r["rank"], r["owner_rank"]) for r in warm] == [
            ("c", 3, 2),
            ("f", 4, 2),
        ]


def test_a_file_of_the_previous_version_is_migrated_on_open(tmp_path):
    path = tmp_path / "old.duckdb"
    with duckdb.connect(str(path)) as conn:
        for script in (SCHEMA_V11, KEYED_TABLES, MIGRATIONS, EVAL_TABLES):
            conn.execute(script)
        conn.execute("CREATE TABLE territory_schema (version INTEGER NOT NULL)")
        conn.execute("INSERT INTO territory_schema VALUES (?)", [SCHEMA_VERSION - 1])
        conn.execute(
            "INSERT INTO company_results (territory, company_key, company, status, tier, score, "
            "confidence, run_id, updated_at) VALUES ('emea', 'acme', 'Acme', 'ok', 'WARM', 50, "
            "'low', 'r1', now())"
        )
    with TerritoryStore.open(path, read_only=True) as store:  # a reading command
        (acme,) = store.effective_results("emea")
        assert (acme["tier"], acme["rank"], acme["overridden"]) == ("WARM", 1, False)
    with TerritoryStore.open(path) as store:
        store.save_overrides("emea", [set_("acme", "HOT")], "cli")
        assert store.effective_results("emea")[0]["tier"] == "HOT"
        assert store.conn.execute("SELECT max(version) FROM territory_schema").fetchone() == (
            SCHEMA_VERSION,
        )


def test_metadata_keys_come_in_the_order_the_ranked_rows_first_name_them(tmp_path):
    rows = [  # (key, tier, score, metadata): best rank first is b, a, c, d
        ("a", "HOT", 80, {"crm_id": "1", "Région": "Île", "z": "1", "owner": "Ann"}),
        ("b", "HOT", 90, {"z": "2", "owner": "Kim"}),
        ("c", "WARM", 50, {"late": "x", "crm_id": "3"}),
        ("d", "COLD", 5, {"coldest": "y"}),
    ]
    with TerritoryStore.open(tmp_path / "t.duckdb") as store:
        results = [result(k, t, s) for k, t, s, _ in rows]
        for r, (*_, metadata) in zip(results, rows, strict=True):
            r.metadata = metadata
        stored_run(store, "emea", results)
        stored_run(store, "apac", [result("e", "HOT", 99)])  # another territory's keys
        assert store.metadata_keys("emea") == ["z", "owner", "crm_id", "Région", "late", "coldest"]
        assert store.metadata_keys("emea", tier="WARM") == ["late", "crm_id"]
        # By owner, Ann's book comes before Kim's: a is read first.
        assert store.metadata_keys("emea", owner="owner")[:4] == ["crm_id", "Région", "z", "owner"]
        assert store.metadata_keys(None)[0] == "crm_id"  # apac's e ranks first there
        assert store.metadata_keys("nowhere") == []


def test_a_result_written_anew_mid_read_brings_its_own_text(tmp_path):
    # Long text is read by the row id the narrow rows carry, a batch (FETCH_ROWS) at a time;
    # a row written anew meanwhile (a new row id) is read by key, never another's text.
    n = FETCH_ROWS + 2  # the last two come in the second batch
    with TerritoryStore.open(tmp_path / "t.duckdb") as store:
        results = [result(f"c{i:05d}", "HOT", 90) for i in range(n)]  # ranked by name
        for r in results:
            r.classification.reasoning = f"about {r.company_key}"
        run = stored_run(store, "emea", results)
        rows = store.iter_effective_results("emea")
        first = next(rows)  # the first batch is read, text and all
        late = results[-1].company_key
        again = result(late, "HOT", 90)
        again.classification.reasoning = f"about {late}, again"
        # An upsert keeps the row id; a delete and an insert (a row written anew) does not.
        store.conn.execute("DELETE FROM company_results WHERE company_key = ?", [late])
        store.save_results(run, "emea", [again])
        store.save_results(run, "emea", [result("d", "COLD", 1)])  # appended after
        seen = {r["company_key"]: r["reasoning"] for r in [first, *rows]}
    assert seen[late] == f"about {late}, again" and len(seen) == n
    assert all(seen[k] == f"about {k}" for k in seen if k != late)
