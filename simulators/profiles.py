"""Hidden company profiles: the facts (and GPU-need tier) behind each company's web pages."""

from __future__ import annotations

import functools
import hashlib
import random
import re
from dataclasses import dataclass

from simulators.industries import (
    INDUSTRIES,
    INDUSTRIES_BY_TIER,
    INDUSTRY_BY_KEY,
    Industry,
)
from simulators.namesakes import AMBIGUOUS, namesake_for, namesakes_of
from simulators.sample_companies import default_domain, normalise_name, sample_index

TIERS = ("HOT", "WARM", "COLD")

# The project's default search query is "<name> " + this tail (optionally "<name> (domain)").
DEFAULT_QUERY_TAIL = (
    "GPU compute infrastructure machine learning training inference funding employees"
)
_PAREN_DOMAIN = re.compile(r"\s*\(\s*([A-Za-z0-9.-]+\.[A-Za-z]{2,})\s*\)\s*$")

_CITIES = (
    "Rotterdam",
    "Austin",
    "Lyon",
    "Toronto",
    "Melbourne",
    "Leeds",
    "Denver",
    "Porto",
    "Gothenburg",
    "Pittsburgh",
    "Dublin",
    "Raleigh",
    "Tallinn",
    "Osaka",
    "Cape Town",
)
_HOT_INVESTORS = (
    "Northgate Ventures",
    "Lumen Crossing Capital",
    "Halberd Growth Partners",
    "Sixth Meridian Capital",
    "Bluewater Frontier Fund",
)
_WARM_INVESTORS = (
    "Tallgrass Ventures",
    "Brookline Seed Partners",
    "Redfern Capital",
    "Ostara Growth",
    "Kiln Street Ventures",
)
_COLD_LENDERS = ("a regional bank", "a family investment office", "a local development fund")
_GPU_MODELS = ("H100", "H200", "B200", "A100")
_GPU_COUNTS = (512, 1024, 2048, 4096, 8192)
_FOUNDERS = (
    "Mara Okafor",
    "Tobias Lindqvist",
    "Priya Raman",
    "Jonah Whitfield",
    "Elena Sokolova",
    "Samir Haddad",
    "Clara Jensen",
    "Dev Malhotra",
    "Ines Carvalho",
    "Hugo Brenner",
)
_CLOUDS = ("Stratoline Cloud", "Nimbus Forge", "Cirrusbay Compute")
_INFERENCE_VOLUMES = (
    "millions of requests per day",
    "tens of millions of predictions each week",
    "every customer session in real time",
)
_ROUNDS = {"HOT": ("C", "D", "E"), "WARM": ("A", "B", "C")}  # fmt: skip


def stable_hash(text: str) -> int:
    """A process-independent 64-bit hash (Python's hash() is salted per process)."""
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big")


@dataclass(frozen=True)
class CompanyProfile:
    """Everything the simulated web knows about one company."""

    name: str
    domain: str
    tier: str
    industry: Industry
    founded: int
    hq: str
    employees: int
    offices: int
    funding_musd: int | None
    funding_round: str | None
    investor: str | None
    founder: str
    gpu_count: int | None
    gpu_model: str | None
    cloud: str
    inference_volume: str
    seed: int


def _industry_by_suffix(name: str) -> Industry | None:
    """The industry a name announces by its last words ("... Bakery", "... Robotics")."""
    normalised = normalise_name(name)
    for industry in INDUSTRIES:
        if any(normalised.endswith(" " + suffix.casefold()) for suffix in industry.suffixes):
            return industry
    return None


def expected_tier(company_name: str, domain: str | None = None) -> str:
    """The tier ("HOT", "WARM" or "COLD") the simulated web implies for this company.

    Sample companies use their table entry; other names ending in an industry word use that
    industry's tier (so "Acme Bakery" is COLD); anything else is decided by a stable hash.
    A name shared by several organisations (see namesakes.py) has the tier of the one
    registered under `domain`, and is "AMBIGUOUS" without a registered domain; for every
    other name `domain` makes no difference.
    """
    if namesakes_of(company_name):
        org = namesake_for(company_name, domain)
        return org.tier if org is not None else AMBIGUOUS
    sample = sample_index().get(normalise_name(company_name))
    if sample is not None:
        return sample.tier
    by_suffix = _industry_by_suffix(company_name)
    if by_suffix is not None:
        return by_suffix.tier
    bucket = stable_hash(normalise_name(company_name)) % 100
    return "HOT" if bucket < 25 else "WARM" if bucket < 60 else "COLD"


# At epoch >= 1 about a quarter of the WARM companies have news that makes them HOT. The salt
# keeps this choice independent of the hash bucket that made a random name WARM.
CHANGE_EPOCH = 1
_CHANGE_SALT = "epoch-change:"


