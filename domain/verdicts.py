"""The effective verdict of a company (a reviewer's override first, else the model's) and the
order accounts are ranked in. Pure functions; no I/O.

The rule has two forms that must agree: `effective_verdict` and `rank_key` here, for code that
holds a result and an override, and the `effective_results` view (storage/effective.py), for
queries over a whole territory. tests/domain/test_verdicts.py checks one against the other.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

from domain.models import CONFIDENCES, TIERS

# What an override row does: `set` puts a verdict in force, `clear` ends the one in force.
# Both are kept (history); the latest row of a company decides.
OverrideAction = Literal["set", "clear"]
OVERRIDE_ACTIONS: tuple[OverrideAction, ...] = get_args(OverrideAction)
# A person's verdict ranks as surely as the surest model verdict: a reviewer looked.
OVERRIDE_CONFIDENCE = CONFIDENCES[0]


@dataclass(frozen=True)
class Verdict:
    """What a company counts as: tier, score and confidence, and where they came from."""

    tier: str | None  # None: no tier (failed, ambiguous, skipped and not overridden)
    score: int | None
    confidence: str | None
    overridden: bool  # a reviewer's override is in force
    disputed: bool  # ... and the model's own verdict (a tier) says otherwise


def effective_verdict(result: Mapping[str, Any], override: Mapping[str, Any] | None) -> Verdict:
    """The verdict in force for a stored result (`status`, `tier`, `score`, `confidence`) and
    the company's latest override row (`action`, `tier`, `score`), if any.

    Without an override in force, the model's verdict, with a tier only when its status is ok.
    With one, the override's tier; its score, else the model's score when the model gave the
    same tier (a score of another tier would contradict it), else none; confidence high. The
    override is disputed when the model gave a tier and it is not the override's.
    """
    model_tier = result.get("tier") if result.get("status") == "ok" else None
    if override is None or override.get("action") != "set":
        return Verdict(model_tier, result.get("score"), result.get("confidence"), False, False)
    tier = override["tier"]
    score = override.get("score")
    if score is None and model_tier == tier:
        score = result.get("score")
    disputed = model_tier is not None and model_tier != tier
    return Verdict(tier, score, OVERRIDE_CONFIDENCE, True, disputed)


def rank_key(tier: str, confidence: str | None, score: int | None, company: str) -> tuple:
    """Sort key of a ranked account, best first: tier (HOT, WARM, COLD); within a tier, ties
    broken by confidence (high, medium, low, none), then score (highest first, none last),
    then the company name, so that every rank is unique. Accounts without a tier get no rank.
    """
    surest = CONFIDENCES.index(confidence) if confidence in CONFIDENCES else len(CONFIDENCES)
    return (TIERS.index(tier), surest, score is None, -(score or 0), company)


def ranks(verdicts: Mapping[str, tuple[Verdict, str]]) -> dict[str, int | None]:
    """Rank 1..n of each key's (verdict, company name) by `rank_key`; None for no tier."""
    ranked = sorted(
        (rank_key(v.tier, v.confidence, v.score, name), key)
        for key, (v, name) in verdicts.items()
        if v.tier is not None
    )
    out: dict[str, int | None] = {key: None for key in verdicts}
    out.update({key: i for i, (_, key) in enumerate(ranked, start=1)})
    return out


def override_note(row: Mapping[str, Any], reason: bool = True) -> str:
    """One line on an effective result row's override: who set it (and why), and what the
    model says when it disagrees; empty when no override is in force."""
    if not row.get("overridden"):
        return ""
    note = f"by {row.get('override_by')}"
    if reason and row.get("override_reason"):
        note += f": {row['override_reason']}"
    if row.get("override_disputed"):
        note += f" (the model says {row.get('model_tier')})"
    return note
