"""Check the model's evidence against the pages it cites (pure functions, no I/O).

Page content is untrusted and so is a model that has read it: a page can tell the model to
"cite" a sentence that no source contains. So a signal is kept only when its excerpt is found
verbatim (modulo whitespace and typographic quotes) in the cached content of the URL it
cites; anything else is dropped and counted.
"""

from __future__ import annotations

import calendar
import re
import unicodedata
from dataclasses import dataclass
from datetime import date

from domain.entities import host_of
from domain.models import CONFIDENCES, Classification, SearchPage, Signal
from domain.rubric import ConfidenceRule, Rubric

# An excerpt shorter than this many words says nothing checkable ("GPU", "AI company").
MIN_EXCERPT_WORDS = 3
_WHITESPACE = re.compile(r"\s+")
# Models re-type quotes and dashes; these differences do not change what a sentence says.
_TYPOGRAPHY = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201b": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u2013": "-",
        "\u2014": "-",
        "\u2212": "-",
        "\u00a0": " ",
    }
)


def comparable(text: str) -> str:
    """Text as compared: NFKC, plain quotes and dashes, every whitespace run one space."""
    text = unicodedata.normalize("NFKC", text).translate(_TYPOGRAPHY)
    return _WHITESPACE.sub(" ", text).strip()


@dataclass(frozen=True)
class CheckedEvidence:
    """The signals that hold up, and how many cited something their source does not say."""

    kept: list[Signal]
    dropped: int


def check_signals(
    signals: list[Signal], pages: list[SearchPage], shown: set[str]
) -> CheckedEvidence:
    """Keep signals whose URL was shown to the model and whose excerpt that page contains;
    each kept signal carries the date its page says it was published, if it says one."""
    by_url: dict[str, list[SearchPage]] = {}
    for page in pages:
        if page.url in shown:
            by_url.setdefault(page.url, []).append(page)
    content: dict[str, list[str]] = {}  # normalised lazily: only cited pages are read

    def texts(url: str) -> list[str]:
        if url not in content:
            content[url] = [
                comparable(t)
                for page in by_url.get(url, ())
                for t in (page.raw_content, page.content, page.title)
                if t
            ]
        return content[url]

    def published(url: str) -> str | None:
        found = next((d for page in by_url.get(url, ()) if (d := page_date(page))), None)
        return found.isoformat() if found else None

    kept: list[Signal] = []
    for signal in signals:
        excerpt = comparable(signal.excerpt)
        if len(excerpt.split()) < MIN_EXCERPT_WORDS:
            continue
        if any(excerpt in text for text in texts(signal.url)):
            # Stored as the model wrote it, on one line; a reader checks it the same way.
            kept.append(
                signal.model_copy(
                    update={
                        "excerpt": " ".join(signal.excerpt.split()),
                        "published": published(signal.url),
                    }
                )
            )
    return CheckedEvidence(kept, len(signals) - len(kept))


_ISO_DATE = re.compile(r"\b((?:19|20)\d\d)-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])\b")
_MONTHS = {m: i for i, m in enumerate(calendar.month_name) if m} | {
    m: i for i, m in enumerate(calendar.month_abbr) if m
}
_WORDY_DATE = re.compile(
    r"\b(?:(?P<m1>[A-Z][a-z]{2,8})\.? (?P<d1>\d{1,2}), (?P<y1>(?:19|20)\d\d)"
    r"|(?P<d2>\d{1,2}) (?P<m2>[A-Z][a-z]{2,8})\.? (?P<y2>(?:19|20)\d\d))\b"
)
DATELINE_CHARS = 600  # a page's date is given near its top; later dates are about other things


def page_date(page: SearchPage) -> date | None:
    """The publication date a page states near its top ("Published 2026-03-14", "March 14,
    2026", "14 March 2026"), or None."""
    head = f"{page.title}\n{(page.raw_content or page.content or '')[:DATELINE_CHARS]}"
    found = _ISO_DATE.search(head)
    if found:
        return _date(int(found[1]), int(found[2]), int(found[3]))
    for match in _WORDY_DATE.finditer(head):
        month = _MONTHS.get(match["m1"] or match["m2"])
        if month:
            day, year = int(match["d1"] or match["d2"]), int(match["y1"] or match["y2"])
            return _date(year, month, day)
    return None


