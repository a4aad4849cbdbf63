"""Which organisation a search result is about (pure functions, no I/O).

Two companies can share a name ("Mercury Labs" the AI lab and "Mercury Labs" the dental lab).
A page shows which one it is about by the domains it lives on or links to whose names spell
the company's name. Domains named on the same page belong together (a company's .com and its
.io); separate groups of them are separate organisations. With a domain given, pages about a
different organisation are set aside; without one, results about several organisations are
flagged ambiguous instead of guessed.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

from domain.models import SearchPage
from domain.names import normalize_name

# A bare domain or the host of a link, as it appears in page text or markdown.
_DOMAIN = re.compile(
    r"(?<![\w@.-])((?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,24})(?![\w-])", re.I
)
# A name ending so is a file on a page's path ("...-debt-financing.html"), not a domain.
_FILE_SUFFIXES = frozenset(
    "html htm shtml php asp aspx jsp cfm cgi pdf doc docx xls xlsx ppt pptx txt xml json csv "
    "rss atom jpg jpeg png gif svg webp mp3 mp4 mov zip gz md".split()
)
# Hosts where anyone gets a subdomain: "acme.github.io" is Acme's page there, as much Acme's
# as acme.com, not another organisation.
SHARED_HOSTS = (
    "github.io",
    "gitlab.io",
    "medium.com",
    "substack.com",
    "wordpress.com",
    "blogspot.com",
    "netlify.app",
    "vercel.app",
    "pages.dev",
    "notion.site",
    "hashnode.dev",
    "readthedocs.io",
    "webflow.io",
    "wixsite.com",
    "squarespace.com",
)
# Support an organisation needs (pages about it) before it counts as a rival namesake.
MIN_PAGES_PER_ENTITY = 2


def host_of(url: str) -> str:
    """The host of a URL without `www.`, lower case ("" if it has none)."""
    host = (urlsplit(url).hostname or "").lower()
    return host[4:] if host.startswith("www.") else host


def _name_keys(name: str) -> list[str]:
    """The distinctive words of a name that a company's own domain would spell."""
    words = [w for w in normalize_name(name).split() if len(w) >= 3 and w.isalnum()]
    return words[:2]


def _spells(domain: str, keys: list[str]) -> bool:
    """Does the domain (without its last label) contain every distinctive word of the name?"""
    if not keys:
        return False
    label = re.sub(r"[^a-z0-9]", "", domain.rsplit(".", 1)[0].lower())
    return all(key in label for key in keys)


def _same_site(a: str, b: str) -> bool:
    return a == b or a.endswith("." + b) or b.endswith("." + a)


def page_entities(page: SearchPage, name: str) -> set[str]:
    """The domains a page lives on or names whose names spell the company's name."""
    keys = _name_keys(name)
    if not keys:
        return set()  # no distinctive word: no domain spells the name
    text = f"{page.raw_content or ''} {page.content or ''}"
    found = {host_of(page.url)} | {d.lower().removeprefix("www.") for d in _domains_in(text)}
    return {d for d in found if d and _spells(d, keys)}


def _domains_in(text: str) -> list[str]:
    """Domains named in the text: bare or as a link's host, never a file on a URL's path."""
    named = []
    for match in _domain_matches(text):
        at = match.start()
        if at and text[at - 1] == "/" and text[max(0, at - 2) : at] != "//":
            continue  # ".../coreweave-debt-financing.html": a path segment
        domain = match.group(1)
        if domain.rsplit(".", 1)[1].lower() in _FILE_SUFFIXES:
            continue
        named.append(domain)
    return named


# Every domain has a dot between a letter or digit and a letter ("coreweave.com"). The domain
# pattern is only tried on the runs of domain characters around such dots: trying it at each
# word of a page cost more than all the rest of sorting out whom the pages are about. The dot
# comes first and the letter before it is looked behind from after it: a pattern opening with
# a look-behind is tried at every character (65 us a page of our simulators' 4,600 characters),
# one opening with a literal only where the literal is (3.6 us); the matches are the same.
_DOMAIN_DOT = re.compile(r"\.(?<=[a-z0-9]\.)(?=[a-z])", re.I)
# The characters `_DOMAIN` can match ([a-z0-9.-], case-insensitively, which lets in four
# letters from outside ASCII).
_DOMAIN_CHARS = frozenset(string.ascii_letters + string.digits + ".-" + "\u0130\u0131\u017f\u212a")


def _domain_matches(text: str) -> Iterator[re.Match[str]]:
    """`_DOMAIN.finditer(text)`, searching only the runs of domain characters with a dot."""
    searched_to = 0
    for dot in _DOMAIN_DOT.finditer(text):
        if dot.start() < searched_to:
            continue  # in a run already searched
        start, end = dot.start(), dot.end()
        while start and text[start - 1] in _DOMAIN_CHARS:
            start -= 1
        while end < len(text) and text[end] in _DOMAIN_CHARS:
            end += 1
        # One character past the run, so the pattern's look-ahead sees what follows it.
        yield from _DOMAIN.finditer(text, start, end + 1)
        searched_to = end


def _own_site(entity: str, domain: str) -> bool:
    """Is `entity` the company's site: its domain, a subdomain, or its account on a shared
    host ("acme.github.io" for acme.com)?"""
    if _same_site(entity, domain):
        return True
    shared = next((h for h in SHARED_HOSTS if entity.endswith("." + h)), None)
    if shared is None:
        return False
    account = entity[: -len(shared) - 1].rsplit(".", 1)[-1]
    return account == domain.split(".")[0] or account == domain.rsplit(".", 1)[0].replace(".", "")


@dataclass(frozen=True)
class EntityCheck:
    """What the pages say about which organisation they describe."""

    kept: list[SearchPage]
    set_aside: int  # pages about another organisation of the same name
    rivals: list[tuple[str, int]]  # without a domain: (domain, pages) per organisation, if >1


def sort_out(name: str, domain: str | None, pages: list[SearchPage]) -> EntityCheck:
    """Keep the pages about this company; name the organisations if it cannot be told."""
    entities = [page_entities(p, name) for p in pages]
    if domain:
        if not any(any(_own_site(d, domain) for d in e) for e in entities):
            # No result mentions the given domain: nothing to tell them apart by.
            return EntityCheck(pages, 0, [])
        kept = [
            p
            for p, e in zip(pages, entities, strict=True)
            if not e or any(_own_site(d, domain) for d in e)
        ]
        return EntityCheck(kept, len(pages) - len(kept), [])
    groups = _groups(entities)
    support = sorted(
        ((min(group), sum(1 for e in entities if e & group)) for group in groups),
        key=lambda item: (-item[1], item[0]),
    )
    rivals = [(d, n) for d, n in support if n >= MIN_PAGES_PER_ENTITY]
    return EntityCheck(pages, 0, rivals if len(rivals) > 1 else [])


def _groups(entities: list[set[str]]) -> list[set[str]]:
    """Domains named on the same page (or the same site) belong to one organisation."""
    groups: list[set[str]] = []
    for found in entities:
        merged = set(found)
        for group in [g for g in groups if _touches(g, found)]:
            merged |= group
            groups.remove(group)
        if merged:
            groups.append(merged)
    return groups


def _touches(group: set[str], found: set[str]) -> bool:
    return any(_same_site(a, b) for a in group for b in found)
