"""`territory report`: one self-contained HTML file of a territory's latest results: tier and
score charts (inline SVG), what changed in the latest run, and a sortable, filterable table.

Everything that comes from data (CRM names, web excerpts, errors) is escaped; the only URLs in
the file are evidence links, and a Content-Security-Policy with the hashes of the one inline
style and script stops the page from loading or running anything else."""

from __future__ import annotations

import argparse
import base64
import hashlib
import re
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from domain.changes import Change, changes_in
from domain.entities import host_of
from domain.models import TIERS
from domain.passages import readable
from territory.console import EXIT_OK, WRITE_ROWS, CliError
from territory.files import replacing
from territory.read_commands import owner_for, reader
from territory.report_parts import (
    clip,
    duration,
    esc,
    figure,
    legend,
    metadata_columns,
    override_facts,
    render_changes,
    render_override,
    run_facts,
    score_histogram,
    tally,
    tier_chart,
    tier_key,
    unscored,
    when,
)

MAX_SIGNALS = 3  # signals shown per company; the rest are counted
EXCERPT_CHARS = 240  # an excerpt is a sentence; a page-long one would swamp the table
ERROR_CHARS = 300
# Rows laid out at once: a browser takes seconds to lay out 10,000 rows at every sort or
# filter, and nobody reads that many; the rest are a click away ("Show more").
PAGE_ROWS = 500
# The page's own style and script, kept as files of their own so they read as CSS and JS.
_ASSETS = resources.files("territory") / "report_assets"
STYLE = (_ASSETS / "report.css").read_text(encoding="utf-8")
SCRIPT = (_ASSETS / "report.js").read_text(encoding="utf-8")
RUNS_SCANNED = 100_000  # runs() is newest first across territories: look far enough back

_HTTP_URL = re.compile(r"https?://[^\s\x00-\x1f\x7f]+", re.IGNORECASE)


# What the header, the tiles and the charts need of every company (the table rows are
# streamed in full afterwards): a territory of 100,000 is never a list of whole results.
SUMMARY_COLUMNS = ["tier", "status", "overridden", "override_disputed", "score", "run_id",
                   "rubric", "model"]  # fmt: skip


def cmd_report(args: argparse.Namespace) -> int:
    """Write the territory's HTML report to OUT.html."""
    with reader() as store:
        owner = owner_for(store, args.territory, getattr(args, "by", "territory"))
        summary = list(
            store.iter_effective_results(
                territory=args.territory, owner=owner, columns=SUMMARY_COLUMNS
            )
        )
        runs = store.runs(limit=RUNS_SCANNED)
        mine = [r for r in runs if r["territory"] == args.territory]
        if not summary:
            known = sorted({r["territory"] for r in runs})
            hint = f" (territories with runs: {', '.join(known)})" if known else ""
            raise CliError(f"no results for territory {args.territory!r}{hint}")
        latest = mine[0] if mine else None
        changes = (
            changes_in(store.iter_result_pairs(args.territory), run_id=latest["run_id"])
            if latest
            else []
        )
        table = Table(
            rows=store.iter_effective_results(territory=args.territory, owner=owner),
            extra=store.metadata_keys(args.territory, owner=owner),
            by_owner=owner is not None,
        )
        write_report(Path(args.out), report_pieces(args.territory, summary, table, latest, changes))
    print(f"report: {len(summary):,} companies -> {args.out}", file=sys.stderr)
    return EXIT_OK


def write_report(out: Path, pieces: Iterable[str]) -> None:
    """Write the page as it is made (beside OUT, then renamed), so no half-written report is
    left and the page is never one string in memory."""
    try:
        with (
            replacing(out) as tmp,
            # Lone surrogates from stored JSON cannot be UTF-8: replace them rather than fail.
            tmp.open("w", encoding="utf-8", errors="replace", newline="\n") as handle,
        ):
            for piece in pieces:
                handle.write(piece)
    except OSError as exc:
        raise CliError(f"cannot write {out}: {exc.strerror or exc}") from None


@dataclass
class Table:
    """The table's rows in rank order (streamed), the passthrough columns they have, and
    whether they are ranked per owner."""

    rows: Iterable[dict[str, Any]]
    extra: list[str]
    by_owner: bool


def render_report(
    territory: str,
    results: list[dict[str, Any]],
    run: dict[str, Any] | None,
    changes: list[Change],
    generated_at: datetime | None = None,
) -> str:
    """The whole HTML page, from plain result rows, the latest run row and its changes."""
    by_owner = any("owner_rank" in r for r in results)
    table = Table(results, metadata_columns(results), by_owner)
    return "".join(report_pieces(territory, results, table, run, changes, generated_at))


