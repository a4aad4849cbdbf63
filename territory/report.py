"""`territory report`: one self-contained HTML file of a territory's latest results: tier and
score charts (inline SVG), what changed in the latest run, and a sortable, filterable table.

Everything that comes from data (CRM names, web excerpts, errors) is escaped; the only URLs in
the file are evidence links, and a Content-Security-Policy with the hashes of the one inline
style and script stops the page from loading or running anything else."""

from __future__ import annotations

import argparse
import base64
import hashlib
import html
import re
import sys
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tasks.changes import Change, changes_in
from tasks.entities import host_of
from territory.console import EXIT_OK, CliError
from territory.files import replacing
from territory.read_commands import reader

TIERS = ("HOT", "WARM", "COLD")
COLOURS = {
    "HOT": "#d9480f",
    "WARM": "#e8a200",
    "COLD": "#5b7fa6",
    "failed": "#6b7280",
    "ambiguous": "#b4bac3",
}
OTHER_COLOUR = "#cbd2db"  # a status added later (e.g. skipped by a cost cap)
UNSCORED = ("failed", "ambiguous")  # always shown, even at zero
MAX_SIGNALS = 3  # signals shown per company; the rest are counted
EXCERPT_CHARS = 240  # an excerpt is a sentence; a page-long one would swamp the table
ERROR_CHARS = 300
MOVES_SHOWN = 10  # changes listed before the rest fold into a <details>
CHANGES_MAX = 500  # beyond this the file points at `territory changes`
NEW_LISTED = 12  # new companies named one by one; more are summed up by tier
# Rows laid out at once: a browser takes seconds to lay out 10,000 rows at every sort or
# filter, and nobody reads that many; the rest are a click away ("Show more").
PAGE_ROWS = 500
# The page's own style and script, kept as files of their own so they read as CSS and JS.
_ASSETS = resources.files("territory") / "report_assets"
STYLE = (_ASSETS / "report.css").read_text(encoding="utf-8")
SCRIPT = (_ASSETS / "report.js").read_text(encoding="utf-8")
RUNS_SCANNED = 100_000  # runs() is newest first across territories: look far enough back

# C0 controls (but tab and newline), DEL and lone surrogates: not text a page should hold.
_UNPRINTABLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
_HTTP_URL = re.compile(r"https?://[^\s\x00-\x1f\x7f]+", re.IGNORECASE)


def cmd_report(args: argparse.Namespace) -> int:
    """Write the territory's HTML report to OUT.html."""
    with reader() as store:
        results = store.latest_results(territory=args.territory)
        runs = store.runs(limit=RUNS_SCANNED)
        mine = [r for r in runs if r["territory"] == args.territory]
        if not results:
            known = sorted({r["territory"] for r in runs})
            hint = f" (territories with runs: {', '.join(known)})" if known else ""
            raise CliError(f"no results for territory {args.territory!r}{hint}")
        latest = mine[0] if mine else None
        changes = (
            changes_in(store.result_pairs(args.territory), run_id=latest["run_id"])
            if latest
            else []
        )
    page = render_report(args.territory, results, latest, changes)
    write_report(Path(args.out), page)
    print(f"report: {len(results):,} companies -> {args.out}", file=sys.stderr)
    return EXIT_OK


def write_report(out: Path, page: str) -> None:
    """Write the page whole (beside OUT, then renamed), so no half-written report is left."""
    try:
        with replacing(out) as tmp:
            # Lone surrogates from stored JSON cannot be UTF-8: replace them rather than fail.
            tmp.write_text(page, encoding="utf-8", errors="replace", newline="\n")
    except OSError as exc:
        raise CliError(f"cannot write {out}: {exc.strerror or exc}") from None


