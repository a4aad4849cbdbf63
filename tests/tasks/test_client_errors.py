"""How each client maps its provider's failures: the real tavily-python and openai clients
against the loopback simulators, one request each (no Prefect). What the run then does with
each class of error is tested through the fakes (test_chunks_with_fakes.py)."""

import pytest

from domain.errors import (
    FatalProviderError,
    InvalidOutputError,
    RateLimitedError,
    TransientError,
)
from simulators.faults import FaultRule
from tasks.llm_client import OpenAICompatibleClassifier
from tasks.tavily_client import TavilySearchClient
from tests.helpers import LLM_KEY, TAVILY_KEY

TAVILY = {
    "rate_limit": (RateLimitedError, "Tavily 429 rate limited"),
    "server_error": (TransientError, "Tavily HTTP 500"),
    "bad_gateway_html": (TransientError, "Tavily HTTP 502"),
    "unavailable": (TransientError, "Tavily HTTP 503"),
    "invalid_json": (TransientError, "not valid JSON"),
    "unauthorized": (FatalProviderError, "Tavily"),
    "credits_exhausted": (FatalProviderError, "Tavily credits exhausted (432)"),
    "paygo_cap": (FatalProviderError, "Tavily pay-as-you-go spending cap reached (433)"),
}
LLM = {
    "rate_limit": (RateLimitedError, "LLM 429 rate limited"),
    "server_error": (TransientError, "LLM HTTP 500"),
    "bad_gateway_html": (TransientError, "LLM HTTP 502"),
    "unavailable": (TransientError, "LLM HTTP 503"),
    "unauthorized": (FatalProviderError, "LLM"),
    "insufficient_quota": (FatalProviderError, "out of quota"),
    "length": (InvalidOutputError, "cut off"),
    "refusal": (InvalidOutputError, "LLM refused"),
    "schema_violation": (InvalidOutputError, ""),
}


def search(sims, name="Mapped Robotics"):
    client = TavilySearchClient(TAVILY_KEY, sims.tavily_url, timeout=5, pool_size=2)
    return client.search(
        f"{name} GPU", search_depth="advanced", max_results=5, include_raw_content=True
    )


def classify(sims, name="Mapped Robotics"):
    client = OpenAICompatibleClassifier(LLM_KEY, sims.llm_url, "sim-model", timeout=5)
    messages = [
        {"role": "system", "content": "Classify the company."},
        {"role": "user", "content": f"Company: {name}\n\nClassify {name}."},
    ]
    return client.classify(messages)


@pytest.mark.parametrize("kind", sorted(TAVILY))
def test_tavily_failures_map_to_what_a_run_does_about_them(sims, kind):
    error, message = TAVILY[kind]
    sims.tavily.add_fault(FaultRule(kind=kind))
    with pytest.raises(error) as raised:
        search(sims)
    assert type(raised.value) is error and message in str(raised.value)
    assert TAVILY_KEY not in str(raised.value)


@pytest.mark.parametrize("kind", sorted(LLM))
def test_llm_failures_map_to_what_a_run_does_about_them(sims, kind):
    error, message = LLM[kind]
    sims.llm.add_fault(FaultRule(kind=kind))
    with pytest.raises(error) as raised:
        classify(sims)
    assert type(raised.value) is error and message in str(raised.value)
    assert LLM_KEY not in str(raised.value)


def test_answers_without_a_fault_come_back_whole(sims):
    body = search(sims)
    assert body["results"] and all(r["url"] for r in body["results"])
    verdict, usage = classify(sims)
    assert verdict.tier in ("HOT", "WARM", "COLD") and usage.prompt_tokens > 0


def test_answers_from_json_constrained_servers_and_chatty_models_are_read():
    from tasks.llm_client import parse_classification

    body = (
        '{"tier": "hot", "score": 88, "confidence": "High", "reasoning": "Trains models\n'
        'on its own GPUs.", "signals": [{"kind": "ML_TRAINING", "url": "https://a.example", '
        '"excerpt": "Acme trains models"}]}'
    )
    for answer in (
        body,  # a raw newline inside a string, a tier and confidence in another case
        f"Here is the classification:\n```json\n{body}\n```\nLet me know if you need more.",
        f"Sure! {body} Hope this helps.",
    ):
        verdict = parse_classification(answer)
        assert (verdict.tier, verdict.confidence) == ("HOT", "high")
        assert verdict.reasoning == "Trains models on its own GPUs."
        assert verdict.signals[0].kind == "ml_training"


def test_an_answer_that_does_not_fit_says_every_problem_and_empty_reasoning_does_not_pass():
    from domain.errors import InvalidOutputError
    from tasks.llm_client import parse_classification

    with pytest.raises(InvalidOutputError) as bad:
        parse_classification('{"tier": "SCORCHING", "score": 250, "reasoning": "x"}')
    said = str(bad.value)
    assert "tier:" in said and "score:" in said and "signals:" in said and "confidence:" in said
    for reasoning in ("", "I think so", "[/INST]", "<|im_end|> yes </s>"):
        answer = (
            f'{{"tier": "COLD", "score": 3, "confidence": "low", "reasoning": "{reasoning}", '
            '"signals": []}'
        )
        with pytest.raises(InvalidOutputError, match="reasoning"):
            parse_classification(answer)
    with pytest.raises(InvalidOutputError, match="not a JSON object"):
        parse_classification("I cannot classify this company.")
    leaked = parse_classification(
        '{"tier": "COLD", "score": 3, "confidence": "low", "signals": [], '
        '"reasoning": "A bakery with no computing needs at all. [/INST]"}'
    )
    assert leaked.reasoning == "A bakery with no computing needs at all."