def report_pieces(
    territory: str,
    summary: list[dict[str, Any]],
    table: Table,
    run: dict[str, Any] | None,
    changes: list[Change],
    generated_at: datetime | None = None,
) -> Iterator[str]:
    """The page in pieces, in order: the head, charts and changes (from `summary`, every
    company's tier, status, score, run, rubric and model), then the table row by row."""
    generated_at = generated_at or datetime.now(UTC)
    counts = tally(summary)
    yield (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_policy()}">'
        '<meta name="referrer" content="no-referrer">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Territory report: {esc(territory)}</title>"
        f"<style>{STYLE}</style></head>\n<body><main>"
    )
    yield render_header(territory, summary, run, counts, generated_at)
    yield '<section class="charts">'
    yield figure("Tier distribution", tier_chart(counts))
    yield figure(f"Score distribution {legend()}", score_histogram(summary))
    yield "</section>"
    yield render_changes(changes, run)
    yield from render_table(table, len(summary), counts)
    yield (
        "<footer>Made by <code>territory report</code>. The signal links go to the pages "
        "the evidence was quoted from.</footer>"
        f"</main><script>{SCRIPT}</script></body></html>\n"
    )


def render_header(
    territory: str,
    results: list[dict[str, Any]],
    run: dict[str, Any] | None,
    counts: Counter[str],
    generated_at: datetime,
) -> str:
    """Title, when it was made, the latest run's particulars and the headline counts."""
    facts = [f"Generated {when(generated_at)}"]
    if run:
        status = str(run.get("status") or "")
        css = "ok" if status == "completed" else "warn"
        facts.append(
            f"latest run <code>{esc(str(run.get('run_id', ''))[:8])}</code> "
            f'<span class="{css}">{esc(status)}</span>'
            + (f" ({esc(run['mode'])})" if run.get("mode") else "")
        )
        if run.get("started_at"):
            took = duration(run.get("started_at"), run.get("finished_at"))
            facts.append(f"started {when(run['started_at'])}" + (f", took {took}" if took else ""))
    # A second line for what the run was judged by, did and cost.
    details = []
    rubric = (run or {}).get("rubric") or _most_common(results, "rubric", run)
    model = _most_common(results, "model", run)
    if rubric:
        details.append(f"rubric <code>{esc(rubric)}</code>")
    if model:
        details.append(f"model <code>{esc(model)}</code>")
    if run:
        details.extend(run_facts(run))
    details.extend(override_facts(results))
    tiles = [("Companies", len(results), "all")]
    tiles += [(t, counts[t], t) for t in TIERS]
    tiles += [(key.capitalize(), counts[key], key) for key in unscored(counts)]
    return (
        '<header><p class="eyebrow">Territory report</p>'
        f"<h1><bdi>{esc(territory)}</bdi></h1>"
        f'<p class="facts">{" · ".join(facts)}<br>{" · ".join(details)}</p><div class="tiles">'
        + "".join(
            f'<div class="tile {esc(css)}"><span class="n">{n:,}</span><span>{esc(label)}</span>'
            "</div>"
            for label, n, css in tiles
        )
        + "</div></header>"
    )


def render_table(table: Table, total: int, counts: Counter[str]) -> Iterator[str]:
    """The companies, one compact row each, with the filter controls above. Rows arrive in
    rank order (by owner, then rank in the owner's book, when ranked per owner)."""
    extra, by_owner = table.extra, table.by_owner
    heads = _table_heads(extra, by_owner)
    buttons = _tier_buttons(total, counts)
    shown = f"{total:,}"
    yield (
        '<section id="table"><h2>Companies</h2><div class="controls">'
        '<input id="q" type="search" placeholder="Filter: company, domain, signal, owner…" '
        'aria-label="Filter companies" autocomplete="off">'
        f'<div class="seg" role="group" aria-label="Tier">{buttons}</div>'
        f'<span id="count" aria-live="polite">{shown} of {shown} companies</span></div>'
        f'<table id="companies" data-page="{PAGE_ROWS}"><thead><tr>{"".join(heads)}</tr>'
        "</thead><tbody>"
    )
    batch: list[str] = []
    for i, row in enumerate(table.rows):
        batch.append(render_row(row, extra, hidden=i >= PAGE_ROWS, by_owner=by_owner))
        if len(batch) == WRITE_ROWS:
            yield "".join(batch)
            batch = []
    yield "".join(batch)
    yield (
        "</tbody></table>"
        f'<div id="more"{"" if total > PAGE_ROWS else " hidden"}><span>'
        f"Showing the first {min(total, PAGE_ROWS):,}; "
        f"{max(total - PAGE_ROWS, 0):,} more.</span> "
        f'<button type="button" data-more="{PAGE_ROWS}">Show {PAGE_ROWS:,} more</button> '
        '<button type="button" data-more="all">Show all</button></div></section>'
    )