def render_report(
    territory: str,
    results: list[dict[str, Any]],
    run: dict[str, Any] | None,
    changes: list[Change],
    generated_at: datetime | None = None,
) -> str:
    """The whole HTML page, from plain result rows, the latest run row and its changes."""
    generated_at = generated_at or datetime.now(UTC)
    counts = tally(results)
    body = "".join(
        [
            render_header(territory, results, run, counts, generated_at),
            '<section class="charts">',
            _figure("Tier distribution", tier_chart(counts)),
            _figure(f"Score distribution {_legend()}", score_histogram(results)),
            "</section>",
            render_changes(changes, run),
            render_table(results, counts),
            "<footer>Made by <code>territory report</code>. The signal links go to the pages "
            "the evidence was quoted from.</footer>",
        ]
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_policy()}">'
        '<meta name="referrer" content="no-referrer">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Territory report: {_e(territory)}</title>"
        f"<style>{STYLE}</style></head>\n"
        f"<body><main>{body}</main><script>{SCRIPT}</script></body></html>\n"
    )


def tally(results: Iterable[dict[str, Any]]) -> Counter[str]:
    """Companies per tier, plus those without one per status (failed, ambiguous, ...)."""
    counts: Counter[str] = Counter({k: 0 for k in (*TIERS, *UNSCORED)})
    for row in results:
        counts[_tier_key(row)] += 1
    return counts


def render_header(
    territory: str,
    results: list[dict[str, Any]],
    run: dict[str, Any] | None,
    counts: Counter[str],
    generated_at: datetime,
) -> str:
    """Title, when it was made, the latest run's particulars and the headline counts."""
    facts = [f"Generated {_when(generated_at)}"]
    if run:
        status = str(run.get("status") or "")
        css = "ok" if status == "completed" else "warn"
        facts.append(
            f"latest run <code>{_e(str(run.get('run_id', ''))[:8])}</code> "
            f'<span class="{css}">{_e(status)}</span>'
            + (f" ({_e(run['mode'])})" if run.get("mode") else "")
        )
        if run.get("started_at"):
            took = _duration(run.get("started_at"), run.get("finished_at"))
            facts.append(f"started {_when(run['started_at'])}" + (f", took {took}" if took else ""))
    # A second line for what the run was judged by, did and cost.
    details = []
    rubric = (run or {}).get("rubric") or _most_common(results, "rubric", run)
    model = _most_common(results, "model", run)
    if rubric:
        details.append(f"rubric <code>{_e(rubric)}</code>")
    if model:
        details.append(f"model <code>{_e(model)}</code>")
    if run:
        details.extend(_run_counts(run))
    tiles = [("Companies", len(results), "all")]
    tiles += [(t, counts[t], t) for t in TIERS]
    tiles += [(key.capitalize(), counts[key], key) for key in _unscored(counts)]
    return (
        '<header><p class="eyebrow">Territory report</p>'
        f"<h1><bdi>{_e(territory)}</bdi></h1>"
        f'<p class="facts">{" · ".join(facts)}<br>{" · ".join(details)}</p><div class="tiles">'
        + "".join(
            f'<div class="tile {_e(css)}"><span class="n">{n:,}</span><span>{_e(label)}</span>'
            "</div>"
            for label, n, css in tiles
        )
        + "</div></header>"
    )


def _run_counts(run: dict[str, Any]) -> list[str]:
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


