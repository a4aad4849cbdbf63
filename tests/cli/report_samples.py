"""What the report tests render: result rows as `latest_results` returns them, a run, changes,
a large territory, and a database holding two runs of `emea`, hostile names included."""

from datetime import UTC, datetime, timedelta

from domain.changes import Change
from domain.models import Classification, CompanyResult, Signal

HOSTILE_NAME = '<script>alert(1)</script> & "Co"'
HOSTILE_EXCERPT = '"><img src=x onerror=alert(2)></a><script>alert(3)</script> “quoted” 🚀'
NOW = datetime(2026, 11, 5, 14, 30, tzinfo=UTC)


def row(company, tier=None, score=None, status="ok", signals=(), metadata=None, **extra):
    """A result row as `latest_results` returns it."""
    return {
        "territory": "emea",
        "company_key": company.lower(),
        "company": company,
        "domain": extra.pop("domain", None),
        "metadata": metadata if metadata is not None else {"owner": "Dana", "crm_id": "1"},
        "status": status,
        "tier": tier,
        "score": score,
        "confidence": "high" if tier else None,
        "reasoning": "r",
        "signals": list(signals),
        "signals_dropped": 0,
        "error": extra.pop("error", None),
        "run_id": "run-2",
        "model": "gpt-test",
        "rubric": "gpu@1",
        "updated_at": NOW,
        **extra,
    }


def signal(excerpt, url="https://news.example/a", kind="funding", published=None):
    return {"kind": kind, "url": url, "excerpt": excerpt, "published": published}


RUN = {
    "run_id": "0f3c9a71-1111-2222-3333-444455556666",
    "territory": "emea",
    "mode": "full",
    "status": "completed",
    "started_at": NOW - timedelta(minutes=3),
    "finished_at": NOW - timedelta(minutes=1, seconds=30),
    "n_companies": 8,
    "n_failed": 1,
    "n_ambiguous": 1,
    "prompt_tokens": 12000,
    "completion_tokens": 900,
    "rubric": "gpu@1",
}


def sample():
    results = [
        row("Helix AI", "HOT", 91, signals=[signal("Helix trains LLMs on 2,000 H100s.")]),
        row("Nimbus Labs", "HOT", 88, domain="nimbus.example"),
        row("Vector Forge", "HOT", 80),
        row("Quarry Data", "WARM", 55),
        row("Lumen Retail", "WARM", 41),
        row("Crumb Bakery", "COLD", 5, metadata={"owner": "Lee", "region": "EMEA"}),
        row("Initech", status="failed", error="search failed: Tavily HTTP 500"),
        row("Mercury", status="ambiguous", error="results are about 3 organisations"),
    ]
    changes = [
        Change("Helix AI", "WARM", "HOT", 55, 91, [signal("Helix trains LLMs on 2,000 H100s.")]),
        Change("Quarry Data", "WARM", "WARM", 50, 55),
        Change("Vector Forge", None, "HOT", None, 80),
    ]
    return results, changes


def big_territory(n):
    tiers = ["HOT", "WARM", "COLD"]
    rows = []
    for i in range(n):
        if i % 50 == 49:
            rows.append(row(f"Company {i:05d}", status="failed", error="search failed"))
            continue
        tier = tiers[i % 3]
        score = {"HOT": 70, "WARM": 40, "COLD": 0}[tier] + i % 30
        excerpt = f"Company {i:05d} raised a Series B and runs {i % 97} GPU clusters for training."
        rows.append(
            row(
                f"Company {i:05d}",
                tier,
                score,
                domain=f"company{i}.example",
                signals=[signal(excerpt, f"https://news{i % 7}.example/{i}")] * 2,
                metadata={"owner": f"Rep {i % 12}", "crm_id": f"CRM-{i}", "region": "EMEA"},
            )
        )
    return sorted(rows, key=lambda r: -(r["score"] if r["score"] is not None else -1))


def stored_result(key, name, tier, score, signals=(), owner="Lee", domain=None):
    """An `ok` result as a run stores it, with the CRM columns `owner` and `crm_id`."""
    verdict = Classification(
        tier=tier,
        score=score,
        confidence="high" if score > 60 else "medium",
        reasoning="r",
        signals=[Signal(kind=k, url=u, excerpt=e) for k, u, e in signals],
    )
    return CompanyResult(
        company_key=key,
        name=name,
        domain=domain,
        status="ok",
        classification=verdict,
        model="gpt-test",
        metadata={"owner": owner, "crm_id": key.upper()},
    )


def fillers(extra):
    """`extra` companies, HOT, WARM and COLD in turn across four owners; the first one with a
    hostile name and excerpt."""
    filler = []
    for i in range(extra):
        tier = ("HOT", "WARM", "COLD")[i % 3]
        score = {"HOT": 70, "WARM": 40, "COLD": 5}[tier] + (i * 7) % 25
        name = HOSTILE_NAME if i == 0 else f"Filler {i:03d}"
        excerpt = HOSTILE_EXCERPT if i == 0 else f"Filler {i} rents {i * 8} GPUs for inference."
        filler.append(
            stored_result(
                f"filler{i}",
                name,
                tier,
                score,
                [("inference", f"https://filler{i}.example/news", excerpt)],
                owner=("Dana", "Lee", "Priya", "Sam")[i % 4],
                domain=f"filler{i}.example",
            )
        )
    return filler


def seed_two_runs(db, extra=0):
    """Two runs of `emea`: Helix moves WARM -> HOT in the second, Nova is new in it, and
    `extra` more companies (some with hostile names) fill the table."""
    from storage.duckdb_store import TerritoryStore

    helix_signal = ("ml_training", "https://h.example/a", "Helix trains LLMs on 2,000 H100s.")
    crumb = stored_result("crumb", "Crumb Bakery", "COLD", 5)
    failed = CompanyResult(
        company_key="initech",
        name="Initech",
        status="failed",
        error="search failed: Tavily HTTP 500",
        metadata={"owner": "Lee", "crm_id": "9"},
    )
    filler = fillers(extra)
    with TerritoryStore.open(db) as store:
        first = store.start_run("emea", "full", {}, None, 3 + extra, 0, 3 + extra)
        helix = stored_result("helix", "Helix AI", "WARM", 55, [], "Dana", "h.example")
        store.save_results(first, "emea", [helix, crumb, failed, *filler])
        store.finish_run(first, "completed")
        second = store.start_run("emea", "full", {}, None, 4 + extra, 0, 4 + extra)
        helix = stored_result("helix", "Helix AI", "HOT", 91, [helix_signal], "Dana", "h.example")
        nova = stored_result("nova", "Nova Robotics", "WARM", 62, [], "Priya")
        store.save_results(second, "emea", [helix, nova, crumb, failed, *filler])
        store.finish_run(second, "completed")
    return second
