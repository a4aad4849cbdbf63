"""Configuration: defaults, aliases, and one-line errors for bad values."""

from datetime import timedelta

import pytest

from domain.errors import ConfigError
from domain.rubric import load_rubric
from flows.settings import load_settings
from tests.helpers import SETTING_NAMES as ENV_NAMES


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env


def test_the_search_cache_knows_tavily_by_its_name_or_else_its_address():
    assert load_settings().search_endpoint == "https://api.tavily.com"
    moved = load_settings(tavily_base_url="http://127.0.0.1:8123")
    assert moved.search_endpoint == "http://127.0.0.1:8123"
    named = load_settings(tavily_base_url="http://127.0.0.1:8123", tavily_cache_name=" proxy ")
    assert named.search_endpoint == "proxy"
    assert load_settings(tavily_cache_name="  ").search_endpoint == "https://api.tavily.com"


def test_defaults_match_the_documented_table():
    s = load_settings()
    assert s.tavily_base_url == "https://api.tavily.com"
    assert s.llm_base_url is None
    assert str(s.territory_db) == "territory.duckdb"
    assert (s.tavily_concurrency, s.batch_size, s.llm_concurrency) == (100, 50, 50)
    assert s.enable_batch_processing is True
    assert s.search_cache_ttl is None  # unset: the rubric's [refresh] table decides
    # Query and relevance cut come from the rubric unless set; the bundled one's are these.
    assert (s.search_query_template, s.search_min_score, s.rubric_file) == (None, None, None)
    rubric = load_rubric(s.rubric_file)
    assert (rubric.search.query, rubric.search.min_relevance) == (
        "{company_name} GPU compute infrastructure machine learning training inference funding "
        "employees",
        0.4,
    )
    assert (s.search_max_results, s.context_max_chars) == (20, 60_000)


def test_llm_key_falls_back_to_openai_api_key(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-fallback")
    assert load_settings().llm_api_key.get_secret_value() == "sk-fallback"
    monkeypatch.setenv("LLM_API_KEY", "sk-primary")
    assert load_settings().llm_api_key.get_secret_value() == "sk-primary"


def test_dotenv_file_is_read_and_environment_wins(monkeypatch, tmp_path):
    (tmp_path / ".env").write_text("BATCH_SIZE=25\nTAVILY_CONCURRENCY=7\n")
    monkeypatch.setenv("TAVILY_CONCURRENCY", "9")
    s = load_settings()
    assert (s.batch_size, s.tavily_concurrency) == (25, 9)


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("7d", timedelta(days=7)),
        ("12h", timedelta(hours=12)),
        ("3600", timedelta(hours=1)),
        ("P2D", timedelta(days=2)),
        ("", None),  # an empty line in .env: unset
    ],
)
def test_cache_ttl_accepts_human_durations(monkeypatch, raw, expected):
    monkeypatch.setenv("SEARCH_CACHE_TTL", raw)
    assert load_settings().search_cache_ttl == expected


@pytest.mark.parametrize(
    "name, value, fragment",
    [
        ("TAVILY_CONCURRENCY", "0", "TAVILY_CONCURRENCY"),
        ("BATCH_SIZE", "lots", "BATCH_SIZE"),
        ("LLM_CONCURRENCY", "-3", "LLM_CONCURRENCY"),
        ("TAVILY_BASE_URL", "not a url", "TAVILY_BASE_URL"),
        ("LLM_BASE_URL", "ftp://example.com", "LLM_BASE_URL"),
        ("ENABLE_BATCH_PROCESSING", "maybe", "ENABLE_BATCH_PROCESSING"),
        ("SEARCH_CACHE_TTL", "forever", "SEARCH_CACHE_TTL"),
        ("SEARCH_CACHE_TTL", "-P1D", "SEARCH_CACHE_TTL"),
    ],
)
def test_nonsense_values_give_one_clear_line(monkeypatch, name, value, fragment):
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as err:
        load_settings()
    message = str(err.value)
    assert fragment in message and "\n" not in message
    assert message.startswith("invalid configuration:")


def test_missing_keys_are_reported_before_work():
    s = load_settings()
    with pytest.raises(ConfigError, match="TAVILY_API_KEY is not set"):
        s.require_keys()


def test_batch_processing_off_means_one_at_a_time(monkeypatch):
    monkeypatch.setenv("ENABLE_BATCH_PROCESSING", "false")
    s = load_settings()
    assert (
        s.effective_tavily_concurrency,
        s.effective_batch_size,
        s.effective_llm_concurrency,
    ) == (1, 1, 1)


def test_public_dict_never_holds_keys(monkeypatch):
    monkeypatch.setenv("TAVILY_API_KEY", "tvly-SECRET-123")
    monkeypatch.setenv("LLM_API_KEY", "sk-SECRET-456")
    text = repr(load_settings().public_dict()) + repr(load_settings())
    assert "SECRET" not in text


def test_env_example_lists_every_setting_with_its_default(tmp_path):
    """Copying .env.example to .env (with keys filled) must give exactly the defaults."""
    from pathlib import Path

    from flows.settings import Settings

    example = (Path(__file__).parents[2] / ".env.example").read_text()
    names = {
        line.split("=", 1)[0] for line in example.splitlines() if line and not line.startswith("#")
    }
    fields = {
        (f.validation_alias.choices[0] if f.validation_alias else n.upper())
        for n, f in Settings.model_fields.items()
    }
    assert fields == names
    (tmp_path / ".env").write_text(example)
    from_file = load_settings().public_dict()
    (tmp_path / ".env").unlink()
    assert from_file == load_settings().public_dict()
