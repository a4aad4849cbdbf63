"""HubSpot companies through HubSpot's own client (hubspot-api-client), CRM v3 endpoints.

The client's `Configuration.host` is its base URL (passed as `host=`), so the same code
reaches api.hubapi.com or the loopback simulator. Its urllib3 layer retries nothing on a
status; our RetryPolicy does, from the 429's Retry-After.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

import urllib3
from hubspot import HubSpot
from hubspot.crm.companies import (
    BatchInputSimplePublicObjectBatchInput,
    BatchInputSimplePublicObjectBatchInputForCreate,
    BatchReadInputSimplePublicObjectId,
    Filter,
    FilterGroup,
    PublicObjectSearchRequest,
    SimplePublicObjectBatchInput,
    SimplePublicObjectId,
    SimplePublicObjectInputForCreate,
)
from hubspot.crm.companies.exceptions import ApiException

from domain.crm import as_text
from domain.errors import FatalProviderError, TransientError
from tasks.crm_client import lowered, status_error
from tasks.rate_headers import retry_after_seconds

T = TypeVar("T")
BATCH_LIMIT = 100  # inputs per batch request (HubSpot's documented maximum)
SEARCH_VALUES_LIMIT = 100  # values of one IN filter


class HubSpotTarget:
    """HubSpot companies: batch read, search on domain, batch update and create."""

    name = "HubSpot"
    batch_size = BATCH_LIMIT

    def __init__(self, access_token: str, base_url: str, timeout: float) -> None:
        self.base_url = base_url.rstrip("/")
        self._timeout = timeout
        companies = HubSpot(access_token=access_token, host=self.base_url).crm.companies
        self._batch = companies.batch_api
        self._search = companies.search_api

    def read(self, ids: list[str], properties: list[str]) -> dict[str, dict[str, Any]]:
        """POST /crm/v3/objects/companies/batch/read (ids not found come back as errors)."""
        body = BatchReadInputSimplePublicObjectId(
            properties=properties, inputs=[SimplePublicObjectId(id=i) for i in ids]
        )
        answer = self._call(
            lambda: self._batch.read(
                batch_read_input_simple_public_object_id=body,
                archived=False,
                _request_timeout=self._timeout,
            )
        )
        return {r.id: dict(r.properties or {}) for r in answer.results or []}

    def find_by_domain(self, domains: list[str]) -> dict[str, list[str]]:
        """POST /crm/v3/objects/companies/search with an IN filter on `domain`, page by page."""
        found: dict[str, list[str]] = {}
        for start in range(0, len(domains), SEARCH_VALUES_LIMIT):
            values = domains[start : start + SEARCH_VALUES_LIMIT]
            after: str | None = None
            while True:
                answer = self._call(partial(self._search_page, values, after))
                for record in answer.results or []:
                    domain = str((record.properties or {}).get("domain") or "").lower()
                    if domain:
                        found.setdefault(domain, []).append(record.id)
                paging = answer.paging
                after = paging.next.after if paging and paging.next else None
                if not after:
                    break
        return found

    def _search_page(self, values: list[str], after: str | None) -> Any:
        request = PublicObjectSearchRequest(
            filter_groups=[
                FilterGroup(filters=[Filter(property_name="domain", operator="IN", values=values)])
            ],
            properties=["domain", "name"],
            limit=100,
            after=after,
        )
        return self._search.do_search(
            public_object_search_request=request, _request_timeout=self._timeout
        )

    def update(self, records: list[tuple[str, dict[str, Any]]]) -> dict[str, str | None]:
        """POST /crm/v3/objects/companies/batch/update; a 207 lists the records it refused."""
        body = BatchInputSimplePublicObjectBatchInput(
            inputs=[
                SimplePublicObjectBatchInput(id=i, properties=_texts(props)) for i, props in records
            ]
        )
        answer = self._call(
            lambda: self._batch.update(
                batch_input_simple_public_object_batch_input=body, _request_timeout=self._timeout
            )
        )
        done = {r.id for r in answer.results or []}
        refused = _refused(getattr(answer, "errors", None) or [])
        return {
            i: None if i in done else refused.get(i, "not in HubSpot's answer") for i, _ in records
        }

    def create(
        self, records: list[tuple[str, str | None, dict[str, Any]]]
    ) -> list[tuple[str | None, str | None]]:
        """POST /crm/v3/objects/companies/batch/create with name, domain and our properties."""
        inputs = []
        for name, domain, props in records:
            properties = _texts(props) | {"name": name} | ({"domain": domain} if domain else {})
            inputs.append(SimplePublicObjectInputForCreate(properties=properties))
        body = BatchInputSimplePublicObjectBatchInputForCreate(inputs=inputs)
        answer = self._call(
            lambda: self._batch.create(
                batch_input_simple_public_object_batch_input_for_create=body,
                _request_timeout=self._timeout,
            )
        )
        # The answer's order is not documented: match the created records back by name+domain.
        made = {
            (str(p.get("name") or ""), str(p.get("domain") or "").lower()): r.id
            for r in answer.results or []
            for p in [r.properties or {}]
        }
        out: list[tuple[str | None, str | None]] = []
        for name, domain, _ in records:
            record = made.get((name, (domain or "").lower()))
            out.append((record, None) if record else (None, "HubSpot did not create it"))
        return out

    def _call(self, request: Callable[[], T]) -> T:
        try:
            return request()
        except ApiException as exc:
            raise self._error(exc) from None
        except urllib3.exceptions.HTTPError as exc:
            raise TransientError(f"HubSpot connection failed: {type(exc).__name__}") from None

    def _error(self, exc: ApiException) -> Exception:
        status = int(exc.status or 0)
        message = _message(exc.body)
        if status == 401:
            return FatalProviderError(
                f"HubSpot rejected the access token (401) at {self.base_url}; check "
                "HUBSPOT_ACCESS_TOKEN (a private app token with crm.objects.companies scopes)"
            )
        if status == 403:
            return FatalProviderError(f"HubSpot refused the request (403): {message}")
        retry_after = retry_after_seconds(lowered(exc.headers))
        return status_error("HubSpot", status, message, retry_after)


def _texts(properties: dict[str, Any]) -> dict[str, str]:
    # HubSpot takes every property value as a string (numbers, booleans and dates alike).
    return {name: as_text(value) for name, value in properties.items()}


def _refused(errors: list[Any]) -> dict[str, str]:
    """Per record id, why a 207's errors say it was not written."""
    out: dict[str, str] = {}
    for error in errors:
        context = getattr(error, "context", None) or {}
        message = f"HubSpot {getattr(error, 'category', None) or 'error'}: {error.message}"
        for record in context.get("ids") or context.get("id") or []:
            out[str(record)] = message
    return out


def _message(body: Any) -> str:
    """The message of a HubSpot error body ({"status": "error", "message": ...})."""
    try:
        data = json.loads(body) if body else {}
    except (TypeError, ValueError):
        return str(body or "")[:200]
    if not isinstance(data, dict):
        return str(data)[:200]
    message = str(data.get("message") or "")
    details = [e.get("message") for e in data.get("errors") or [] if isinstance(e, dict)]
    if details and details[0]:
        message = str(details[0])  # "Property "x" does not exist" says it best
    return message[:300]
