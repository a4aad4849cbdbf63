"""Alerts for real: `prefect server start`, `territory alerts install --webhook-url` pointing at
a loopback receiver, `territory run` against the simulators; assertions on what the server's
automations posted, and on the events the server stored. Run alone with `uv run pytest -m e2e`.
"""

import json
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from domain.models import Classification, CompanyResult
from domain.names import normalize_name
from simulators.profiles import expected_tier
from storage.duckdb_store import TerritoryStore
from tests.helpers import (
    LLM_KEY,
    TAVILY_KEY,
    files_holding,
    simulator_env,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.xdist_group("e2e")]
ROOT = Path(__file__).parent.parent.parent
TERRITORY = [sys.executable, "-m", "territory.cli"]
HOOK_TOKEN = "T0KEN-e2e-5f1c9a"  # the secret part of the webhook URL
# What the simulated web says of each company now, what the database held before, the owner.
ACCOUNTS = {
    "Alert Robotics": ("HOT", ("WARM", 50), "Dana"),
    "Pell Foundry AI": ("HOT", ("COLD", 10), "Dana"),
    "Quaylock Marketplace": ("WARM", ("HOT", 80), "Lee"),
    "Crumb Bakery": ("COLD", ("COLD", 5), "Lee"),  # same tier: no move
    "Kestrel Analytics": ("WARM", None, "Lee"),  # new: not a move
}


