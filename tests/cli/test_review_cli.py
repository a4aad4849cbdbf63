"""`territory override`, `territory review`, and the verdict in force and the ranks in
results, export and the report (on a seeded database; no flow runs)."""

import csv
import json

import duckdb
import pytest

from domain.models import Classification, CompanyResult
from storage.duckdb_store import TerritoryStore
from territory import evaluation
from territory.cli import main
from tests.helpers import query, seed_database


def ok(key, name, tier, score, confidence="high", owner="Dana"):
    verdict = Classification(
        tier=tier, score=score, confidence=confidence, reasoning="r", signals=[]
    )
    return CompanyResult(
        company_key=key,
        name=name,
        status="ok",
        classification=verdict,
        metadata={"owner": owner, "crm_id": key.upper()},
    )


def seed_two_runs(db):
    """Two runs of `emea`: Helix moves WARM -> HOT, Quarry is a low-confidence HOT, Initech
    failed, Mercury is ambiguous, Crumb a sure COLD."""
    untiered = [
        CompanyResult(
            company_key="initech", name="Initech", status="failed", error="HTTP 500",
            metadata={"owner": "Lee", "crm_id": "I"},
        ),
        CompanyResult(
            company_key="mercury", name="Mercury", status="ambiguous", error="3 organisations",
            metadata={"owner": "Lee", "crm_id": "M"},
        ),
    ]  # fmt: skip
    steady = [
        ok("crumb", "Crumb Bakery", "COLD", 5, owner="Lee"),
        ok("quarry", "Quarry", "HOT", 80, "low"),
    ]
    with TerritoryStore.open(db) as store:
        for helix in (ok("helix", "Helix AI", "WARM", 55), ok("helix", "Helix AI", "HOT", 91)):
            run = store.start_run("emea", "full", {}, None, 5, 0, 5)
            store.save_results(run, "emea", [helix, *steady, *untiered])
            store.finish_run(run, "completed")
    return db


@pytest.fixture
def db(tmp_path, monkeypatch):
    path = seed_two_runs(tmp_path / "t.duckdb")
    monkeypatch.setenv("TERRITORY_DB", str(path))
    monkeypatch.chdir(tmp_path)
    return path


def results_json(capsys, *extra):
    capsys.readouterr()
    assert main(["results", "--territory", "emea", "--format", "json", *extra]) == 0
    return {r["company"]: r for r in json.loads(capsys.readouterr().out)}


def one_line_error(capsys):
    err = capsys.readouterr().err
    assert err.startswith("territory: ") and err.count("\n") == 1, err
    return err


