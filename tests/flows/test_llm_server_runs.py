"""Whole runs against a llama.cpp-style server (the simulator in llamacpp mode) with the
default settings: every company the model can answer is classified; a model that cannot fill
the schema stops the run early with one line instead of paying four attempts per company."""

import pytest

from territory.cli import main
from tests.helpers import query, write_csv

pytestmark = pytest.mark.slow
NAMES = [f"Server Co {i:02d} Robotics" for i in range(12)]


def test_a_llama_cpp_server_with_default_settings_classifies_every_company(
    territory_env, sims, capsys
):
    sims.llm.configure(mode="llamacpp")
    assert main(["run", write_csv(territory_env / "a.csv", NAMES)]) == 0
    assert "12 classified" in capsys.readouterr().out
    assert query(territory_env, "SELECT count(*) FROM company_results WHERE status = 'ok'") == [
        (12,)
    ]
    bodies = [e["body"] for e in sims.llm.stats()["log"]]
    # json_schema was tried until the server said no, then never again; every request capped.
    kinds = [b["response_format"]["type"] for b in bodies]
    assert kinds.count("json_object") == 12 and 1 <= kinds.count("json_schema") <= 4
    assert all(b.get("max_tokens") for b in bodies)


def test_a_model_that_cannot_fill_the_schema_stops_the_run_with_one_line(
    territory_env, sims, capsys
):
    sims.llm.configure(mode="llamacpp", cannot_fill_schema=True)
    assert main(["run", write_csv(territory_env / "b.csv", NAMES)]) == 1
    said = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("territory:")]
    assert len(said) == 1 and "cannot produce the answer's schema" in said[0], said
    failed = query(territory_env, "SELECT count(*) FROM company_results WHERE status = 'failed'")
    assert 1 <= failed[0][0] < len(NAMES)  # the first few, not all twelve
    assert query(territory_env, "SELECT status FROM runs") == [("stopped",)]
    # Far fewer requests than four attempts for every company (the first answers of the
    # companies in flight at once, about one each).
    assert len(sims.llm.stats()["log"]) <= 2 * len(NAMES)
    answers = query(
        territory_env,
        "SELECT evidence->>'last_answer' FROM company_results WHERE status = 'failed' LIMIT 1",
    )
    assert '"tier"' in answers[0][0]  # what the model said is kept with the error
