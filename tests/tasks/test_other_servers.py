"""The flow speaks plain Tavily and OpenAI wire formats: any server that does too will do.

This stub shares no code with the bundled simulators: it is a few canned answers behind a
stdlib HTTP server, mounted under path prefixes as a gateway or proxy would be.
"""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import duckdb
import pytest

pytestmark = pytest.mark.slow

PAGE = "https://stub.example/about"
EXCERPT = "Stubco operates a 512-GPU cluster for model training."


class StubHandler(BaseHTTPRequestHandler):
    seen: list[tuple[str, str, dict]] = []

    def log_message(self, *args):  # keep test output clean
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.seen.append((self.path, self.headers.get("Authorization", ""), body))
        if self.path == "/gateway/tavily/search":
            self._json(
                {
                    "query": body["query"],
                    "answer": None,
                    "images": [],
                    "follow_up_questions": None,
                    "response_time": 0.1,
                    "results": [
                        {
                            "url": PAGE,
                            "title": "About",
                            "score": 0.9,
                            "content": "snippet",
                            "raw_content": f"About us. {EXCERPT} We are hiring.",
                        },
                        {
                            "url": "https://stub.example/noise",
                            "title": "Noise",
                            "score": 0.2,
                            "content": "noise",
                            "raw_content": "NOISE-PAGE",
                        },
                    ],
                }
            )
        elif self.path == "/gateway/llm/v1/chat/completions":
            answer = {
                "tier": "HOT",
                "score": 88,
                "confidence": "high",
                "reasoning": "Runs its own GPU cluster.",
                "signals": [{"kind": "gpu_infrastructure", "url": PAGE, "excerpt": EXCERPT}],
            }
            self._json(
                {
                    "id": "chatcmpl-stub",
                    "object": "chat.completion",
                    "created": 0,
                    "model": body["model"],
                    "choices": [
                        {
                            "index": 0,
                            "finish_reason": "stop",
                            "message": {"role": "assistant", "content": json.dumps(answer)},
                        }
                    ],
                    "usage": {"prompt_tokens": 1000, "completion_tokens": 50, "total_tokens": 1050},
                }
            )
        else:
            self.send_error(404)

    def _json(self, payload):
        data = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def stub_server():
    StubHandler.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), StubHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_flow_runs_against_any_compatible_server(territory_env, stub_server, monkeypatch):
    from flows.parameters import ResearchRequest
    from flows.territory_research import research_territory

    monkeypatch.setenv("TAVILY_BASE_URL", f"{stub_server}/gateway/tavily")
    monkeypatch.setenv("LLM_BASE_URL", f"{stub_server}/gateway/llm/v1")
    monkeypatch.setenv("TAVILY_API_KEY", "tvly-gateway")
    monkeypatch.setenv("LLM_API_KEY", "sk-gateway")
    csv = territory_env / "stub.csv"
    csv.write_text("name,domain\nStubco,stub.example\n")
    state = research_territory(ResearchRequest(companies_csv=str(csv)), return_state=True)
    assert state.is_completed(), state.message

    paths = [(p, auth) for p, auth, _ in StubHandler.seen]
    assert paths == [
        ("/gateway/tavily/search", "Bearer tvly-gateway"),
        ("/gateway/llm/v1/chat/completions", "Bearer sk-gateway"),
    ]
    prompt = StubHandler.seen[1][2]["messages"][-1]["content"]
    assert EXCERPT in prompt and "NOISE-PAGE" not in prompt
    with duckdb.connect(str(territory_env / "territory.duckdb"), read_only=True) as con:
        row = con.execute(
            "SELECT tier, score, signals->>'$[0].excerpt', prompt_tokens FROM company_results"
        ).fetchall()
    assert row == [("HOT", 88, EXCERPT, 1000)]