def test_an_override_wins_everywhere_results_are_shown_and_a_clear_keeps_history(db, capsys):
    model_rows = query(db, "SELECT * FROM company_results ORDER BY company_key")
    argv = ["override", "crumb bakery", "--territory", "emea", "--tier", "hot", "--score", "70"]
    assert main([*argv, "--reason", "GPU farm behind the ovens", "--by", "Dana"]) == 0
    assert capsys.readouterr().out == (
        "override: Crumb Bakery in 'emea' is HOT (score 70), by Dana: GPU farm behind the ovens "
        "(the model says COLD 5, high confidence)\n"
    )
    assert query(db, "SELECT * FROM company_results ORDER BY company_key") == model_rows
    assert query(
        db, "SELECT company_key, action, tier, score, set_by, model_tier, source FROM overrides"
    ) == [("crumb", "set", "HOT", 70, "Dana", "COLD", "cli")]

    rows = results_json(capsys)
    crumb = rows["Crumb Bakery"]
    assert (crumb["tier"], crumb["score"], crumb["confidence"]) == ("HOT", 70, "high")
    assert (crumb["model_tier"], crumb["model_score"], crumb["overridden"]) == ("COLD", 5, True)
    assert (crumb["override_by"], crumb["override_disputed"]) == ("Dana", True)
    # Ranked on the effective tier: HOT high 91, HOT high 70 (the override), HOT low 80.
    ranked = sorted((r["rank"], c) for c, r in rows.items() if r["rank"])
    assert ranked == [(1, "Helix AI"), (2, "Crumb Bakery"), (3, "Quarry")]
    assert rows["Initech"]["rank"] is None and rows["Mercury"]["rank"] is None
    assert set(results_json(capsys, "--tier", "HOT")) == {"Helix AI", "Crumb Bakery", "Quarry"}
    assert main(["results", "--territory", "emea"]) == 0
    assert "by Dana (the model says COLD)" in capsys.readouterr().out

    assert main(["override", "Crumb Bakery", "--territory", "emea", "--clear"]) == 0
    assert "is back to the model's verdict (COLD 5" in capsys.readouterr().out
    assert results_json(capsys)["Crumb Bakery"]["tier"] == "COLD"
    assert query(db, "SELECT action FROM overrides ORDER BY seq") == [("set",), ("clear",)]
    assert main(["override", "Crumb Bakery", "--territory", "emea", "--clear"]) == 0
    assert "has no override; nothing changed" in capsys.readouterr().out
    assert query(db, "SELECT count(*) FROM overrides") == [(2,)]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["Nobody Ltd", "--tier", "HOT", "--reason", "x"], "no company 'Nobody Ltd' in territory"),
        (["Helix AI", "--tier", "HOT"], "give --reason"),
        (["Helix AI", "--reason", "x"], "give --tier HOT, WARM or COLD"),
        (["Helix AI", "--tier", "HOT", "--reason", "x", "--score", "101"], "not from 0 to 100"),
        (["Helix AI", "--clear", "--tier", "HOT"], "--clear takes no --tier"),
    ],
)
def test_a_bad_override_is_one_line_exit_2_and_stores_nothing(db, capsys, argv, message):
    assert main(["override", *argv[:1], "--territory", "emea", *argv[1:]]) == 2
    assert message in one_line_error(capsys)
    assert query(db, "SELECT count(*) FROM overrides") == [(0,)]


def test_an_override_without_a_database_is_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TERRITORY_DB", str(tmp_path / "none.duckdb"))
    assert main(["override", "Acme", "--territory", "t", "--tier", "HOT", "--reason", "x"]) == 2
    assert "no database at" in one_line_error(capsys)
    assert not (tmp_path / "none.duckdb").exists()


def read_rows(path):
    return list(csv.DictReader(path.open(encoding="utf-8-sig")))


def write_rows(path, rows):
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def test_review_export_lists_the_companies_worth_a_look_and_import_applies_them(
    db, tmp_path, capsys
):
    out = tmp_path / "review.csv"
    assert main(["review", "--territory", "emea", "--export", str(out)]) == 0
    assert "4 of 5 companies of 'emea' worth a look" in capsys.readouterr().err
    rows = read_rows(out)
    assert {r["company"]: r["why"] for r in rows} == {
        "Helix AI": "tier moved WARM -> HOT",
        "Quarry": "low confidence",
        "Initech": "failed",
        "Mercury": "ambiguous: several organisations of this name",
    }
    assert list(rows[0])[-4:] == ["review_tier", "review_score", "review_reason", "review_by"]
    helix = next(r for r in rows if r["company"] == "Helix AI")
    assert (helix["owner"], helix["tier"], helix["previous_tier"], helix["rank"]) == (
        "Dana",
        "HOT",
        "WARM",
        "1",
    )

    for row in rows:
        if row["company"] == "Quarry":
            row |= {"review_tier": "warm", "review_reason": "pilot only", "review_by": "Sam"}
        if row["company"] == "Mercury":
            row |= {"review_tier": "HOT", "review_score": "85", "review_reason": "the fintech"}
        if row["company"] == "Initech":
            row |= {"review_tier": "COLDD", "review_reason": "typo"}
    write_rows(out, rows)
    assert main(["review", "--import", str(out), "--by", "Dana"]) == 2
    err = one_line_error(capsys)
    assert "review.csv line " in err and "(Initech): review_tier 'COLDD' is not" in err
    assert err.rstrip().endswith("nothing applied")
    assert query(db, "SELECT count(*) FROM overrides") == [(0,)]

    for row in rows:
        if row["company"] == "Initech":
            row |= {"review_tier": "", "review_reason": ""}
    write_rows(out, rows)
    assert main(["review", "--import", str(out), "--by", "Dana"]) == 0
    assert capsys.readouterr().err == (
        "review: 2 applied to 'emea' from review.csv (2 set, 0 cleared); 2 rows left blank\n"
    )
    assert query(
        db, "SELECT company_key, tier, score, set_by, source FROM overrides ORDER BY company_key"
    ) == [
        ("mercury", "HOT", 85, "Dana", "review:review.csv"),
        ("quarry", "WARM", None, "Sam", "review:review.csv"),
    ]
    results = results_json(capsys)
    assert results["Mercury"]["tier"] == "HOT" and results["Mercury"]["rank"] == 2
    # Reviewed: no longer listed, unless the model changes its mind later.
    assert main(["review", "--territory", "emea", "--export", str(out)]) == 0
    assert {r["company"] for r in read_rows(out)} == {"Helix AI", "Initech"}


