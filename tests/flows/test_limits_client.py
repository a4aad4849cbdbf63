"""The concurrency-limit client's quick retries, against a real HTTP server on loopback that
answers 503 the way a SQLite-backed Prefect server does when its database is busy."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from flows.limits import QuickRetries


class BusyServer(ThreadingHTTPServer):
    """Answers the first `busy` POSTs with Prefect's 503 body, then 200; keeps every body."""

    def __init__(self, busy: int):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.busy, self.bodies = busy, []


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 - http.server's naming
        server = self.server
        server.bodies.append(self.rfile.read(int(self.headers["Content-Length"])))
        refused = len(server.bodies) <= server.busy
        body = {"exception_message": "Service Unavailable"} if refused else {"ok": True}
        payload = json.dumps(body).encode()
        self.send_response(503 if refused else 200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def busy_server():
    servers = []

    def start(busy: int) -> BusyServer:
        server = BusyServer(busy)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def post(server: BusyServer, delays=(0.01, 0.01, 0.01)) -> httpx.Response:
    transport = QuickRetries(httpx.HTTPTransport(), delays)
    with httpx.Client(transport=transport) as client:
        url = f"http://127.0.0.1:{server.server_address[1]}/v2/concurrency_limits/increment"
        return client.post(url, json={"names": ["territory-llm"], "slots": 13})


def test_a_busy_server_is_asked_again_at_once_with_the_same_request(busy_server):
    server = busy_server(busy=2)
    response = post(server)
    assert response.status_code == 200
    assert len(server.bodies) == 3
    assert {json.loads(b)["slots"] for b in server.bodies} == {13}  # the body, sent whole again


def test_a_server_busy_for_longer_hands_its_503_to_prefects_own_retries(busy_server):
    server = busy_server(busy=100)
    response = post(server)
    assert response.status_code == 503
    assert len(server.bodies) == 4  # one try per delay, and the last
