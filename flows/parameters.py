"""The flow's one parameter: what to research. Its descriptions are the Prefect UI's run form."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from domain.models import Mode


class ResearchRequest(BaseModel):
    """What to research and how; never holds a key (keys come from the environment or blocks)."""

    model_config = ConfigDict(extra="forbid")

    territory: str | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description="Territory name; results are grouped by it. Default: the CSV file's name.",
    )
    companies_csv: str | None = Field(
        default=None,
        description="Path to a CSV of accounts as the worker sees it: a name column "
        "(name/company/company_name), optional domain/website, any other columns kept.",
    )
    accounts_table: str | None = Field(
        default=None,
        description="Instead of a CSV: a DuckDB table of accounts, either `table` in "
        "TERRITORY_DB or `path/to/file.duckdb:table`.",
    )
    companies: list[dict[str, str]] | None = Field(
        default=None,
        description='Instead of a CSV: the accounts inline, e.g. [{"name": "Acme", '
        '"domain": "acme.example"}].',
    )
    rerun_failed: bool = Field(
        default=False,
        description="Re-run only this territory's companies whose latest status is failed.",
    )
    rescore: bool = Field(
        default=False,
        description="Re-classify this territory from the search content already stored, with "
        "no Tavily request (change the rubric or model at LLM-only cost).",
    )
    refresh_cache: bool = Field(
        default=False, description="Ignore cached searches and pay Tavily for fresh ones."
    )
    resume: bool = Field(
        default=True,
        description="If the territory's last run stopped part-way (crash, cancel, quota), "
        "skip the companies it already classified. Off, or with refresh_cache, redo them all.",
    )
    max_cost: float | None = Field(
        default=None,
        ge=0,
        description="Cost cap in USD (Tavily + LLM, from PRICES_FILE): no new chunk starts once "
        "it would be exceeded; companies not started are recorded as skipped and the next run "
        "picks them up. Cached searches cost nothing.",
    )
    limit: int | None = Field(
        default=None, ge=1, description="Research only the first N companies (a trial run)."
    )
    tavily_concurrency: int | None = Field(
        default=None, ge=1, le=500, description="Override TAVILY_CONCURRENCY for this run."
    )
    llm_concurrency: int | None = Field(
        default=None, ge=1, le=500, description="Override LLM_CONCURRENCY for this run."
    )
    batch_size: int | None = Field(
        default=None, ge=1, le=1000, description="Override BATCH_SIZE for this run."
    )
    llm_model: str | None = Field(
        default=None, min_length=1, description="Override LLM_MODEL for this run."
    )
    rubric_file: str | None = Field(
        default=None,
        min_length=1,
        description="Override RUBRIC_FILE for this run: the scoring rubric (TOML) as the worker "
        "sees it. Default: the bundled GPU-infrastructure rubric.",
    )

    @model_validator(mode="after")
    def _one_source(self) -> ResearchRequest:
        sources = [s for s in (self.companies_csv, self.accounts_table, self.companies) if s]
        from_db = [n for n in ("rerun_failed", "rescore") if getattr(self, n)]
        if len(from_db) > 1:
            raise ValueError("choose rerun_failed or rescore, not both")
        if from_db and sources:
            raise ValueError(f"{from_db[0]} takes its companies from the database; give no input")
        if self.rescore and not self.territory:
            raise ValueError("rescore needs the territory to re-score")
        if not from_db and len(sources) != 1:
            raise ValueError("give exactly one of companies_csv, accounts_table or companies")
        return self

    @property
    def mode(self) -> Mode:
        """How the run gets its companies: full, rerun-failed or rescore."""
        return "rerun-failed" if self.rerun_failed else "rescore" if self.rescore else "full"

    def settings_overrides(self) -> dict[str, object]:
        """The per-run overrides of settings that were given."""
        names = ("tavily_concurrency", "llm_concurrency", "batch_size", "llm_model", "rubric_file")
        return {n: getattr(self, n) for n in names if getattr(self, n) is not None}
