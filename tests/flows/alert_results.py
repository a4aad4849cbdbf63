"""A company's verdict as a run stores it, for the tier-change alert tests to build their runs
from."""

from domain.models import Classification, CompanyResult, Signal


def result(key, tier, score, *, signals=(), reasoning="Earlier verdict.", **fields):
    verdict = Classification(
        tier=tier,
        score=score,
        confidence="high",
        reasoning=reasoning,
        signals=[Signal(kind=k, url=u, excerpt=e) for k, u, e in signals],
    )
    return CompanyResult(
        company_key=key,
        name=fields.pop("name", key.title()),
        status="ok",
        classification=verdict,
        **fields,
    )
