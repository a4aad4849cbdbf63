"""The real openai client against the simulator behaving like self-hosted servers (llama.cpp's
llama-cpp-python server, vLLM, Ollama): structured output refused or ignored, the output cap
each server honours, a model too small for the schema. One request or two each, no Prefect."""

import logging

import pytest

from domain.errors import InvalidOutputError
from tasks.llm_client import OpenAICompatibleClassifier, _is_openai
from tests.helpers import LLM_KEY

MESSAGES = [
    {"role": "system", "content": "Classify the company."},
    {"role": "user", "content": "Company: Helix Robotics\n\nClassify Helix Robotics."},
]


def client(sims, structured_output="auto"):
    return OpenAICompatibleClassifier(
        LLM_KEY, sims.llm_url, "sim-model", timeout=10, structured_output=structured_output
    )


def sent(sims):
    return [e["body"] for e in sims.llm.stats()["log"]]


def test_llama_cpp_refusing_json_schema_with_a_500_is_detected_on_the_first_request(sims, caplog):
    sims.llm.configure(mode="llamacpp")
    llm = client(sims)
    with caplog.at_level(logging.WARNING, logger="territory"):
        first, _ = llm.classify(MESSAGES)  # the 500, then json_object at once: one call
        second, _ = llm.classify(MESSAGES)
    assert first.tier == second.tier and not llm.uses_json_schema
    formats = [b["response_format"]["type"] for b in sent(sims)]
    assert formats == ["json_schema", "json_object", "json_object"]
    # llama-cpp-python constrains json_object to the schema sent with it.
    assert all("schema" in b["response_format"] for b in sent(sims)[1:])
    said = [r.getMessage() for r in caplog.records if "json_schema" in r.getMessage()]
    assert len(said) == 1 and "HTTP 500" in said[0]  # one line per run, not per company


def test_servers_that_are_not_openai_get_the_output_cap_they_honour(sims):
    sims.llm.configure(mode="llamacpp")
    verdict, usage = client(sims, "json_object").classify(MESSAGES)
    (body,) = sent(sims)
    assert body["max_tokens"] == 1500 and body["max_completion_tokens"] == 1500
    assert usage.completion_tokens < 1500  # it stopped at the answer, not at the context's end
    assert _is_openai("https://api.openai.com/v1") and _is_openai("https://x.openai.azure.com/")
    assert not _is_openai("http://127.0.0.1:8000/v1")


def test_ollama_ignoring_json_schema_and_wrapping_json_in_prose_is_read(sims):
    sims.llm.configure(mode="ollama")
    verdict, _ = client(sims).classify(MESSAGES)
    assert verdict.tier in ("HOT", "WARM", "COLD") and verdict.reasoning
    assert [b["response_format"]["type"] for b in sent(sims)] == ["json_schema"]


@pytest.mark.parametrize("structured_output", ["json_schema", "json_object"])
def test_a_request_goes_out_as_the_sdks_typed_arguments_send_it(sims, structured_output):
    # The client hands the SDK its messages and format as extra_body (skipping the SDK's walk
    # of its TypedDicts): the body on the wire is the one the typed arguments send.
    llm = client(sims, structured_output)
    llm.classify(MESSAGES)
    (ours,) = sent(sims)
    typed = {k: v for k, v in ours.items() if k not in ("model", "messages")}
    llm._client.chat.completions.create(model="sim-model", messages=ours["messages"], **typed)
    assert sent(sims)[1] == ours
    assert list(ours) == list(sent(sims)[1])  # the same keys in the same order
    assert ours["messages"][1] == MESSAGES[1] and ours["messages"][0]["role"] == "system"
    assert ours["response_format"]["type"] == structured_output
    assert ours["max_tokens"] == ours["max_completion_tokens"] == 1500


def test_vllm_takes_json_schema(sims):
    sims.llm.configure(mode="vllm")
    llm = client(sims)
    llm.classify(MESSAGES)
    assert llm.uses_json_schema and len(sent(sims)) == 1


def test_a_model_that_cannot_fill_the_schema_says_every_problem(sims):
    sims.llm.configure(mode="llamacpp", cannot_fill_schema=True)
    with pytest.raises(InvalidOutputError) as failed:
        client(sims, "json_object").classify(MESSAGES)
    said = str(failed.value)
    assert "did not match the schema" in said and "score" in said and "signals" in said
    assert '"tier"' in failed.value.answer  # the raw answer travels with the error


def test_a_429_tells_the_pacer_the_limits_its_headers_state(sims):
    from domain.errors import RateLimitedError

    sims.llm.configure(rpm_limit=60, rpm_burst=1, limit_headers=True)
    llm = client(sims)
    llm.classify(MESSAGES)
    with pytest.raises(RateLimitedError):
        llm.classify(MESSAGES)
    stated = llm.stated_limits()
    assert stated is not None and stated.requests_limit == 60
