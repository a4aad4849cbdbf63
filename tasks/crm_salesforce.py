"""Salesforce Accounts through simple-salesforce (REST: SOQL query, sObject Collections).

simple-salesforce takes `instance_url` + `session_id` (an access token) and always builds
`https://{host}/services/data/vXX.X/` URLs. An `http://` instance URL (a local proxy, or
the loopback simulator) is honoured the supported way: our own requests session, with an
adapter mounted for that host that sends its requests over plain HTTP.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceError,
    SalesforceExpiredSession,
    SalesforceRefusedRequest,
)

from domain.errors import FatalProviderError, TransientError
from tasks.crm_client import lowered, status_error
from tasks.rate_headers import retry_after_seconds

T = TypeVar("T")
BATCH_LIMIT = 200  # records per sObject Collections request (Salesforce's documented maximum)
_RECORD_ID = re.compile(r"^[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?$")


class _PlainHttpAdapter(HTTPAdapter):
    """Sends the https:// URLs simple-salesforce builds for an http:// instance over HTTP."""

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> Any:
        if request.url and request.url.startswith("https://"):
            request.url = "http://" + request.url[len("https://") :]
        return super().send(request, *args, **kwargs)


class SalesforceTarget:
    """Salesforce Accounts: SOQL read by Id, sObject Collections update and create."""

    name = "Salesforce"
    batch_size = BATCH_LIMIT

    def __init__(self, access_token: str, instance_url: str, version: str, timeout: float) -> None:
        self.instance_url = instance_url.rstrip("/")
        self._timeout = timeout
        self._last = threading.local()  # the last response's Retry-After, per thread
        session = requests.Session()
        parts = urlsplit(self.instance_url)
        if parts.scheme == "http":
            session.mount(f"https://{parts.netloc}/", _PlainHttpAdapter())
        session.hooks["response"].append(self._remember)
        self._sf = Salesforce(
            instance_url=self.instance_url, session_id=access_token, version=version,
            session=session,
        )  # fmt: skip

    def _remember(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self._last.retry_after = retry_after_seconds(lowered(response.headers))

    def read(self, ids: list[str], properties: list[str]) -> dict[str, dict[str, Any]]:
        """SELECT Id, <ours> FROM Account WHERE Id IN (...): one query of up to 200 ids."""
        valid = [i for i in ids if _RECORD_ID.match(i)]  # anything else cannot be an Id
        if not valid:
            return {}
        quoted = ", ".join(f"'{i}'" for i in valid)
        soql = f"SELECT Id, {', '.join(properties)} FROM Account WHERE Id IN ({quoted})"
        answer = self._call(lambda: self._sf.query(soql, timeout=self._timeout))
        # Salesforce answers 18-character ids; an input may hold the 15-character form.
        asked = {i[:15]: i for i in valid}
        found: dict[str, dict[str, Any]] = {}
        for record in answer.get("records") or []:
            key = asked.get(str(record.get("Id", ""))[:15])
            if key is not None:
                found[key] = {p: record.get(p) for p in properties}
        return found

    def find_by_domain(self, domains: list[str]) -> dict[str, list[str]]:
        """Salesforce imports match on the record id, not the website: no domain matching."""
        return {}

    def update(self, records: list[tuple[str, dict[str, Any]]]) -> dict[str, str | None]:
        """PATCH composite/sobjects (allOrNone false): one SaveResult per record, in order."""
        body = {
            "allOrNone": False,
            "records": [
                {"attributes": {"type": "Account"}, "id": i, **props} for i, props in records
            ],
        }
        answer = self._collections("PATCH", body)
        out: dict[str, str | None] = {}
        for (record_id, _), result in zip(records, answer, strict=False):
            out[record_id] = None if result.get("success") else _save_error(result)
        return out

    def create(
        self, records: list[tuple[str, str | None, dict[str, Any]]]
    ) -> list[tuple[str | None, str | None]]:
        """POST composite/sobjects: Accounts with a Name and our fields, in order."""
        body = {
            "allOrNone": False,
            "records": [
                {"attributes": {"type": "Account"}, "Name": name, **props}
                for name, _, props in records
            ],
        }
        answer = self._collections("POST", body)
        out: list[tuple[str | None, str | None]] = [
            (str(r["id"]), None) if r.get("success") else (None, _save_error(r)) for r in answer
        ]
        return out + [(None, "not in Salesforce's answer")] * max(0, len(records) - len(answer))

    def _collections(self, method: str, body: dict[str, Any]) -> list[dict[str, Any]]:
        answer = self._call(
            lambda: self._sf.restful(
                "composite/sobjects", method=method, json=body, timeout=self._timeout
            )
        )
        return list(answer or [])

    def _call(self, request: Callable[[], T]) -> T:
        self._last.retry_after = None
        try:
            return request()
        except SalesforceError as exc:
            raise self._error(exc) from None
        except requests.Timeout:
            raise TransientError(f"Salesforce timed out after {self._timeout:g}s") from None
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
            raise TransientError(f"Salesforce connection failed: {type(exc).__name__}") from None

    def _error(self, exc: SalesforceError) -> Exception:
        code, message = _first_error(exc.content)
        if isinstance(exc, SalesforceExpiredSession):
            return FatalProviderError(
                f"Salesforce rejected the access token (401 {code or 'INVALID_SESSION_ID'}) at "
                f"{self.instance_url}; check SALESFORCE_ACCESS_TOKEN"
            )
        if isinstance(exc, SalesforceRefusedRequest) and code == "REQUEST_LIMIT_EXCEEDED":
            return FatalProviderError(
                "Salesforce API request limit exceeded (403 REQUEST_LIMIT_EXCEEDED): "
                f"{message.rstrip('.')}; push again later"
            )
        if isinstance(exc, SalesforceRefusedRequest):
            return FatalProviderError(f"Salesforce refused the request (403 {code}): {message}")
        text = f"{code}: {message}" if code else message
        return status_error("Salesforce", int(exc.status), text, self._last.retry_after)


def _first_error(content: Any) -> tuple[str, str]:
    """(errorCode, message) of a Salesforce error body ([{"message", "errorCode"}])."""
    if isinstance(content, list) and content and isinstance(content[0], dict):
        first = content[0]
        message = " ".join(str(first.get("message") or "").split())
        return str(first.get("errorCode") or ""), message[:300]
    if isinstance(content, bytes):
        content = content.decode("utf-8", "replace")
    return "", " ".join(str(content or "").split())[:300]


def _save_error(result: dict[str, Any]) -> str:
    """Why one record of an sObject Collections request was not saved."""
    errors = result.get("errors") or [{}]
    first = errors[0]
    fields = ", ".join(first.get("fields") or [])
    where = f" ({fields})" if fields else ""
    return f"Salesforce {first.get('statusCode', 'error')}: {first.get('message', '')}{where}"
