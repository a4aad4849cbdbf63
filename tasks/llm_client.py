"""The LLM seam: classify one company through any OpenAI-compatible chat completions endpoint."""

from __future__ import annotations

import functools
import json
import re
import threading
import typing
from dataclasses import replace
from typing import Any, Protocol
from urllib.parse import urlsplit

import openai
import pydantic
from openai.lib._parsing._completions import type_to_response_format_param

from domain.errors import (
    FatalProviderError,
    InvalidOutputError,
    PermanentError,
    ProviderError,
    RateLimitedError,
    TimedOutError,
    TransientError,
    first_line,
)
from domain.models import CONFIDENCES, TIERS, Classification, SignalKind, Usage
from domain.prompt import answer_schema, with_schema_instruction
from domain.rubric import answer_model
from tasks.abortable import abortable_http_client
from tasks.logs import say
from tasks.rate_headers import StatedLimits, retry_after_seconds, stated_limits

DEFAULT_KINDS: tuple[str, ...] = typing.get_args(SignalKind)
_FENCE = re.compile(r"^\s*```(?:json|JSON)?\s*(.*?)\s*```\s*$", re.DOTALL)


class Classifier(Protocol):
    """Anything that turns chat messages into a validated Classification."""

    model: str

    @property
    def uses_json_schema(self) -> bool:
        """Whether requests carry a json_schema (else the schema goes into the prompt)."""
        ...

    def classify(self, messages: list[dict[str, str]]) -> tuple[Classification, Usage | None]:
        """One classification; raise a ProviderError subclass on failure."""
        ...

    def stated_limits(self) -> StatedLimits | None:
        """The limits the provider stated on this thread's last response, if any."""
        ...

    def abort(self) -> None:
        """Cut the requests in flight (the run is stopping)."""
        ...


