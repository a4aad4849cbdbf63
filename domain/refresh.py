"""Refresh by tier: when a company's stored search is due to be searched again (pure rules).

How long a search stays fresh depends on the verdict it led to: the rubric's `[refresh]` table
gives days per tier (HOT 7, WARM 14, COLD 30) and for low-confidence verdicts (7, never longer
than the tier's). A company with no verdict (failed, ambiguous, skipped, never researched) is
always due. SEARCH_CACHE_TTL, when set, caps every window exactly; a rubric without a table
uses it (or 7 days when it is unset) for every tier.

A window of N days is kept with some slack: a search is due once it is within half a day of
its window's end (half the window, for windows under a day). A weekly run starts at the same
time each week, but last week's run searched each company some minutes or hours after it
started; without the slack, a 7-day window would put HOT companies off to the week after.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field, field_validator

from domain.models import TIERS, Tier

DEFAULT_WINDOW = timedelta(days=7)  # every tier, for a rubric without a [refresh] table
SLACK = timedelta(hours=12)
MAX_DAYS = 3650


class RefreshRule(BaseModel):
    """The rubric's `[refresh]` table: days a search stays fresh, by the verdict it led to."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    HOT: float = Field(default=7, description="Days a HOT verdict's search stays fresh.")
    WARM: float = Field(default=14, description="Days a WARM verdict's search stays fresh.")
    COLD: float = Field(default=30, description="Days a COLD verdict's search stays fresh.")
    low_confidence: float = Field(
        default=7, description="Days a low-confidence verdict's search stays fresh, at most."
    )

    @field_validator("HOT", "WARM", "COLD", "low_confidence", mode="before")
    @classmethod
    def _days(cls, value: object) -> object:
        # TOML gives ints and floats; a bool or a string ("7d") is a mistake worth naming.
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"must be a number of days, got {value!r}")
        if not 0 < value <= MAX_DAYS:
            raise ValueError(f"must be more than 0 and at most {MAX_DAYS} days, got {value!r}")
        return value

    def days(self, tier: Tier) -> float:
        """The window of a tier, in days."""
        return float(getattr(self, tier))


@dataclass(frozen=True)
class RefreshPolicy:
    """The windows a run applies, slack and cap included: how long a stored search stands in."""

    tiers: Mapping[str, timedelta]
    low_confidence: timedelta

    @classmethod
    def of(cls, rule: RefreshRule | None, cap: timedelta | None = None) -> RefreshPolicy:
        """The rubric's table (None: it has none) under SEARCH_CACHE_TTL (None: unset)."""
        if rule is None:
            window = cap if cap is not None else lenient(DEFAULT_WINDOW)
            return cls(dict.fromkeys(TIERS, window), window)

        def capped(days: float) -> timedelta:
            window = lenient(timedelta(days=days))
            return window if cap is None else min(window, cap)

        return cls({t: capped(rule.days(t)) for t in TIERS}, capped(rule.low_confidence))

    @property
    def shortest(self) -> timedelta:
        """The shortest window: how long a search stands in for a company with no verdict."""
        return min(*self.tiers.values(), self.low_confidence)


def lenient(window: timedelta) -> timedelta:
    """A window less its slack (see the module's docstring)."""
    return window - min(SLACK, window / 2)


@dataclass(frozen=True)
class Standing:
    """A company's latest result in the territory and its newest stored search, as far as
    the due rule needs them (all None: never researched)."""

    status: str | None = None
    tier: str | None = None
    confidence: str | None = None
    rubric: str | None = None  # name@version the verdict was judged by
    model: str | None = None  # None: judged without the model (nothing relevant was found)
    judged_on: str | None = None  # search_key of the search the verdict was judged on
    judged_at: datetime | None = None  # and its fetched_at
    newest_search: datetime | None = None  # fetched_at of the newest stored search for it


def fresh_for(policy: RefreshPolicy, standing: Standing) -> timedelta:
    """How old a stored search of this company may be and still stand in for a new one."""
    window = policy.tiers.get(standing.tier or "") if standing.status == "ok" else None
    if window is None:
        return policy.shortest  # no verdict: a failed classification is retried from it
    if standing.confidence == "low":
        window = min(window, policy.low_confidence)
    return window


def is_due(
    policy: RefreshPolicy,
    standing: Standing,
    *,
    search_key: str,
    rubric: str,
    model: str,
    now: datetime,
) -> bool:
    """Must the run work on this company (search it again, or classify it again)?

    Not due only when its verdict stands: it is `ok`, was judged by this rubric and model on
    the newest stored search for this very search (same query and parameters), and that
    search is still fresh for the verdict's tier and confidence.
    """
    if standing.status != "ok" or standing.newest_search is None:
        return True
    if standing.rubric != rubric or standing.model not in (None, model):
        return True  # re-classified, from the stored search while it is fresh
    if (standing.judged_on, standing.judged_at) != (search_key, standing.newest_search):
        return True  # judged on another search than the one the cache would serve
    return now - standing.newest_search >= fresh_for(policy, standing)
