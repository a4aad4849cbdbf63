"""Telling a model that cannot fill the answer's schema from one that sometimes fails to."""

from __future__ import annotations

import threading

# Unusable answers, from this many companies, with nothing classified yet, before the run
# stops: a model that fits the schema now and then gets one right long before that (a flaky
# model failing 30% of the time fails six in a row 0.07% of the time), and one that cannot
# would otherwise be paid four attempts for every company of the territory.
FIRST_COMPANIES = 3
FIRST_ANSWERS = 6


class SchemaWatch:
    """Watches the first answers of a run (one chunk's share of it) until one fits."""

    def __init__(
        self,
        model: str,
        active: bool = True,
        companies: int = FIRST_COMPANIES,
        answers: int = FIRST_ANSWERS,
    ) -> None:
        self.model, self.companies, self.answers = model, companies, answers
        self.active = active
        self.unusable_answers = 0
        self.failed: dict[str, str] = {}  # company key: the first problem with its answer
        self.verdict: str | None = None  # why the run must stop, once it must
        self._lock = threading.Lock()

    def answered(self) -> None:
        """An answer fitted: the model can do it, later failures are its bad moments."""
        with self._lock:
            self.active = False

    def unusable(self, company_key: str, problem: str) -> bool:
        """Count an answer that did not fit; True once the model has shown it cannot."""
        with self._lock:
            if self.verdict is not None:
                return True
            if not self.active:
                return False
            self.unusable_answers += 1
            self.failed.setdefault(company_key, problem)
            if self.unusable_answers < self.answers or len(self.failed) < self.companies:
                return False
            first = next(iter(self.failed.values()))
            self.verdict = (
                f"model {self.model!r} cannot produce the answer's schema: its first "
                f"{self.unusable_answers} answers, for {len(self.failed)} companies, did not fit "
                f"({first[:160]}); use a larger or instruction-tuned model (LLM_MODEL), or a "
                "server that constrains JSON to a schema"
            )
            return True
