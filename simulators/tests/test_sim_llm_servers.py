"""Self-hosted provider modes (llama-cpp-python, Ollama, vLLM), driven through the openai client."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import openai
import pydantic
import pytest
import tavily
from sim_helpers import (
    LLM_KEY,
    TAVILY_KEY,
    Classification,
    build_prompt,
    default_query,
    schema_format,
    wait_until,
)

from simulators.faults import FaultRule
from simulators.sample_companies import sample_companies
from simulators.server import Simulators, _argument_parser

MODEL = "local-model"
HOT = next(c.name for c in sample_companies() if c.tier == "HOT")
LLAMACPP_SCHEMA_ERROR = {
    "error": {
        "message": "1 validation error for CreateChatCompletionRequest\nresponse_format.type\n"
        "  Input should be 'text' or 'json_object' [type=literal_error, "
        "input_value='json_schema', input_type=str]",
        "type": "internal_server_error",
        "param": None,
        "code": None,
    }
}
JSON_OBJECT = {"type": "json_object"}
PROSE_START = "Here is the classification:\n```json\n"
PROSE_END = "\n```\nLet me know if you need anything else."


def _messages(sims: Simulators, company: str = HOT) -> list[Any]:
    """The project's prompt for a company, built from the Tavily simulator's results."""
    with tavily.TavilyClient(api_key=TAVILY_KEY, api_base_url=sims.tavily_url) as client:
        response = client.search(
            default_query(company), search_depth="advanced", max_results=8, include_raw_content=True
        )
    prompt = build_prompt(company, response["results"], min_score=0.4)
    return [
        {"role": "system", "content": "You grade companies' need for GPU compute. Answer JSON."},
        {"role": "user", "content": prompt},
    ]


def _ask(client: openai.OpenAI, messages: list[Any], **options: Any) -> Any:
    return client.chat.completions.create(model=MODEL, messages=messages, **options)


def test_llamacpp_answers_json_schema_with_a_500_every_time(
    llm_client: openai.OpenAI, sims: Simulators
) -> None:
    sims.llm.configure(mode="llamacpp")
    messages = _messages(sims)
    for _ in range(3):  # not a transient fault: it never succeeds
        with pytest.raises(openai.InternalServerError) as caught:
            _ask(llm_client, messages, response_format=schema_format(), max_tokens=800)
        assert caught.value.status_code == 500
        assert caught.value.response.json() == LLAMACPP_SCHEMA_ERROR
    log = sims.llm.stats()["log"]
    assert [e["status"] for e in log] == [500, 500, 500]
    assert log[0]["response_format"] == "json_schema"
    assert log[0]["body"]["response_format"]["type"] == "json_schema"


def test_llamacpp_runs_on_to_the_end_of_the_context_without_max_tokens(
    llm_client: openai.OpenAI, sims: Simulators
) -> None:
    sims.llm.configure(mode="llamacpp", context_tokens=12000, tokens_per_second=1e6)
    messages = _messages(sims)
    schema_object = {"type": "json_object", "schema": Classification.model_json_schema()}
    # max_completion_tokens is not a parameter it knows: the model writes on regardless.
    runaway = _ask(llm_client, messages, response_format=schema_object, max_completion_tokens=800)
    choice, usage = runaway.choices[0], runaway.usage
    assert choice.finish_reason == "length"
    assert usage.completion_tokens == 12000 - usage.prompt_tokens
    assert len(choice.message.content) == usage.completion_tokens * 4
    answer = choice.message.content.rstrip()
    assert choice.message.content[len(answer) :].strip() == ""  # the rest is whitespace
    # Valid JSON all the same: only finish_reason (and the bill) tell that it ran on.
    assert Classification.model_validate_json(answer).tier == "HOT"

    capped = _ask(llm_client, messages, response_format=schema_object, max_tokens=800)
    assert capped.choices[0].finish_reason == "stop"
    assert Classification.model_validate_json(capped.choices[0].message.content).tier == "HOT"
    assert capped.usage.completion_tokens < 800
    cut = _ask(llm_client, messages, max_tokens=5)
    assert cut.choices[0].finish_reason == "length" and len(cut.choices[0].message.content) == 20

    bodies = [e["body"] for e in sims.llm.stats()["log"]]
    assert bodies[0]["max_completion_tokens"] == 800 and "max_tokens" not in bodies[0]
    assert bodies[0]["response_format"]["type"] == "json_object"
    assert bodies[1]["max_tokens"] == 800 and "max_completion_tokens" not in bodies[1]
    assert LLM_KEY not in json.dumps(bodies)


def test_a_run_on_answer_takes_its_writing_time_and_can_be_abandoned(
    llm_client: openai.OpenAI, sims: Simulators
) -> None:
    sims.llm.configure(mode="llamacpp", context_tokens=200, tokens_per_second=300)
    messages: list[Any] = [{"role": "user", "content": "Company: Slow Writer Inc\n\nClassify it."}]
    started = time.monotonic()
    slow = _ask(llm_client, messages, response_format=JSON_OBJECT)
    elapsed = time.monotonic() - started
    tokens = slow.usage.completion_tokens
    assert tokens == 200 - slow.usage.prompt_tokens and tokens / 300 >= 0.5
    assert tokens / 300 <= elapsed < tokens / 300 + 1.5
    entry = sims.llm.stats()["log"][0]
    assert entry["t_end"] - entry["t"] >= tokens / 300

    # The writing time is simulated latency: a client that gives up frees the server at once.
    sims.llm.configure(tokens_per_second=10)
    started = time.monotonic()
    with pytest.raises(openai.APITimeoutError):
        llm_client.with_options(timeout=0.3).chat.completions.create(model=MODEL, messages=messages)
    wait_until(lambda: sims.llm.stats()["in_flight"] == 0, timeout=2)
    assert time.monotonic() - started < 2.5


def test_llamacpp_json_object_with_and_without_a_schema(
    llm_client: openai.OpenAI, sims: Simulators
) -> None:
    sims.llm.configure(mode="llamacpp")
    messages = _messages(sims)
    schema_object = {"type": "json_object", "schema": Classification.model_json_schema()}
    strict = Classification.model_validate_json(
        _ask(llm_client, messages, response_format=schema_object, max_tokens=800)
        .choices[0]
        .message.content
    )
    assert strict.tier == "HOT"

    loose_answer = _ask(llm_client, messages, response_format=JSON_OBJECT, max_tokens=800)
    content = loose_answer.choices[0].message.content
    assert loose_answer.choices[0].finish_reason == "stop"
    with pytest.raises(json.JSONDecodeError):
        json.loads(content)  # a raw newline inside a string
    loose = json.loads(content, strict=False)
    assert loose["tier"] == "hot" and loose["confidence"] == strict.confidence.capitalize()
    assert "\n" in loose["reasoning"]
    assert loose["reasoning"].replace("\n", " ").strip() == strict.reasoning.strip()
    assert loose["score"] == strict.score and len(loose["signals"]) == len(strict.signals)
    with pytest.raises(pydantic.ValidationError):
        Classification.model_validate(loose)


def test_ollama_takes_json_schema_but_answers_in_prose(
    llm_client: openai.OpenAI, sims: Simulators
) -> None:
    sims.llm.configure(mode="ollama", tokens_per_second=1e6, context_tokens=12000)
    messages = _messages(sims)
    answer = _ask(llm_client, messages, response_format=schema_format(), max_tokens=2000)
    content = answer.choices[0].message.content
    assert answer.choices[0].finish_reason == "stop"
    assert content.startswith(PROSE_START) and content.endswith(PROSE_END)
    inner = content.removeprefix(PROSE_START).removesuffix(PROSE_END)
    assert Classification.model_validate_json(inner).tier == "HOT"
    with pytest.raises(pydantic.ValidationError):
        llm_client.chat.completions.parse(
            model=MODEL, messages=messages, response_format=Classification, max_tokens=2000
        )

    plain = _ask(llm_client, messages, response_format=JSON_OBJECT, max_tokens=2000)
    assert Classification.model_validate_json(plain.choices[0].message.content).tier == "HOT"
    cut = _ask(llm_client, messages, response_format=JSON_OBJECT, max_tokens=5)
    assert cut.choices[0].finish_reason == "length" and len(cut.choices[0].message.content) == 20
    runaway = _ask(llm_client, messages, response_format=JSON_OBJECT, max_completion_tokens=5)
    assert runaway.choices[0].finish_reason == "length"
    assert runaway.usage.completion_tokens == 12000 - runaway.usage.prompt_tokens


def test_vllm_follows_json_schema_and_both_token_caps(
    llm_client: openai.OpenAI, sims: Simulators
) -> None:
    sims.llm.configure(mode="vllm")
    messages = _messages(sims)
    parsed = llm_client.chat.completions.parse(
        model=MODEL, messages=messages, response_format=Classification
    )
    assert parsed.choices[0].finish_reason == "stop"
    classification = parsed.choices[0].message.parsed
    assert classification is not None and classification.tier == "HOT"
    for cap in ("max_tokens", "max_completion_tokens"):
        cut = _ask(llm_client, messages, response_format=schema_format(), **{cap: 5})
        assert cut.choices[0].finish_reason == "length"
        assert len(cut.choices[0].message.content) == 20


@pytest.mark.parametrize("mode", ["openai", "crusoe"])
def test_hosted_modes_honour_both_caps_and_never_run_on(
    llm_client: openai.OpenAI, sims: Simulators, mode: str
) -> None:
    sims.llm.configure(mode=mode, tokens_per_second=1)  # a run-on would take minutes
    llm_client = llm_client.with_options(timeout=5)
    messages = [{"role": "user", "content": "Company: Capped Co\n\nClassify it."}]
    for cap in ("max_tokens", "max_completion_tokens"):
        cut = _ask(llm_client, messages, **{cap: 5})
        assert cut.choices[0].finish_reason == "length"
    whole = _ask(llm_client, messages, response_format=JSON_OBJECT)
    assert whole.choices[0].finish_reason == "stop" and whole.usage.completion_tokens < 100


def test_a_model_that_cannot_fill_the_schema(llm_client: openai.OpenAI, sims: Simulators) -> None:
    admin = sims.llm_url.removesuffix("/v1") + "/_sim"
    config = httpx.post(f"{admin}/config", json={"cannot_fill_schema": True}).json()
    assert config["cannot_fill_schema"] is True
    messages = _messages(sims)
    answers = [
        _ask(llm_client, messages, response_format=schema_format()),
        _ask(llm_client, [{"role": "user", "content": "Company: Quiet Ltd"}]),
    ]
    sims.llm.configure(mode="llamacpp")
    answers.append(_ask(llm_client, messages, response_format=JSON_OBJECT, max_tokens=800))
    for answer in answers:
        assert answer.choices[0].finish_reason == "stop"
        data = json.loads(answer.choices[0].message.content)
        assert set(data) == {"company", "tier", "answer"}
        assert data["tier"].startswith("GPU compute need: ")
        with pytest.raises(pydantic.ValidationError):
            Classification.model_validate(data)
    assert json.loads(answers[0].choices[0].message.content)["company"] == HOT
    sims.llm.configure(mode="openai")
    with pytest.raises(pydantic.ValidationError):
        llm_client.chat.completions.parse(
            model=MODEL, messages=messages, response_format=Classification
        )

    assert httpx.post(f"{admin}/reset").json() == {"ok": True}
    config = httpx.get(f"{admin}/config").json()
    assert config["cannot_fill_schema"] is False and config["mode"] == "openai"
    assert config["context_tokens"] == 4096 and config["tokens_per_second"] == 40


def test_llamacpp_error_bodies_have_its_shape(llm_client: openai.OpenAI, sims: Simulators) -> None:
    admin = sims.llm_url.removesuffix("/v1") + "/_sim"
    assert httpx.post(f"{admin}/config", json={"mode": "llamacpp"}).json()["mode"] == "llamacpp"
    messages = [{"role": "user", "content": "Company: Broken Co"}]
    bad_key = openai.OpenAI(api_key="sk-wrong", base_url=sims.llm_url, max_retries=0)
    with pytest.raises(openai.AuthenticationError) as auth:
        _ask(bad_key, messages)
    sims.llm.add_fault(FaultRule(kind="rate_limit", times=1))
    sims.llm.add_fault(FaultRule(kind="server_error", times=1))
    sims.llm.add_fault(FaultRule(kind="unavailable", times=1))
    caught: list[openai.APIStatusError] = [auth.value]
    for exception in (openai.RateLimitError, *[openai.InternalServerError] * 2):
        with pytest.raises(exception) as error:
            _ask(llm_client, messages)
        caught.append(error.value)
    sims.llm.configure(models={"qwen2.5-7b-instruct"})
    with pytest.raises(openai.NotFoundError) as missing:
        _ask(llm_client, messages)
    caught.append(missing.value)
    assert [e.status_code for e in caught] == [401, 429, 500, 503, 404]
    for status_error in caught:
        body = status_error.response.json()
        assert list(body) == ["error"]
        assert set(body["error"]) == {"message", "type", "param", "code"}
        assert body["error"]["param"] is None and body["error"]["code"] is None
    assert caught[0].response.json()["error"]["message"] == "Invalid API key"
    assert caught[2].response.json()["error"]["type"] == "internal_server_error"
    assert "help.openai.com" not in caught[2].response.text


def test_new_settings_are_checked_and_the_mode_is_on_the_command_line(sims: Simulators) -> None:
    with pytest.raises(ValueError):
        sims.llm.configure(context_tokens=0)
    with pytest.raises(ValueError):
        sims.llm.configure(tokens_per_second=0)
    assert _argument_parser().parse_args(["--llm-mode", "llamacpp"]).llm_mode == "llamacpp"
