"""What a search returns: a company's pages, filtered by domain and mixed by relevance.

Names shared by several organisations mix their pages as a real search engine does;
`answer_for` is the short answer a search with include_answer gets.
"""

from __future__ import annotations

import fnmatch
import math
import random
from collections.abc import Sequence
from dataclasses import replace

from simulators.content.company_pages import pages_for
from simulators.content.page import Page
from simulators.content.writer import Writer
from simulators.namesakes import Namesake, namesake_for, namesakes_of
from simulators.profiles import company_from_query, company_profile, stable_hash


def _host_matches(url: str, patterns: list[str]) -> bool:
    host = url.split("/")[2].lower()
    for pattern in patterns:
        pattern = pattern.lower().removeprefix("https://").removeprefix("http://").strip("/")
        if fnmatch.fnmatch(host, pattern) or host == pattern or host.endswith("." + pattern):
            return True
    return False


def _filtered(
    pages: Sequence[Page], include_domains: list[str] | None, exclude_domains: list[str] | None
) -> list[Page]:
    pool = list(pages)
    if include_domains:
        pool = [p for p in pool if _host_matches(p.url, include_domains)]
    if exclude_domains:
        pool = [p for p in pool if not _host_matches(p.url, exclude_domains)]
    return pool


def _mix(pool: list[Page], count: int) -> list[Page]:
    """`count` pages of one company: the best relevant ones plus about a third off-topic."""
    buckets = {level: [p for p in pool if p.relevance == level] for level in ("high", "mid", "low")}
    want_high = min(4, max(1, math.ceil(count * 0.4))) if count else 0
    want_low = count // 3
    want_mid = max(0, count - want_high - want_low)
    chosen = buckets["high"][:want_high] + buckets["mid"][:want_mid] + buckets["low"][:want_low]
    leftovers = [p for p in pool if p not in chosen]
    chosen += leftovers[: count - len(chosen)]
    return chosen


def _round_robin(lists: list[list[Page]]) -> list[Page]:
    """The first of each list, then the second of each, and so on."""
    out: list[Page] = []
    for rank in range(max((len(items) for items in lists), default=0)):
        out.extend(items[rank] for items in lists if rank < len(items))
    return out


def _namesake_pages(
    name: str,
    domain: str | None,
    orgs: tuple[Namesake, ...],
    max_results: int,
    include_domains: list[str] | None,
    exclude_domains: list[str] | None,
) -> list[Page]:
    """Results for a name several organisations share, as a real search engine mixes them.

    Without a registered domain, the organisations' relevant pages alternate (plus about a
    third off-topic pages). With one, the results are that organisation's, except that up to
    3 relevant pages of the others still show up, scored 0.45-0.80: below its best pages but
    above the usual 0.4 cut, so only a reader who checks domains sets them aside.
    """

    def relevant(org: Namesake) -> list[Page]:
        pages = _filtered(pages_for(name, org.domain), include_domains, exclude_domains)
        return [p for p in pages if p.relevance != "low"]

    target = namesake_for(name, domain)
    if target is None:
        per_org = [relevant(org) for org in orgs]
        # Off-topic pages are the same for every organisation: take one set.
        low = [
            p
            for p in _filtered(pages_for(name, orgs[0].domain), include_domains, exclude_domains)
            if p.relevance == "low"
        ]
        mixed = _round_robin(per_org)
        count = max(0, min(max_results, 20, len(mixed) + len(low)))
        want_low = min(len(low), count // 3)
        chosen = mixed[: count - want_low]
        chosen += low[: count - len(chosen)]
        return sorted(chosen, key=lambda page: -page.score)

    pool = _filtered(pages_for(name, target.domain), include_domains, exclude_domains)
    others = _round_robin([relevant(org) for org in orgs if org != target])
    count = max(0, min(max_results, 20, len(pool) + len(others)))
    intruders = min(3, count // 4, len(others))
    chosen = _mix(pool, min(count - intruders, len(pool)))
    others = others[: count - len(chosen)]
    rng = random.Random(stable_hash(f"{name.casefold()}|{target.domain}|namesakes"))
    scores = sorted((rng.uniform(0.45, 0.8) for _ in others), reverse=True)
    chosen += [replace(p, score=round(s, 8)) for p, s in zip(others, scores, strict=True)]
    return sorted(chosen, key=lambda page: -page.score)


def search_pages(
    query: str,
    max_results: int,
    include_domains: list[str] | None = None,
    exclude_domains: list[str] | None = None,
    epoch: int = 0,
) -> list[Page]:
    """The pages a search returns: a realistic mix of relevance levels, sorted by score.

    Small result counts still contain some off-topic pages (about a third), as real
    searches do; the company's own page comes first (at epoch >= 1 a changed company's new
    news page may outrank it). Names shared by several organisations mix their pages.
    """
    name, domain = company_from_query(query)
    orgs = namesakes_of(name)
    if orgs:
        return _namesake_pages(
            " ".join(name.split()), domain, orgs, max_results, include_domains, exclude_domains
        )
    pool = _filtered(pages_for(name, domain, epoch), include_domains, exclude_domains)
    count = max(0, min(max_results, 20, len(pool)))
    return sorted(_mix(pool, count), key=lambda page: -page.score)


def answer_for(query: str) -> str:
    """A short LLM-style answer, as returned when include_answer is set."""
    name, domain = company_from_query(query)
    profile = company_profile(name, domain)
    return f"{profile.name} {profile.industry.what}. {Writer(profile).headcount()}"
