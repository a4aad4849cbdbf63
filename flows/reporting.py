"""What a run shows in the Prefect UI: a progress bar, the territory table and a summary."""

from __future__ import annotations

import hashlib
import string
from typing import Any, cast
from uuid import UUID

from prefect.artifacts import (
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)

from domain.changes import NAMED, Change, RunNews, changes_in
from domain.costs import cost_line
from domain.passages import readable
from domain.verdicts import override_note
from flows.progress import ProgressSnapshot
from storage.duckdb_store import TerritoryStore
from tasks.phase_clock import describe

# A table artifact is stored as JSON in the Prefect database; keep it to a readable size.
MAX_TABLE_ROWS = 5_000
MAX_LISTED = 50
# What the table shows of each result (override_note reads the override's columns).
TABLE_COLUMNS = [
    "rank", "company", "tier", "score", "confidence", "signals", "status", "error",
    "overridden", "override_by", "override_reason", "override_disputed", "model_tier",
]  # fmt: skip


def artifact_key(kind: str, territory: str) -> str:
    """Prefect artifact keys allow lowercase ASCII letters, digits and dashes only."""
    allowed = string.ascii_lowercase + string.digits
    slug = "".join(c if c in allowed else "-" for c in territory.lower())
    slug = "-".join(part for part in slug.split("-") if part)[:40]
    if not territory.isascii():
        # Names in other scripts would all collapse to the same key: keep them apart.
        slug = f"{slug}-{hashlib.sha1(territory.encode()).hexdigest()[:8]}".strip("-")
    return f"{kind}-{slug or 'territory'}"


class ProgressArtifact:
    """The run's progress artifact in the UI: the share of its companies stored so far."""

    def __init__(self, territory: str, total: int) -> None:
        self._id = cast(
            UUID,
            create_progress_artifact(
                0.0,
                key=artifact_key("progress", territory),
                description=f"Companies of {territory} stored so far ({total} in this run)",
            ),
        )
        self._shown = 0.0

    def progressed(self, snapshot: ProgressSnapshot) -> None:
        """Move the bar when it moves by a whole percent, and at the end."""
        share = bar_share(self._shown, snapshot)
        if share is not None:
            update_progress_artifact(self._id, share)
            self._shown = share


def bar_share(shown: float, snapshot: ProgressSnapshot) -> float | None:
    """The share to show after `snapshot` on a bar showing `shown` percent, or None to leave
    it. Each update is a call to the Prefect API (about 9 ms of the flow thread's CPU, our
    simulators): a run of 100,000 stores about 2,000 batches, and a bar moves in whole
    percents. The last company stored always shows 100."""
    if not snapshot.done:
        return None  # nothing to send before the first company is stored
    share = min(100.0, 100.0 * snapshot.done / max(1, snapshot.total))
    if snapshot.done >= snapshot.total or int(share) > int(shown):
        return share
    return None


def publish_results(
    store: TerritoryStore, run_id: str, summary: dict[str, Any], news: RunNews
) -> list[Change]:
    """The territory's latest results as a table (the verdict in force: a reviewer's override
    first, ranked), and a markdown summary of this run; returns what changed, most important
    first (the ones `news` names). `news`: the run's news among its territory's result
    pairs."""
    territory = summary["territory"]
    changes = changes_in(news.pairs, run_id)
    with store.session():  # one brief hold of the file for all four reads
        # The first rows only (DuckDB keeps the best MAX_TABLE_ROWS, not every row in order),
        # a batch at a time, with the one long column the table shows (it read every result
        # whole, reasoning, evidence and metadata, to show 5,000).
        rows = list(
            store.iter_effective_results(
                territory=territory, columns=TABLE_COLUMNS, limit=MAX_TABLE_ROWS
            )
        )
        store.let_go_of_reads()  # before reading the disputes: not both held at once
        total = store.count_results(territory)
        failures = store.run_failures(run_id)
        disputed = store.disputed_overrides(territory, run_id)
    table = [
        {
            "rank": r["rank"],
            "company": r["company"],
            "tier": r["tier"] or "",
            "score": r["score"],
            "confidence": r["confidence"] or "",
            "override": override_note(r),
            "top signal": readable(r["signals"][0]["excerpt"]) if r["signals"] else "",
            "status": r["status"] if r["status"] == "ok" else f"{r['status']}: {r['error']}",
        }
        for r in rows
    ]
    more = f" (first {MAX_TABLE_ROWS} of {total})" if total > MAX_TABLE_ROWS else ""
    create_table_artifact(
        table,
        key=artifact_key("territory", territory),
        description=f"Latest result per company in {territory}{more}, by rank; a reviewer's "
        "override counts first (the override column says by whom and what the model says)",
    )
    create_markdown_artifact(
        render_summary(summary, changes, failures, disputed, news),
        key=artifact_key("summary", territory),
        description=f"Run summary: {territory}",
    )
    return changes


