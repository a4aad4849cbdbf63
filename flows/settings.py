"""All configuration, read from the environment and `.env` once, at the edge (CLI or flow entry)."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Literal

import httpx
from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from domain.errors import ConfigError, first_problem

# A current, cheap, non-reasoning OpenAI model with strict json_schema support and a 1M context.
DEFAULT_LLM_MODEL = "gpt-4.1-mini"

SECRET_FIELDS = {
    "tavily_api_key", "llm_api_key", "hubspot_access_token", "salesforce_access_token",
}  # fmt: skip
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class Settings(BaseSettings):
    """Every knob of territory-research; environment variables beat `.env`, which beats defaults."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )

    tavily_api_key: SecretStr | None = Field(default=None, description="Tavily API key.")
    tavily_base_url: str = Field(default="https://api.tavily.com", description="Tavily API root.")
    # A stored search answers a later one of the same service: the cache knows the service by
    # this name, so a proxy moved to another address (or the simulators' next random port)
    # keeps its searches, and a simulator's pages are never reused as a real search.
    tavily_cache_name: str | None = Field(
        default=None,
        description="What the search cache files this Tavily service's answers under "
        "(default: TAVILY_BASE_URL); --simulate sets `simulator`.",
    )
    llm_api_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("LLM_API_KEY", "OPENAI_API_KEY", "llm_api_key"),
        description="Key for the OpenAI-compatible LLM endpoint (falls back to OPENAI_API_KEY).",
    )
    tavily_api_key_block: str = Field(
        default="tavily-api-key", description="Prefect Secret block used when the key is unset."
    )
    llm_api_key_block: str = Field(
        default="llm-api-key", description="Prefect Secret block used when the key is unset."
    )
    llm_base_url: str | None = Field(
        default=None, description="OpenAI-compatible API root; empty means the openai default."
    )
    llm_model: str = Field(default=DEFAULT_LLM_MODEL, min_length=1)
    territory_db: Path = Field(default=Path("territory.duckdb"))

    tavily_concurrency: int = Field(default=100, ge=1, le=500)
    batch_size: int = Field(default=50, ge=1, le=1000)
    llm_concurrency: int = Field(default=50, ge=1, le=500)
    enable_batch_processing: bool = True
    share_limits_across_runs: Literal["auto", "true", "false"] = Field(
        default="auto",
        description="Enforce TAVILY_CONCURRENCY and LLM_CONCURRENCY across every run on the "
        "Prefect server (global concurrency limits); auto = when PREFECT_API_URL is set.",
    )
    search_cache_ttl: timedelta | None = Field(
        default=None,
        description="The longest a stored search is reused: it caps every window of the "
        "rubric's [refresh] table, and is the window of a rubric without one (unset: the "
        "table; 7 days for a rubric without one).",
    )

    prices_file: Path | None = Field(
        default=None,
        description="Price table (TOML) for cost accounting; empty = domain/prices.toml.",
    )
    rubric_file: Path | None = Field(
        default=None,
        description="The scoring rubric (TOML); empty = the bundled GPU-infrastructure rubric.",
    )
    # Set, these override the rubric's search query and relevance cut; unset, the rubric's.
    search_query_template: str | None = None
    search_depth: Literal["basic", "advanced", "fast", "ultra-fast"] = "advanced"
    search_max_results: int = Field(default=20, ge=1, le=20)
    search_min_score: float | None = Field(default=None, ge=0.0, le=1.0)
    context_max_chars: int = Field(default=60_000, ge=1_000, le=2_000_000)
    context_trim: bool = Field(
        default=True,
        description="Send the passages around the rubric's signals rather than whole pages "
        "(boilerplate and near-duplicate pages left out); false = whole pages, as before.",
    )
    llm_structured_output: Literal["auto", "json_schema", "json_object"] = "auto"
    llm_max_output_tokens: int = Field(default=1_500, ge=100, le=32_000)

    tavily_timeout: float = Field(default=60.0, gt=0, le=120)
    llm_timeout: float = Field(default=120.0, gt=0, le=1_800)
    max_attempts: int = Field(
        default=4, ge=1, le=20, description="Tries per request on transient errors."
    )
    retry_base_delay: float = Field(default=1.0, ge=0, le=60)
    retry_max_delay: float = Field(default=30.0, ge=0, le=600)

    rate_limit_window: float = Field(
        default=60.0,
        gt=0,
        le=3600,
        description="Seconds over which the providers count requests for their rate limits "
        "(a minute for Tavily and OpenAI); the pacer measures what they accept over it.",
    )
    outage_patience: float = Field(
        default=600.0,
        ge=0,
        le=86_400,
        description="Seconds a provider that fails every request (429 or 5xx) is waited for, "
        "one request at a time, before the companies waiting on it fail with the reason.",
    )
    task_runner: Literal["threads", "dask"] = Field(
        default="threads",
        description="Where tasks run: threads of the flow process, or a Dask cluster.",
    )
    dask_address: str | None = Field(
        default=None, description="Scheduler of an existing Dask cluster (tcp://host:8786)."
    )
    dask_workers: int = Field(
        default=2, ge=1, le=256, description="Worker processes of the local Dask cluster."
    )

    # `territory crm push` / the crm-push flow: tokens here, in .env, or in Secret blocks.
    hubspot_access_token: SecretStr | None = Field(
        default=None, description="HubSpot private app access token (crm.objects.companies)."
    )
    hubspot_base_url: str = Field(default="https://api.hubapi.com", description="HubSpot API root.")
    hubspot_access_token_block: str = Field(
        default="hubspot-access-token", description="Secret block used when the token is unset."
    )
    salesforce_instance_url: str | None = Field(
        default=None, description="Your Salesforce instance, e.g. https://acme.my.salesforce.com."
    )
    salesforce_access_token: SecretStr | None = Field(
        default=None, description="Salesforce access (session) token for the REST API."
    )
    salesforce_access_token_block: str = Field(
        default="salesforce-access-token",
        description="Secret block used when the token is unset.",
    )
    salesforce_api_version: str = Field(default="59.0", pattern=r"^\d{2,3}\.0$")
    crm_mapping_file: Path | None = Field(
        default=None, description="CRM field mapping (TOML); empty = domain/crm_fields.toml."
    )
    crm_timeout: float = Field(default=30.0, gt=0, le=300)

    @field_validator(
        "tavily_base_url", "llm_base_url", "hubspot_base_url", "salesforce_instance_url"
    )
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        if value is None or value.strip() == "":
            return None
        value = value.strip()
        try:
            url = httpx.URL(value)
        except Exception as exc:  # httpx raises several types for malformed URLs
            raise ValueError(f"not a URL: {value!r}") from exc
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError(f"must be an http(s) URL with a host, got {value!r}")
        return value.rstrip("/")

    @field_validator("dask_address", "tavily_cache_name")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None

    @field_validator("search_cache_ttl", mode="before")
    @classmethod
    def _parse_duration(cls, value: object) -> object:
        # Accept the human forms people put in .env ("7d", "12h") besides seconds and ISO 8601;
        # an empty value means unset (the rubric's [refresh] table decides).
        if isinstance(value, str):
            if not value.strip():
                return None
            if re.fullmatch(r"\s*\d+(?:\.\d+)?\s*", value):
                return timedelta(seconds=float(value))
            match = _DURATION.match(value)
            if match:
                return timedelta(seconds=float(match[1]) * _UNIT_SECONDS[match[2].lower()])
        return value

    @field_validator("search_cache_ttl")
    @classmethod
    def _not_negative(cls, value: timedelta | None) -> timedelta | None:
        if value is not None and value < timedelta(0):
            raise ValueError("must not be negative")
        return value

    @field_validator(
        "rubric_file", "prices_file", "search_min_score", "crm_mapping_file", mode="before"
    )
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        # An empty line in .env means "not set", as for the keys.
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("search_query_template")
    @classmethod
    def _check_template(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        if "{company_name}" not in value:
            raise ValueError("must contain {company_name}")
        try:
            value.format(company_name="x", domain="x")
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"only {{company_name}} and {{domain}} may be used ({exc})") from exc
        return value

    @field_validator("share_limits_across_runs", mode="before")
    @classmethod
    def _parse_switch(cls, value: object) -> object:
        text = str(value).strip().lower()
        return {
            "1": "true",
            "yes": "true",
            "on": "true",
            "0": "false",
            "no": "false",
            "off": "false",
        }.get(text, text)

    def limits_are_shared(self) -> bool:
        """Share the caps through Prefect when asked, or (auto) when a Prefect server is set."""
        if self.share_limits_across_runs != "auto":
            return self.share_limits_across_runs == "true"
        from prefect.settings import get_current_settings

        return bool(get_current_settings().api.url)

    @property
    def search_endpoint(self) -> str:
        """The Tavily service as the search cache knows it (see tavily_cache_name)."""
        return self.tavily_cache_name or self.tavily_base_url

    @property
    def effective_tavily_concurrency(self) -> int:
        """Searches in flight at once (1 when batch processing is switched off)."""
        return self.tavily_concurrency if self.enable_batch_processing else 1

    @property
    def effective_batch_size(self) -> int:
        """Companies per classification chunk (1 when batch processing is switched off)."""
        return self.batch_size if self.enable_batch_processing else 1

    @property
    def effective_llm_concurrency(self) -> int:
        """LLM requests in flight at once across the run (1 when batch processing is off)."""
        return self.llm_concurrency if self.enable_batch_processing else 1

    def keys(self) -> tuple[SecretStr, SecretStr]:
        """(Tavily key, LLM key), or a one-line ConfigError naming the one that is missing."""
        self.require_keys()
        assert self.tavily_api_key is not None and self.llm_api_key is not None
        return self.tavily_api_key, self.llm_api_key

    def require_keys(self) -> None:
        """Fail with one line if a provider key is missing."""
        if self.tavily_api_key is None or not self.tavily_api_key.get_secret_value().strip():
            raise ConfigError(
                "TAVILY_API_KEY is not set (put it in the environment or .env, or in a Prefect "
                f"Secret block named {self.tavily_api_key_block!r}, or use --simulate)"
            )
        if self.llm_api_key is None or not self.llm_api_key.get_secret_value().strip():
            raise ConfigError(
                "LLM_API_KEY (or OPENAI_API_KEY) is not set (put it in the environment or .env, "
                f"or in a Prefect Secret block named {self.llm_api_key_block!r}, or use "
                "--simulate; local vLLM/Ollama servers accept any non-empty value)"
            )

    @property
    def keys_missing(self) -> bool:
        """True when either provider key is absent (so Secret blocks may be consulted)."""
        return any(
            k is None or not k.get_secret_value().strip()
            for k in (self.tavily_api_key, self.llm_api_key)
        )

    def public_dict(self) -> dict[str, object]:
        """The settings with secrets left out, for run records and logs."""
        data = self.model_dump(mode="json", exclude=SECRET_FIELDS)
        return data


def load_settings(**overrides: object) -> Settings:
    """Build Settings from the environment, turning validation errors into one-line ConfigErrors."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc)) from None


def describe_validation_error(exc: ValidationError) -> str:
    """One line naming the first bad variable, what is wrong, and the value given."""
    where, message = first_problem(exc, "setting")
    field = where.split(".")[0]
    name = field.upper()
    given = exc.errors()[0].get("input")
    # Never echo a secret (nor anything named like one).
    hidden = isinstance(given, dict) or given is None or "key" in field or "token" in field
    shown = "" if hidden else f" (got {str(given)[:80]!r})"
    more = f"; {len(exc.errors()) - 1} more problem(s)" if len(exc.errors()) > 1 else ""
    return f"invalid configuration: {name}: {message}{shown}{more}"
