"""Provider keys from Prefect Secret blocks, for workers that do not carry them in the env."""

from __future__ import annotations

from pydantic import SecretStr

from territory.settings import Settings


def fill_keys_from_blocks(settings: Settings) -> Settings:
    """Keys missing from the environment are read from the named Secret blocks, if they exist."""
    updates: dict[str, SecretStr] = {}
    for field, block_name in (
        ("tavily_api_key", settings.tavily_api_key_block),
        ("llm_api_key", settings.llm_api_key_block),
    ):
        current = getattr(settings, field)
        if current is not None and current.get_secret_value().strip():
            continue
        value = _load_secret(block_name)
        if value:
            updates[field] = SecretStr(value)
    return settings.model_copy(update=updates) if updates else settings


def _load_secret(name: str) -> str | None:
    from prefect.blocks.system import Secret

    try:
        value = Secret.load(name, _sync=True).get()  # type: ignore[call-overload]
    except ValueError:  # no block of that name
        return None
    return str(value).strip() or None