class OpenAICompatibleClassifier:
    """Structured-output classification on OpenAI, Crusoe, vLLM or Ollama via the openai client."""

    def __init__(
        self,
        api_key: str,
        base_url: str | None,
        model: str,
        timeout: float,
        structured_output: str = "auto",
        max_output_tokens: int = 1500,
        kinds: tuple[str, ...] = DEFAULT_KINDS,
    ) -> None:
        self.model = model
        self.kinds = kinds  # the rubric's signal kinds: the answer schema allows only these
        self.base_url = base_url or "https://api.openai.com/v1"
        # Our RetryPolicy owns retries (it honours Retry-After and stops on quota errors),
        # so the SDK's own retries are off to avoid multiplying attempts.
        http_client, self._connections = abortable_http_client(timeout)
        self._client = openai.OpenAI(
            api_key=api_key,
            base_url=base_url,
            timeout=timeout,
            max_retries=0,
            http_client=http_client,
        )
        self._use_schema = structured_output != "json_object"
        self._may_fall_back = structured_output == "auto"
        self._schema_answered = False  # a json_schema request has succeeded: never fall back
        self._mode_lock = threading.Lock()
        # OpenAI's own API caps output with max_completion_tokens (and rejects max_tokens for
        # its reasoning models); servers built before the rename (llama.cpp's, older vLLM and
        # Ollama) know only max_tokens and run on to the end of the context without it.
        self._official = _is_openai(self.base_url)
        self._max_tokens = max_output_tokens
        self._last = threading.local()  # per thread: the limits stated on its last response

    def abort(self) -> None:
        """Cut the requests in flight: the run is stopping and will not store their answers."""
        self._connections.abort()

    def stated_limits(self) -> StatedLimits | None:
        """The x-ratelimit-* limits of this thread's last response (None if it stated none)."""
        return getattr(self._last, "limits", None)

    @property
    def uses_json_schema(self) -> bool:
        """True while requests carry a json_schema response_format (else json_object)."""
        return self._use_schema

    def classify(self, messages: list[dict[str, str]]) -> tuple[Classification, Usage | None]:
        """Send one request; map every failure to our error kinds.

        A provider that refuses the json_schema response format (as a 400, a 422 or a 500
        whose body names the format, whatever the status) is asked again at once with
        json_object and the schema in the prompt: once per run, not charged as a retry."""
        self._last.limits = None
        while True:
            use_schema = self._use_schema
            try:
                result = self._complete(messages, use_schema)
            except openai.APIStatusError as exc:
                if use_schema and self._refuses_schema(exc):
                    self._fall_back(exc)
                    continue
                if isinstance(exc, openai.RateLimitError):
                    # A 429 states the limits too: the pacer learns the room from it.
                    self._last.limits = stated_limits(exc.response.headers)
                raise _provider_error(exc, self.model, self.base_url) from None
            except openai.APITimeoutError:
                raise TimedOutError("LLM request timed out") from None
            except openai.APIConnectionError:
                raise TransientError("LLM connection failed") from None
            except (json.JSONDecodeError, AttributeError, TypeError):
                # A 200 whose body is not a chat completion (HTML, truncated JSON, a string).
                raise TransientError(
                    "LLM answered with a body that is not a chat completion"
                ) from None
            if use_schema:
                self._schema_answered = True
            return result

    def _refuses_schema(self, exc: openai.APIStatusError) -> bool:
        """Is this the provider saying it cannot do json_schema (not a failure of the moment)?"""
        if not self._may_fall_back or self._schema_answered:
            return False
        if exc.status_code not in (400, 415, 422, 500, 501):
            return False
        return _names_response_format(exc)

    def _fall_back(self, exc: openai.APIStatusError) -> None:
        with self._mode_lock:
            if not self._use_schema:
                return  # another company's request said it first
            self._use_schema = False  # for the rest of the run
        say(
            f"the LLM server at {self.base_url} does not take a json_schema response format "
            f"(HTTP {exc.status_code}: {_message(exc)[:120]}); using json_object with the "
            "schema in the prompt for the rest of the run"
        )

    def _complete(
        self, messages: list[dict[str, str]], use_schema: bool
    ) -> tuple[Classification, Usage | None]:
        if use_schema:
            # chat.completions.parse() rebuilds the strict schema from the model on every call
            # (about 5 ms of CPU each); the same response_format, built once, costs nothing.
            response_format = _schema_response_format(self.kinds)
        else:
            messages = with_schema_instruction(messages, self.kinds)
            # llama.cpp's server constrains json_object to a schema given alongside it;
            # other servers ignore the extra key. OpenAI's own API is not sent it.
            response_format = (
                {"type": "json_object"}
                if self._official
                else {"type": "json_object", "schema": answer_schema(self.kinds)}
            )
        cap: dict[str, int] = {"max_completion_tokens": self._max_tokens}
        if not self._official:
            cap["max_tokens"] = self._max_tokens
        # The raw response carries the x-ratelimit-* headers the pacer reads. The SDK walks a
        # request's arguments against its TypedDicts before sending them (0.4-0.5 ms of held
        # GIL a request here, a fifth of the client's CPU) to send what our plain dicts already
        # are: given as extra_body, merged in after that walk, the same body goes out, key for
        # key and in the same order (test_a_request_goes_out_as_the_sdks_typed_arguments_...).
        # `messages=[]` only satisfies the SDK's required arguments; extra_body's replaces it.
        # (litellm and hermes-agent send their messages the same way, for the same cost.)
        raw = self._client.chat.completions.with_raw_response.create(
            model=self.model,
            messages=[],
            extra_body={"messages": messages, **cap, "response_format": response_format},
        )
        completion = raw.parse()
        limits = stated_limits(raw.headers)
        if limits is not None:
            usage = getattr(completion, "usage", None)
            self._last.limits = replace(limits, tokens_used=getattr(usage, "total_tokens", None))
        return self._parse_choice(completion, self.kinds)

    @staticmethod
    def _parse_choice(
        completion: object, kinds: tuple[str, ...]
    ) -> tuple[Classification, Usage | None]:
        choice = completion.choices[0]  # type: ignore[attr-defined]
        usage = _usage(completion.usage)  # type: ignore[attr-defined]
        content = choice.message.content
        try:
            if choice.finish_reason == "length":
                raise InvalidOutputError("LLM output was cut off (finish_reason=length)", 0.0)
            if choice.finish_reason == "content_filter":
                raise InvalidOutputError("LLM output was blocked by a content filter", 0.0)
            refusal = getattr(choice.message, "refusal", None)
            if refusal:
                raise InvalidOutputError(f"LLM refused: {refusal[:200]}", 0.0)
            if not content:
                raise InvalidOutputError("LLM returned no classification", 0.0)
            return parse_classification(content, kinds), usage
        except InvalidOutputError as exc:
            # An unusable answer is still billed: keep what it cost for the accounts.
            exc.usage, exc.answer = usage, content or ""
            raise


@functools.cache
def _schema_response_format(kinds: tuple[str, ...]) -> dict[str, object]:
    """The strict json_schema response_format of the rubric's answer, as the SDK builds it."""
    return type_to_response_format_param(answer_model(kinds))  # type: ignore[return-value]


def parse_classification(content: str, kinds: tuple[str, ...] = DEFAULT_KINDS) -> Classification:
    """Validate a JSON answer against the rubric's kinds, tolerating what JSON-constrained
    servers and chatty models emit: code fences, prose around the object, raw newlines inside
    strings, a tier or confidence in another case."""
    data = _json_object(content)
    if data is None:
        raise InvalidOutputError(
            f"LLM output is not a JSON object: {first_line(content, '(empty)')[:80]!r}", 0.0
        )
    try:
        answer = answer_model(kinds).model_validate(_normal_case(data, kinds))
    except pydantic.ValidationError as exc:
        raise InvalidOutputError(
            f"LLM output did not match the schema: {_problems(exc)}", 0.0
        ) from None
    verdict = Classification.model_validate(answer.model_dump())
    reasoning = " ".join(_TEMPLATE_TOKEN.sub(" ", verdict.reasoning).split())
    if len(reasoning.split()) < MIN_REASONING_WORDS:
        raise InvalidOutputError(
            "LLM output did not match the schema: reasoning: must explain the tier in a "
            f"sentence or more, got {verdict.reasoning[:60]!r}",
            0.0,
        )
    return verdict.model_copy(update={"reasoning": reasoning})


