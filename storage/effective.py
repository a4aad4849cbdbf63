"""The `effective_results` view: every company's latest result with the verdict in force (a
reviewer's override first, else the model's) and its rank in the territory.

It is the SQL form of domain/verdicts.py (`effective_verdict`, `rank_key`); the vocabularies
come from domain/models.py, so the two cannot drift apart on what the tiers are.
"""

from __future__ import annotations

from domain.models import CONFIDENCES, TIERS
from domain.verdicts import OVERRIDE_CONFIDENCE


def _sql_list(values: tuple[str, ...]) -> str:
    return "[" + ", ".join(f"'{v}'" for v in values) + "]"


# Best first: tier, then (ties) confidence, then score, then the name (every rank unique).
RANK_ORDER = (
    f"list_position({_sql_list(TIERS)}, tier), "
    f"coalesce(list_position({_sql_list(CONFIDENCES)}, confidence), {len(CONFIDENCES) + 1}), "
    "score DESC NULLS LAST, company, company_key"
)

# Columns, beside company_results' own: `tier`, `score` and `confidence` are the effective
# verdict; `model_*` the model's; `override_*` the override in force (NULL without one);
# `override_model_tier` the model's tier when the override was made; `overridden`,
# `override_disputed` (the model gave a tier, not the override's) and `rank` (1 = best;
# NULL: no tier).
EFFECTIVE_VIEW = f"""
CREATE OR REPLACE VIEW effective_results AS
WITH latest_override AS (
    SELECT * FROM overrides
    QUALIFY row_number() OVER (PARTITION BY territory, company_key ORDER BY seq DESC) = 1
), joined AS (
    SELECT c.* EXCLUDE (tier, score, confidence),
        c.tier AS model_tier, c.score AS model_score, c.confidence AS model_confidence,
        o.tier AS override_tier, o.score AS override_score, o.reason AS override_reason,
        o.set_by AS override_by, o.created_at AS override_at,
        o.model_tier AS override_model_tier,
        o.override_id IS NOT NULL AS overridden,
        CASE WHEN c.status = 'ok' THEN c.tier END AS judged_tier
    FROM company_results c LEFT JOIN latest_override o
      ON o.territory = c.territory AND o.company_key = c.company_key AND o.action = 'set'
), verdicts AS (
    SELECT * EXCLUDE (judged_tier),
        CASE WHEN overridden THEN override_tier ELSE judged_tier END AS tier,
        CASE WHEN NOT overridden THEN model_score
             WHEN override_score IS NOT NULL THEN override_score
             WHEN judged_tier = override_tier THEN model_score END AS score,
        CASE WHEN overridden THEN '{OVERRIDE_CONFIDENCE}' ELSE model_confidence END
          AS confidence,
        overridden AND judged_tier IS NOT NULL AND judged_tier <> override_tier
          AS override_disputed
    FROM joined
)
SELECT *,
    CASE WHEN tier IS NOT NULL THEN row_number() OVER (
        PARTITION BY territory, tier IS NOT NULL ORDER BY {RANK_ORDER}) END AS rank
FROM verdicts;
"""