def test_a_review_row_naming_another_company_applies_nothing(db, tmp_path, capsys):
    out = tmp_path / "r.csv"
    out.write_text(
        "territory,company,review_tier,review_reason\n"
        "emea,Quarry,COLD,no budget\nemea,Nobody Ltd,HOT,x\n"
    )
    assert main(["review", "--import", str(out)]) == 2
    assert "r.csv line 3 (Nobody Ltd): no company 'Nobody Ltd'" in one_line_error(capsys)
    assert query(db, "SELECT count(*) FROM overrides") == [(0,)]


def test_the_apply_review_flow_applies_the_same_file(db, tmp_path):
    from flows.review import apply_review_file

    out = tmp_path / "r.csv"
    out.write_text("territory,company,review_tier,review_reason\nemea,Quarry,COLD,no budget\n")
    outcome = apply_review_file(db, str(out), None, "prefect")
    assert (outcome["territory"], outcome["applied"]) == ("emea", 1)
    assert query(db, "SELECT company_key, tier, set_by FROM overrides") == [
        ("quarry", "COLD", "prefect")
    ]


def test_by_owner_ranks_each_book_in_results_export_and_report(db, tmp_path, capsys):
    rows = results_json(capsys, "--by", "owner")
    books = {c: (r["owner"], r["owner_rank"], r["rank"]) for c, r in rows.items()}
    assert books == {
        "Helix AI": ("Dana", 1, 1),
        "Quarry": ("Dana", 2, 2),
        "Crumb Bakery": ("Lee", 1, 3),
        "Initech": ("Lee", None, None),
        "Mercury": ("Lee", None, None),
    }
    out = tmp_path / "by-owner.parquet"
    assert main(["export", str(out), "--territory", "emea", "--by", "owner"]) == 0
    with duckdb.connect() as conn:
        types = dict(
            conn.execute(f"DESCRIBE SELECT * FROM '{out}'").fetchall()[i][:2] for i in range(3)
        )
        exported = conn.execute(f"SELECT company, owner, rank, owner_rank FROM '{out}'").fetchall()
    assert list(types) == ["owner", "crm_id", "rank"]
    assert exported[:3] == [
        ("Helix AI", "Dana", 1, 1),
        ("Quarry", "Dana", 2, 2),
        ("Crumb Bakery", "Lee", 3, 1),
    ]
    page = tmp_path / "r.html"
    assert main(["report", str(page), "--territory", "emea", "--by", "owner"]) == 0
    assert '<button type="button">Owner rank<i></i>' in page.read_text()


