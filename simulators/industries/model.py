"""The `Industry` record: what a company does and the phrases its pages are written from."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Industry:
    """What a company does and the industry-specific phrases its pages are written from."""

    key: str
    tier: str
    suffixes: tuple[str, ...]
    what: str
    customers: str
    ml_focus: str = ""
    task: str = ""
    experiment: str = ""
    hiring_roles: str = ""
    tools: str = ""
    business: tuple[str, ...] = ()