# Chat-template tokens a server leaks into the text when the model's template is wrong.
_TEMPLATE_TOKEN = re.compile(
    r"\[/?INST\]|<\|[A-Za-z_]+\|>|</?s>|<(?:start|end)_of_turn>|<\|?im_(?:start|end)\|?>"
)
# Fewer words than this ("", "I think so") explain nothing.
MIN_REASONING_WORDS = 4


_DECODER = json.JSONDecoder(strict=False)  # strict=False: raw control characters in strings


def _json_object(content: str) -> dict[str, Any] | None:
    """The first JSON object in the answer, wherever it starts."""
    fenced = _FENCE.match(content)
    text = fenced.group(1) if fenced else content
    start = text.find("{")
    while start >= 0:
        try:
            value, _ = _DECODER.raw_decode(text, start)
        except json.JSONDecodeError:
            start = text.find("{", start + 1)
            continue
        if isinstance(value, dict):
            return value
        start = text.find("{", start + 1)
    return None


def _normal_case(data: dict[str, Any], kinds: tuple[str, ...]) -> dict[str, Any]:
    """ "hot" is HOT and "High" is high: the case of a closed vocabulary carries no meaning."""
    data = dict(data)
    if isinstance(data.get("tier"), str) and data["tier"].strip().upper() in TIERS:
        data["tier"] = data["tier"].strip().upper()
    if (
        isinstance(data.get("confidence"), str)
        and data["confidence"].strip().lower() in CONFIDENCES
    ):
        data["confidence"] = data["confidence"].strip().lower()
    by_lower = {k.lower(): k for k in kinds}
    if isinstance(data.get("signals"), list):
        data["signals"] = [
            {**s, "kind": by_lower.get(s["kind"].strip().lower(), s["kind"])}
            if isinstance(s, dict) and isinstance(s.get("kind"), str)
            else s
            for s in data["signals"]
        ]
    return data


def _usage(usage: object) -> Usage | None:
    if usage is None:
        return None
    return Usage(
        prompt_tokens=getattr(usage, "prompt_tokens", 0) or 0,
        completion_tokens=getattr(usage, "completion_tokens", 0) or 0,
    )


def _problems(exc: pydantic.ValidationError, most: int = 5) -> str:
    """Every problem of the answer (up to `most`), as the model can be told them."""
    problems = []
    for err in exc.errors()[:most]:
        where = ".".join(str(p) for p in err.get("loc", ())) or "output"
        problems.append(f"{where}: {str(err.get('msg', 'invalid')).removeprefix('Value error, ')}")
    more = len(exc.errors()) - most
    return "; ".join(problems)[:600] + (f" (and {more} more)" if more > 0 else "")


def _message(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return body["message"][:300]
    return str(exc)[:300]


def _error_type(exc: openai.APIStatusError) -> str | None:
    body = exc.body
    return body.get("type") if isinstance(body, dict) else None


def _names_response_format(exc: openai.APIStatusError) -> bool:
    """Does the error's body speak of the response format (the json_schema we sent)?"""
    body = exc.body if isinstance(exc.body, str) else json.dumps(exc.body)
    text = f"{getattr(exc, 'param', '') or ''} {body} {exc.message}".lower()
    return any(
        needle in text
        for needle in ("response_format", "response format", "json_schema", "json_object")
    )


def _is_openai(base_url: str) -> bool:
    host = (urlsplit(base_url).hostname or "").lower()
    return host == "api.openai.com" or host.endswith(".openai.azure.com")


def _provider_error(exc: openai.APIStatusError, model: str, base_url: str) -> ProviderError:
    """Our error kind for an HTTP error from the LLM provider."""
    if isinstance(exc, openai.AuthenticationError):
        return FatalProviderError(
            f"the LLM provider rejected the API key (401) at {base_url}; check LLM_API_KEY"
        )
    if isinstance(exc, openai.PermissionDeniedError):
        return FatalProviderError(f"the LLM provider refused access (403): {_message(exc)}")
    if isinstance(exc, openai.NotFoundError):
        return FatalProviderError(f"model {model!r} was not found at {base_url}; check LLM_MODEL")
    if isinstance(exc, openai.RateLimitError):
        if exc.code == "insufficient_quota" or _error_type(exc) == "insufficient_quota":
            return FatalProviderError(
                "the LLM account is out of quota (429 insufficient_quota); completed work is "
                "saved, add credit and run again"
            )
        return RateLimitedError("LLM 429 rate limited", retry_after_seconds(exc.response.headers))
    if isinstance(exc, openai.BadRequestError):
        return PermanentError(f"LLM 400 bad request: {_message(exc)}")
    if exc.status_code in (408, 409) or exc.status_code >= 500:
        return TransientError(
            f"LLM HTTP {exc.status_code}", retry_after_seconds(exc.response.headers)
        )
    return PermanentError(f"LLM HTTP {exc.status_code}: {_message(exc)}")
