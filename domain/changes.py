"""What changed between two results of a company: tier and score moves, signals that appeared
or disappeared (pure functions over stored result rows, no I/O)."""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from domain.entities import host_of
from domain.evidence import comparable
from domain.passages import readable

# A company's latest result row and the one to compare it with (None: nothing before it),
# as the store reads them (`result_pairs`).
ResultPair = tuple[dict[str, Any], dict[str, Any] | None]

TIER_RANK = {"COLD": 0, "WARM": 1, "HOT": 2}


@dataclass(frozen=True)
class Change:
    """One company's move since its baseline result (None fields: it had no baseline)."""

    company: str
    old_tier: str | None
    new_tier: str
    old_score: int | None
    new_score: int
    appeared: list[dict[str, Any]] = field(default_factory=list)
    disappeared: list[dict[str, Any]] = field(default_factory=list)
    run_id: str | None = None
    unchecked: bool = False  # the new verdict rests on no checked evidence

    @property
    def importance(self) -> tuple[int, int, int, int]:
        """Sort key, most important first: tier steps, up before down, score move, signals."""
        if self.old_tier is None:
            return (0, 0, 0, 0)  # new to the territory: listed after every real move
        steps = TIER_RANK[self.new_tier] - TIER_RANK[self.old_tier]
        delta = self.new_score - (self.old_score or 0)
        return (abs(steps), steps > 0, abs(delta), len(self.appeared) + len(self.disappeared))

    def describe(self) -> str:
        """One line: `WARM -> HOT (55 -> 81): new signal '...', techcrunch.com, 2026-11-02`."""
        if self.old_tier is None:
            head = f"new: {self.new_tier} ({self.new_score})"
        elif self.old_tier != self.new_tier:
            head = f"{self.old_tier} -> {self.new_tier} ({self.old_score} -> {self.new_score})"
        else:
            head = f"{self.new_tier} ({self.old_score} -> {self.new_score})"
        parts = [_signal_text("new signal", s) for s in self.appeared[:2]]
        parts += [_signal_text("signal gone", s) for s in self.disappeared[:1]]
        more = len(self.appeared) + len(self.disappeared) - len(parts)
        if more > 0:
            parts.append(f"{more} more signal change{'s' if more > 1 else ''}")
        if self.unchecked:
            head += " [no checked evidence]"
        return head + (": " + "; ".join(parts) if parts else "")


def _signal_text(label: str, signal: dict[str, Any]) -> str:
    excerpt = readable(signal.get("excerpt"))
    if len(excerpt) > 90:
        excerpt = excerpt[:89] + "…"
    where = ", ".join(
        x for x in (host_of(str(signal.get("url", ""))), signal.get("published")) if x
    )
    return f"{label} '{excerpt}'" + (f", {where}" if where else "")


def _identity(signal: dict[str, Any]) -> tuple[str, str]:
    return str(signal.get("kind")), comparable(str(signal.get("excerpt", "")))


def diff(current: dict[str, Any], baseline: dict[str, Any] | None) -> Change | None:
    """The change from `baseline` to `current` (result rows with tier, score, signals), or None
    when nothing a reader would care about moved."""
    signals = current.get("signals") or []
    if baseline is None:
        return Change(
            current["company"],
            None,
            current["tier"],
            None,
            current["score"],
            [],
            [],
            current.get("run_id"),
            _unchecked(current),
        )
    before = baseline.get("signals") or []
    appeared: list[dict[str, Any]] = []
    disappeared: list[dict[str, Any]] = []
    if before is not signals and before != signals:  # the same (most runs): nothing to compare
        old = [(_identity(s), s) for s in before]
        new = [(_identity(s), s) for s in signals]
        old_ids, new_ids = {i for i, _ in old}, {i for i, _ in new}
        appeared = [s for i, s in new if i not in old_ids]
        disappeared = [s for i, s in old if i not in new_ids]
    moved = current["tier"] != baseline["tier"] or current["score"] != baseline["score"]
    if not moved and not appeared and not disappeared:
        return None
    return Change(
        current["company"],
        baseline["tier"],
        current["tier"],
        baseline["score"],
        current["score"],
        appeared,
        disappeared,
        current.get("run_id"),
        _unchecked(current),
    )


