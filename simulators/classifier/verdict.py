"""The verdict: score, tier, confidence, signals and reasoning from the collected evidence."""

from __future__ import annotations

from typing import Any

from simulators.classifier.evidence import Evidence, business_sentence, collect_evidence
from simulators.classifier.prompt import Bands, ClassificationPrompt
from simulators.profiles import stable_hash

MAX_SIGNALS = 6
MAX_CORROBORATING = 4  # signals from a second site for the kinds already found

_KIND_WORDS = {
    "gpu_infrastructure": "GPU infrastructure",
    "ml_training": "model training",
    "inference": "inference workloads",
    "hiring": "ML hiring",
    "funding": "funding",
    "headcount": "headcount",
    "other": "general ML use",
}
_TIER_SUMMARY = {
    "HOT": "It trains or serves models at scale on dedicated GPUs.",
    "WARM": "It uses ML in its product but relies mostly on managed services.",
    "COLD": "There are no signs that it needs GPU compute.",
}


def _host(url: str) -> str:
    return url.split("/")[2] if url.count("/") >= 2 else url


def _no_sources_verdict(company: str) -> dict[str, Any]:
    return {
        "tier": "COLD",
        "score": 0,
        "confidence": "low",
        "reasoning": f"No search results were provided for {company}, so there is no "
        "evidence of a need for GPU compute.",
        "signals": [],
    }


def _tier_and_score(
    evidence: dict[str, list[Evidence]], bands: Bands, company: str | None
) -> tuple[str, int]:
    """The tier the evidence's points fall in, and the score shown for it."""
    raw_score = min(100, sum(items[0].points for items in evidence.values()))
    tier = bands.tier_for(raw_score)
    # A small per-company wobble so scores look graded, never crossing a tier boundary.
    low, high = bands.range_of(tier)
    wobble = stable_hash((company or "").casefold()) % 7 - 3
    return tier, max(low, min(high, raw_score + wobble))


def _confidence(evidence: dict[str, list[Evidence]], sources_with_evidence: set[str]) -> str:
    strong_kinds = [k for k in evidence if k not in ("headcount", "other")]
    if len(strong_kinds) >= 4 and len(sources_with_evidence) >= 2:
        return "high"
    if len(evidence) >= 2:
        return "medium"
    return "low"


def _strongest_signals(
    evidence: dict[str, list[Evidence]], kinds: tuple[str, ...], used: set[str]
) -> list[dict[str, Any]]:
    """One signal per kind, strongest kind first, each with an excerpt not used yet."""
    signals: list[dict[str, Any]] = []
    for kind in sorted(evidence, key=lambda k: -evidence[k][0].points):
        # Only kinds the rubric lists; the rest become "other" if it may be used, else they go
        # unmentioned (their points stay in the score, which measures evidence, not labels).
        label = kind if kind in kinds else "other" if "other" in kinds else None
        if label is None:
            continue
        items = evidence[kind]
        top = items[0].points
        pick = next((e for e in items if e.points == top and e.excerpt not in used), items[0])
        used.add(pick.excerpt)
        signals.append({"kind": label, "url": pick.url, "excerpt": pick.excerpt})
        if len(signals) == MAX_SIGNALS:
            break
    return signals


def _add_corroboration(
    signals: list[dict[str, Any]], evidence: dict[str, list[Evidence]], used: set[str]
) -> None:
    """Then corroboration, as a careful model gives it: for each kind, the same kind of
    evidence from one other site, if a page there says it about as strongly."""
    for signal in list(signals):
        if len(signals) >= MAX_SIGNALS + MAX_CORROBORATING:
            break
        kind = next(k for k in evidence if signal["excerpt"] in {e.excerpt for e in evidence[k]})
        seen = {_host(s["url"]) for s in signals if s["kind"] == signal["kind"]}
        other = next(
            (
                e
                for e in evidence[kind]
                if 2 * e.points >= evidence[kind][0].points
                and _host(e.url) not in seen
                and e.excerpt not in used
            ),
            None,
        )
        if other is not None:
            used.add(other.excerpt)
            signals.append({"kind": signal["kind"], "url": other.url, "excerpt": other.excerpt})


def _reasoning(
    company: str,
    signals: list[dict[str, Any]],
    evidence: dict[str, list[Evidence]],
    sources_with_evidence: set[str],
    source_count: int,
    tier: str,
) -> str:
    if signals:
        named = ", ".join(dict.fromkeys(_KIND_WORDS[s["kind"]] for s in signals[:4]))
        reasoning = (
            f"{company} shows evidence of {named} across {len(sources_with_evidence)} of "
            f"{source_count} sources. "
        )
    elif evidence:
        reasoning = (
            f"{company} shows evidence across {len(sources_with_evidence)} of "
            f"{source_count} sources. "
        )
    else:
        reasoning = f"None of the {source_count} sources mention {company} doing ML work. "
    return reasoning + _TIER_SUMMARY[tier]


def classify(prompt: ClassificationPrompt) -> dict[str, Any]:
    """The classification JSON for a prompt (deterministic for identical prompts)."""
    company = prompt.company or "The company"
    if not prompt.sources:
        return _no_sources_verdict(company)
    evidence = collect_evidence(prompt)
    tier, score = _tier_and_score(evidence, prompt.bands, prompt.company)
    sources_with_evidence = {e.url for items in evidence.values() for e in items}
    used: set[str] = set()
    signals = _strongest_signals(evidence, prompt.kinds, used)
    _add_corroboration(signals, evidence, used)
    reasoning = _reasoning(
        company, signals, evidence, sources_with_evidence, len(prompt.sources), tier
    )
    if tier == "COLD" and "business" in prompt.kinds:
        what = business_sentence(prompt, used)  # what the verdict rests on: what it does
        if what is not None:
            signals.append({"kind": "business", "url": what.url, "excerpt": what.excerpt})
    return {
        "tier": tier,
        "score": score,
        "confidence": _confidence(evidence, sources_with_evidence),
        "reasoning": reasoning,
        "signals": signals,
    }
