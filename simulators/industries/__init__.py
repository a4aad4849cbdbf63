"""The fictional industries companies belong to, with the phrases their web pages use.

Wording rules that keep the LLM simulator's keyword scoring aligned with each tier:
WARM and COLD phrases never mention specific GPU models, clusters, "train ... model",
pre-training or foundation models; COLD phrases never mention GPUs, ML, AI, models,
inference or "infrastructure".
"""

from __future__ import annotations

from simulators.industries.cold import COLD_INDUSTRIES
from simulators.industries.hot import HOT_INDUSTRIES
from simulators.industries.model import Industry
from simulators.industries.warm import WARM_INDUSTRIES

__all__ = [
    "COLD_INDUSTRIES",
    "HOT_INDUSTRIES",
    "INDUSTRIES",
    "INDUSTRIES_BY_TIER",
    "INDUSTRY_BY_KEY",
    "WARM_INDUSTRIES",
    "Industry",
]

INDUSTRIES = HOT_INDUSTRIES + WARM_INDUSTRIES + COLD_INDUSTRIES
INDUSTRIES_BY_TIER = {"HOT": HOT_INDUSTRIES, "WARM": WARM_INDUSTRIES, "COLD": COLD_INDUSTRIES}
INDUSTRY_BY_KEY = {industry.key: industry for industry in INDUSTRIES}