def _table_heads(extra: list[str], by_owner: bool) -> list[str]:
    """The table's column heads, each a sort button but the signals'."""
    columns = (
        [("Rank", "rank")]
        + ([("Owner rank", "rank")] if by_owner else [])
        + [
            ("Company", "text"),
            ("Tier", "tier"),
            ("Score", "num"),
            ("Confidence", "conf"),
            ("Status", "text"),
            ("Top signals", ""),
        ]
        + [(key, "text") for key in extra]
    )
    heads = []
    for label, kind in columns:
        if not kind:
            heads.append(f'<th class="sig">{esc(label)}</th>')
            continue
        # The rows arrive best rank first: the rank column starts out sorted that way.
        order = "ascending" if label == "Rank" and not by_owner else "none"
        css = ' class="num"' if kind in ("num", "rank") else ""
        heads.append(
            f'<th data-sort="{kind}" aria-sort="{order}"{css}>'
            f'<button type="button">{esc(label)}<i></i></button></th>'
        )
    return heads


def _tier_buttons(total: int, counts: Counter[str]) -> str:
    """The tier filter: all, each tier, not scored, with their counts."""
    filters = [("All", "", total)]
    filters += [(t, t, counts[t]) for t in TIERS]
    filters.append(("Not scored", "-", sum(counts[k] for k in unscored(counts))))
    return "".join(
        f'<button type="button" data-f="{f}" aria-pressed="{"true" if not f else "false"}">'
        f'{label} <span class="muted">{n:,}</span></button>'
        for label, f, n in filters
    )


def render_row(
    row: dict[str, Any], extra: list[str], hidden: bool = False, by_owner: bool = False
) -> str:
    """One company as a table row (kept compact: a territory can hold 10,000 of them)."""
    key = tier_key(row)
    status = row.get("status") or ""
    if status == "ok":
        status_cell = "<td>ok</td>"
    else:
        error = clip(row.get("error") or "", ERROR_CHARS)
        status_cell = f'<td class="bad"><b>{esc(status)}</b><div>{esc(error)}</div></td>'
    tier = row.get("tier")
    score = row.get("score")
    domain = row.get("domain")
    metadata = row.get("metadata") or {}
    ranks = [row.get("rank")] + ([row.get("owner_rank")] if by_owner else [])
    return (
        f'<tr data-t="{esc(key)}"{" hidden" if hidden else ""}>'
        + "".join(f'<td class="num rk">{"—" if r is None else esc(r)}</td>' for r in ranks)
        + f'<td class="cn"><bdi class="co">{esc(row.get("company"))}</bdi>'
        + (f'<div class="dom">{esc(domain)}</div>' if domain else "")
        + "</td>"
        + (f'<td><b class="t {tier}">{tier}</b>' if tier in TIERS else "<td>—")
        + render_override(row)
        + "</td>"
        + f'<td class="num">{esc(score) if score is not None else "—"}</td>'
        + f"<td>{esc(row.get('confidence') or '—')}</td>"
        + status_cell
        + f'<td class="sig">{render_signals(row.get("signals") or [])}</td>'
        + "".join(f'<td class="meta">{esc(metadata.get(k, ""))}</td>' for k in extra)
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
        excerpt = esc(clip(readable(signal.get("excerpt")), EXCERPT_CHARS))
        url = safe_url(signal.get("url"))
        published = str(signal.get("published") or "")
        source = ", ".join(x for x in (host_of(url) if url else "", published) if x)
        if url:
            quote = (
                f'<a href="{esc(url)}" target="_blank" rel="noopener noreferrer nofollow">'
                f"{excerpt or esc(url)}</a>"
            )
        else:
            # Not a web address (javascript:, data:, a bare word): shown, never clickable.
            where = str(signal.get("url") or "")
            quote = excerpt + (
                f' <span class="src">{esc(clip(where, 120))}</span>' if where else ""
            )
        items.append(
            f'<li><span class="k">{esc(signal.get("kind") or "signal")}</span> {quote}'
            + (f' <span class="src">{esc(source)}</span>' if source else "")
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


def _most_common(results: list[dict[str, Any]], key: str, run: dict[str, Any] | None) -> Any:
    """The value most of the latest run's rows have (all rows if that run left none)."""
    run_id = (run or {}).get("run_id")
    values = [r.get(key) for r in results if r.get("run_id") == run_id and r.get(key)]
    values = values or [r.get(key) for r in results if r.get(key)]
    return Counter(values).most_common(1)[0][0] if values else None


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
