"""A HubSpot CRM v3 companies simulator: batch read/update/create, search on domain, one
company by id; HubSpot's error bodies (401 INVALID_AUTHENTICATION, 429 RATE_LIMITS with
Retry-After, 400 VALIDATION_ERROR / PROPERTY_DOESNT_EXIST) and 207 multi-status answers.
Property values are strings, as HubSpot returns them. Writes naming a property outside
`writable` are refused, as HubSpot refuses properties a portal does not have."""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
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


def _not_found(missing: list[str], verb: str) -> list[dict[str, Any]]:
    """A batch answer's error for ids that name no company (with the ids, as HubSpot does)."""
    if not missing:
        return []
    message = f"Could not {verb} some COMPANY objects, they may be deleted or not exist."
    return [{"status": "error", "category": "OBJECT_NOT_FOUND", "context": {"ids": missing},
             "message": message}]  # fmt: skip


def _get_one(state: CrmSimState, request: Request, body: dict) -> Response:
    record_id = request.path_params["record_id"]
    record = state.snapshot().get(record_id)
    if record is None:
        return _error(404, "OBJECT_NOT_FOUND", "Object not found.")
    wanted = [p for p in request.query_params.get("properties", "").split(",") if p]
    return JSONResponse(_object(record_id, record, wanted))


def _batch_read(state: CrmSimState, request: Request, body: dict) -> Response:
    inputs, props = body.get("inputs") or [], body.get("properties") or []
    if len(inputs) > BATCH_LIMIT:
        return _error(400, "VALIDATION_ERROR", _too_many(inputs))
    records = state.snapshot()
    ids = [str(i["id"]) for i in inputs]
    results = [_object(i, records[i], props) for i in ids if i in records]
    return _batch(results, _not_found([i for i in ids if i not in records], "get"))


def _search(state: CrmSimState, request: Request, body: dict) -> Response:
    wanted: set[str] = set()
    for group in body.get("filterGroups") or []:
        for f in group.get("filters") or []:
            if f.get("propertyName") == "domain":
                values = f.get("values") if f.get("operator") == "IN" else [f.get("value")]
                wanted |= {str(v).lower() for v in values or []}
    records = state.snapshot().items()
    found = [(i, r) for i, r in records if str(r.get("domain") or "").lower() in wanted]
    start, limit = int(body.get("after") or 0), int(body.get("limit") or 10)
    properties = body.get("properties") or ["domain", "name"]
    answer: dict[str, Any] = {
        "total": len(found),
        "results": [_object(i, r, properties) for i, r in found[start : start + limit]],
    }
    if start + limit < len(found):
        answer["paging"] = {"next": {"after": str(start + limit)}}
    return JSONResponse(answer)


def _batch_update(state: CrmSimState, request: Request, body: dict) -> Response:
    inputs = body.get("inputs") or []
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
    return _batch(results, _not_found(missing, "update"))


def _batch_create(state: CrmSimState, request: Request, body: dict) -> Response:
    inputs = body.get("inputs") or []
    if len(inputs) > BATCH_LIMIT:
        return _error(400, "VALIDATION_ERROR", _too_many(inputs))
    ours = [
        {"properties": {k: v for k, v in (i.get("properties") or {}).items()
                        if k not in ("name", "domain")}}
        for i in inputs
    ]  # fmt: skip
    refused = _refuse_unknown(state, ours)
    if refused is not None:
        return refused
    results = []
    with state.lock:
        for item in inputs:
            record_id = str(90_000 + state.next_id)
            state.next_id += 1
            record = state.records[record_id] = {k: str(v) for k, v in item["properties"].items()}
            results.append(_object(record_id, record, list(item["properties"])))
    return _batch(results, [], status=201)


Handler = Callable[[CrmSimState, Request, dict], Response]


def _route(state: CrmSimState, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    async def route(request: Request) -> Response:
        raw = await request.body()
        return handler(state, request, json.loads(raw) if raw else {})

    return route


def _refused() -> Response:
    message = "Authentication credentials not found. This API supports OAuth 2.0."
    return _error(401, "INVALID_AUTHENTICATION", message)


def _faulted(fault: Fault) -> Response:
    if fault.status == 429:
        message = "You have reached your secondly limit."
        return _error(429, "RATE_LIMITS", message, errorType="RATE_LIMIT", policyName="SECONDLY")
    return _error(fault.status, "INTERNAL_ERROR", "internal error")


def create_hubspot_app(state: CrmSimState) -> FastAPI:
    """The app: every request is authenticated, recorded, and may hit an injected fault."""
    app = FastAPI()

    @app.middleware("http")
    async def gate(request: Request, call_next: Any) -> Response:
        return await guarded(state, request, call_next, _refused, _faulted)

    for path, method, handler in (
        ("/batch/read", "POST", _batch_read),
        ("/search", "POST", _search),
        ("/batch/update", "POST", _batch_update),
        ("/batch/create", "POST", _batch_create),
        ("/{record_id}", "GET", _get_one),
    ):
        app.add_api_route(BASE + path, _route(state, handler), methods=[method])
    return app
