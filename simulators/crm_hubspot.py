"""A HubSpot CRM v3 companies simulator: batch read/update/create, search on domain, one
company by id; HubSpot's error bodies (401 INVALID_AUTHENTICATION, 429 RATE_LIMITS with
Retry-After, 400 VALIDATION_ERROR / PROPERTY_DOESNT_EXIST) and 207 multi-status answers.
Property values are strings, as HubSpot returns them. Writes naming a property outside
`writable` are refused, as HubSpot refuses properties a portal does not have."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request
from starlette.responses import JSONResponse, Response

from simulators.crm_common import CrmSimState, Fault, guarded

BATCH_LIMIT = 100
DEFAULT_HUBSPOT_TOKEN = "pat-na1-sim-token"
BASE = "/crm/v3/objects/companies"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _error(status: int, category: str, message: str, **extra: Any) -> JSONResponse:
    body = {
        "status": "error",
        "message": message,
        "correlationId": str(uuid.uuid4()),
        "category": category,
        **extra,
    }
    return JSONResponse(body, status_code=status)


def _object(record_id: str, fields: dict[str, Any], properties: list[str]) -> dict[str, Any]:
    wanted = {p: fields.get(p) for p in properties} if properties else {}
    return {
        "id": record_id,
        "properties": {"hs_object_id": record_id, **wanted},
        "createdAt": _now(),
        "updatedAt": _now(),
        "archived": False,
    }


def _batch(results: list[dict], errors: list[dict], status: int = 200) -> JSONResponse:
    body: dict[str, Any] = {
        "status": "COMPLETE",
        "results": results,
        "startedAt": _now(),
        "completedAt": _now(),
    }
    if errors:
        body |= {"errors": errors, "numErrors": len(errors)}
    return JSONResponse(body, status_code=207 if errors else status)


def _too_many(inputs: list) -> str:
    return f"Batch size {len(inputs)} exceeds {BATCH_LIMIT}"


def _refuse_unknown(state: CrmSimState, inputs: list[dict]) -> JSONResponse | None:
    for item in inputs:
        for name in item.get("properties") or {}:
            if name not in state.writable:
                detail = {
                    "isValid": False,
                    "message": f'Property "{name}" does not exist',
                    "error": "PROPERTY_DOESNT_EXIST",
                    "name": name,
                }
                return _error(
                    400,
                    "VALIDATION_ERROR",
                    "Property values were not valid: " + json.dumps([detail]),
                    errors=[
                        {
                            "message": detail["message"],
                            "code": "PROPERTY_DOESNT_EXIST",
                            "context": {"propertyName": [name]},
                        }
                    ],
                )
    return None


def create_hubspot_app(state: CrmSimState) -> FastAPI:
    """The app: every request is authenticated, recorded, and may hit an injected fault."""
    app = FastAPI()

    def refused() -> Response:
        message = "Authentication credentials not found. This API supports OAuth 2.0."
        return _error(401, "INVALID_AUTHENTICATION", message)

    def faulted(fault: Fault) -> Response:
        if fault.status == 429:
            message = "You have reached your secondly limit."
            return _error(
                429, "RATE_LIMITS", message, errorType="RATE_LIMIT", policyName="SECONDLY"
            )
        return _error(fault.status, "INTERNAL_ERROR", "internal error")

    @app.middleware("http")
    async def gate(request: Request, call_next: Any) -> Response:
        return await guarded(state, request, call_next, refused, faulted)

    @app.get(BASE + "/{record_id}")
    def get_one(record_id: str, properties: str = "") -> Response:
        record = state.snapshot().get(record_id)
        if record is None:
            return _error(404, "OBJECT_NOT_FOUND", "Object not found.")
        return JSONResponse(_object(record_id, record, [p for p in properties.split(",") if p]))

    @app.post(BASE + "/batch/read")
    async def batch_read(request: Request) -> Response:
        body = await request.json()
        inputs, props = body.get("inputs") or [], body.get("properties") or []
        if len(inputs) > BATCH_LIMIT:
            return _error(400, "VALIDATION_ERROR", _too_many(inputs))
        records = state.snapshot()
        ids = [str(i["id"]) for i in inputs]
        results = [_object(i, records[i], props) for i in ids if i in records]
        missing = [i for i in ids if i not in records]
        errors = (
            [
                {
                    "status": "error",
                    "category": "OBJECT_NOT_FOUND",
                    "context": {"ids": missing},
                    "message": "Could not get some COMPANY objects, they may be deleted or not "
                    "exist. Check that ids are valid.",
                }
            ]
            if missing
            else []
        )
        return _batch(results, errors)

    @app.post(BASE + "/search")
    async def search(request: Request) -> Response:
        body = await request.json()
        wanted: set[str] = set()
        for group in body.get("filterGroups") or []:
            for f in group.get("filters") or []:
                if f.get("propertyName") != "domain":
                    continue
                values = f.get("values") if f.get("operator") == "IN" else [f.get("value")]
                wanted |= {str(v).lower() for v in values or []}
        found = [
            (i, r)
            for i, r in state.snapshot().items()
            if str(r.get("domain") or "").lower() in wanted
        ]
        start = int(body.get("after") or 0)
        limit = int(body.get("limit") or 10)
        page = found[start : start + limit]
        answer: dict[str, Any] = {
            "total": len(found),
            "results": [
                _object(i, r, body.get("properties") or ["domain", "name"]) for i, r in page
            ],
        }
        if start + limit < len(found):
            answer["paging"] = {"next": {"after": str(start + limit)}}
        return JSONResponse(answer)

    @app.post(BASE + "/batch/update")
    async def batch_update(request: Request) -> Response:
        inputs = (await request.json()).get("inputs") or []
        if len(inputs) > BATCH_LIMIT:
            return _error(400, "VALIDATION_ERROR", _too_many(inputs))
        refused = _refuse_unknown(state, inputs)
        if refused is not None:
            return refused
        results, missing = [], []
        with state.lock:
            for item in inputs:
                record = state.records.get(str(item["id"]))
                if record is None:
                    missing.append(str(item["id"]))
                    continue
                record.update({k: str(v) for k, v in item["properties"].items()})
                results.append(_object(str(item["id"]), record, list(item["properties"])))
        errors = (
            [
                {
                    "status": "error",
                    "category": "OBJECT_NOT_FOUND",
                    "context": {"ids": missing},
                    "message": "Could not update some COMPANY objects",
                }
            ]
            if missing
            else []
        )
        return _batch(results, errors)

    @app.post(BASE + "/batch/create")
    async def batch_create(request: Request) -> Response:
        inputs = (await request.json()).get("inputs") or []
        if len(inputs) > BATCH_LIMIT:
            return _error(400, "VALIDATION_ERROR", _too_many(inputs))
        refused = _refuse_unknown(
            state,
            [
                {
                    "properties": {
                        k: v
                        for k, v in (i.get("properties") or {}).items()
                        if k not in ("name", "domain")
                    }
                }
                for i in inputs
            ],
        )
        if refused is not None:
            return refused
        results = []
        with state.lock:
            for item in inputs:
                record_id = str(90_000 + state.next_id)
                state.next_id += 1
                state.records[record_id] = {k: str(v) for k, v in item["properties"].items()}
                results.append(
                    _object(record_id, state.records[record_id], list(item["properties"]))
                )
        return _batch(results, [], status=201)

    return app