class Receiver:
    """A webhook on loopback that keeps every POST (path and JSON body)."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, dict]] = []
        lock, posts = threading.Lock(), self.posts

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                with lock:
                    posts.append((self.path, json.loads(body)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/{HOOK_TOKEN}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def texts(self) -> list[str]:
        return [body["text"] for _, body in list(self.posts)]

    def wait_for(self, count: int, timeout: float = 90, quiet: float = 4) -> list[str]:
        """The messages once `count` have arrived and no more came for `quiet` seconds
        (automations act asynchronously: a message too many would come late)."""
        deadline = time.monotonic() + timeout
        while len(self.posts) < count and time.monotonic() < deadline:
            time.sleep(0.25)
        time.sleep(quiet)
        return self.texts()


def stored_events(api: str, prefix: str, count: int, timeout: float = 60) -> list[dict]:
    """The server's events under `prefix` once `count` are stored (or the deadline passed).
    The automations act on an event as it comes; the server stores it apart, in batches
    flushed every 5 s (Prefect's event persister): a message can arrive before its event is
    stored."""
    deadline = time.monotonic() + timeout
    while True:
        events = httpx.post(
            f"{api}/events/filter",
            json={"filter": {"event": {"prefix": [prefix]}}, "limit": 50},
            timeout=30,
        ).json()["events"]
        if len(events) >= count or time.monotonic() > deadline:
            return events
        time.sleep(0.5)


@pytest.fixture(scope="module")
def alerts_env(e2e_server):
    """The e2e Prefect server with the shipped automations installed, posting to a receiver."""
    env, api, home = e2e_server
    receiver = Receiver()
    outputs = []
    # Installing again, through the block the first install made, updates in place.
    for target in (["--webhook-url", receiver.url], ["--webhook-block", "territory-alerts"]):
        done = alerts_command(env, "install", *target)
        assert done.returncode == 0, done.stderr
        outputs.append(done.stdout + done.stderr)
    yield env, api, receiver, outputs, home
    # The automations go with their receiver (the deployment tests share the server); the
    # last test removes them, unless it failed first.
    if httpx.post(f"{api}/automations/filter", json={}, timeout=30).json():
        alerts_command(env, "remove")
    receiver.server.shutdown()


def alerts_command(env, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*TERRITORY, "alerts", *args], env=env, cwd=ROOT, capture_output=True, text=True
    )


def run_territory(env, sims, work: Path) -> subprocess.CompletedProcess:
    csv = work / "east.csv"
    csv.write_text(
        "name,owner,crm_id\n"
        + "".join(f"{n},{owner},CRM-{i}\n" for i, (n, (_, _, owner)) in enumerate(ACCOUNTS.items()))
    )
    return subprocess.run(
        [*TERRITORY, "run", str(csv), "--territory", "east"],
        env=env | simulator_env(sims, work / "territory.duckdb"),
        cwd=work,
        capture_output=True,
        text=True,
        timeout=300,
    )


def seed_earlier_results(db: Path) -> None:
    """A finished earlier run of the territory with the tiers of ACCOUNTS."""
    with TerritoryStore.open(db) as store:
        run = store.start_run("east", "full", {}, None, 4, 0, 4)
        results = [
            CompanyResult(
                company_key=normalize_name(name),
                name=name,
                status="ok",
                metadata={"owner": owner},
                classification=Classification(
                    tier=before[0],
                    score=before[1],
                    confidence="medium",
                    reasoning="An earlier verdict.",
                    signals=[],
                ),
            )
            for name, (_, before, owner) in ACCOUNTS.items()
            if before is not None
        ]
        store.save_results(run, "east", results)
        store.finish_run(run, "completed")


def test_install_is_idempotent_and_keeps_the_webhook_url_secret(alerts_env):
    _, api, _, outputs, home = alerts_env
    assert "created 'territory: company moved to HOT'" in outputs[0]
    assert (
        "updated 'territory: company moved to HOT' -> custom-webhook/territory-alerts"
        in (outputs[1])
    )
    automations = httpx.post(f"{api}/automations/filter", json={}, timeout=30).json()
    assert sorted(a["name"] for a in automations) == [
        "territory: company moved to HOT",
        "territory: run summary",
    ]
    blocks = httpx.post(f"{api}/block_documents/filter", json={}, timeout=30).json()
    (block,) = [b for b in blocks if b["name"] == "territory-alerts"]
    assert block["data"]["secrets"] == {"url": "********"}  # masked by the API
    shown = json.dumps([automations, blocks]) + "".join(outputs)
    assert HOOK_TOKEN not in shown
    assert not files_holding([HOOK_TOKEN], home)  # the server's database and log


def test_a_run_posts_each_move_to_hot_and_its_summary_and_a_quiet_run_only_its_summary(
    alerts_env, sims, tmp_path
):
    env, api, receiver, _, _ = alerts_env
    assert {n: expected_tier(n) for n in ACCOUNTS} == {n: a[0] for n, a in ACCOUNTS.items()}
    seed_earlier_results(tmp_path / "territory.duckdb")

    first = run_territory(env, sims, tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    texts = receiver.wait_for(3)
    hot = sorted(t for t in texts if not t.startswith("Territory east"))
    assert [t.splitlines()[0] for t in hot] == [
        "Alert Robotics: WARM → HOT (east)",
        "Pell Foundry AI: COLD → HOT (east)",
    ]
    for text, owner, old in zip(hot, ("Dana", "Dana"), ("WARM 50", "COLD 10"), strict=True):
        lines = text.splitlines()
        assert f"moved {old.split()[0]} → HOT (score {old.split()[1]} → " in lines[1]
        assert lines[2] == f"Owner: {owner}"
        assert lines[3].startswith("Why: ") and len(lines[3]) > 20
        assert lines[4].startswith('Evidence: "') and "https://" in lines[4]
    (summary,) = [t for t in texts if t.startswith("Territory east")]
    assert summary.splitlines()[0] == "Territory east: run completed, 3 tier moves"
    assert "Tier moves: 3 (2 to HOT, 2 up, 1 down); 1 new." in summary
    assert "\nDana: Pell Foundry AI COLD → HOT; Alert Robotics WARM → HOT\n" in summary
    assert "\nLee: Quaylock Marketplace HOT → WARM\n" in summary
    assert len(texts) == 3, texts  # nothing for the move down, the unchanged or the new one
    assert all(path == f"/hooks/{HOOK_TOKEN}" for path, _ in receiver.posts)

    second = run_territory(env, sims, tmp_path)  # the same web again: nothing moves
    assert second.returncode == 0, second.stderr[-3000:]
    texts = receiver.wait_for(4)[3:]
    assert len(texts) == 1, texts
    assert texts[0].startswith("Territory east: run completed, 0 tier moves\n")
    assert "Tier moves: 0 (0 to HOT, 0 up, 0 down); 0 new." in texts[0]

    # The server holds the events themselves: three moves and two summaries.
    events = stored_events(api, "territory.", 5)
    names = sorted(e["event"] for e in events)
    assert names == ["territory.company.tier-changed"] * 3 + ["territory.run.completed"] * 2
    assert TAVILY_KEY not in json.dumps(events) and LLM_KEY not in json.dumps(receiver.posts)


def test_a_missing_block_is_refused_and_remove_deletes_the_automations(alerts_env):
    env, api, _, _, _ = alerts_env
    missing = alerts_command(env, "install", "--slack-block", "no-such-block")
    assert missing.returncode == 2
    assert missing.stderr.strip() == (
        "territory: no slack-webhook block named 'no-such-block' on the Prefect server"
    )
    done = alerts_command(env, "remove")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "deleted 'territory: company moved to HOT'",
        "deleted 'territory: run summary'",
    ]
    assert httpx.post(f"{api}/automations/filter", json={}, timeout=30).json() == []
