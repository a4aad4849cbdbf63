"""Company names shared by several unrelated organisations, each with its own domain and tier.

A search for such a name without a domain returns pages about all of them; a reader can only
tell them apart by the domain each page lives on or links to. `expected_tier(name)` is
"AMBIGUOUS" for these names; `expected_tier(name, domain)` is the tier of the organisation
registered under that domain.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from simulators.sample_companies import normalise_name

AMBIGUOUS = "AMBIGUOUS"


@dataclass(frozen=True)
class Namesake:
    """One of the organisations behind a shared name."""

    name: str
    domain: str
    tier: str
    industry: str  # a key of industries.INDUSTRY_BY_KEY whose tier matches `tier`


def _orgs(name: str, *orgs: tuple[str, str, str]) -> tuple[Namesake, ...]:
    return tuple(Namesake(name, domain, tier, industry) for domain, tier, industry in orgs)


# The first organisation of each name is its "primary" one: the profile used when a name is
# looked up without a registered domain (e.g. for Tavily's `answer`).
NAMESAKES: dict[str, tuple[Namesake, ...]] = {
    "Mercury Labs": _orgs(
        "Mercury Labs",
        ("mercurylabs-ai.example", "HOT", "foundation_models"),
        ("mercurylabs-dental.example", "COLD", "dental"),
    ),
    "Atlas Works": _orgs(
        "Atlas Works",
        ("atlasworks-robotics.example", "HOT", "robotics"),
        ("atlasworks-media.example", "WARM", "media"),
        ("atlasworks-plumbing.example", "COLD", "plumbing"),
    ),
    "Nova Analytics": _orgs(
        "Nova Analytics",
        ("novaanalytics.example", "WARM", "retail_analytics"),
        ("nova-analytics-bakery.example", "COLD", "bakery"),
    ),
    "Orion Systems": _orgs(
        "Orion Systems",
        ("orionsystems-voice.example", "HOT", "speech"),
        ("orionsystems-pay.example", "WARM", "payments"),
    ),
}


@functools.cache
def _index() -> dict[str, tuple[Namesake, ...]]:
    return {normalise_name(name): orgs for name, orgs in NAMESAKES.items()}


def namesakes_of(name: str) -> tuple[Namesake, ...]:
    """The organisations sharing this name (any spelling variant), or () for a unique name."""
    return _index().get(normalise_name(name), ())


def namesake_for(name: str, domain: str | None) -> Namesake | None:
    """The organisation of a shared name registered under `domain`, or None."""
    if not domain:
        return None
    wanted = domain.strip().lower().removeprefix("www.")
    return next((org for org in namesakes_of(name) if org.domain == wanted), None)
