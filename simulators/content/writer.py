"""The sentences a company's relevant pages are written from."""

from __future__ import annotations

import random

from simulators.profiles import CompanyProfile


class Writer:
    """Writes one company's sentences; tier decides which GPU/ML signals they state."""

    def __init__(self, profile: CompanyProfile) -> None:
        self.p = profile
        self.n = profile.name

    # --- signal sentences ------------------------------------------------------------------
    def intro(self) -> str:
        p = self.p
        return (
            f"{self.n} {p.industry.what}. Founded in {p.founded} and headquartered in {p.hq}, "
            f"{self.n} serves {p.industry.customers}."
        )

    def ml_core(self, rng: random.Random) -> list[str]:
        p, n = self.p, self.n
        if p.tier == "HOT":
            where = rng.choice(
                (f"in a colocation facility near {p.hq}", f"on reserved capacity from {p.cloud}")
            )
            return [
                f"{n} operates a {p.gpu_count:,}-GPU {p.gpu_model} training cluster {where}.",
                f"{n} trains {p.industry.ml_focus} and retrains them every few weeks.",
                f"{n} serves its models in production and runs inference for {p.inference_volume}.",
            ]
        if p.tier == "WARM":
            return [
                f"{n} fine-tunes small open-source language models to {p.industry.task}.",
                f"{n} runs inference for these models through a managed cloud API rather than "
                "on its own hardware.",
                f"{n} has started experimenting with rented cloud GPUs for "
                f"{p.industry.experiment}.",
            ]
        return [
            f"{n} runs its business with {p.industry.tools}.",
            p.industry.business[0].format(name=n),
        ]

    def ai_identity(self) -> str | None:
        if self.p.tier == "HOT":
            return f"{self.n} describes itself as an AI-first company."
        if self.p.tier == "WARM":
            return f"{self.n} uses {self.p.industry.ml_focus}."
        return None

    def growth(self, rng: random.Random) -> str | None:
        if self.p.tier != "HOT":
            return None
        factor = rng.choice(("double", "triple"))
        return (
            f"{self.n} expects its compute needs to roughly {factor} over the next year as it "
            f"scales {self.p.industry.task}."
        )

    def funding(self) -> str:
        p, n = self.p, self.n
        if p.funding_musd is None:
            return f"{n} is privately held and has never taken outside investment."
        if p.tier == "COLD":
            return f"{n} raised ${p.funding_musd} million from {p.investor} to open a new site."
        return (
            f"{n} raised ${p.funding_musd} million in a Series {p.funding_round} led by "
            f"{p.investor}."
        )

    def hiring(self) -> str:
        if self.p.tier == "HOT":
            return (
                f"{self.n} is hiring ML infrastructure engineers and research scientists to "
                "scale its GPU clusters."
            )
        if self.p.tier == "WARM":
            return (
                f"{self.n} is hiring data scientists and analytics engineers to support its "
                "product teams."
            )
        return f"{self.n} is hiring {self.p.industry.hiring_roles}."

    def headcount(self) -> str:
        offices = "office" if self.p.offices == 1 else "offices"
        return f"{self.n} has {self.p.employees:,} employees across {self.p.offices} {offices}."

    def open_roles(self) -> str:
        if self.p.tier == "HOT":
            return (
                "Open roles include Senior ML Infrastructure Engineer, GPU Cluster Reliability "
                "Engineer and Research Scientist."
            )
        if self.p.tier == "WARM":
            return "Open roles include Data Scientist, Analytics Engineer and Product Manager."
        return f"Open roles include {self.p.industry.hiring_roles}."
