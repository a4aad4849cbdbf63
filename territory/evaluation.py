"""`territory eval`: score a labelled golden set, keep the result, compare two evals."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from domain.accounts import Account, InputError, read_accounts
from domain.metrics import TIERS, UNSCORED, Item, evaluate, render, render_comparison
from storage.duckdb_store import TerritoryStore

EXPECTED_COLUMNS = ("expected_tier", "expected", "tier", "label")


@dataclass(frozen=True)
class Golden:
    """A golden set: companies and the tier each should get, from a file, reviewers'
    overrides, or both."""

    name: str  # the golden file's name, and what else gave labels
    sha256: str  # of every label: evals of the same set compare
    accounts: list[Account]
    expected: dict[str, str]  # company key -> tier
    territory: str  # where its companies are researched (kept apart from real territories)


def read_golden(path: str) -> Golden:
    """Read a golden CSV (a name column, an expected-tier column, optional domain)."""
    parsed = read_accounts(path)
    columns = list(parsed.accounts[0].metadata) if parsed.accounts else []
    column = next((c for c in columns if c.strip().lower() in EXPECTED_COLUMNS), None)
    if column is None:
        raise InputError(
            f"{path}: no expected tier column; name one of: {', '.join(EXPECTED_COLUMNS)}"
        )
    expected = {}
    for account in parsed.accounts:
        value = account.metadata.get(column, "").strip().upper()
        if value not in TIERS:
            raise InputError(
                f"{path}: line {account.rows[0]}: expected tier {value or '(empty)'!r} "
                "is not HOT, WARM or COLD"
            )
        expected[account.key] = value
    data = Path(path).read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    return Golden(Path(path).name, digest, parsed.accounts, expected, f"eval-{Path(path).stem}")


def with_overrides(golden: Golden | None, labels: list[dict[str, Any]], source: str) -> Golden:
    """The golden set with reviewers' tiers (overrides in force in territory `source`, as
    `override_labels` gives them) as labels: they take precedence over the file's and add the
    companies it lacks. Without a file, the reviewed companies alone, researched in
    `eval-<source>-reviewed`."""
    accounts = list(golden.accounts) if golden else []
    expected = dict(golden.expected) if golden else {}
    known = {a.key for a in accounts}
    for label in labels:
        expected[label["company_key"]] = label["tier"]
        if label["company_key"] not in known:
            accounts.append(
                Account(label["company_key"], label["company"], label["domain"], {}, ())
            )
    reviewed = json.dumps(sorted((x["company_key"], x["tier"]) for x in labels))
    digest = hashlib.sha256(((golden.sha256 if golden else "") + reviewed).encode()).hexdigest()
    name = f"{len(labels)} overrides of {source}"
    if golden is None:
        return Golden(name, digest, accounts, expected, f"eval-{source}-reviewed")
    return Golden(f"{golden.name} + {name}", digest, accounts, expected, golden.territory)


def score_golden(golden: Golden, results: list[dict[str, Any]]) -> tuple[list[Item], dict]:
    """Each golden company's verdict against its label, and the metrics over all of them."""
    by_key = {r["company_key"]: r for r in results}
    items = []
    for account in golden.accounts:
        result = by_key.get(account.key)
        ok = result is not None and result["status"] == "ok"
        verdict = result if ok and result is not None else {}
        items.append(
            Item(
                company_key=account.key,
                company=account.name,
                expected=golden.expected[account.key],
                predicted=verdict.get("tier", UNSCORED),
                confidence=verdict.get("confidence"),
                status=result["status"] if result else "missing",
            )
        )
    return items, evaluate(items)


def save(
    store: TerritoryStore,
    golden: Golden,
    run: dict[str, Any],
    items: list[Item],
    metrics: dict[str, Any],
    model: str | None,
) -> str:
    """Keep an eval so later ones can be compared with it; returns its id."""
    row = {
        "golden": golden.name,
        "golden_sha256": golden.sha256,
        "territory": golden.territory,
        "run_id": run["run_id"],
        "rubric": run.get("rubric"),
        "model": model,
        "metrics": metrics,
    }
    rows = [
        {
            "company_key": i.company_key,
            "company": i.company,
            "expected": i.expected,
            "predicted": i.predicted,
            "confidence": i.confidence,
            "status": i.status,
            "correct": i.correct,
        }
        for i in items
    ]
    return store.save_eval(row, rows)


def report(
    eval_id: str, golden: Golden, run: dict[str, Any], metrics: dict[str, Any], model: str | None
) -> str:
    """The text `territory eval` prints."""
    title = (
        f"eval {eval_id[:8]}: {golden.name}, rubric {run.get('rubric') or '-'}, "
        f"model {model or '-'}, run {run['run_id'][:8]}"
    )
    return render(metrics, title)


def compare(store: TerritoryStore, ids: list[str]) -> str:
    """Two stored evals side by side: the two given (id prefixes), or the latest two of the
    most recent golden set."""
    evals = store.evals(limit=500)
    if not evals:
        raise InputError("no evals stored yet; run `territory eval GOLDEN.csv` first")
    if ids:
        if len(ids) != 2:
            raise InputError("--compare takes two eval ids (or none for the latest two)")
        chosen = [_one(evals, i) for i in ids]
    else:
        same = [e for e in evals if e["golden_sha256"] == evals[0]["golden_sha256"]]
        if len(same) < 2:
            raise InputError(
                f"only one eval of {evals[0]['golden']} is stored; run another (say with "
                "--rubric or --model) to compare"
            )
        chosen = [same[1], same[0]]  # older on the left
    left, right = ({**e, "label": e["eval_id"][:8]} for e in chosen)
    a, b = store.eval_items(left["eval_id"]), store.eval_items(right["eval_id"])
    differing = [
        (a[k]["company"], a[k]["expected"], a[k]["predicted"], b[k]["predicted"])
        for k in sorted(a.keys() & b.keys(), key=lambda k: a[k]["company"])
        if a[k]["predicted"] != b[k]["predicted"]
    ]
    return render_comparison(left, right, differing)


def _one(evals: list[dict[str, Any]], prefix: str) -> dict[str, Any]:
    found = [e for e in evals if e["eval_id"].startswith(prefix)]
    if len(found) != 1:
        what = "no eval" if not found else f"{len(found)} evals"
        raise InputError(f"{what} with an id starting {prefix!r}; see `territory eval --list`")
    return found[0]


def listing(store: TerritoryStore) -> str:
    """Stored evals, newest first, one line each."""
    lines = []
    for e in store.evals():
        lines.append(
            f"{e['eval_id'][:8]}  {e['created_at']:%Y-%m-%d %H:%M}  {e['golden']}  "
            f"rubric {e['rubric'] or '-'}  model {e['model'] or '-'}  "
            f"agreement {100 * (e['agreement'] or 0):.1f}% of {e['n']}"
        )
    return "\n".join(lines) or "(no evals stored yet)"
