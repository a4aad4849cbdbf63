"""ASGI plumbing shared by both simulator apps: recording, dropped connections, admin API."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from simulators.faults import DEFAULT_HANG_SECONDS, FaultRule
from simulators.state import SimulatorState
from simulators.stats import RequestRecord, StatsRecorder, recordable_headers

RECORD_SCOPE_KEY = "territory.simulator.record"


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    """A JSON response with exactly the bytes the real services send (compact JSON)."""
    return Response(
        content=json.dumps(body, separators=(",", ":")),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


def new_app(title: str) -> FastAPI:
    """A bare FastAPI app: no docs pages, no OpenTelemetry hooks."""
    return FastAPI(
        title=title,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False},
    )


def bearer_token(request: Request) -> str | None:
    """The token of an `Authorization: Bearer ...` header, if any."""
    value = request.headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def record_of(request: Request) -> RequestRecord:
    """The log entry the recording middleware opened for this request."""
    return request.scope[RECORD_SCOPE_KEY]


class RecordingMiddleware:
    """Logs every API request and leaves the in-flight count as its last byte is sent.

    The record is closed just before the final body chunk goes out, so a client that has
    read the whole response always sees it in the stats (no race with the server thread).
    """

    def __init__(self, app: ASGIApp, recorder: StatsRecorder, paths: frozenset[str]) -> None:
        self.app = app
        self.recorder = recorder
        self.paths = paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in self.paths:
            await self.app(scope, receive, send)
            return
        record = self.recorder.begin(scope["path"], recordable_headers(scope["headers"]))
        scope[RECORD_SCOPE_KEY] = record

        async def send_and_record(message: Message) -> None:
            if message["type"] == "http.response.start":
                record.set(status=message["status"])
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                self.recorder.finish(record)
            await send(message)

        try:
            await self.app(scope, receive, send_and_record)
        finally:
            self.recorder.finish(record)


class SimulatedConnectionDrop(Exception):
    """Raised after a partial body so the server aborts the connection mid-response."""


class PartialBodyResponse(Response):
    """Starts a normal-looking response, sends half the body, then kills the connection."""

    def __init__(
        self,
        body: bytes,
        recorder: StatsRecorder,
        record: RequestRecord,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(
            content=body, status_code=200, media_type="application/json", headers=headers
        )
        self._recorder = recorder
        self._record = record

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        await send(
            {
                "type": "http.response.body",
                "body": self.body[: len(self.body) // 2],
                "more_body": True,
            }
        )
        # Close the record first: the client sees the failure only after we raise.
        self._recorder.finish(self._record)
        raise SimulatedConnectionDrop("simulated connection drop")


def _is_simulated_drop(exc: BaseException | None) -> bool:
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, SimulatedConnectionDrop):
            return True
        if isinstance(exc, BaseExceptionGroup):
            return any(_is_simulated_drop(inner) for inner in exc.exceptions)
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


class _HideSimulatedDrops(logging.Filter):
    """Keeps uvicorn from printing a traceback for every deliberate connection drop."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and _is_simulated_drop(record.exc_info[1]))


def install_drop_log_filter() -> None:
    """Attach the drop filter to uvicorn's error logger once."""
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _HideSimulatedDrops) for f in logger.filters):
        logger.addFilter(_HideSimulatedDrops())


async def wait_while_connected(request: Request, seconds: float, state: SimulatorState) -> bool:
    """Sleep up to `seconds`; stop early if the client hangs up or the server shuts down.

    Returns True when the full time elapsed. Without this, a client that timed out would
    leave a handler (and the in-flight count) busy for the whole simulated delay.
    """
    deadline = time.monotonic() + seconds
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return True
        if state.closing.is_set() or await request.is_disconnected():
            return False
        await asyncio.sleep(min(remaining, 0.05))


