"""Turn search results into the fenced evidence the LLM reads (pure functions, no I/O)."""

from __future__ import annotations

from dataclasses import dataclass

from tasks.models import SearchPage


@dataclass(frozen=True)
class SourceBlock:
    """One page as the LLM sees it, numbered so signals can cite it."""

    id: int
    url: str
    title: str
    score: float
    text: str


def select_pages(pages: list[SearchPage], min_score: float) -> list[SearchPage]:
    """Drop pages below the relevance threshold and sort the rest, best first."""
    kept = [p for p in pages if p.score >= min_score]
    return sorted(kept, key=lambda p: p.score, reverse=True)


def build_sources(pages: list[SearchPage], max_chars: int) -> list[SourceBlock]:
    """Raw page content (snippet only if raw is missing), best first, within a character budget."""
    blocks: list[SourceBlock] = []
    budget = max_chars
    for page in pages:
        text = (page.raw_content or page.content or "").strip()
        if not text:
            continue
        if budget <= 0:
            break
        text = text[:budget]
        budget -= len(text)
        blocks.append(SourceBlock(len(blocks) + 1, page.url, page.title, page.score, text))
    return blocks


def render_sources(blocks: list[SourceBlock]) -> str:
    """The sources as tagged blocks; tag-like text inside a page cannot close its fence."""
    parts = []
    for b in blocks:
        text = b.text.replace("</source", "< /source").replace("<source", "< source")
        title = b.title.replace('"', "'").replace("\n", " ")
        parts.append(
            f'<source id="{b.id}" url="{b.url}" title="{title}" score="{b.score:.2f}">\n'
            f"{text}\n</source>"
        )
    return "\n".join(parts)
