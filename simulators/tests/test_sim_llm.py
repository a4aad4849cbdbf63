"""The chat-completions simulator, driven through the real openai client."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

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

from simulators.content import LOW_MARKER, RAW_MARKER, expected_tier
from simulators.faults import FaultRule
from simulators.sample_companies import sample_companies
from simulators.server import Simulators

MODEL = "gpt-4o-mini"
HOT = [c.name for c in sample_companies() if c.tier == "HOT"][:2]
WARM = [c.name for c in sample_companies() if c.tier == "WARM"][:2]
COLD = [c.name for c in sample_companies() if c.tier == "COLD"][:2]


def _messages(company: str, sources: str = "") -> list[dict]:
    return [
        {"role": "system", "content": "You grade companies' need for GPU compute. Answer JSON."},
        {"role": "user", "content": f"Company: {company}\n\n{sources}"},
    ]


def _search_prompt(sims: Simulators, company: str) -> str:
    with tavily.TavilyClient(api_key=TAVILY_KEY, api_base_url=sims.tavily_url) as client:
        response = client.search(
            default_query(company), search_depth="advanced", max_results=8, include_raw_content=True
        )
    return build_prompt(company, response["results"], min_score=0.4)


def test_json_schema_completion_has_the_real_shape(
    llm_client: openai.OpenAI, sims: Simulators
) -> None:
    raw = llm_client.chat.completions.with_raw_response.create(
        model=MODEL,
        messages=[{"role": "user", "content": _search_prompt(sims, HOT[0])}],
        response_format=schema_format(),
    )
    completion = raw.parse()
    assert raw.headers["x-request-id"].startswith("req_")
    assert completion._request_id == raw.headers["x-request-id"]
    assert int(raw.headers["x-ratelimit-remaining-requests"]) > 0
    assert raw.headers["x-ratelimit-reset-requests"].endswith("s")
    assert completion.object == "chat.completion" and completion.id.startswith("chatcmpl-")
    assert completion.model == MODEL and completion.system_fingerprint.startswith("fp_")
    choice = completion.choices[0]
    assert choice.finish_reason == "stop" and choice.message.refusal is None
    result = Classification.model_validate_json(choice.message.content)
    assert result.tier == "HOT" and 1 <= len(result.signals) <= 10
    usage = completion.usage
    prompt_chars = sum(len(m["content"]) for m in sims.llm.stats()["log"][0]["body"]["messages"])
    assert abs(usage.prompt_tokens - prompt_chars / 4) <= 1
    assert abs(usage.completion_tokens - len(choice.message.content) / 4) <= 1
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens


def test_parse_helper_gets_a_pydantic_object(llm_client: openai.OpenAI, sims: Simulators) -> None:
    completion = llm_client.chat.completions.parse(
        model=MODEL, messages=_messages(COLD[0]), response_format=Classification
    )
    parsed = completion.choices[0].message.parsed
    assert parsed.tier == "COLD" and parsed.confidence == "low" and parsed.signals == []
    entry = sims.llm.stats()["log"][0]
    assert entry["headers"]["x-stainless-helper-method"] == "chat.completions.parse"
    assert entry["response_format"] == "json_schema"
    assert entry["body"]["response_format"]["json_schema"]["strict"] is True


@pytest.mark.parametrize("company", HOT + WARM + COLD)
def test_round_trip_agrees_with_expected_tier(
    llm_client: openai.OpenAI, sims: Simulators, company: str
) -> None:
    prompt = _search_prompt(sims, company)
    assert RAW_MARKER in prompt and LOW_MARKER not in prompt
    completion = llm_client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": prompt}],
        response_format={"type": "json_object"},
    )
    result = Classification.model_validate_json(completion.choices[0].message.content)
    assert result.tier == expected_tier(company)
    for signal in result.signals:
        assert signal.excerpt in prompt and f'url="{signal.url}"' in prompt
    entry = sims.llm.requests_for(company)[0]
    assert entry["company"] == company and entry["model"] == MODEL
    assert entry["response_format"] == "json_object"
    assert RAW_MARKER in entry["body"]["messages"][0]["content"]


def test_rate_limit_fault(llm_client: openai.OpenAI, sims: Simulators) -> None:
    sims.llm.add_fault(FaultRule(kind="rate_limit", retry_after=2.5, times=1))
    with pytest.raises(openai.RateLimitError) as caught:
        llm_client.chat.completions.create(model=MODEL, messages=_messages(HOT[0]))
    error = caught.value
    assert error.code == "rate_limit_exceeded" and error.status_code == 429
    assert error.response.headers["retry-after"] == "2.5"
    assert error.response.headers["x-ratelimit-remaining-requests"] == "0"
    assert error.request_id and error.request_id.startswith("req_")


def test_insufficient_quota_is_429_without_should_retry(
    llm_client: openai.OpenAI, sims: Simulators
) -> None:
    sims.llm.add_fault(FaultRule(kind="insufficient_quota"))
    with pytest.raises(openai.RateLimitError) as caught:
        llm_client.chat.completions.create(model=MODEL, messages=_messages(HOT[0]))
    assert caught.value.code == "insufficient_quota"
    assert caught.value.type == "insufficient_quota"
    assert "x-should-retry" not in caught.value.response.headers
    assert "retry-after" not in caught.value.response.headers


def test_sdk_retries_are_visible_in_stats(sims: Simulators) -> None:
    sims.llm.add_fault(FaultRule(kind="rate_limit", retry_after=0.01, times=2))
    client = openai.OpenAI(api_key=LLM_KEY, base_url=sims.llm_url, max_retries=2)
    completion = client.chat.completions.create(model=MODEL, messages=_messages(WARM[0]))
    assert json.loads(completion.choices[0].message.content)["tier"] == "COLD"  # no sources
    log = sims.llm.stats()["log"]
    assert [e["retry_count"] for e in log] == [0, 1, 2]
    assert [e["status"] for e in log] == [429, 429, 200]


def test_length_refusal_and_schema_faults(llm_client: openai.OpenAI, sims: Simulators) -> None:
    sims.llm.add_fault(FaultRule(kind="length", match=HOT[0]))
    sims.llm.add_fault(FaultRule(kind="refusal", match=HOT[1]))
    sims.llm.add_fault(FaultRule(kind="schema_violation", match=WARM[0]))
    sims.llm.add_fault(FaultRule(kind="fenced", match=WARM[1]))
    sims.llm.add_fault(FaultRule(kind="no_usage", match=COLD[0]))

    def parse(company: str):
        return llm_client.chat.completions.parse(
            model=MODEL, messages=_messages(company), response_format=Classification
        )

    with pytest.raises(openai.LengthFinishReasonError) as caught:
        parse(HOT[0])
    assert caught.value.completion.usage.completion_tokens > 0
    cut = llm_client.chat.completions.create(model=MODEL, messages=_messages(HOT[0]))
    assert cut.choices[0].finish_reason == "length"
    with pytest.raises(json.JSONDecodeError):
        json.loads(cut.choices[0].message.content)

    refused = parse(HOT[1]).choices[0].message
    assert refused.parsed is None and refused.content is None and refused.refusal

    with pytest.raises(pydantic.ValidationError):
        parse(WARM[0])
    bad = json.loads(
        llm_client.chat.completions.create(model=MODEL, messages=_messages(WARM[0]))
        .choices[0]
        .message.content
    )
    assert bad["tier"] == "SCORCHING" and bad["score"] == 250

    fenced = llm_client.chat.completions.create(model=MODEL, messages=_messages(WARM[1]))
    content = fenced.choices[0].message.content
    assert content.startswith("```json\n") and content.endswith("\n```")
    with pytest.raises(pydantic.ValidationError):
        parse(WARM[1])

    assert (
        llm_client.chat.completions.create(model=MODEL, messages=_messages(COLD[0])).usage is None
    )


def test_http_error_faults_map_to_sdk_exceptions(
    llm_client: openai.OpenAI, sims: Simulators
) -> None:
    cases = [
        ("server_error", None, openai.InternalServerError, 500),
        ("bad_gateway_html", None, openai.InternalServerError, 502),
        ("unavailable", None, openai.InternalServerError, 503),
        ("unauthorized", None, openai.AuthenticationError, 401),
        ("status", 404, openai.NotFoundError, 404),
        ("status", 400, openai.BadRequestError, 400),
    ]
    for index, (kind, status, exception, code) in enumerate(cases):
        company = f"Fault Company {index}"
        sims.llm.add_fault(FaultRule(kind=kind, status=status, match=company))
        with pytest.raises(exception) as caught:
            llm_client.chat.completions.create(model=MODEL, messages=_messages(company))
        assert caught.value.status_code == code
        assert caught.value.response.headers["x-request-id"]
    assert sims.llm.stats()["by_status"] == {500: 1, 502: 1, 503: 1, 401: 1, 404: 1, 400: 1}


def test_wrong_key_is_401_invalid_api_key(sims: Simulators) -> None:
    client = openai.OpenAI(api_key="sk-not-the-right-key", base_url=sims.llm_url, max_retries=0)
    with pytest.raises(openai.AuthenticationError) as caught:
        client.chat.completions.create(model=MODEL, messages=_messages(HOT[0]))
    assert caught.value.code == "invalid_api_key"
    assert "sk-not-the-right-key" not in caught.value.message
    assert sims.llm.stats()["max_in_flight"] == 0


def test_json_schema_can_be_unsupported(llm_client: openai.OpenAI, sims: Simulators) -> None:
    sims.llm.configure(json_schema_supported=False)
    with pytest.raises(openai.BadRequestError) as caught:
        llm_client.chat.completions.create(
            model=MODEL, messages=_messages(HOT[0]), response_format=schema_format()
        )
    assert caught.value.body == {
        "message": "response_format type json_schema is not supported by this model",
        "type": "invalid_request_error",
        "param": "response_format",
        "code": None,
    }
    ok = llm_client.chat.completions.create(
        model=MODEL, messages=_messages(HOT[0]), response_format={"type": "json_object"}
    )
    assert json.loads(ok.choices[0].message.content)["tier"] == "COLD"  # no sources given


def test_strict_schema_rules_are_enforced(llm_client: openai.OpenAI) -> None:
    loose = {"type": "object", "properties": {"tier": {"type": "string"}}, "required": ["tier"]}
    with pytest.raises(openai.BadRequestError, match="'additionalProperties' is required"):
        llm_client.chat.completions.create(
            model=MODEL,
            messages=_messages(HOT[0]),
            response_format={
                "type": "json_schema",
                "json_schema": {"name": "loose", "schema": loose, "strict": True},
            },
        )


def test_rpm_limit_and_provider_modes(llm_client: openai.OpenAI, sims: Simulators) -> None:
    sims.llm.configure(rpm_limit=2, rpm_retry_after=1)
    for _ in range(2):
        llm_client.chat.completions.create(model=MODEL, messages=_messages(HOT[0]))
    with pytest.raises(openai.RateLimitError) as caught:
        llm_client.chat.completions.create(model=MODEL, messages=_messages(HOT[0]))
    assert caught.value.code == "rate_limit_exceeded"
    assert caught.value.response.headers["retry-after"] == "1"

    sims.llm.configure(mode="crusoe")
    with pytest.raises(openai.RateLimitError) as caught:
        llm_client.chat.completions.create(model=MODEL, messages=_messages(HOT[0]))
    assert "retry-after" not in caught.value.response.headers
    assert "x-ratelimit-limit-requests" not in caught.value.response.headers

    bad = openai.OpenAI(api_key="sk-wrong", base_url=sims.llm_url, max_retries=0)
    with pytest.raises(openai.AuthenticationError) as caught:
        bad.chat.completions.create(model=MODEL, messages=_messages(HOT[0]))
    assert caught.value.body == {"errors": ["Authentication failed"]}

    sims.llm.configure(mode="vllm", rpm_limit=None)
    with pytest.raises(openai.AuthenticationError) as caught:
        bad.chat.completions.create(model=MODEL, messages=_messages(HOT[0]))
    assert caught.value.body == "Unauthorized"
    sims.llm.add_fault(FaultRule(kind="status", status=400, times=1))
    with pytest.raises(openai.BadRequestError) as caught:
        llm_client.chat.completions.create(model=MODEL, messages=_messages(HOT[0]))
    assert caught.value.code == "400"

    sims.llm.configure(mode="ollama", models={"llama3.1:8b"})
    with pytest.raises(openai.NotFoundError, match="try pulling it first"):
        llm_client.chat.completions.create(model=MODEL, messages=_messages(HOT[0]))


def test_hang_drop_and_invalid_json(llm_client: openai.OpenAI, sims: Simulators) -> None:
    sims.llm.add_fault(FaultRule(kind="hang", delay=30, match="Hang Co"))
    sims.llm.add_fault(FaultRule(kind="drop", match="Drop Co"))
    sims.llm.add_fault(FaultRule(kind="invalid_json", match="Garbled Co"))
    started = time.monotonic()
    with pytest.raises(openai.APITimeoutError):
        llm_client.with_options(timeout=0.3).chat.completions.create(
            model=MODEL, messages=_messages("Hang Co")
        )
    assert time.monotonic() - started < 2
    with pytest.raises(openai.APIConnectionError):
        llm_client.chat.completions.create(model=MODEL, messages=_messages("Drop Co"))
    with pytest.raises(json.JSONDecodeError):
        llm_client.chat.completions.create(model=MODEL, messages=_messages("Garbled Co"))
    wait_until(lambda: sims.llm.stats()["in_flight"] == 0)


def test_max_in_flight_is_exact(sims: Simulators) -> None:
    sims.llm.configure(latency={"median": 0.2, "sigma": 0.0, "max": 0.2})

    def ask(i: int) -> str:
        client = openai.OpenAI(api_key=LLM_KEY, base_url=sims.llm_url, max_retries=0)
        with client:
            completion = client.chat.completions.create(
                model=MODEL, messages=_messages(f"Company {i}")
            )
        return completion.choices[0].finish_reason

    with ThreadPoolExecutor(max_workers=4) as pool:
        assert list(pool.map(ask, range(8))) == ["stop"] * 8
    stats = sims.llm.stats()
    assert stats["max_in_flight"] == 4 and stats["in_flight"] == 0 and stats["requests"] == 8


def test_validation_and_max_tokens(llm_client: openai.OpenAI, sims: Simulators) -> None:
    with pytest.raises(openai.BadRequestError, match="messages"):
        llm_client.chat.completions.create(model=MODEL, messages=[])
    short = llm_client.chat.completions.create(
        model=MODEL, messages=_messages(HOT[0]), max_completion_tokens=5
    )
    assert short.choices[0].finish_reason == "length"
    assert len(short.choices[0].message.content) == 20
    raw = httpx.post(
        f"{sims.llm_url}/chat/completions",
        content=b"{not json",
        headers={"Authorization": f"Bearer {LLM_KEY}", "Content-Type": "application/json"},
    )
    assert raw.status_code == 400 and raw.json()["error"]["type"] == "invalid_request_error"


def test_llm_credit_budget_runs_out_as_insufficient_quota(
    llm_client: openai.OpenAI, sims: Simulators
) -> None:
    sims.llm.configure(credits=2)
    for _ in range(2):
        llm_client.chat.completions.create(model=MODEL, messages=_messages(HOT[0]))
    for _ in range(2):  # stays exhausted
        with pytest.raises(openai.RateLimitError) as caught:
            llm_client.chat.completions.create(model=MODEL, messages=_messages(HOT[0]))
        assert caught.value.code == "insufficient_quota"
    assert sims.llm.stats()["credits_used"] == 2
    sims.reset()
    llm_client.chat.completions.create(model=MODEL, messages=_messages(HOT[0]))


def test_token_bucket_limit_states_its_room_in_openai_headers(
    llm_client: openai.OpenAI, sims: Simulators
) -> None:
    # 60 a minute with room for 3: three go through at once, the fourth is refused, and the
    # headers count down what is left of the room, as OpenAI's do.
    sims.llm.configure(rpm_limit=60, rpm_burst=3, rpm_retry_after=None)
    raw = [
        llm_client.chat.completions.with_raw_response.create(
            model=MODEL, messages=_messages(HOT[0])
        )
        for _ in range(3)
    ]
    assert [r.headers["x-ratelimit-remaining-requests"] for r in raw] == ["2", "1", "0"]
    assert raw[0].headers["x-ratelimit-limit-requests"] == "60"
    with pytest.raises(openai.RateLimitError) as caught:
        llm_client.chat.completions.create(model=MODEL, messages=_messages(HOT[0]))
    assert "retry-after" not in caught.value.response.headers
    time.sleep(1.05)  # one token a second
    llm_client.chat.completions.create(model=MODEL, messages=_messages(HOT[0]))

    sims.llm.configure(limit_headers=False)  # a gateway that limits without saying so
    time.sleep(1.05)
    plain = llm_client.chat.completions.with_raw_response.create(
        model=MODEL, messages=_messages(HOT[0])
    )
    assert "x-ratelimit-remaining-requests" not in plain.headers


def test_an_outage_lasts_its_seconds_then_the_provider_answers(
    llm_client: openai.OpenAI, sims: Simulators
) -> None:
    sims.llm.add_fault(FaultRule(kind="unavailable", seconds=0.5))
    for _ in range(3):
        with pytest.raises(openai.InternalServerError):
            llm_client.chat.completions.create(model=MODEL, messages=_messages(HOT[0]))
    time.sleep(0.6)
    llm_client.chat.completions.create(model=MODEL, messages=_messages(HOT[0]))
    assert [e["status"] for e in sims.llm.stats()["log"]] == [503, 503, 503, 200]
