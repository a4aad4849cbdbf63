"""The Tavily client honours the environment's proxy settings (HTTP_PROXY, NO_PROXY), read
once as the client is built rather than on every request: a real forwarding proxy on
loopback in front of the Tavily simulator."""

import http.client
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest

from tasks.tavily_client import TavilySearchClient
from tests.helpers import TAVILY_KEY

PROXY_VARIABLES = ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY",
                   "all_proxy", "NO_PROXY", "no_proxy")  # fmt: skip


class ForwardingProxy(BaseHTTPRequestHandler):
    """A plain HTTP proxy: the request line carries the whole URL, passed on as it came."""

    seen: list[str] = []

    def log_message(self, *args):  # keep test output clean
        pass

    def do_POST(self):
        self.seen.append(self.path)
        target = urlsplit(self.path)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        upstream = http.client.HTTPConnection(target.hostname, target.port, timeout=10)
        headers = {k: v for k, v in self.headers.items() if k.lower() != "proxy-connection"}
        upstream.request("POST", target.path, body, headers)
        answer = upstream.getresponse()
        data = answer.read()
        self.send_response(answer.status)
        for key, value in answer.getheaders():
            if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        upstream.close()


@pytest.fixture
def proxy(monkeypatch):
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    ForwardingProxy.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), ForwardingProxy)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def search(client: TavilySearchClient) -> dict:
    return client.search(
        "Mapped Robotics GPU", search_depth="advanced", max_results=5, include_raw_content=True
    )


def test_a_proxy_set_in_the_environment_carries_every_search(sims, proxy, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", proxy)
    client = TavilySearchClient(TAVILY_KEY, sims.tavily_url, timeout=5, pool_size=2)
    monkeypatch.delenv("HTTP_PROXY")  # the client read it when built and does not look again

    bodies = [search(client), search(client)]

    assert ForwardingProxy.seen == [f"{sims.tavily_url}/search"] * 2
    assert [len(b["results"]) for b in bodies] == [5, 5]
    assert sims.tavily.stats()["requests"] == 2  # the proxy passed both on to Tavily


def test_no_proxy_sends_searches_for_its_hosts_straight_to_the_provider(sims, proxy, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", proxy)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    client = TavilySearchClient(TAVILY_KEY, sims.tavily_url, timeout=5, pool_size=2)

    assert len(search(client)["results"]) == 5

    assert ForwardingProxy.seen == []
    assert sims.tavily.stats()["requests"] == 1
