"""The flow's one parameter: what to research. Its descriptions are the Prefect UI's run form."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


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
    refresh_cache: bool = Field(
        default=False, description="Ignore cached searches and pay Tavily for fresh ones."
    )
    resume: bool = Field(
        default=True,
        description="If the territory's last run stopped part-way (crash, cancel, quota), "
        "skip the companies it already classified. Off, or with refresh_cache, redo them all.",
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

    @model_validator(mode="after")
    def _one_source(self) -> ResearchRequest:
        sources = [s for s in (self.companies_csv, self.accounts_table, self.companies) if s]
        if self.rerun_failed and sources:
            raise ValueError("rerun_failed takes its companies from the database; give no input")
        if not self.rerun_failed and len(sources) != 1:
            raise ValueError("give exactly one of companies_csv, accounts_table or companies")
        return self

    def settings_overrides(self) -> dict[str, object]:
        """The per-run overrides of settings that were given."""
        names = ("tavily_concurrency", "llm_concurrency", "batch_size", "llm_model")
        return {n: getattr(self, n) for n in names if getattr(self, n) is not None}
