"""A company's ten off-topic pages (score < 0.39), marked LOW-RELEVANCE-PAGE and "unrelated"."""

from __future__ import annotations

import random

from simulators.content.page import LOW_MARKER, Page, random_published, slugify
from simulators.profiles import CompanyProfile
from simulators.prose import OFF_TOPIC_PAGES


def low_pages(profile: CompanyProfile, rng: random.Random) -> list[Page]:
    """The off-topic pages, with order, scores, lengths and dates drawn from `rng`."""
    pages = []
    topics = list(OFF_TOPIC_PAGES)
    rng.shuffle(topics)
    scores = sorted((rng.uniform(0.05, 0.38) for _ in topics), reverse=True)
    for (topic, site, title, sentences), score in zip(topics, scores, strict=True):
        first = (
            f"This unrelated page about {topic} is marked {LOW_MARKER} for the simulator. "
            + sentences[0]
        )
        rest = list(sentences[1:])
        body = [first]
        length = len(first)
        target = rng.randrange(2000, 4500)
        while length < target:
            rng.shuffle(rest)
            body.append(" ".join(rest[: rng.randrange(2, 5)]))
            length += len(body[-1])
        pages.append(
            Page(
                url=f"https://{site}/{slugify(title)}",
                title=title,
                paragraphs=tuple(body),
                score=round(score, 8),
                relevance="low",
                published=random_published(rng),
            )
        )
    return pages