def changes_at_epoch(company_name: str, epoch: int) -> bool:
    """Whether the simulated web has news (a GPU cluster, new funding) for this company at
    `epoch` that moves it from WARM to HOT; never for names shared by several organisations."""
    if epoch < CHANGE_EPOCH or namesakes_of(company_name):
        return False
    if expected_tier(company_name) != "WARM":
        return False
    return stable_hash(_CHANGE_SALT + normalise_name(company_name)) % 4 == 0


def expected_tier_at(company_name: str, epoch: int, domain: str | None = None) -> str:
    """The tier the simulated web implies at `epoch` (the Tavily simulator's `epoch` setting)."""
    if changes_at_epoch(company_name, epoch):
        return "HOT"
    return expected_tier(company_name, domain)


def _industry_for(name: str, tier: str) -> Industry:
    sample = sample_index().get(normalise_name(name))
    if sample is not None:
        return INDUSTRY_BY_KEY[sample.industry]
    by_suffix = _industry_by_suffix(name)
    if by_suffix is not None and by_suffix.tier == tier:
        return by_suffix
    choices = INDUSTRIES_BY_TIER[tier]
    return choices[(stable_hash(normalise_name(name)) // 100) % len(choices)]


@functools.lru_cache(maxsize=2048)
def company_profile(name: str, domain: str | None = None) -> CompanyProfile:
    """The deterministic profile of a company, seeded by its normalised name.

    For a name shared by several organisations, the profile of the one registered under
    `domain` (the first one when the domain is missing or not registered).
    """
    name = " ".join(name.split())
    seed = stable_hash(normalise_name(name))
    orgs = namesakes_of(name)
    if orgs:
        # Each organisation sharing the name is its own company; an unregistered domain or
        # none at all gets the first (primary) one.
        org = namesake_for(name, domain) or orgs[0]
        domain = org.domain
        seed = stable_hash(normalise_name(name) + "@" + org.domain)
        tier, industry = org.tier, INDUSTRY_BY_KEY[org.industry]
    else:
        tier = expected_tier(name)
        industry = _industry_for(name, tier)
    rng = random.Random(seed)  # a private generator: no global randomness
    if tier == "HOT":
        employees = rng.randrange(120, 3000, 10)
        funding: int | None = rng.randrange(120, 900, 5)
        funding_round: str | None = rng.choice(_ROUNDS["HOT"])
        investor: str | None = rng.choice(_HOT_INVESTORS)
        gpu_count: int | None = rng.choice(_GPU_COUNTS)
        gpu_model: str | None = rng.choice(_GPU_MODELS)
    elif tier == "WARM":
        employees = rng.randrange(60, 1500, 5)
        funding = rng.randrange(22, 85)
        funding_round = rng.choice(_ROUNDS["WARM"])
        investor = rng.choice(_WARM_INVESTORS)
        gpu_count = gpu_model = None
    else:
        employees = rng.randrange(12, 800)
        # Half of the COLD companies took a small loan; the rest are bootstrapped.
        funding = rng.randrange(2, 9) if rng.random() < 0.5 else None
        funding_round = None
        investor = rng.choice(_COLD_LENDERS) if funding else None
        gpu_count = gpu_model = None
    return CompanyProfile(
        name=name,
        domain=(domain or default_domain(name)).lower(),
        tier=tier,
        industry=industry,
        founded=rng.randrange(1985 if tier == "COLD" else 2012, 2023),
        hq=rng.choice(_CITIES),
        employees=employees,
        offices=rng.randrange(1, 7),
        funding_musd=funding,
        funding_round=funding_round,
        investor=investor,
        founder=rng.choice(_FOUNDERS),
        gpu_count=gpu_count,
        gpu_model=gpu_model,
        cloud=rng.choice(_CLOUDS),
        inference_volume=rng.choice(_INFERENCE_VOLUMES),
        seed=seed,
    )


def company_from_query(query: str) -> tuple[str, str | None]:
    """Recover (company name, domain or None) from a search query.

    Handles the project's default query "<name> [(<domain>)] <DEFAULT_QUERY_TAIL>"; any other
    query is taken whole as the company name.
    """
    text = " ".join(query.split())
    if text.casefold().endswith(DEFAULT_QUERY_TAIL.casefold()):
        text = text[: -len(DEFAULT_QUERY_TAIL)].strip()
    domain = None
    found = _PAREN_DOMAIN.search(text)
    if found:
        domain = found.group(1).lower()
        text = text[: found.start()].strip()
    text = text.strip().strip("\"'").strip()
    return (text or " ".join(query.split()), domain)
