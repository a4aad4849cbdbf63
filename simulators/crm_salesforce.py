"""A Salesforce REST simulator for Accounts (API v59.0): SOQL `SELECT ... FROM Account WHERE
Id IN (...)`, one Account by Id, and sObject Collections (PATCH update, POST create; 200
records; allOrNone false: one SaveResult per record). Salesforce's error bodies: 401
INVALID_SESSION_ID, 403 REQUEST_LIMIT_EXCEEDED, 400 INVALID_FIELD / MALFORMED_QUERY, and
injected 429 (Retry-After) and 5xx. Numbers come back as JSON floats and date-times in
Salesforce's `...000+0000` form, as the real API answers them. Fields outside `writable`
(the org's fields) are refused, as Salesforce refuses a field an org does not have."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from fastapi import FastAPI, Request
from starlette.responses import JSONResponse, Response

from simulators.crm_common import CrmSimState, Fault, guarded

API = "/services/data/v59.0"
BATCH_LIMIT = 200
DEFAULT_SALESFORCE_TOKEN = "00Dsim!session-token"
_SOQL = re.compile(
    r"^\s*SELECT\s+(?P<fields>.+?)\s+FROM\s+Account\s+WHERE\s+Id\s+IN\s*\((?P<ids>.*)\)\s*$",
    re.IGNORECASE | re.DOTALL,
)
_STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})$")


def _errors(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse([{"message": message, "errorCode": code}], status_code=status)


def _out(value: Any) -> Any:
    """A stored value as Salesforce's JSON gives it back."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and _STAMP.match(value):
        stamp = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return stamp.strftime("%Y-%m-%dT%H:%M:%S.000+0000")
    return value


def _account(record_id: str, record: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "attributes": {"type": "Account", "url": f"{API}/sobjects/Account/{record_id}"}
    }
    for name in fields:
        out[name] = record_id if name.lower() == "id" else _out(record.get(name))
    return out


def _unknown(state: CrmSimState, names: list[str]) -> str | None:
    known = {n.lower() for n in state.writable} | {"id", "name"}
    return next((n for n in names if n.lower() not in known), None)


def create_salesforce_app(state: CrmSimState) -> FastAPI:
    """The app: every request is authenticated, recorded, and may hit an injected fault."""
    app = FastAPI()

    def refused() -> Response:
        return _errors(401, "INVALID_SESSION_ID", "Session expired or invalid")

    def faulted(fault: Fault) -> Response:
        if fault.status == 403:
            return _errors(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
        if fault.status == 429:
            return _errors(429, "REQUEST_LIMIT_EXCEEDED", "Too many requests.")
        return _errors(fault.status, "SERVER_UNAVAILABLE", "Server unavailable.")

    @app.middleware("http")
    async def gate(request: Request, call_next: Any) -> Response:
        return await guarded(state, request, call_next, refused, faulted)

    @app.get(API + "/query/")
    @app.get(API + "/query")
    def query(q: str) -> Response:
        match = _SOQL.match(q)
        if not match:
            return _errors(400, "MALFORMED_QUERY", f"unexpected token in: {q[:80]}")
        fields = [f.strip() for f in match["fields"].split(",")]
        bad = _unknown(state, fields)
        if bad:
            return _errors(400, "INVALID_FIELD", f"No such column '{bad}' on entity 'Account'.")
        # A 15-character id (case-sensitive) names the same record as its 18-character form.
        ids = {i[:15] for i in re.findall(r"'([^']*)'", match["ids"])}
        records = state.snapshot()
        rows = [_account(i, r, fields) for i, r in records.items() if i[:15] in ids]
        return JSONResponse({"totalSize": len(rows), "done": True, "records": rows})

    @app.get(API + "/sobjects/Account/{record_id}")
    def get_one(record_id: str) -> Response:
        record = state.snapshot().get(record_id)
        if record is None:
            return _errors(404, "NOT_FOUND", "The requested resource does not exist")
        return JSONResponse(_account(record_id, record, ["Id", *record]))

    @app.patch(API + "/composite/sobjects")
    async def update(request: Request) -> Response:
        return _collections(state, await request.json(), create=False)

    @app.post(API + "/composite/sobjects")
    async def create(request: Request) -> Response:
        return _collections(state, await request.json(), create=True)

    return app


def _collections(state: CrmSimState, body: dict[str, Any], create: bool) -> Response:
    records = body.get("records") or []
    if len(records) > BATCH_LIMIT:
        return _errors(
            400, "INVALID_BATCH_REQUEST", f"The number of records exceeds {BATCH_LIMIT}."
        )
    for record in records:
        bad = _unknown(state, [k for k in record if k not in ("attributes", "id")])
        if bad:
            return _errors(
                400, "INVALID_FIELD", f"No such column '{bad}' on sobject of type Account"
            )
    results = []
    with state.lock:
        for record in records:
            fields = {k: v for k, v in record.items() if k not in ("attributes", "id")}
            if create:
                if not fields.get("Name"):
                    results.append(_failure(None, "REQUIRED_FIELD_MISSING", "Required fields "
                                            "are missing: [Name]", ["Name"]))  # fmt: skip
                    continue
                record_id = f"001SIM{state.next_id:012d}"
                state.next_id += 1
                state.records[record_id] = fields
            else:
                record_id = _resolve(state, str(record.get("id") or ""))
                if record_id not in state.records:
                    results.append(
                        _failure(record_id, "ENTITY_IS_DELETED", "entity is deleted", [])
                    )
                    continue
                state.records[record_id].update(fields)
            results.append({"id": record_id, "success": True, "errors": []})
    return JSONResponse(results)


def _resolve(state: CrmSimState, record_id: str) -> str:
    """The stored id a 15- or 18-character id names (Salesforce takes either form)."""
    if len(record_id) == 15:
        return next((i for i in state.records if i[:15] == record_id), record_id)
    return record_id


def _failure(record_id: str | None, code: str, message: str, fields: list[str]) -> dict:
    return {
        "id": record_id,
        "success": False,
        "errors": [{"statusCode": code, "message": message, "fields": fields}],
    }