def _date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


LEVELS = tuple(reversed(CONFIDENCES))  # weakest first, to step down


def judge(
    verdict: Classification,
    checked: CheckedEvidence,
    read: list[SearchPage],
    rubric: Rubric,
    today: date,
    set_aside: int = 0,
) -> tuple[Classification, dict[str, object]]:
    """The stored verdict: the rubric's tier for the score, checked signals only, and a
    confidence the evidence supports (a less sure model lowers it one step, no more).

    HOT and WARM need checked signals from independent sources (distinct web domains); when
    half or more of the dated evidence is stale, that costs a step. COLD is as sure as the
    search was broad: many pages from many domains without a signal is evidence of absence; a
    thin search is not.
    """
    tier = rubric.tier_for(verdict.score)
    rules = rubric.confidence
    strong = [s for s in checked.kept if s.kind not in rubric.weak_kinds]
    sources = {host_of(s.url) for s in strong}
    domains = {host_of(p.url) for p in read}
    dated = [s for s in strong if s.published]
    stale = [
        s
        for s in dated
        if (today - date.fromisoformat(s.published or "")).days > rules.stale_after_days
    ]
    backed = _backed(tier, strong, sources, read, domains, 2 * len(stale) >= len(dated) > 0, rules)
    # The model's own doubt costs at most one step: it is a witness, not the evidence.
    step = LEVELS.index(backed)
    confidence = LEVELS[step if LEVELS.index(verdict.confidence) >= step else max(0, step - 1)]
    notes = _notes(checked, tier, strong, read, domains, rubric)
    reasoning = verdict.reasoning.rstrip() + "".join(f" [{n}]" for n in notes)
    judged = verdict.model_copy(
        update={
            "tier": tier,
            "confidence": confidence,
            "signals": checked.kept,
            "reasoning": reasoning,
        }
    )
    summary: dict[str, object] = {
        "pages_read": len(read),
        "domains_read": len(domains),
        "sources": len(sources),
        "stale_signals": len(stale),
        "set_aside": set_aside,
        "model_tier": verdict.tier,
        "model_confidence": verdict.confidence,
    }
    return judged, summary


def _backed(
    tier: str,
    strong: list[Signal],
    sources: set[str],
    read: list[SearchPage],
    domains: set[str],
    mostly_stale: bool,
    rules: ConfidenceRule,
) -> str:
    """The confidence the evidence itself supports, before the model's own doubt."""
    if tier == "COLD":
        if len(read) >= rules.cold_high_pages and len(domains) >= rules.cold_high_domains:
            backed = "high" if not strong else "medium"
        else:
            backed = "medium" if len(read) >= rules.cold_medium_pages else "low"
    else:
        backed = (
            "high"
            if len(sources) >= rules.high_sources
            else "medium"
            if len(sources) >= rules.medium_sources
            else "low"
        )
        if mostly_stale:
            backed = LEVELS[max(0, LEVELS.index(backed) - 1)]
    return backed


def _notes(
    checked: CheckedEvidence,
    tier: str,
    strong: list[Signal],
    read: list[SearchPage],
    domains: set[str],
    rubric: Rubric,
) -> list[str]:
    """What the reasoning is told about the check: excerpts dropped, what a COLD rests on."""
    notes = []
    if checked.dropped:
        notes.append(
            f"{checked.dropped} cited excerpt{'s' if checked.dropped != 1 else ''} not found in "
            "the cited source, dropped"
        )
    if tier == "COLD":
        found = (
            f"{len(strong)} {rubric.absence} signal{'s' if len(strong) != 1 else ''} below "
            "the WARM bar"
            if strong
            else f"no {rubric.absence} signal"
        )
        notes.append(
            f"searched {len(read)} page{'s' if len(read) != 1 else ''} from {len(domains)} "
            f"domain{'s' if len(domains) != 1 else ''}: {found}"
        )
    return notes