def test_by_owner_without_an_owner_column_is_one_line(tmp_path, monkeypatch, capsys):
    path = tmp_path / "plain.duckdb"
    with TerritoryStore.open(path) as store:
        run = store.start_run("plain", "full", {}, None, 1, 0, 1)
        store.save_results(
            run, "plain", [ok("a", "A", "HOT", 90).model_copy(update={"metadata": {"crm_id": "1"}})]
        )
    monkeypatch.setenv("TERRITORY_DB", str(path))
    for argv in (
        ["results", "--territory", "plain", "--by", "owner"],
        ["export", str(tmp_path / "x.csv"), "--territory", "plain", "--by", "owner"],
        ["report", str(tmp_path / "x.html"), "--territory", "plain", "--by", "owner"],
    ):
        assert main(argv) == 2
        err = one_line_error(capsys)
        assert "--by owner: territory 'plain' has no owner column" in err
        assert "owner, account_owner, company_owner, owner_name, rep" in err
    assert not (tmp_path / "x.csv").exists() and not (tmp_path / "x.html").exists()


def test_export_and_report_show_the_verdict_in_force_and_the_models(db, tmp_path, capsys):
    argv = ["override", "Helix AI", "--territory", "emea", "--tier", "COLD", "--by", "Lee"]
    assert main([*argv, "--reason", "no budget <this year>"]) == 0
    for fmt in ("csv", "json", "parquet"):
        out = tmp_path / f"emea.{fmt}"
        assert main(["export", str(out), "--territory", "emea"]) == 0
    helix = next(r for r in read_rows(tmp_path / "emea.csv") if r["company"] == "Helix AI")
    assert (helix["tier"], helix["model_tier"], helix["overridden"]) == ("COLD", "HOT", "True")
    assert (helix["override_by"], helix["override_disputed"], helix["rank"]) == ("Lee", "True", "3")
    records = json.loads((tmp_path / "emea.json").read_text())
    helix = next(r for r in records if r["company"] == "Helix AI")
    assert helix["overridden"] is True and helix["override_at"].startswith("20")
    with duckdb.connect() as conn:
        parquet = conn.execute(
            f"SELECT rank, overridden, override_reason FROM '{tmp_path / 'emea.parquet'}' "
            "WHERE company = 'Helix AI'"
        ).fetchall()
    # Ranked as a COLD without a score: after Quarry (HOT) and Crumb (COLD, 5).
    assert parquet == [(3, True, "no budget <this year>")]
    page = tmp_path / "emea.html"
    assert main(["report", str(page), "--territory", "emea"]) == 0
    html = page.read_text()
    assert "override by Lee: no budget &lt;this year&gt; (the model says HOT)" in html
    assert "1 tier set by reviewers (1 disputed by the model)" in html


def test_reviewers_tiers_become_golden_labels(db, tmp_path, capsys):
    assert main(["eval", "--with-overrides"]) == 2
    assert "needs --territory" in one_line_error(capsys)
    assert main(["eval", "--with-overrides", "--territory", "emea"]) == 2
    assert "no overrides in territory 'emea'" in one_line_error(capsys)
    golden_csv = tmp_path / "golden.csv"
    golden_csv.write_text("company,expected_tier\nQuarry,HOT\nCrumb Bakery,COLD\n")
    golden = evaluation.read_golden(str(golden_csv))
    labels = [
        {"company_key": "quarry", "company": "Quarry", "domain": None, "tier": "WARM"},
        {"company_key": "mercury", "company": "Mercury", "domain": "m.example", "tier": "HOT"},
    ]
    both = evaluation.with_overrides(golden, labels, "eval-golden")
    assert both.expected == {"quarry": "WARM", "crumb bakery": "COLD", "mercury": "HOT"}
    assert [a.name for a in both.accounts] == ["Quarry", "Crumb Bakery", "Mercury"]
    assert (
        both.territory == "eval-golden" and both.name == "golden.csv + 2 overrides of eval-golden"
    )
    assert both.sha256 != golden.sha256
    alone = evaluation.with_overrides(None, labels, "emea")
    assert alone.territory == "eval-emea-reviewed" and set(alone.expected) == {"quarry", "mercury"}


def test_the_seeded_database_of_other_tests_has_ranks(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TERRITORY_DB", str(seed_database(tmp_path / "s.duckdb")))
    rows = results_json(capsys)
    assert [(c, r["rank"]) for c, r in rows.items()] == [
        ("Helix AI", 1),
        ("Crumb Bakery", 2),
        ("Initech", None),
    ]
