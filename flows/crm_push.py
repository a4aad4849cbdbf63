"""The `crm-push` flow, and the one place a CRM client is built from the settings.

`territory crm push` calls `run_push` directly (no Prefect needed); the flow wraps it for
deployments, with the dry-run diff (or the push's outcome) as a markdown artifact. Chained
after a refresh by the `crm-push-after-refresh` deployment's trigger (prefect.yaml).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.states import Failed

from domain.accounts import InputError
from domain.crm import TARGETS, CrmMapping, load_mapping
from domain.errors import ConfigError, FatalProviderError
from flows.crm_sync import Pusher, PushOptions, PushReport
from flows.reporting import artifact_key
from flows.secrets import fill_crm_token_from_block
from flows.settings import Settings, load_settings
from storage.duckdb_store import StoreError, TerritoryStore
from tasks.crm_client import CrmTarget
from tasks.retry import RetryPolicy

ARTIFACT_ROWS = 200  # diff rows shown in the artifact (the CLI's CSV has them all)


def crm_target(settings: Settings, target: str) -> CrmTarget:
    """The live client of `target`, from the settings; a missing token is a ConfigError."""
    settings = fill_crm_token_from_block(settings, target)
    if target == "hubspot":
        from tasks.crm_hubspot import HubSpotTarget

        token = settings.hubspot_access_token
        if token is None or not token.get_secret_value().strip():
            raise ConfigError(
                "HUBSPOT_ACCESS_TOKEN is not set (a private app token; put it in the "
                f"environment or .env, or in a Prefect Secret block named "
                f"{settings.hubspot_access_token_block!r})"
            )
        return HubSpotTarget(
            token.get_secret_value().strip(), settings.hubspot_base_url, settings.crm_timeout
        )
    if target == "salesforce":
        from tasks.crm_salesforce import SalesforceTarget

        token = settings.salesforce_access_token
        if not settings.salesforce_instance_url:
            raise ConfigError(
                "SALESFORCE_INSTANCE_URL is not set (https://<you>.my.salesforce.com)"
            )
        if token is None or not token.get_secret_value().strip():
            raise ConfigError(
                "SALESFORCE_ACCESS_TOKEN is not set (put it in the environment or .env, or in "
                f"a Prefect Secret block named {settings.salesforce_access_token_block!r})"
            )
        return SalesforceTarget(
            token.get_secret_value().strip(),
            settings.salesforce_instance_url,
            settings.salesforce_api_version,
            settings.crm_timeout,
        )
    raise ConfigError(f"unknown CRM target {target!r}: use {' or '.join(TARGETS)}")


def mapping_for(settings: Settings, target: str) -> CrmMapping:
    """The target's mapping from CRM_MAPPING_FILE, or the bundled one."""
    return load_mapping(target, settings.crm_mapping_file)


def run_push(
    settings: Settings,
    territory: str,
    target: str,
    options: PushOptions,
    note: Callable[[str], None] = lambda line: None,
    client: CrmTarget | None = None,
) -> PushReport:
    """One push: mapping and client from the settings (or `client`), statuses into DuckDB."""
    mapping = mapping_for(settings, target)
    crm = client or crm_target(settings, target)
    policy = RetryPolicy(
        max_attempts=settings.max_attempts,
        base_delay=settings.retry_base_delay,
        max_delay=settings.retry_max_delay,
    )
    if not settings.territory_db.exists():
        raise StoreError(f"no database at {settings.territory_db} yet; run the territory first")
    # Not held for the push: each store call takes the file briefly, so a refresh writing
    # the same database is not kept waiting while the CRM answers.
    store = TerritoryStore.open(settings.territory_db)
    return Pusher(store, crm, mapping, policy=policy, note=note).push(territory, options)


def summary(report: PushReport) -> str:
    """One line: what the push did (or would do)."""
    counts = ", ".join(f"{n} {status}" for status, n in sorted(report.counts().items()))
    verb = "dry run" if report.dry_run else "push"
    return f"crm {verb} of {report.territory!r} to {report.target}: {counts or 'nothing'}"


def markdown(report: PushReport) -> str:
    """The artifact: counts, then the diff (dry run) or the records not pushed."""
    lines = [f"# CRM {'dry run' if report.dry_run else 'push'}: {report.territory} -> "
             f"{report.target}", "", summary(report) + ".", ""]  # fmt: skip
    if report.dry_run:
        rows = report.diff_rows()
        lines += ["| company | record | property | CRM now | to write |", "|---|---|---|---|---|"]
        lines += [
            f"| {_cell(r['company'])} | {r['record_id']} | {r['property']} | "
            f"{_cell(r['crm_now'])} | {_cell(r['to_write'])} |"
            for r in rows[:ARTIFACT_ROWS]
        ]
        if len(rows) > ARTIFACT_ROWS:
            lines.append(
                f"\n{len(rows) - ARTIFACT_ROWS} more rows: see `territory crm push --dry-run`."
            )
    else:
        left = [r for r in report.records if r.status in ("failed", "unmatched")]
        lines += ["| company | status | reason |", "|---|---|---|"]
        lines += [f"| {_cell(r.company)} | {r.status} | {_cell(r.reason)} |" for r in left]
    return "\n".join(lines) + "\n"


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return text.replace("|", "\\|").replace("\n", " ")[:120]


@flow(name="crm-push", persist_result=False)
def crm_push(
    territory: str,
    target: str = "hubspot",
    dry_run: bool = True,
    only_changed: bool = True,
    create_missing: bool = False,
    retry_failed: bool = False,
) -> Any:
    """Write a territory's verdicts into HubSpot or Salesforce (dry run: the diff only)."""
    logger = get_run_logger()
    options = PushOptions(dry_run, only_changed, create_missing, retry_failed)
    try:
        report = run_push(load_settings(), territory, target, options, note=logger.info)
    except (ConfigError, InputError, StoreError, FatalProviderError) as exc:
        logger.error("%s", exc)
        return Failed(message=str(exc))
    logger.info("%s", summary(report))
    create_markdown_artifact(
        markdown(report),
        key=artifact_key("crm-push", f"{territory}-{target}"),
        description=summary(report),
    )
    return report.counts()
