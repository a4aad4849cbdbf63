"""The fixed table of ~300 fictional sample companies whose tiers are known in advance.

The names are coined words plus an industry suffix, generated deterministically, so the
table, `examples/companies.csv` and `expected_tier()` always agree.
"""

from __future__ import annotations

import functools
import random
import re
from dataclasses import dataclass

from simulators.industries import INDUSTRIES_BY_TIER

# How many sample companies of each tier: roughly 25% HOT, 35% WARM, 40% COLD.
TIER_COUNTS = {"HOT": 75, "WARM": 105, "COLD": 120}
SAMPLE_SEED = 2026

_PREFIXES = {
    "HOT": (
        "Axiomor", "Cerebrant", "Halvora", "Kestrix", "Lumitra", "Neurova", "Orbitan",
        "Parallex", "Quorvex", "Synthara", "Tensoria", "Vectrin", "Zentrix", "Helixar",
        "Photonyx", "Corvance", "Idriva", "Maxwellion", "Novarion", "Rhezon", "Strativ",
        "Teslyn", "Velquor", "Xyphos", "Ymira",
    ),
    "WARM": (
        "Cedarwick", "Fernvale", "Larkmoor", "Wrenholt", "Ambervane", "Bellquay", "Corallis",
        "Driftmere", "Goldwyth", "Harrowlight", "Junistra", "Kingsbrae", "Meadowlyn",
        "Northquill", "Oakhelm", "Pinemarsh", "Quaylock", "Riverquill", "Saltwyn",
        "Silvermoth", "Tidewick", "Vellmoor", "Westerlyn", "Yarrowby", "Zellbrook",
    ),
    "COLD": (
        "Maplewick", "Thornbury", "Hollowmead", "Ashcombe", "Brackenridge", "Cobblestone Lane",
        "Dunmore", "Elmstead", "Foxglove", "Greystoke Mill", "Hawthorne Row", "Ivybridge",
        "Kettlewell", "Lindenfold", "Millbrook", "Nettlecombe", "Orchard Hill", "Pebblestone",
        "Quarrybank", "Rookwood", "Sandpiper", "Tanners Yard", "Underhill", "Willowmere",
        "Yewdale", "Bramblecote", "Crowfoot", "Dovecote", "Emberton", "Farrowdale",
    ),
}  # fmt: skip


@dataclass(frozen=True)
class SampleCompany:
    """One row of the sample territory with its known tier and industry."""

    name: str
    domain: str
    tier: str
    industry: str


def normalise_name(name: str) -> str:
    """Case-fold and collapse whitespace so spelling variants of a name compare equal."""
    return " ".join(name.split()).casefold()


def default_domain(name: str) -> str:
    """The `.example` domain a fictional company uses when none is given."""
    return re.sub(r"[^a-z0-9]", "", name.casefold()) + ".example"


@functools.cache
def sample_companies() -> tuple[SampleCompany, ...]:
    """All sample companies, tiers interleaved, in a fixed order."""
    rng = random.Random(SAMPLE_SEED)
    companies: list[SampleCompany] = []
    for tier, count in TIER_COUNTS.items():
        combos = [
            (prefix, suffix, industry.key)
            for prefix in _PREFIXES[tier]
            for industry in INDUSTRIES_BY_TIER[tier]
            for suffix in industry.suffixes
        ]
        for prefix, suffix, industry_key in rng.sample(combos, count):
            name = f"{prefix} {suffix}"
            companies.append(SampleCompany(name, default_domain(name), tier, industry_key))
    rng.shuffle(companies)
    return tuple(companies)


@functools.cache
def sample_index() -> dict[str, SampleCompany]:
    """Sample companies keyed by normalised name."""
    index = {normalise_name(c.name): c for c in sample_companies()}
    assert len(index) == len(sample_companies()), "sample company names must be unique"
    return index
