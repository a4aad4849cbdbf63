"""The `apply-review` flow: a filled-in review file (`territory review --export`) applied from
a deployment, as `territory review --import` applies it from the command line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.states import Failed

from domain.accounts import InputError
from domain.review import read_review
from flows.reporting import artifact_key
from flows.settings import load_settings
from storage.duckdb_store import StoreError, TerritoryStore


def apply_review_file(
    db: Path, review_csv: str, territory: str | None, reviewer: str
) -> dict[str, Any]:
    """Apply every filled-in row of the file, or none (InputError or StoreError, one line)."""
    review = read_review(review_csv, territory, reviewer)
    if not db.exists():
        raise StoreError(f"no database at {db} yet; run the territory first")
    stored: list[dict[str, Any]] = []
    if review.requests:
        try:
            with TerritoryStore.open(db) as store:
                stored = store.save_overrides(review.territory, review.requests, review.source)
        except StoreError as exc:
            raise StoreError(f"{exc}; nothing applied") from None
    return {
        "territory": review.territory,
        "applied": len(stored),
        "cleared": sum(r["action"] == "clear" for r in stored),
        "summary": review.describe(stored),
    }


@flow(name="apply-review", persist_result=False)
def apply_review(review_csv: str, territory: str | None = None, reviewer: str = "prefect") -> Any:
    """Apply the overrides a reviewer filled in to a territory: every row, or none."""
    logger = get_run_logger()
    try:
        outcome = apply_review_file(load_settings().territory_db, review_csv, territory, reviewer)
    except (InputError, StoreError) as exc:
        logger.error("%s", exc)
        return Failed(message=str(exc))
    logger.info("review: %s", outcome["summary"])
    if outcome["territory"]:
        create_markdown_artifact(
            f"# Review applied: {outcome['territory']}\n\n{outcome['summary']}.\n",
            key=artifact_key("review", outcome["territory"]),
            description=f"Overrides applied from {Path(review_csv).name}",
        )
    return outcome
