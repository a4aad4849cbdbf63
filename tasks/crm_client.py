"""The CRM seam: what a push needs from HubSpot or Salesforce, behind one small protocol.

Live implementations: tasks/crm_hubspot.py (hubspot-api-client) and tasks/crm_salesforce.py
(simple-salesforce); tasks/crm_fakes.py holds the in-process fake. Every method makes one
request (the caller batches and retries): failures are our error kinds, FatalProviderError
(a bad token: stop), RateLimitedError / TransientError (retry: 429, 5xx, timeouts) and
PermanentError (the request was refused: say why on each record it carried).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from domain.errors import PermanentError, RateLimitedError, TransientError


class CrmTarget(Protocol):
    """One CRM's records of companies (HubSpot companies, Salesforce Accounts)."""

    name: str  # as users know it: "HubSpot", "Salesforce"
    batch_size: int  # records per request the API takes

    def read(self, ids: list[str], properties: list[str]) -> dict[str, dict[str, Any]]:
        """The properties of the records that exist, by id (ids not found are left out)."""
        ...

    def find_by_domain(self, domains: list[str]) -> dict[str, list[str]]:
        """Record ids by domain (lower case), for the domains that have any."""
        ...

    def update(self, records: list[tuple[str, dict[str, Any]]]) -> dict[str, str | None]:
        """Write properties to existing records: per id, None (written) or why not."""
        ...

    def create(
        self, records: list[tuple[str, str | None, dict[str, Any]]]
    ) -> list[tuple[str | None, str | None]]:
        """Create records (name, domain, properties): per record in order, (id, None) or
        (None, why not)."""
        ...


TRANSIENT_STATUSES = {408, 409, 425, 500, 502, 503, 504}


def status_error(service: str, status: int, message: str, retry_after: float | None) -> Exception:
    """Our error kind for an HTTP failure status other than 401 (which callers map first)."""
    text = f"{service} HTTP {status}: {message}".rstrip(": ")
    if status == 429:
        return RateLimitedError(text, retry_after)
    if status in TRANSIENT_STATUSES or status >= 500:
        return TransientError(text, retry_after)
    return PermanentError(text)


def lowered(headers: Mapping[str, str] | None) -> dict[str, str]:
    """Response headers with lower-case names (retry_after_seconds reads those)."""
    return {str(k).lower(): str(v) for k, v in (headers or {}).items()}
