"""Check the model's evidence against the pages it cites (pure functions, no I/O).

Page content is untrusted and so is a model that has read it: a page can tell the model to
"cite" a sentence that no source contains. So a signal is kept only when its excerpt is found
in the cached content of the URL it cites, as a reader would check a quote: whatever the
model re-typed (case, quotes, dashes, markdown marks) does not count, words it left out with
"..." may be skipped (within one passage, each piece at least four words), every word and
number it did write must be on the page in that order. Anything else is dropped and counted.
"""

from __future__ import annotations

import calendar
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

from domain.entities import host_of
from domain.models import CONFIDENCES, Classification, SearchPage, Signal
from domain.rubric import ConfidenceRule, Rubric

# An excerpt shorter than this many words says nothing checkable ("GPU", "AI company").
MIN_EXCERPT_WORDS = 3
# Each piece of a quote elided with "..." must be this long: shorter pieces could be stitched
# from anywhere on a page into a sentence it never says.
MIN_FRAGMENT_WORDS = 4
# An elision leaves out words of one passage, not whole sections between two of them.
MAX_ELIDED_CHARS = 400
_WHITESPACE = re.compile(r"\s+")
# Models re-type quotes, dashes and hyphens; these differences do not change what a sentence
# says. The ellipsis becomes "..." so that both spellings mark an elision.
_TYPOGRAPHY = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201b": "'",
        "\u2032": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u2033": '"',
        "\u2010": "-",
        "\u2011": "-",
        "\u2012": "-",
        "\u2013": "-",
        "\u2014": "-",
        "\u2015": "-",
        "\u2212": "-",
        "\u00a0": " ",
        "\u00ad": None,  # a soft hyphen is invisible on the page
        "\u200b": None,
        "\u2026": "...",
    }
)
# Markdown a model drops when it quotes what it read: links keep their text, emphasis and
# code marks go, heading and list marks at a line's start go.
_MD_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_MD_LINK = re.compile(r"\[([^\]]*)\]\((?:[^()]|\([^)]*\))*\)")
_MD_REF_LINK = re.compile(r"\[([^\]]+)\]\[[^\]]*\]")
_MD_EMPHASIS = re.compile(r"(\*{1,3}|_{1,3}|~~|`+)(?=\S)(.+?)(?<=\S)\1")
_MD_LINE_MARK = re.compile(r"^[ \t]*(?:#{1,6}[ \t]+|>[ \t]?|[-*+][ \t]+|\d{1,3}[.)][ \t]+)", re.M)
_MD_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|<>~])")
_HTML_TAG = re.compile(r"<\\?/?[A-Za-z][^<>]{0,200}>")
# A lower-case letter then a capitalised word: two blocks a crawler joined without a space
# ("basketResidents", "\nActuia"), or a camel-cased name; split alike on page and quote.
_GLUED = re.compile(r"(?<=[a-z])(?=[A-Z][a-z])")
# Where a quote leaves words out: "...", "[...]", "(...)", "[…]".
_ELISION = re.compile(r"\s*[\[(]?\.{3,}[\])]?\s*")
# What a quote may add around a fragment without changing it: its own quotation marks and
# the punctuation that ends or starts a cut.
_EDGE = " \"'.,;:-"


def comparable(text: str) -> str:
    """Text as compared: NFKC, plain quotes and dashes, every whitespace run one space."""
    text = unicodedata.normalize("NFKC", text).translate(_TYPOGRAPHY)
    return _WHITESPACE.sub(" ", text).strip()


def plain(text: str, unglue: bool = False) -> str:
    """Text as a reader sees it, for matching quotes: markup gone, case folded; `unglue`
    also parts words a crawler glued together ("market-basketResidents")."""
    text = unicodedata.normalize("NFKC", text).translate(_TYPOGRAPHY)
    # Each rewrite only where its mark is in the text: most pages have no HTML, escapes or
    # links, and the rewrites cost more than the look for their marks.
    if "<" in text:
        text = _HTML_TAG.sub(" ", text)
    if "\\" in text:
        text = _MD_ESCAPE.sub(r"\1", text)
    text = _MD_LINE_MARK.sub("", text)
    if unglue:
        text = _GLUED.sub(" ", text)
    if "](" in text:
        text = _MD_LINK.sub(r"\1", _MD_IMAGE.sub(r"\1", text))
    if "][" in text:
        text = _MD_REF_LINK.sub(r"\1", text)
    for _ in range(2):  # nested emphasis (***bold italic*** is one pass; **a _b_** two)
        if not any(mark in text for mark in "*_~`"):
            break
        text = _MD_EMPHASIS.sub(r"\2", text)
    return " ".join(text.split()).casefold()  # str.split's whitespace is that of r"\s+"


