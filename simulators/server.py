"""Start and stop both simulators on loopback ports, in-process or from the command line."""

from __future__ import annotations

import argparse
import json
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterable, Mapping
from types import FrameType, TracebackType
from typing import Any

import uvicorn
from starlette.types import ASGIApp

from simulators.asgi import install_drop_log_filter
from simulators.faults import LATENCY_PROFILES
from simulators.llm_app import create_llm_app
from simulators.llm_state import DEFAULT_LLM_KEY, LLMConfig, LLMSimulator
from simulators.llm_wire import LLM_MODES
from simulators.state import SimulatorState
from simulators.tavily_app import (
    DEFAULT_TAVILY_KEY,
    TavilyConfig,
    TavilySimulator,
    create_tavily_app,
)

LOOPBACK = "127.0.0.1"


class SimulatorServer:
    """One simulator app served by uvicorn in a daemon thread on a loopback port."""

    def __init__(
        self,
        app: ASGIApp,
        state: SimulatorState,
        name: str,
        host: str = LOOPBACK,
        port: int = 0,
        quiet_logging: bool = True,
    ) -> None:
        self.state = state
        self.name = name
        self.host = host
        # Bind before starting so the port (even an ephemeral one) is known up front. The
        # protocol is named: asyncio turns Nagle's algorithm off (TCP_NODELAY) only on sockets
        # whose proto is IPPROTO_TCP, and with it on, an answer's body waited for the ACK of
        # its headers, which the client delays 40 ms: 44 ms a request instead of 3.
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((host, port))
        self.port: int = self._socket.getsockname()[1]
        config = uvicorn.Config(
            app,
            host=host,
            port=self.port,
            log_level="warning",
            access_log=False,
            # In-process use must not reconfigure the host application's logging.
            log_config=None if quiet_logging else uvicorn.config.LOGGING_CONFIG,
            lifespan="off",
            loop="asyncio",
            http="h11",
            ws="none",
            timeout_graceful_shutdown=2,
            # Longer than client pool expiry, so a pooled connection is not closed under a
            # request that is just being sent.
            timeout_keep_alive=30,
        )
        install_drop_log_filter()
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [self._socket]},
            name=f"territory-sim-{name}",
            daemon=True,
        )

    @property
    def root_url(self) -> str:
        """`http://host:port` with no trailing slash."""
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> None:
        """Serve in the background and return once the server accepts connections."""
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError(f"{self.name} simulator failed to start")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{self.name} simulator did not start within {timeout}s")
            time.sleep(0.01)

    def request_stop(self) -> None:
        """Ask the server to shut down without waiting (lets several stop in parallel)."""
        self.state.closing.set()
        self._server.should_exit = True

    def stop(self, timeout: float = 5.0) -> None:
        """Shut down: end pending simulated delays, then stop uvicorn and join its thread."""
        self.request_stop()
        if self._thread.is_alive():
            self._thread.join(timeout)
        if self._thread.is_alive():
            self._server.force_exit = True
            self._thread.join(timeout)
        self._socket.close()


class Simulators:
    """Both running simulators: their URLs, their state objects, and lifecycle helpers."""

    def __init__(self, tavily_server: SimulatorServer, llm_server: SimulatorServer) -> None:
        self._servers = (tavily_server, llm_server)
        self.tavily: TavilySimulator = tavily_server.state  # type: ignore[assignment]
        self.llm: LLMSimulator = llm_server.state  # type: ignore[assignment]
        self.tavily_url = tavily_server.root_url
        self.llm_url = llm_server.root_url + "/v1"

    def reset(self) -> None:
        """Clear stats, faults, rate windows and credit ledgers; restore the start config."""
        self.tavily.reset()
        self.llm.reset()

    def stop(self) -> None:
        """Stop both servers (idempotent)."""
        for server in self._servers:
            server.request_stop()
        for server in self._servers:
            server.stop()

    def __enter__(self) -> Simulators:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def start_simulators(
    tavily_keys: Iterable[str] | None = None,
    llm_keys: Iterable[str] | None = None,
    latency: str | Mapping[str, float] = "none",
    time_scale: float = 1.0,
    llm_mode: str = "openai",
    *,
    host: str = LOOPBACK,
    tavily_port: int = 0,
    llm_port: int = 0,
    seed: int = 0,
    tavily_options: Mapping[str, Any] | None = None,
    llm_options: Mapping[str, Any] | None = None,
    quiet_logging: bool = True,
) -> Simulators:
    """Start the Tavily and LLM simulators on loopback ports (0 = any free port).

    `tavily_options` / `llm_options` are extra default settings (anything `configure()`
    takes, e.g. {"credits": 100} or {"json_schema_supported": False}); `reset()` restores them.
    """
    common = {"latency": latency, "time_scale": time_scale, "seed": seed}
    tavily_settings: dict[str, Any] = {
        "keys": frozenset(tavily_keys if tavily_keys is not None else {DEFAULT_TAVILY_KEY}),
        **common,
        **dict(tavily_options or {}),
    }
    llm_settings: dict[str, Any] = {
        "keys": frozenset(llm_keys if llm_keys is not None else {DEFAULT_LLM_KEY}),
        "mode": llm_mode,
        **common,
        **dict(llm_options or {}),
    }
    for settings in (tavily_settings, llm_settings):
        settings["keys"] = frozenset(settings["keys"])
        if settings.get("models") is not None:
            settings["models"] = frozenset(settings["models"])
    tavily = TavilySimulator(TavilyConfig(**tavily_settings))
    llm = LLMSimulator(LLMConfig(**llm_settings))
    tavily_server = SimulatorServer(
        create_tavily_app(tavily), tavily, "tavily", host, tavily_port, quiet_logging
    )
    try:
        llm_server = SimulatorServer(create_llm_app(llm), llm, "llm", host, llm_port, quiet_logging)
    except OSError:
        tavily_server.stop()
        raise
    tavily_server.start()
    try:
        llm_server.start()
    except Exception:
        tavily_server.stop()
        raise
    return Simulators(tavily_server, llm_server)


