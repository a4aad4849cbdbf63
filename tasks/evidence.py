"""Check the model's evidence against the pages it cites (pure functions, no I/O).

Page content is untrusted and so is a model that has read it: a page can tell the model to
"cite" a sentence that no source contains. So a signal is kept only when its excerpt is found
verbatim (modulo whitespace and typographic quotes) in the cached content of the URL it
cites; anything else is dropped and counted.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from tasks.models import Classification, SearchPage, Signal

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
    """Keep signals whose URL was shown to the model and whose excerpt that page contains."""
    content: dict[str, list[str]] = {}
    for page in pages:
        if page.url in shown:
            texts = content.setdefault(page.url, [])
            texts.extend(comparable(t) for t in (page.raw_content, page.content, page.title) if t)
    kept: list[Signal] = []
    for signal in signals:
        excerpt = comparable(signal.excerpt)
        if len(excerpt.split()) < MIN_EXCERPT_WORDS:
            continue
        if any(excerpt in text for text in content.get(signal.url, ())):
            # Stored as the model wrote it, on one line; a reader checks it the same way.
            kept.append(signal.model_copy(update={"excerpt": " ".join(signal.excerpt.split())}))
    return CheckedEvidence(kept, len(signals) - len(kept))


def apply_checked(verdict: Classification, checked: CheckedEvidence) -> Classification:
    """The verdict with only checked signals; a positive verdict left with none is low confidence.

    A HOT or WARM answer whose every excerpt failed the check rests on nothing a reader can
    verify (or on a page that talked the model into it), so it must not look certain.
    """
    update: dict[str, object] = {"signals": checked.kept}
    if checked.dropped:
        note = (
            f" [{checked.dropped} cited excerpt{'s' if checked.dropped != 1 else ''} not found "
            "in the cited source, dropped]"
        )
        update["reasoning"] = verdict.reasoning.rstrip() + note
        if not checked.kept and verdict.tier != "COLD":
            update["confidence"] = "low"
    return verdict.model_copy(update=update)
