"""How well verdicts agree with a labelled golden set (pure functions, no I/O)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from domain.models import CONFIDENCES, TIERS

# A company the run could not classify (failed, ambiguous, not stored) is predicted as this.
UNSCORED = "none"


@dataclass(frozen=True)
class Item:
    """One golden company: what it should be and what it came out as."""

    company_key: str
    company: str
    expected: str
    predicted: str  # a tier, or UNSCORED
    confidence: str | None
    status: str

    @property
    def correct(self) -> bool:
        """Did the verdict match the label?"""
        return self.predicted == self.expected


def evaluate(items: list[Item]) -> dict[str, Any]:
    """Agreement, confusion matrix, precision and recall per tier, accuracy per confidence."""
    n = len(items)
    scored = [i for i in items if i.predicted != UNSCORED]
    columns = (*TIERS, UNSCORED)
    confusion: dict[str, dict[str, int]] = {e: {p: 0 for p in columns} for e in TIERS}
    for item in items:
        confusion[item.expected][item.predicted] += 1
    per_tier = {}
    for tier in TIERS:
        predicted = sum(confusion[e][tier] for e in TIERS)
        actual = sum(confusion[tier].values())
        hits = confusion[tier][tier]
        per_tier[tier] = {
            "precision": _ratio(hits, predicted),
            "recall": _ratio(hits, actual),
            "support": actual,
        }
    by_confidence = {}
    for level in CONFIDENCES:
        group = [i for i in scored if i.confidence == level]
        hits = sum(i.correct for i in group)
        by_confidence[level] = {"n": len(group), "accuracy": _ratio(hits, len(group))}
    return {
        "n": n,
        "n_scored": len(scored),
        "agreement": _ratio(sum(i.correct for i in items), n),
        "agreement_scored": _ratio(sum(i.correct for i in scored), len(scored)),
        "confusion": confusion,
        "per_tier": per_tier,
        "by_confidence": by_confidence,
    }


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def percent(value: float | None) -> str:
    """0.8125 -> '81.2%'; None (nothing to measure) -> '-'."""
    return "-" if value is None else f"{100 * value:.1f}%"


def render(metrics: dict[str, Any], title: str) -> str:
    """The eval report as text: agreement, confusion matrix, per tier, per confidence."""
    m = metrics
    lines = [
        title,
        f"agreement: {percent(m['agreement'])} of {m['n']} companies "
        f"({m['n_scored']} classified; {percent(m['agreement_scored'])} of those)",
        "",
        "confusion (rows: expected, columns: predicted)",
        "          " + "".join(f"{c:>7}" for c in (*TIERS, UNSCORED)),
    ]
    for tier in TIERS:
        row = m["confusion"][tier]
        lines.append(f"  {tier:<8}" + "".join(f"{row[c]:>7}" for c in (*TIERS, UNSCORED)))
    lines += ["", "tier     precision  recall  support"]
    for tier in TIERS:
        t = m["per_tier"][tier]
        lines.append(
            f"  {tier:<8}{percent(t['precision']):>8}{percent(t['recall']):>8}{t['support']:>9}"
        )
    lines += ["", "confidence  companies  accuracy"]
    for level in CONFIDENCES:
        c = m["by_confidence"][level]
        lines.append(f"  {level:<10}{c['n']:>9}{percent(c['accuracy']):>10}")
    return "\n".join(lines)


def render_comparison(
    left: dict[str, Any], right: dict[str, Any], disagreements: list[tuple[str, str, str, str]]
) -> str:
    """Two stored evals side by side, and the companies they judged differently.

    `left`/`right` are eval rows (label, rubric, model, metrics); `disagreements` holds
    (company, expected, left's verdict, right's verdict).
    """
    a, b = left["metrics"], right["metrics"]
    cells = [str(e.get(k) or "-") for e in (left, right) for k in ("label", "rubric", "model")]
    width = max(14, *map(len, cells)) + 2

    def row(name: str, x: str, y: str) -> str:
        return f"{name:<24}{x:>{width}}{y:>{width}}"

    lines = [
        row("", left["label"], right["label"]),
        row("rubric", left["rubric"] or "-", right["rubric"] or "-"),
        row("model", left["model"] or "-", right["model"] or "-"),
        row("companies", str(a["n"]), str(b["n"])),
        row("agreement", percent(a["agreement"]), percent(b["agreement"])),
    ]
    for tier in TIERS:
        for key in ("precision", "recall"):
            x, y = (percent(m["per_tier"][tier][key]) for m in (a, b))
            lines.append(row(f"{tier} {key}", x, y))
    for level in CONFIDENCES:
        x, y = (
            f"{percent(m['by_confidence'][level]['accuracy'])} of {m['by_confidence'][level]['n']}"
            for m in (a, b)
        )
        lines.append(row(f"accuracy at {level}", x, y))
    lines += ["", f"judged differently: {len(disagreements)}"]
    for company, expected, x, y in disagreements[:40]:
        lines.append(f"  {company}: expected {expected}; {left['label']} {x}, {right['label']} {y}")
    return "\n".join(lines)