def _parse_latency(value: str) -> str | dict[str, Any]:
    if value in LATENCY_PROFILES:
        return value
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError:
        parsed = None
    if not isinstance(parsed, dict):
        raise argparse.ArgumentTypeError(
            f"use one of {sorted(LATENCY_PROFILES)} or a JSON object like "
            '\'{"median": 0.5, "sigma": 0.3, "max": 3}\''
        )
    return parsed


def _argument_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m simulators",
        description="Run the Tavily and OpenAI-compatible simulators on 127.0.0.1.",
    )
    parser.add_argument("--host", default=LOOPBACK)
    parser.add_argument("--tavily-port", type=int, default=8765)
    parser.add_argument("--llm-port", type=int, default=8766)
    parser.add_argument("--latency", type=_parse_latency, default="demo")
    parser.add_argument("--time-scale", type=float, default=1.0)
    parser.add_argument("--llm-mode", choices=LLM_MODES, default="openai")
    parser.add_argument("--tavily-key", action="append", help="accepted key (repeatable)")
    parser.add_argument("--llm-key", action="append", help="accepted key (repeatable)")
    parser.add_argument("--tavily-credits", type=int, default=None, help="credit budget per key")
    parser.add_argument("--tavily-rpm", type=int, default=None, help="requests/minute per key")
    parser.add_argument("--llm-rpm", type=int, default=None, help="requests/minute per key")
    parser.add_argument(
        "--epoch", type=int, default=0, help="how far the simulated web has moved on (0, 1, ...)"
    )
    return parser


def _serve_until_interrupted(sims: Simulators) -> None:
    """Block until Ctrl-C or SIGTERM, then stop both simulators."""

    def on_terminate(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_terminate)
    try:
        while True:
            time.sleep(0.5)
    except KeyboardInterrupt:
        print("Stopping simulators.")
    finally:
        # A second Ctrl-C or TERM (e.g. forwarded by a wrapper) must not abort the shutdown.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        sims.stop()


def main(argv: list[str] | None = None) -> int:
    """Command line: run both simulators until Ctrl-C."""
    args = _argument_parser().parse_args(argv)

    tavily_keys = args.tavily_key or [DEFAULT_TAVILY_KEY]
    llm_keys = args.llm_key or [DEFAULT_LLM_KEY]
    sims = start_simulators(
        tavily_keys,
        llm_keys,
        latency=args.latency,
        time_scale=args.time_scale,
        llm_mode=args.llm_mode,
        host=args.host,
        tavily_port=args.tavily_port,
        llm_port=args.llm_port,
        tavily_options={
            "credits": args.tavily_credits,
            "rpm_limit": args.tavily_rpm,
            "epoch": args.epoch,
        },
        llm_options={"rpm_limit": args.llm_rpm},
        quiet_logging=False,
    )

    print(f"Tavily simulator: {sims.tavily_url}  keys: {', '.join(tavily_keys)}")
    print(f"LLM simulator:    {sims.llm_url}  keys: {', '.join(llm_keys)}  mode: {args.llm_mode}")
    print(f"Latency profile:  {args.latency} x{args.time_scale}. Press Ctrl-C to stop.")
    sys.stdout.flush()
    _serve_until_interrupted(sims)
    return 0
