"""Results back into a CRM: the field mapping (a TOML file a RevOps person edits), the values
we own for one company, how it is matched to a record, and what would change.

Pure: no HTTP, no database. The mapping names every CRM property we may write; nothing else
is ever sent (the push builds its requests from `CrmMapping.properties` alone).
"""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from domain.columns import header_key
from domain.errors import ConfigError

TARGETS = ("hubspot", "salesforce")
# Our result fields a mapping may name, in the order files and diffs show them.
FIELDS = (
    "tier", "score", "confidence", "rank", "reason", "evidence_url", "researched_at",
    "overridden",
)  # fmt: skip
BUNDLED_MAPPING = Path(__file__).with_name("crm_fields.toml")
# Record keys and names the push must never write: the CRM's own, not ours.
RESERVED = {
    "hubspot": {"hs_object_id", "name", "domain", "createdate", "hs_lastmodifieddate"},
    "salesforce": {"id", "name", "website", "ownerid", "createddate", "lastmodifieddate"},
}
_PROPERTY_NAME = {
    "hubspot": re.compile(r"^[a-z][a-z0-9_]{0,99}$"),
    "salesforce": re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,79}$"),
}
# Salesforce's default Text field holds 255 characters; the reason is clipped to fit.
REASON_MAX_CHARS = 255
STATUSES = ("pushed", "unchanged", "unmatched", "skipped", "failed")


@dataclass(frozen=True)
class CrmMapping:
    """One target's mapping: our field -> CRM property, and how records are matched."""

    target: str
    properties: dict[str, str]
    id_columns: tuple[str, ...]
    match_domain: bool
    source: str

    @property
    def property_names(self) -> list[str]:
        """The CRM properties we own, in FIELDS order."""
        return [self.properties[f] for f in FIELDS if f in self.properties]


def load_mapping(target: str, path: Path | None = None) -> CrmMapping:
    """The mapping of `target` from `path` (default: the bundled file); one-line ConfigError."""
    if target not in TARGETS:
        raise ConfigError(f"unknown CRM target {target!r}: use {' or '.join(TARGETS)}")
    path = path or BUNDLED_MAPPING
    where = f"CRM mapping {path}"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read it ({exc.strerror or exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where}: not valid TOML ({exc})") from None
    table = data.get(target)
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: no [{target}] table")
    unknown = set(table) - {"properties", "id_columns", "match_domain"}
    if unknown:
        raise ConfigError(f"{where}: [{target}] has unknown key(s) {', '.join(sorted(unknown))}")
    properties = _properties(table.get("properties"), target, where)
    id_columns = table.get("id_columns", [])
    if not isinstance(id_columns, list) or not all(
        isinstance(c, str) and c.strip() for c in id_columns
    ):
        raise ConfigError(f"{where}: [{target}] id_columns must be a list of column names")
    match_domain = table.get("match_domain", False)
    if not isinstance(match_domain, bool):
        raise ConfigError(f"{where}: [{target}] match_domain must be true or false")
    if match_domain and target != "hubspot":
        raise ConfigError(f"{where}: [{target}] match_domain: only HubSpot matches on domain")
    return CrmMapping(target, properties, tuple(id_columns), match_domain, str(path))


def _properties(raw: object, target: str, where: str) -> dict[str, str]:
    if not isinstance(raw, dict) or not raw:
        raise ConfigError(f"{where}: [{target}.properties] must map our fields to properties")
    seen: dict[str, str] = {}
    for field, name in raw.items():
        if field not in FIELDS:
            raise ConfigError(
                f"{where}: [{target}.properties] {field!r} is not one of ours ({', '.join(FIELDS)})"
            )
        if not isinstance(name, str) or not _PROPERTY_NAME[target].match(name):
            raise ConfigError(
                f"{where}: [{target}.properties] {field} = {name!r} is not a valid "
                f"{target} property name"
            )
        if name.lower() in RESERVED[target]:
            raise ConfigError(
                f"{where}: [{target}.properties] {field} = {name!r} is the CRM's own field; "
                "we only write fields of our own"
            )
        if name.lower() in {n.lower() for n in seen}:
            raise ConfigError(f"{where}: [{target}.properties] {name!r} is mapped twice")
        seen[name] = field
    return {field: name for name, field in seen.items()}


def record_id(result: dict[str, Any], mapping: CrmMapping) -> str | None:
    """The CRM record id of a result: its first non-empty id column, spelt as a person would
    ("Record ID" is record_id: any case, spaces or dashes for underscores)."""
    ids: dict[str, str] = {}
    for key, value in (result.get("metadata") or {}).items():
        if value is not None and str(value).strip():
            ids.setdefault(header_key(str(key)), str(value).strip())
    return next((ids[k] for k in map(header_key, mapping.id_columns) if k in ids), None)


def field_values(result: dict[str, Any]) -> dict[str, Any]:
    """Our fields of one effective result (storage's `effective_results` row), typed."""
    signals = result.get("signals") or []
    reason = " ".join(str(result.get("reasoning") or "").split())
    if len(reason) > REASON_MAX_CHARS:
        reason = reason[: REASON_MAX_CHARS - 1] + "…"
    stamp = result.get("updated_at")
    return {
        "tier": result.get("tier"),
        "score": result.get("score"),
        "confidence": result.get("confidence"),
        "rank": result.get("rank"),
        "reason": reason or None,
        "evidence_url": signals[0].get("url") if signals else None,
        "researched_at": _iso(stamp) if isinstance(stamp, datetime) else stamp,
        "overridden": bool(result.get("overridden")),
    }


def property_values(result: dict[str, Any], mapping: CrmMapping) -> dict[str, Any]:
    """The CRM properties to write for one result: the mapped fields only."""
    values = field_values(result)
    return {mapping.properties[f]: values[f] for f in FIELDS if f in mapping.properties}


@dataclass(frozen=True)
class FieldChange:
    """One property of one record: what the CRM holds now, and what we would write."""

    property: str
    now: Any
    to: Any


def changes(current: dict[str, Any] | None, wanted: dict[str, Any]) -> list[FieldChange]:
    """The properties whose CRM value differs from ours (a record not read: all of them)."""
    current = current or {}
    return [
        FieldChange(name, current.get(name), value)
        for name, value in wanted.items()
        if normalised(current.get(name)) != normalised(value)
    ]


def normalised(value: Any) -> str | None:
    """A CRM value in one comparable form: HubSpot answers strings ("91", "true"),
    Salesforce JSON types (91.0, true); dates in any ISO 8601 form become UTC."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return _number(float(value))
    text = str(value).strip()
    if not text:
        return None
    if text.lower() in ("true", "false"):
        return text.lower()
    try:
        return _number(float(text))
    except ValueError:
        pass
    if re.match(r"^\d{4}-\d{2}-\d{2}T", text):
        try:
            return _iso(datetime.fromisoformat(text.replace("Z", "+00:00")))
        except ValueError:
            return text
    return text


def as_text(value: Any) -> str:
    """A value as a CRM text property takes it (HubSpot's properties are all strings)."""
    normal = normalised(value)
    return "" if normal is None else normal


def _number(value: float) -> str:
    if math.isfinite(value) and value == int(value):
        return str(int(value))
    return repr(value)


def _iso(stamp: datetime) -> str:
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return stamp.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