def tier_chart(counts: Counter[str]) -> str:
    """Horizontal bars: companies per tier, then those without one (failed, ambiguous, ...)."""
    rows = [(t, counts[t], t) for t in TIERS]
    rows += [(key.capitalize(), counts[key], key) for key in _unscored(counts)]
    total = sum(n for _, n, _ in rows) or 1
    top = max(n for _, n, _ in rows) or 1
    width, left, span, step = 440, 86, 270, 34
    parts = []
    for i, (name, n, key) in enumerate(rows):
        label, colour = _e(name), COLOURS.get(key, OTHER_COLOUR)
        y = 8 + i * step
        w = span * n / top
        w = max(w, 2.0) if n else 0.0  # a sliver keeps a tier of one company visible
        share = f"{n / total:.0%}"
        parts.append(
            f'<text x="{left - 10}" y="{y + 15}" text-anchor="end" class="lbl">{label}</text>'
            f'<rect class="bar" data-key="{_e(key)}" x="{left}" y="{y}" width="{w:.1f}" height="22"'
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
    bins = [Counter() for _ in range(10)]
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
        f' <small class="muted">run <code>{_e(str(run.get("run_id", ""))[:8])}</code> against '
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
        rank = {t: i for i, t in enumerate(reversed(TIERS))}
        step = rank.get(change.new_tier, 0) - rank.get(change.old_tier, 0)
        delta = change.new_score - (change.old_score or 0)
        arrow = "▲" if step > 0 or (not step and delta > 0) else "▼" if step or delta < 0 else "•"
        css = change.new_tier
    return (
        f'<li><b class="t {_e(css)}">{arrow} {_e(change.new_tier)}</b> '
        f'<bdi class="co">{_e(change.company)}</bdi> '
        f'<span class="what">{_e(change.describe())}</span></li>'
    )


def render_table(results: list[dict[str, Any]], counts: Counter[str]) -> str:
    """The companies, one compact row each, with the filter controls above."""
    extra = metadata_columns(results)
    columns = [
        ("Company", "text"),
        ("Tier", "tier"),
        ("Score", "num"),
        ("Confidence", "conf"),
        ("Status", "text"),
        ("Top signals", ""),
    ] + [(key, "text") for key in extra]
    heads = []
    for label, kind in columns:
        if not kind:
            heads.append(f'<th class="sig">{_e(label)}</th>')
            continue
        # The rows arrive best score first: the score column starts out sorted that way.
        order = "descending" if label == "Score" and kind == "num" else "none"
        css = ' class="num"' if kind == "num" else ""
        heads.append(
            f'<th data-sort="{kind}" aria-sort="{order}"{css}>'
            f'<button type="button">{_e(label)}<i></i></button></th>'
        )
    filters = [("All", "", len(results))]
    filters += [(t, t, counts[t]) for t in TIERS]
    filters.append(("Not scored", "-", sum(counts[k] for k in _unscored(counts))))
    buttons = "".join(
        f'<button type="button" data-f="{f}" aria-pressed="{"true" if not f else "false"}">'
        f'{label} <span class="muted">{n:,}</span></button>'
        for label, f, n in filters
    )
    total = f"{len(results):,}"
    return (
        '<section id="table"><h2>Companies</h2><div class="controls">'
        '<input id="q" type="search" placeholder="Filter: company, domain, signal, owner…" '
        'aria-label="Filter companies" autocomplete="off">'
        f'<div class="seg" role="group" aria-label="Tier">{buttons}</div>'
        f'<span id="count" aria-live="polite">{total} of {total} companies</span></div>'
        f'<table id="companies" data-page="{PAGE_ROWS}"><thead><tr>{"".join(heads)}</tr>'
        "</thead><tbody>"
        + "".join(render_row(row, extra, hidden=i >= PAGE_ROWS) for i, row in enumerate(results))
        + "</tbody></table>"
        f'<div id="more"{"" if len(results) > PAGE_ROWS else " hidden"}><span>'
        f"Showing the first {min(len(results), PAGE_ROWS):,}; "
        f"{max(len(results) - PAGE_ROWS, 0):,} more.</span> "
        f'<button type="button" data-more="{PAGE_ROWS}">Show {PAGE_ROWS:,} more</button> '
        '<button type="button" data-more="all">Show all</button></div></section>'
    )


def metadata_columns(results: Iterable[dict[str, Any]]) -> list[str]:
    """The CRM passthrough columns across all rows, in the order they first appear."""
    seen: dict[str, None] = {}
    for row in results:
        for key in row.get("metadata") or {}:
            seen.setdefault(str(key), None)
    return list(seen)


def render_row(row: dict[str, Any], extra: list[str], hidden: bool = False) -> str:
    """One company as a table row (kept compact: a territory can hold 10,000 of them)."""
    key = _tier_key(row)
    status = row.get("status") or ""
    if status == "ok":
        status_cell = "<td>ok</td>"
    else:
        error = _clip(row.get("error") or "", ERROR_CHARS)
        status_cell = f'<td class="bad"><b>{_e(status)}</b><div>{_e(error)}</div></td>'
    tier = row.get("tier")
    score = row.get("score")
    domain = row.get("domain")
    metadata = row.get("metadata") or {}
    return (
        f'<tr data-t="{_e(key)}"{" hidden" if hidden else ""}>'
        f'<td><bdi class="co">{_e(row.get("company"))}</bdi>'
        + (f'<div class="dom">{_e(domain)}</div>' if domain else "")
        + "</td>"
        + (f'<td><b class="t {tier}">{tier}</b></td>' if tier in TIERS else "<td>—</td>")
        + f'<td class="num">{_e(score) if score is not None else "—"}</td>'
        + f"<td>{_e(row.get('confidence') or '—')}</td>"
        + status_cell
        + f'<td class="sig">{render_signals(row.get("signals") or [])}</td>'
        + "".join(f"<td>{_e(metadata.get(k, ''))}</td>" for k in extra)
        + "</tr>"
    )


def render_signals(signals: list[dict[str, Any]]) -> str:
    """The first signals, each its kind and excerpt linked to the page it was quoted from."""
    if not signals:
        return ""
    items = []
    for signal in signals[:MAX_SIGNALS]:
        if not isinstance(signal, dict):
            continue
        excerpt = _e(_clip(" ".join(str(signal.get("excerpt") or "").split()), EXCERPT_CHARS))
        url = safe_url(signal.get("url"))
        published = str(signal.get("published") or "")
        source = ", ".join(x for x in (host_of(url) if url else "", published) if x)
        if url:
            quote = (
                f'<a href="{_e(url)}" target="_blank" rel="noopener noreferrer nofollow">'
                f"{excerpt or _e(url)}</a>"
            )
        else:
            # Not a web address (javascript:, data:, a bare word): shown, never clickable.
            where = str(signal.get("url") or "")
            quote = excerpt + (
                f' <span class="src">{_e(_clip(where, 120))}</span>' if where else ""
            )
        items.append(
            f'<li><span class="k">{_e(signal.get("kind") or "signal")}</span> {quote}'
            + (f' <span class="src">{_e(source)}</span>' if source else "")
            + "</li>"
        )
    more = len(signals) - MAX_SIGNALS
    if more > 0:
        items.append(f'<li class="more">+{more} more</li>')
    return f"<ul>{''.join(items)}</ul>"


def safe_url(url: Any) -> str | None:
    """The URL if it is a plain http(s) address with a host, else None (it will not be linked)."""
    if not isinstance(url, str):
        return None
    url = url.strip()
    if not _HTTP_URL.fullmatch(url):
        return None
    try:
        return url if urlsplit(url).hostname else None
    except ValueError:  # e.g. an unbalanced IPv6 bracket
        return None


def _tier_key(row: dict[str, Any]) -> str:
    if row.get("status") == "ok" and row.get("tier") in TIERS:
        return str(row["tier"])
    return str(row.get("status") or "failed")


def _unscored(counts: Counter[str]) -> list[str]:
    """The statuses without a tier: failed and ambiguous, then any other found."""
    return [*UNSCORED, *sorted(k for k in counts if k not in TIERS and k not in UNSCORED)]


def _figure(caption: str, svg: str) -> str:
    return f"<figure><figcaption>{caption}</figcaption>{svg}</figure>"


def _legend() -> str:
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


def _most_common(results: list[dict[str, Any]], key: str, run: dict[str, Any] | None) -> Any:
    """The value most of the latest run's rows have (all rows if that run left none)."""
    run_id = (run or {}).get("run_id")
    values = [r.get(key) for r in results if r.get("run_id") == run_id and r.get(key)]
    values = values or [r.get(key) for r in results if r.get(key)]
    return Counter(values).most_common(1)[0][0] if values else None


def _when(value: Any) -> str:
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
        return value.strftime("%Y-%m-%d %H:%M")
    return _e(value)


def _duration(start: Any, end: Any) -> str:
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


def _clip(text: str, limit: int) -> str:
    text = str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _e(value: Any) -> str:
    """Text or attribute content, escaped (quotes too) and without unprintable characters."""
    return html.escape(_UNPRINTABLE.sub("", "" if value is None else str(value)), quote=True)


def _policy() -> str:
    """Nothing may load from anywhere; only this file's own style and script may run."""
    style = _sha256(STYLE)
    script = _sha256(SCRIPT)
    return (
        f"default-src 'none'; style-src '{style}'; script-src '{script}'; "
        "img-src 'none'; base-uri 'none'; form-action 'none'"
    )


def _sha256(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()
