"""A company's four highly relevant pages (score 0.85-0.99).

Its own site, funding news, its job board and a company database.
"""

from __future__ import annotations

import random

from simulators.content.page import Page, slugify
from simulators.content.relevant_page import company_slug, relevant_page
from simulators.content.writer import Writer
from simulators.profiles import CompanyProfile


def high_pages(profile: CompanyProfile, rng: random.Random) -> list[Page]:
    """The about, funding news, careers and database pages.

    Built in this order because each draws from `rng`: the order is part of every page's text.
    """
    scores = sorted((rng.uniform(0.85, 0.95) for _ in range(3)), reverse=True)
    return [
        _about_page(profile, rng),
        _funding_news_page(profile, rng, scores[0]),
        _careers_page(profile, rng, scores[1]),
        _firmographics_page(profile, rng, scores[2]),
    ]


def _about_page(p: CompanyProfile, rng: random.Random) -> Page:
    w, n = Writer(p), p.name
    ml = w.ml_core(rng)
    identity = w.ai_identity()
    about = [w.intro() + (" " + identity if identity else ""), " ".join(ml)]
    about.append(" ".join(s for s in (w.funding(), w.headcount(), w.growth(rng)) if s))
    about.append(w.hiring() + " " + p.industry.business[1].format(name=n))
    return relevant_page(
        rng,
        p,
        f"https://{p.domain}/about",
        f"About {n} | {p.industry.what.capitalize()}",
        about,
        rng.uniform(0.955, 0.99),
        "high",
    )


def _funding_news_page(p: CompanyProfile, rng: random.Random, score: float) -> Page:
    w, n = Writer(p), p.name
    if p.tier == "COLD":
        news_title = f"{n} opens a new location in {p.hq}"
        recap = f"{n} {p.industry.what}. " + p.industry.business[2].format(name=n)
    else:
        news_title = f"{n} raises ${p.funding_musd}M Series {p.funding_round}"
        spend = (
            f"The new capital will pay for more {p.gpu_model} GPUs as {n} scales {p.industry.task}."
            if p.tier == "HOT"
            else f"{n} said the money will fund product work and its machine learning team."
        )
        recap = f"{n} {p.industry.what}. {spend}"
    quote = f'"We are building for the long term," said {p.founder}, chief executive of {n}.'
    news = [w.funding() + " " + recap, quote]
    return relevant_page(
        rng,
        p,
        f"https://techwire-daily.example/2026/{slugify(news_title)}",
        news_title,
        news,
        score,
        "high",
    )


def _careers_page(p: CompanyProfile, rng: random.Random, score: float) -> Page:
    w, n = Writer(p), p.name
    careers = [w.hiring() + " " + w.headcount(), w.open_roles()]
    return relevant_page(
        rng,
        p,
        f"https://jobs.hireboard.example/companies/{company_slug(p)}",
        f"{n} Careers - {rng.randrange(3, 40)} open roles",
        careers,
        score,
        "high",
    )


def _firmographics_page(p: CompanyProfile, rng: random.Random, score: float) -> Page:
    w, n = Writer(p), p.name
    category = {
        "HOT": f"{n} is listed in the AI infrastructure category of our database.",
        "WARM": f"{n} is listed in the applied machine learning category of our database.",
        "COLD": f"{n} is listed in the {p.industry.key.replace('_', ' ')} category of our "
        "database.",
    }[p.tier]
    firmo = [
        f"{w.headcount()} {n} is headquartered in {p.hq} and was founded in {p.founded}.",
        f"{w.funding()} {n} {p.industry.what}.",
        category,
    ]
    return relevant_page(
        rng,
        p,
        f"https://firmographics.example/org/{company_slug(p)}",
        f"{n} - Company Profile, Funding & Employees",
        firmo,
        score,
        "high",
    )
