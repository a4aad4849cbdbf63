"""The report's pictures and lists: the tier chart, the score histogram, what changed, the
override notes.

Every value goes through `esc` (HTML-escaped, unprintables dropped) before it reaches the page.
"""

from __future__ import annotations

import html
import re
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from domain.changes import Change
from domain.models import TIERS, UNTIERED
from domain.verdicts import override_note

COLOURS = {
    "HOT": "#d9480f",
    "WARM": "#e8a200",
    "COLD": "#5b7fa6",
    "failed": "#6b7280",
    "ambiguous": "#b4bac3",
}
OTHER_COLOUR = "#cbd2db"  # a status added later (e.g. skipped by a cost cap)
MOVES_SHOWN = 10  # changes listed before the rest fold into a <details>
CHANGES_MAX = 500  # beyond this the file points at `territory changes`
NEW_LISTED = 12  # new companies named one by one; more are summed up by tier
# C0 controls (but tab and newline), DEL and lone surrogates: not text a page should hold.
_UNPRINTABLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def tier_chart(counts: Counter[str]) -> str:
    """Horizontal bars: companies per tier, then those without one (failed, ambiguous, ...)."""
    rows: list[tuple[str, int, str]] = [(t, counts[t], t) for t in TIERS]
    rows += [(key.capitalize(), counts[key], key) for key in unscored(counts)]
    total = sum(n for _, n, _ in rows) or 1
    top = max(n for _, n, _ in rows) or 1
    width, left, span, step = 440, 86, 270, 34
    parts = []
    for i, (name, n, key) in enumerate(rows):
        label, colour = esc(name), COLOURS.get(key, OTHER_COLOUR)
        y = 8 + i * step
        w = span * n / top
        w = max(w, 2.0) if n else 0.0  # a sliver keeps a tier of one company visible
        share = f"{n / total:.0%}"
        parts.append(
            f'<text x="{left - 10}" y="{y + 15}" text-anchor="end" class="lbl">{label}</text>'
            f'<rect class="bar" data-key="{esc(key)}" x="{left}" y="{y}" width="{w:.1f}"'
            ' height="22"'
            f' rx="3" fill="{colour}"><title>{label}: {n:,} ({share})</title></rect>'
            f'<text x="{left + w + 8:.1f}" y="{y + 15}" class="val">{n:,}'
            f'<tspan class="pct"> {share}</tspan></text>'
        )
    height = 8 + len(rows) * step
    return (
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="Companies per tier">{"".join(parts)}</svg>'
    )