async def simulate_delay(
    request: Request,
    state: SimulatorState,
    fault: FaultRule | None,
    depth: str | None = None,
    writing: float = 0.0,
) -> None:
    """A "hang" fault's delay, if that is the fault, then the request's sampled latency plus
    `writing`, the seconds the model spends writing a long answer (scaled like the latency).

    The latency is drawn only after the hang, so concurrent requests draw from the seeded
    latency generator in the order they reach this point. A held simulator holds the request
    first, until it is let go (or the client hangs up).
    """
    while state.config.held:
        if not await wait_while_connected(request, 0.05, state):
            return
    if fault is not None and fault.kind == "hang":
        delay = fault.delay if fault.delay is not None else DEFAULT_HANG_SECONDS
        await wait_while_connected(request, delay, state)
    seconds = state.sample_latency(depth) + writing * state.config.time_scale
    await wait_while_connected(request, seconds, state)


def admin_router(state: SimulatorState) -> APIRouter:
    """`/_sim/*` endpoints so a simulator in another process can be inspected and driven."""
    router = APIRouter(prefix="/_sim")
    # Registered in this order (health, stats, reset, config, faults) on purpose: for a path
    # with several methods, Starlette's 405 answer names the methods of the first route.
    _add_status_routes(router, state)
    _add_config_routes(router, state)
    _add_fault_routes(router, state)
    return router


async def _json_body(request: Request) -> Any:
    raw = await request.body()
    return json.loads(raw) if raw.strip() else {}


def _stats_document(state: SimulatorState, log: str) -> dict[str, Any]:
    """The stats snapshot with its request log in the requested detail."""
    snapshot = state.stats()
    if log == "times":  # enough to compute rates, without megabytes of request bodies
        snapshot["log"] = [[e["t"], e["t_end"], e["status"]] for e in snapshot["log"]]
    elif log == "company":  # ...and whose request it was (two runs sharing one key)
        snapshot["log"] = [[e["t"], e["t_end"], e["status"], e["company"]] for e in snapshot["log"]]
    elif log == "none":
        snapshot.pop("log")
    return snapshot


def _add_status_routes(router: APIRouter, state: SimulatorState) -> None:
    """GET /health, GET /stats and POST /reset."""

    @router.get("/health")
    async def health() -> Response:
        return json_response(200, {"ok": True, "service": state.service})

    @router.get("/stats")
    async def stats(log: str = "full") -> Response:
        return json_response(200, _stats_document(state, log))

    @router.post("/reset")
    async def reset() -> Response:
        state.reset()
        return json_response(200, {"ok": True})


def _add_config_routes(router: APIRouter, state: SimulatorState) -> None:
    """GET /config and POST /config (a JSON object of settings to change)."""

    @router.get("/config")
    async def get_config() -> Response:
        return json_response(200, state.config.public())

    @router.post("/config")
    async def set_config(request: Request) -> Response:
        try:
            changes = await _json_body(request)
            if not isinstance(changes, dict):
                raise ValueError("expected a JSON object of settings")
            config = state.configure(**changes)
        except (ValueError, TypeError) as exc:
            return json_response(400, {"error": str(exc)})
        return json_response(200, config.public())


def _parse_fault_rules(rules: Any) -> list[FaultRule]:
    """Fault rules from a JSON rule or list of rules; ValueError or TypeError if invalid."""
    rules = [rules] if isinstance(rules, dict) else rules
    if not isinstance(rules, list):
        raise ValueError("expected a JSON list of fault rules")
    return [FaultRule.from_dict(rule) for rule in rules]


def _add_fault_routes(router: APIRouter, state: SimulatorState) -> None:
    """GET /faults, POST /faults (`?replace=1` disarms the old ones first) and DELETE /faults."""

    @router.get("/faults")
    async def get_faults() -> Response:
        return json_response(200, state.stats()["faults"])

    @router.post("/faults")
    async def add_faults(request: Request) -> Response:
        try:
            parsed = _parse_fault_rules(await _json_body(request))
        except (ValueError, TypeError) as exc:
            return json_response(400, {"error": str(exc)})
        if request.query_params.get("replace", "").lower() in ("1", "true", "yes"):
            state.clear_faults()
        try:
            state.add_faults(parsed)
        except ValueError as exc:
            return json_response(400, {"error": str(exc)})
        return json_response(200, state.stats()["faults"])

    @router.delete("/faults")
    async def clear_faults() -> Response:
        state.clear_faults()
        return json_response(200, [])
