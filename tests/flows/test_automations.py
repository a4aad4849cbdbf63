"""The shipped automations, fast: they are valid for Prefect's server, their triggers pick the
right events, their messages read as intended; and `territory alerts` refuses what it cannot
do in one line. (The whole path, server and webhook included: tests/e2e/test_alerts.py; the events:
tests/flows/test_alert_events.py.)"""

from uuid import uuid4

import pytest

from domain.alerts import (
    RUN_COMPLETED,
    TIER_CHANGED,
    TierMove,
    company_resource,
    move_payload,
    run_resource,
    summary_payload,
)
from flows.automations import bind, read_definitions
from territory.cli import main

HOT_NAME, SUMMARY_NAME = "territory: company moved to HOT", "territory: run summary"


def server_automations():
    """The shipped definitions, bound to a block and validated as Prefect's server does
    (templates included)."""
    from prefect.server.events.schemas.automations import AutomationCore

    block = uuid4()
    return {
        d["name"]: AutomationCore.model_validate(bind(d, block).model_dump(mode="json"))
        for d in read_definitions()
    }


def received(event, resource, payload):
    from prefect.server.events.schemas.events import ReceivedEvent
    from prefect.types._datetime import now

    return ReceivedEvent(
        occurred=now("UTC"), event=event, resource=resource, payload=payload, id=uuid4()
    )


def move(territory="east", old="WARM", new="HOT", owner="Dana"):
    current = {
        "company_key": "helix",
        "company": "Helix AI",
        "domain": "helix.example",
        "tier": new,
        "score": 91,
        "confidence": "high",
        "reasoning": "Helix trains its own models on 1,024 H100s. More follows.",
        "metadata": {"owner": owner},
        "signals": [{"kind": "gpu", "url": "https://news.example/h", "excerpt": "1,024 H100s."}],
    }
    before = {"tier": old, "score": 55, "signals": []}
    payload = move_payload(TierMove(current, before), territory, "8d1f2a3b-0000")
    return received(TIER_CHANGED, company_resource(payload), payload)


def summary(status="completed", message=None, moves=(), only_company=None):
    run = {
        "only_company": only_company,
        "territory": "east",
        "run_id": "8d1f2a3b-0000",
        "status": status,
        "mode": "full",
        "rubric": "gpu-infrastructure@2",
        "message": message,
        "n_companies": 5,
        "n_ok": 4,
        "n_failed": 1,
        "n_hot": 2,
        "n_warm": 1,
        "n_cold": 1,
        "cost_usd": 0.09,
        "tavily_cost_usd": 0.08,
        "tavily_credits": 10,
        "llm_cost_usd": 0.01,
    }
    payload = summary_payload(run, [m.payload for m in moves], 1, len(moves))
    return received(RUN_COMPLETED, run_resource(run), payload)


def render(automation, event):
    """The subject and body the automation's notification would send for `event`."""
    from prefect.server.events.actions import JinjaTemplateAction
    from prefect.server.utilities.user_templates import render_user_template_sync

    JinjaTemplateAction._register_filters_if_needed()
    (action,) = automation.actions
    context = {"event": event, "flow_run": None}
    return [render_user_template_sync(t, context) for t in (action.subject, action.body)]


def test_the_shipped_automations_are_valid_and_post_through_the_chosen_block():
    automations = server_automations()
    assert set(automations) == {HOT_NAME, SUMMARY_NAME}
    for automation in automations.values():
        (action,) = automation.actions
        assert action.type == "send-notification" and action.block_document_id


def test_the_automations_fire_for_moves_to_hot_and_territory_runs_only():
    trigger = server_automations()[HOT_NAME].trigger
    assert trigger.covers(move(new="HOT"))
    assert not trigger.covers(move(old="HOT", new="WARM"))
    assert not trigger.covers(move(territory="eval-golden"))  # `territory eval`'s own runs
    assert not trigger.covers(summary())
    summaries = server_automations()[SUMMARY_NAME].trigger
    assert summaries.covers(summary(status="stopped"))
    assert not summaries.covers(summary(only_company="acme"))  # a `territory lookup`


def test_a_move_to_hot_reads_company_tiers_owner_reason_and_evidence():
    subject, body = render(server_automations()[HOT_NAME], move())
    assert subject == "Helix AI: WARM → HOT (east)"
    assert body == (
        "Helix AI (helix.example) moved WARM → HOT (score 55 → 91) in east.\n"
        "Owner: Dana\n"
        "Why: Helix trains its own models on 1,024 H100s.\n"
        'Evidence: "1,024 H100s." https://news.example/h\n'
        "Run 8d1f2a3b"
    )


def test_the_run_summary_reads_counts_cost_and_each_owners_moves():
    moves = [move(), move(old="HOT", new="WARM", owner="Lee")]
    subject, body = render(server_automations()[SUMMARY_NAME], summary(moves=moves))
    assert subject == "Territory east: run completed, 2 tier moves"
    assert body == (
        "east: run 8d1f2a3b completed (full, rubric gpu-infrastructure@2).\n"
        "5 companies: HOT 2, WARM 1, COLD 1, 1 failed.\n"
        "Tier moves: 2 (1 to HOT, 1 up, 1 down); 1 new.\n"
        "Cost: $0.09 (Tavily $0.08 for 10 credits, LLM $0.01), $18.00 per 1,000 companies.\n"
        "Dana: Helix AI WARM → HOT\n"
        "Lee: Helix AI HOT → WARM\n"
    )
    stopped = summary(status="stopped", message="Tavily credits exhausted (HTTP 432)")
    _, body = render(server_automations()[SUMMARY_NAME], stopped)
    assert "run 8d1f2a3b stopped" in body
    assert "Tier moves: 0 (0 to HOT, 0 up, 0 down)" in body
    assert "Stopped: Tavily credits exhausted (HTTP 432)\n" in body


def test_install_needs_a_prefect_server(capsys):
    from prefect.settings import PREFECT_API_URL, temporary_settings

    # No API named (another test file's server may be set for this process: not here).
    with temporary_settings(restore_defaults={PREFECT_API_URL}):
        assert main(["alerts", "install", "--webhook-url", "https://hooks.example/T0/B0/x"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("territory: alerts need a Prefect server that keeps running")
    assert "PREFECT_API_URL" in err and len(err.strip().splitlines()) == 1


def test_a_bad_webhook_url_is_refused_without_being_repeated(capsys):
    assert main(["alerts", "install", "--webhook-url", "ftp://files.example/SECRET-x1"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == "territory: --webhook-url must be an http:// or https:// URL with a host"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("name: x\ntrigger: [", "not readable YAML"),
        ("- just a list item\n", "each automation needs a name"),
        (
            "name: broken\ntrigger: {type: event, expect: [a]}\nactions:\n"
            "  - {type: send-notification, body: '{{ event.payload.company '}\n",
            "automation 'broken': actions.0",
        ),
    ],
)
def test_a_broken_definition_is_refused_in_one_line(tmp_path, capsys, text, problem):
    (tmp_path / "a.yaml").write_text(text)
    code = main(["alerts", "install", "--webhook-block", "b", "--from", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and problem in err and len(err.strip().splitlines()) == 1, err