def render_summary(
    summary: dict[str, Any],
    changes: list[Change],
    failures: list[dict[str, Any]],
    disputed: list[dict[str, Any]] | None = None,
    news: RunNews | None = None,
) -> str:
    """Counts per tier, what changed since the last run, failures with reasons, overrides the
    run's verdicts dispute, elapsed time. `news`: what `changes` were made of, when it names
    only the first of them (the counts are its)."""
    lines = _head_lines(summary)
    lines += _change_lines(changes, news)
    lines += _failure_lines(failures)
    lines += _disputed_lines(disputed or [])
    return "\n".join(lines) + "\n"


def _head_lines(s: dict[str, Any]) -> list[str]:
    """The run in a line, its counts per tier, its cost, overrides, why it stopped."""
    lines = [
        f"# {s['territory']}: {s['status']}",
        "",
        f"Run `{s['run_id']}` ({s['mode']}, rubric {s.get('rubric') or '-'}), "
        f"{s['elapsed_seconds']} s, "
        f"{s['n_companies']} companies, {s['n_search_cached']} searches from cache"
        + (
            f", {s['n_resumed']} already classified by an unfinished run (not redone)"
            if s.get("n_resumed")
            else ""
        )
        + (
            f", {s['n_not_due']} not due for a refresh (kept as they were)."
            if s.get("n_not_due")
            else "."
        ),
        "",
        "| tier | companies |",
        "|---|---|",
        f"| HOT | {s['n_hot']} |",
        f"| WARM | {s['n_warm']} |",
        f"| COLD | {s['n_cold']} |",
        f"| ambiguous (give a domain) | {s.get('n_ambiguous') or 0} |",
        f"| failed | {s['n_failed']} |",
        f"| skipped (cost cap) | {s.get('n_skipped') or 0} |",
        "",
        f"**Cost:** {cost_line(s)}.",
        "",
    ]
    if cpu := describe(s.get("cpu_ms") or {}):
        lines += [f"**CPU per company:** {cpu} (the run's work by phase, start-up excluded).", ""]
    if s.get("n_overrides"):
        lines += [
            f"**Overrides:** {s['n_overrides']} tiers set by reviewers count first; "
            f"{s.get('n_overrides_disputed') or 0} disputed by this run's verdicts.",
            "",
        ]
    if s.get("message"):
        lines += [f"**Stopped:** {_cell(s['message'])}", ""]
    return lines


def _change_lines(changes: list[Change], news: RunNews | None = None) -> list[str]:
    """What changed since the last run: moves first, then other changes, then new names."""
    lines: list[str] = []
    new = [c for c in changes if c.old_tier is None]
    moved = [c for c in changes if c.old_tier is not None and c.old_tier != c.new_tier]
    other = [c for c in changes if c.old_tier is not None and c.old_tier == c.new_tier]
    n_other, n_new = (news.n_other, news.n_new) if news else (len(other), len(new))
    lines.append(
        f"## Changes since the last run ({len(moved)} moved tier, {n_other} other, {n_new} new)"
    )
    lines.append("")
    shown = (moved + other)[:MAX_LISTED]
    if shown:
        lines += ["| company | change |", "|---|---|"]
        lines += [f"| {_cell(c.company)} | {_cell(c.describe())} |" for c in shown]
    else:
        lines.append("No company changed.")
    if new:
        names = ", ".join(_cell(c.company) for c in new[:NAMED])
        lines += ["", f"New: {names}" + (" …" if n_new > NAMED else "")]
    return lines


def _failure_lines(failures: list[dict[str, Any]]) -> list[str]:
    """The failed companies with their reasons, and how to re-run them."""
    lines: list[str] = []
    lines += ["", f"## Failures ({len(failures)})", ""]
    if failures:
        lines += ["| company | reason |", "|---|---|"]
        lines += [f"| {_cell(f['company'])} | {_cell(f['error'])} |" for f in failures[:MAX_LISTED]]
        if len(failures) > MAX_LISTED:
            lines.append(f"\n… and {len(failures) - MAX_LISTED} more: `territory results`.")
        lines += ["", "Re-run them with the `rerun-failed` deployment or `territory rerun-failed`."]
    else:
        lines.append("None.")
    return lines


def _disputed_lines(disputed: list[dict[str, Any]]) -> list[str]:
    """The overrides this run's verdicts disagree with: kept, and named for a second look."""
    if not disputed:
        return []
    lines = [
        "",
        f"## Overrides the model now disputes ({len(disputed)})",
        "",
        "Kept: a reviewer's tier counts until it is cleared (`territory override --clear`).",
        "",
        "| company | override | by | the model now says |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {_cell(d['company'])} | {d['tier']} | {_cell(d['override_by'])} | "
        f"{d['model_tier']} ({d['model_score']}, {d['model_confidence']}) |"
        for d in disputed[:MAX_LISTED]
    ]
    return lines


def _cell(text: Any) -> str:
    """Text safe inside a markdown table cell."""
    return " ".join(str(text or "").split()).replace("|", "\\|")[:300]
