"""The automations shipped in automations/*.yaml (Prefect's automation schema, less the
notification block): bound to a notification block and created, or updated in place, through
the Prefect API, by name. `territory alerts install` is the command."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit
from uuid import UUID

import httpx
import yaml

from domain.errors import ConfigError

AUTOMATIONS_DIR = Path(__file__).resolve().parent.parent / "automations"
BLOCK_NAME = "territory-alerts"
# The block's request body. Slack's incoming webhooks (and Mattermost's, Teams' workflows...)
# read `text`; any other receiver gets the same JSON.
WEBHOOK_JSON = {"text": "{{subject}}\n{{body}}"}
BLOCK_KINDS = {"slack": "slack-webhook", "webhook": "custom-webhook"}


def read_definitions(directory: Path = AUTOMATIONS_DIR) -> list[dict[str, Any]]:
    """Every automation defined in `directory`'s *.yaml files, in file-name order."""
    files = sorted(directory.glob("*.yaml"))
    if not files:
        raise ConfigError(f"no automation definitions (*.yaml) in {directory}")
    found = []
    for path in files:
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"{path}: not readable YAML: {str(exc).splitlines()[0]}") from None
        items = data if isinstance(data, list) else [data]
        for item in items:
            if not isinstance(item, dict) or not item.get("name"):
                raise ConfigError(f"{path}: each automation needs a name, a trigger and actions")
            found.append(item)
    return found


def bind(definition: dict[str, Any], block_id: UUID) -> Any:
    """A definition as Prefect's AutomationCore, its notifications sent through `block_id`;
    a definition the server would refuse (a broken template too) is a clear error here."""
    from prefect.events.schemas.automations import AutomationCore
    from pydantic import ValidationError

    filled = copy.deepcopy(definition)
    for key in ("actions", "actions_on_trigger", "actions_on_resolve"):
        for action in filled.get(key) or []:
            if isinstance(action, dict) and action.get("type") == "send-notification":
                action["block_document_id"] = str(block_id)
    try:
        automation = AutomationCore.model_validate(filled)
    except ValidationError as exc:
        problem = exc.errors()[0]
        where = ".".join(str(p) for p in problem["loc"])
        raise ConfigError(f"automation {filled['name']!r}: {where}: {problem['msg']}") from None
    _check_templates(automation)
    return automation


def check(definitions: list[dict[str, Any]]) -> None:
    """Refuse a definition the server would refuse, before anything is sent to it."""
    for definition in definitions:
        bind(definition, UUID(int=0))


def _check_templates(automation: Any) -> None:
    """The notifications' subject and body parse as Prefect's templates (as the server parses
    them: a sandbox, with limits on loops)."""
    from prefect.server.utilities.user_templates import validate_user_template

    for key in ("actions", "actions_on_trigger", "actions_on_resolve"):
        for i, action in enumerate(getattr(automation, key)):
            for field in ("subject", "body"):
                template = getattr(action, field, None)
                if not isinstance(template, str):
                    continue
                try:
                    validate_user_template(template)
                except Exception as exc:  # jinja2's syntax and sandbox errors
                    raise ConfigError(
                        f"automation {automation.name!r}: {key}.{i}.{field}: {exc}"
                    ) from None


@contextmanager
def prefect_api() -> Iterator[Any]:
    """A client of the Prefect server PREFECT_API_URL names; a clear error without one.

    Automations need a server that keeps running: the ephemeral one a bare `territory run`
    starts lives only as long as the run, and stops before its automations act."""
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL

    api = PREFECT_API_URL.value()
    if not api:
        raise ConfigError(
            "alerts need a Prefect server that keeps running: start one "
            "(`prefect server start`) and set PREFECT_API_URL (see README, Alerts)"
        )
    try:
        with get_client(sync_client=True) as client:
            yield client
    except httpx.HTTPError as exc:
        raise ConfigError(f"cannot use the Prefect API at {api}: {exc}") from None


def check_webhook_url(url: str) -> None:
    """Refuse what cannot be a webhook URL; the URL is a secret, so the error never repeats it."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError("--webhook-url must be an http:// or https:// URL with a host")


def save_webhook_block(url: str, name: str = BLOCK_NAME) -> UUID:
    """Store `url` in a Custom Webhook block (created or replaced); returns its id. The URL is
    kept among the block's secrets (a Slack webhook URL is a credential): the UI and the API
    show it masked."""
    from prefect.blocks.notifications import CustomWebhookNotificationBlock

    check_webhook_url(url)
    block = CustomWebhookNotificationBlock(
        name=name,
        url="{{url}}",
        json_data=WEBHOOK_JSON,
        secrets={"url": url},
    )
    return cast(UUID, block.save(name, overwrite=True))


def find_block(client: Any, kind: str, name: str) -> UUID:
    """The id of an existing notification block of `kind` ('slack' or 'webhook')."""
    from prefect.exceptions import ObjectNotFound

    slug = BLOCK_KINDS[kind]
    try:
        document = client.read_block_document_by_name(name, block_type_slug=slug)
    except ObjectNotFound:
        raise ConfigError(f"no {slug} block named {name!r} on the Prefect server") from None
    return document.id


def install(client: Any, definitions: list[dict[str, Any]], block_id: UUID) -> list[str]:
    """Create each automation, or update the one of the same name in place (and remove any
    duplicates of it): installing twice leaves one of each. Returns what was done."""
    done = []
    for definition in definitions:
        automation = bind(definition, block_id)
        existing = client.read_automations_by_name(automation.name)
        for extra in existing[1:]:
            client.delete_automation(extra.id)
        if existing:
            client.update_automation(existing[0].id, automation)
            done.append(f"updated {automation.name!r}")
        else:
            client.create_automation(automation)
            done.append(f"created {automation.name!r}")
    return done


def uninstall(client: Any, definitions: list[dict[str, Any]]) -> list[str]:
    """Delete the automations these definitions name. Returns what was done."""
    done = []
    for definition in definitions:
        for automation in client.read_automations_by_name(definition["name"]):
            client.delete_automation(automation.id)
            done.append(f"deleted {definition['name']!r}")
    return done
