"""Provider keys from Prefect Secret blocks, for workers that do not carry them in the env."""

from __future__ import annotations

from typing import cast

from pydantic import SecretStr

from flows.settings import Settings


def fill_keys_from_blocks(settings: Settings) -> Settings:
    """Keys missing from the environment are read from the named Secret blocks, if they exist.

    Only where a Prefect API is configured (a server or Cloud holds the blocks): without one,
    looking would start a temporary server (15 s) only to find nothing there.
    """
    if not _api_configured():
        return settings
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


def _api_configured() -> bool:
    from prefect.settings import PREFECT_API_URL

    return bool(PREFECT_API_URL.value())


def _load_secret(name: str) -> str | None:
    from prefect.blocks.system import Secret

    try:
        block = cast(Secret, Secret.load(name, _sync=True))  # type: ignore[call-arg]
        value = block.get()
    except ValueError:  # no block of that name
        return None
    return str(value).strip() or None


def fill_crm_token_from_block(settings: Settings, target: str) -> Settings:
    """The CRM token of `target`, from its Secret block when the environment has none."""
    field = f"{target}_access_token"
    current = getattr(settings, field)
    if (current is not None and current.get_secret_value().strip()) or not _api_configured():
        return settings
    value = _load_secret(getattr(settings, f"{field}_block"))
    return settings.model_copy(update={field: SecretStr(value)}) if value else settings