def fragments(excerpt: str, unglue: bool = False) -> list[str] | None:
    """The pieces of a quote to find on the page, in order; None if it cannot be checked
    (too short, or an elided piece too short to be told apart from any page's words)."""
    text = plain(excerpt, unglue)
    pieces = [p.strip(_EDGE) for p in _ELISION.split(text)]
    pieces = [p for p in pieces if p]
    if not pieces or sum(len(p.split()) for p in pieces) < MIN_EXCERPT_WORDS:
        return None
    if len(pieces) > 1 and min(len(p.split()) for p in pieces) < MIN_FRAGMENT_WORDS:
        return None
    return pieces


def quoted_in(pieces: list[str], page: str) -> bool:
    """Is each piece on the (plain) page as whole words, in order, each elision a short gap
    within one passage?"""
    for start in _whole_words(page, pieces[0], 0):
        if _rest_follows(pieces[1:], page, start + len(pieces[0])):
            return True
    return False


def _rest_follows(pieces: list[str], page: str, end: int) -> bool:
    if not pieces:
        return True
    for at in _whole_words(page, pieces[0], end):
        if at - end > MAX_ELIDED_CHARS:
            return False
        if _rest_follows(pieces[1:], page, at + len(pieces[0])):
            return True
    return False


def _whole_words(page: str, piece: str, start: int) -> Iterator[int]:
    """Where `piece` occurs in `page` from `start`, not beginning or ending inside a word."""
    at = page.find(piece, start)
    while at >= 0:
        end = at + len(piece)
        before = page[at - 1] if at else " "
        after = page[end] if end < len(page) else " "
        if not (before.isalnum() and piece[0].isalnum()) and not (
            after.isalnum() and piece[-1].isalnum()
        ):
            yield at
        at = page.find(piece, at + 1)


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
    content: dict[tuple[str, bool], list[str]] = {}  # normalised lazily: cited pages only

    def texts(url: str, unglue: bool) -> list[str]:
        if (url, unglue) not in content:
            content[(url, unglue)] = [
                plain(t, unglue)
                for page in by_url.get(url, ())
                for t in (page.raw_content, page.content, page.title)
                if t
            ]
        return content[(url, unglue)]

    def found(signal: Signal) -> bool:
        # As written, then with glued words parted on both sides ("CoreWeave" is one word
        # when a model writes "Coreweave"; "basketResidents" is two).
        for unglue in (False, True):
            pieces = fragments(signal.excerpt, unglue)
            if pieces and any(quoted_in(pieces, text) for text in texts(signal.url, unglue)):
                return True
        return False

    def published(url: str) -> str | None:
        found = next((d for page in by_url.get(url, ()) if (d := page_date(page))), None)
        return found.isoformat() if found else None

    kept: list[Signal] = []
    for signal in signals:
        if found(signal):
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
NO_CHECKED_EVIDENCE = "rests on no checked evidence: no quote was found in its source"


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
    backed = _checked_ceiling(backed, checked)
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
        "checked_signals": len(checked.kept),
        "unchecked": not checked.kept,  # the verdict rests on no checked evidence
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


def _checked_ceiling(backed: str, checked: CheckedEvidence) -> str:
    """High only on checked evidence, whatever the tier: a verdict whose every quote was
    invented is as unsure as it gets, and one that quotes nothing is not sure."""
    if checked.kept:
        return backed
    if checked.dropped:
        return "low"
    return LEVELS[min(LEVELS.index(backed), LEVELS.index("medium"))]


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
    if not checked.kept:
        notes.append(NO_CHECKED_EVIDENCE)
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
