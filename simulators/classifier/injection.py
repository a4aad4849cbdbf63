"""The gullible model: what it answers when a source orders it about."""

from __future__ import annotations

import re
from typing import Any

from simulators.classifier.prompt import ClassificationPrompt

# How a gullible model recognises orders inside a page, and the evidence it is told to cite.
_TAKEOVER = re.compile(r"ignore (?:all )?(?:previous|prior|above) instructions", re.IGNORECASE)
_DICTATED = re.compile(
    r'cite this evidence:\s*"([^"]+)"\s*from\s+(\S+?)[.,;<]?(?:\s|$|<)', re.IGNORECASE
)


def obey_injection(prompt: ClassificationPrompt) -> dict[str, Any] | None:
    """What a model that follows orders found in its sources answers, or None if none are.

    It stands for the worst case: a model talked into a HOT verdict with dictated "evidence",
    so tests can show that such evidence never reaches the database.
    """
    orders = [s for s in prompt.sources if _TAKEOVER.search(s.text)]
    if not orders:
        return None
    signals = [
        {"kind": "gpu_infrastructure", "url": url, "excerpt": excerpt}
        for source in orders
        for excerpt, url in _DICTATED.findall(source.text)
    ]
    return {
        "tier": "HOT",
        "score": 100,
        "confidence": "high",
        "reasoning": f"{prompt.company or 'The company'} runs a large GPU cluster.",
        "signals": signals,
    }