def _unchecked(current: dict[str, Any]) -> bool:
    """Does the result rest on no checked evidence? (A tier move without a quote that held
    up is news to check, not to act on.)"""
    return current.get("status", "ok") == "ok" and not (current.get("signals") or [])


def ranked(changes: list[Change]) -> list[Change]:
    """Most important first; ties by company name."""
    return sorted(changes, key=rank_key)


def rank_key(change: Change) -> tuple[tuple[int, ...], str]:
    """Where a change goes in `ranked`."""
    return tuple(-x for x in change.importance), change.company


def changes_in(pairs: Iterable[ResultPair], run_id: str | None = None) -> list[Change]:
    """The changes among (current, baseline) pairs, most important first; with `run_id`, only
    those whose current result that run produced."""
    found = []
    for current, baseline in pairs:
        if run_id is not None and current.get("run_id") != run_id:
            continue
        change = diff(current, baseline)
        if change is not None:
            found.append(change)
    return ranked(found)


# Of the changes that move no tier (a score, a signal) and of the companies new to the
# territory, how many a run's summary names; the rest are counted.
NAMED = 50


@dataclass(frozen=True)
class RunNews:
    """A run's news among its territory's result pairs (`news_of`)."""

    moved: list[ResultPair]  # every company whose tier the run moved
    other: list[ResultPair]  # the NAMED most important other changes (`ranked`)
    n_other: int  # how many companies changed without moving tier
    new: list[ResultPair]  # the first NAMED companies new to the territory, by name
    n_new: int  # how many companies are new to the territory

    @property
    def pairs(self) -> list[ResultPair]:
        """The pairs kept: tier moves, the other changes named, the new companies named."""
        return self.moved + self.other + self.new

    @property
    def n_changed(self) -> int:
        """Companies whose result changed (new ones not counted)."""
        return len(self.moved) + self.n_other


Kept = list[tuple[Change, ResultPair]]  # pairs with their change, to keep in `ranked` order


def news_of(pairs: Iterable[ResultPair], run_id: str, named: int = NAMED) -> RunNews:
    """The pairs of `run_id`'s results that a run's summary and alerts can report: every tier
    it moved; of the other changes (`diff`) and of the companies new to the territory, the
    count and the first `named` in the order the summary lists them. The rest are let go as
    they are read. A run's end kept every pair of the territory, then every new company's or
    changed one's: a first run's are all new and a refresh moves most scores, and at 100,000
    companies that took 190 MiB of its memory or more (our simulators). A new company's
    signals are cut to the first: what is said of it is that it has any."""
    moved: list[ResultPair] = []
    other: Kept = []
    new: Kept = []
    n_other = n_new = 0
    for current, before in pairs:
        if current.get("run_id") != run_id:
            continue
        change = diff(current, before)
        if change is None:
            continue
        if before is None:
            n_new += 1
            first = {**current, "signals": (current.get("signals") or [])[:1]}
            new = _keep_first(new, (change, (first, None)), named)
        elif change.old_tier != change.new_tier:
            moved.append((current, before))
        else:
            n_other += 1
            other = _keep_first(other, (change, (current, before)), named)
    return RunNews(moved, _pairs(other, named), n_other, _pairs(new, named), n_new)


def _keep_first(kept: Kept, item: tuple[Change, ResultPair], n: int) -> Kept:
    """`kept` with `item`, cut to its first `n` now and then (not at each company)."""
    kept.append(item)
    return kept if len(kept) < 4 * n else _first(kept, n)


def _first(kept: Kept, n: int) -> Kept:
    """The first `n` in `ranked` order (most important first, ties by company name)."""
    return heapq.nsmallest(n, kept, key=lambda item: rank_key(item[0]))


def _pairs(kept: Kept, n: int) -> list[ResultPair]:
    return [pair for _, pair in _first(kept, n)]
