"""Prefect concurrency limits the flow relies on, created on first use so none silently no-ops."""

from __future__ import annotations

from prefect.client.orchestration import get_client


class LimitError(RuntimeError):
    """A concurrency limit could not be created or read back."""


def ensure_tag_limit(tag: str, slots: int) -> None:
    """Make the tag's limit exist with `slots` slots (a missing limit would limit nothing)."""
    name = f"tag:{tag}"  # Prefect 3 backs tag limits with a global limit of this name
    try:
        with get_client(sync_client=True) as client:
            client.upsert_global_concurrency_limit_by_name(name, slots)
            limit = client.read_global_concurrency_limit_by_name(name)
    except Exception as exc:
        raise LimitError(f"could not create the Prefect concurrency limit {name!r}: {exc}") from exc
    if limit.limit != slots or not limit.active:
        raise LimitError(
            f"Prefect concurrency limit {name!r} is {limit.limit} slots"
            f"{'' if limit.active else ' (inactive)'}, expected {slots} active"
        )
