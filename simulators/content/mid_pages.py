"""A company's six mid-relevance pages (score 0.42-0.79).

A blog post, a conference talk, a roundup, a partner's customer story, a podcast and local
press; what they say about GPUs and ML depends on the company's tier.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from simulators.content.page import Page, slugify
from simulators.content.relevant_page import company_slug, relevant_page
from simulators.profiles import CompanyProfile

# (url, title, signal paragraphs) of one page
_Spec = tuple[str, str, list[str]]


@dataclass(frozen=True)
class _Phrasing:
    """The tier-specific sentences of the mid-relevance pages."""

    blog_title: str
    blog: list[str]
    talk: list[str]
    roundup: str
    partner: str
    podcast: str


def mid_pages(profile: CompanyProfile, rng: random.Random) -> list[Page]:
    """The six pages in shuffled order, scored from best to worst."""
    specs = _specs(profile, _phrasing(profile, rng))
    rng.shuffle(specs)
    scores = sorted((rng.uniform(0.42, 0.79) for _ in specs), reverse=True)
    return [
        relevant_page(rng, profile, url, title, paras, score, "mid")
        for (url, title, paras), score in zip(specs, scores, strict=True)
    ]


def _phrasing(profile: CompanyProfile, rng: random.Random) -> _Phrasing:
    if profile.tier == "HOT":
        return _hot_phrasing(profile)
    if profile.tier == "WARM":
        return _warm_phrasing(profile)
    return _cold_phrasing(profile, rng)


def _hot_phrasing(p: CompanyProfile) -> _Phrasing:
    n = p.name
    return _Phrasing(
        blog_title=f"How {n} keeps thousands of GPUs busy",
        blog=[
            f"{n} engineers wrote that the team moved its largest training runs to "
            f"{p.gpu_model} GPUs last year.",
            f"{n} schedules work across its fleet with an in-house queueing system.",
        ],
        talk=[f"At the summit, {n} described how it trains {p.industry.ml_focus}."],
        roundup=f"{n} stands out for the scale of its GPU fleet.",
        partner=f"{n} reserved {p.gpu_model} capacity on {p.cloud} to expand its training cluster.",
        podcast=f"{p.founder} said {n} spends most of its capital on compute.",
    )


def _warm_phrasing(p: CompanyProfile) -> _Phrasing:
    n = p.name
    return _Phrasing(
        blog_title=f"What {n} learned shipping machine learning features",
        blog=[
            f"{n} engineers wrote that most of the team's machine learning work runs on "
            "managed cloud services.",
            f"{n} reviews every new feature with its support team before launch.",
        ],
        talk=[f"At the summit, {n} explained how it uses {p.industry.ml_focus}."],
        roundup=f"{n} stands out for putting machine learning into a practical product.",
        partner=f"{n} uses managed inference endpoints from {p.cloud} to serve its models.",
        podcast=f"{p.founder} said {n} prefers to buy machine learning services.",
    )


def _cold_phrasing(p: CompanyProfile, rng: random.Random) -> _Phrasing:
    n = p.name
    return _Phrasing(
        blog_title=f"{n} news: {rng.choice(('spring', 'summer', 'autumn', 'winter'))} update",
        blog=[p.industry.business[3].format(name=n), p.industry.business[2].format(name=n)],
        talk=[f"{n} exhibited at the regional trade expo this spring."],
        roundup=f"{n} stands out for its loyal local customers.",
        partner=f"{n} moved its invoicing to Ledgerly Books last year.",
        podcast=f"{p.founder} talked about how {n} grew from a single site.",
    )


def _specs(p: CompanyProfile, say: _Phrasing) -> list[_Spec]:
    """The six pages before shuffling, in a fixed order."""
    n, slug = p.name, company_slug(p)
    event = "Summit Talks 2026" if p.tier != "COLD" else "Regional Trade Expo 2026"
    label = p.industry.key.replace("_", " ")
    partner_site = "ledgerly.example" if p.tier == "COLD" else slugify(p.cloud) + ".example"
    return [
        (f"https://{p.domain}/blog/{slugify(say.blog_title)}", say.blog_title, say.blog),
        (f"https://summit-talks.example/2026/{slug}", f"{n} at {event}", say.talk),
        (
            f"https://marketwatchers-digest.example/lists/{slugify(label)}-companies-to-watch",
            f"{label.title()} companies to watch in 2026",
            [
                f"Our annual list covers fast-moving companies in {label}.",
                f"{say.roundup} {n} {p.industry.what}.",
            ],
        ),
        (
            f"https://{partner_site}/customers/{slug}",
            f"Customer story: {n}",
            [say.partner, f"{n} {p.industry.what}."],
        ),
        (
            f"https://founders-hour.example/episodes/{slug}",
            f"Founders Hour podcast: {p.founder} of {n}",
            [f"In this episode {p.founder} looks back on building {n}.", say.podcast],
        ),
        (
            f"https://{slugify(p.hq)}-business-journal.example/{slug}",
            f"{n} named among {p.hq}'s growing employers",
            [f"{n} was named one of {p.hq}'s growing employers.", f"{n} {p.industry.what}."],
        ),
    ]