def score_histogram(results: Iterable[dict[str, Any]]) -> str:
    """Ten bins of ten points (the last 90-100), each bar stacked by tier."""
    bins: list[Counter[str]] = [Counter() for _ in range(10)]
    for row in results:
        score, tier = row.get("score"), row.get("tier")
        if isinstance(score, int | float) and tier in TIERS:
            bins[min(max(int(score) // 10, 0), 9)][tier] += 1
    top, tick = _axis(max((sum(b.values()) for b in bins), default=0))
    width, height, left, right, bottom, head = 520, 200, 40, 16, 28, 14
    plot_w, plot_h = width - left - right, height - bottom - head
    slot = plot_w / 10
    parts = []
    for value in range(0, top + 1, tick):
        y = head + plot_h - plot_h * value / top
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" class="axis">{value:,}</text>'
        )
    for i, counts in enumerate(bins):
        x = left + i * slot + 3
        y = head + plot_h
        label = f"{i * 10}-{i * 10 + 9 if i < 9 else 100}"
        # COLD at the bottom, HOT on top: the bars read like the tiers' order of heat.
        for tier in reversed(TIERS):
            n = counts[tier]
            if not n:
                continue
            h = plot_h * n / top
            y -= h
            parts.append(
                f'<rect class="bar" data-key="{tier}" x="{x:.1f}" y="{y:.1f}" '
                f'width="{slot - 6:.1f}" height="{h:.1f}" fill="{COLOURS[tier]}">'
                f"<title>score {label}: {n:,} {tier}</title></rect>"
            )
        if sum(counts.values()):
            parts.append(
                f'<text x="{x + (slot - 6) / 2:.1f}" y="{y - 4:.1f}" text-anchor="middle" '
                f'class="val">{sum(counts.values()):,}</text>'
            )
    for i in range(11):
        x = left + i * slot
        parts.append(
            f'<text x="{x:.1f}" y="{height - 8}" text-anchor="middle" class="axis">{i * 10}</text>'
        )
    parts.append(
        f'<line x1="{left}" x2="{width - right}" y1="{head + plot_h}" y2="{head + plot_h}" '
        'class="base"/>'
    )
    return (
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="Companies per score band">{"".join(parts)}</svg>'
    )


def render_changes(changes: list[Change], run: dict[str, Any] | None) -> str:
    """The latest run's changes: tier moves, then score and signal moves, then new companies."""
    head = '<section id="changes"><h2>What changed since the last run'
    if run is None:
        return head + '</h2><p class="muted">No run of this territory is recorded.</p></section>'
    moves = [c for c in changes if c.old_tier is not None and c.old_tier != c.new_tier]
    shifts = [c for c in changes if c.old_tier is not None and c.old_tier == c.new_tier]
    new = [c for c in changes if c.old_tier is None]
    intro = (
        f' <small class="muted">run <code>{esc(str(run.get("run_id", ""))[:8])}</code> against '
        "each company's result before it</small></h2>"
    )
    if not changes:
        return head + intro + '<p class="none">Nothing changed in this run.</p></section>'
    parts = [head, intro]
    budget = CHANGES_MAX
    for title, group in (("Tier moves", moves), ("Score and signal changes", shifts)):
        if group:
            parts.append(f'<h3>{title} <span class="muted">{len(group):,}</span></h3>')
            parts.append(_change_list(group[:budget]))
            budget = max(budget - len(group), 0)
    if new:
        by_tier = Counter(c.new_tier for c in new)
        summary = ", ".join(f"{by_tier[t]:,} {t}" for t in TIERS if by_tier[t])
        parts.append(
            f'<h3>New to the territory <span class="muted">{len(new):,}: {summary}</span></h3>'
        )
        if len(new) <= NEW_LISTED:
            parts.append(_change_list(new))
        elif budget:
            parts.append(_change_list(new[:budget], fold_after=0))
    if len(changes) > CHANGES_MAX:
        parts.append(
            f'<p class="muted">Only the first {CHANGES_MAX:,} of {len(changes):,} changes are '
            "listed here; <code>territory changes --territory NAME</code> lists them all.</p>"
        )
    return "".join(parts) + "</section>"


def _change_list(changes: list[Change], fold_after: int = MOVES_SHOWN) -> str:
    """A list of changes; past `fold_after` the rest sit in a closed <details>."""
    items = [_change_item(c) for c in changes]
    shown = "".join(items[:fold_after])
    html_ = f'<ul class="changes">{shown}</ul>' if shown else ""
    if len(items) > fold_after:
        rest = "".join(items[fold_after:])
        what = "all" if not fold_after else f"{len(items) - fold_after:,} more"
        html_ += f'<details><summary>Show {what}</summary><ul class="changes">{rest}</ul></details>'
    return html_


def _change_item(change: Change) -> str:
    if change.old_tier is None:
        arrow, css = "new", change.new_tier
    else:
        rank: dict[str | None, int] = {t: i for i, t in enumerate(reversed(TIERS))}
        step = rank.get(change.new_tier, 0) - rank.get(change.old_tier, 0)
        delta = change.new_score - (change.old_score or 0)
        arrow = "▲" if step > 0 or (not step and delta > 0) else "▼" if step or delta < 0 else "•"
        css = change.new_tier
    return (
        f'<li><b class="t {esc(css)}">{arrow} {esc(change.new_tier)}</b> '
        f'<bdi class="co">{esc(change.company)}</bdi> '
        f'<span class="what">{esc(change.describe())}</span></li>'
    )


def unscored(counts: Counter[str]) -> list[str]:
    """The statuses without a tier: failed and ambiguous, then any other found."""
    return [*UNTIERED, *sorted(k for k in counts if k not in TIERS and k not in UNTIERED)]


def figure(caption: str, svg: str) -> str:
    return f"<figure><figcaption>{caption}</figcaption>{svg}</figure>"


def legend() -> str:
    return '<span class="legend">' + "".join(f'<b class="t {t}">{t}</b>' for t in TIERS) + "</span>"


def _axis(peak: int) -> tuple[int, int]:
    """A round top for the y axis and the step between its gridlines (at most five)."""
    power = 1
    while True:
        for tick in (power, 2 * power, 5 * power):
            steps = -(-peak // tick)
            if steps <= 5:
                return max(steps, 1) * tick, tick
        power *= 10


def esc(value: Any) -> str:
    """Text or attribute content, escaped (quotes too) and without unprintable characters."""
    return html.escape(_UNPRINTABLE.sub("", "" if value is None else str(value)), quote=True)


def override_facts(results: list[dict[str, Any]]) -> list[str]:
    """How many verdicts reviewers set, and how many of those the model disputes."""
    overridden = sum(bool(r.get("overridden")) for r in results)
    if not overridden:
        return []
    disputed = sum(bool(r.get("override_disputed")) for r in results)
    return [
        f"{overridden:,} tier{'s' if overridden > 1 else ''} set by reviewers"
        + (f" ({disputed:,} disputed by the model)" if disputed else "")
    ]


def render_override(row: dict[str, Any]) -> str:
    """Under an overridden tier: who set it and why, and what the model says if it differs."""
    note = override_note(row)
    if not note:
        return ""
    css = "ov disputed" if row.get("override_disputed") else "ov"
    return f'<div class="{css}">{esc(clip("override " + note, 200))}</div>'


def clip(text: str, limit: int) -> str:
    text = str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def run_facts(run: dict[str, Any]) -> list[str]:
    """What the run itself did: companies, failures, tokens and, when stored, its cost."""
    facts = []
    if run.get("n_companies") is not None:
        parts = [f"{run['n_companies']:,} companies in the run"]
        for key, label in (
            ("n_failed", "failed"),
            ("n_ambiguous", "ambiguous"),
            ("n_skipped", "skipped"),
        ):
            if run.get(key):
                parts.append(f"{run[key]:,} {label}")
        facts.append(", ".join(parts))
    tokens = [run.get("prompt_tokens"), run.get("completion_tokens")]
    if any(tokens):
        facts.append(f"{tokens[0] or 0:,} prompt + {tokens[1] or 0:,} completion tokens")
    # Cost columns are newer than some databases: show those that are there, need none.
    if isinstance(run.get("cost_usd"), int | float):
        cost = f"cost ${run['cost_usd']:,.2f}"
        parts = [
            f"{label} ${run[key]:,.2f}"
            for key, label in (("tavily_cost_usd", "Tavily"), ("llm_cost_usd", "LLM"))
            if isinstance(run.get(key), int | float)
        ]
        if parts:
            cost += f" ({', '.join(parts)})"
        if run.get("cost_complete") is False:
            cost += ", at least: a model had no price"
        if run.get("tokens_estimated"):
            cost += ", tokens partly estimated"
        facts.append(cost)
    if isinstance(run.get("tavily_credits"), int | float) and run["tavily_credits"]:
        facts.append(f"{run['tavily_credits']:,g} Tavily credits")
    if isinstance(run.get("max_cost_usd"), int | float):
        facts.append(f"cost cap ${run['max_cost_usd']:,.2f}")
    return facts


def tally(results: Iterable[dict[str, Any]]) -> Counter[str]:
    """Companies per tier, plus those without one per status (failed, ambiguous, ...)."""
    counts: Counter[str] = Counter({k: 0 for k in (*TIERS, *UNTIERED)})
    for row in results:
        counts[tier_key(row)] += 1
    return counts


def metadata_columns(results: Iterable[dict[str, Any]]) -> list[str]:
    """The CRM passthrough columns across all rows, in the order they first appear."""
    seen: dict[str, None] = {}
    for row in results:
        for key in row.get("metadata") or {}:
            seen.setdefault(str(key), None)
    return list(seen)


def tier_key(row: dict[str, Any]) -> str:
    """The tier a row counts under (an override's too), else its status."""
    if row.get("tier") in TIERS and (row.get("status") == "ok" or row.get("overridden")):
        return str(row["tier"])
    return str(row.get("status") or "failed")


def when(value: Any) -> str:
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
        return value.strftime("%Y-%m-%d %H:%M")
    return esc(value)


def duration(start: Any, end: Any) -> str:
    if not isinstance(start, datetime) or not isinstance(end, datetime):
        return ""
    try:
        seconds = int((end - start).total_seconds())
    except TypeError:  # one aware, one naive
        return ""
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m {seconds:02d}s"
    return f"{minutes // 60}h {minutes % 60:02d}m"
