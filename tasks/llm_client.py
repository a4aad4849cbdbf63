"""The LLM seam: classify one company through any OpenAI-compatible chat completions endpoint."""

from __future__ import annotations

import functools
import json
import re
import threading
import typing
from dataclasses import replace
from typing import Any, Protocol, cast

import openai
import pydantic
from openai.lib._parsing._completions import type_to_response_format_param

from domain.errors import (
    FatalProviderError,
    InvalidOutputError,
    PermanentError,
    RateLimitedError,
    TransientError,
    first_problem,
)
from domain.models import Classification, SignalKind, Usage
from domain.rubric import answer_model
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
        self._client = openai.OpenAI(
            api_key=api_key,
            base_url=base_url,
            timeout=timeout,
            max_retries=0,
        )
        self._use_schema = structured_output != "json_object"
        self._may_fall_back = structured_output == "auto"
        self._mode_lock = threading.Lock()
        self._max_tokens = max_output_tokens
        self._last = threading.local()  # per thread: the limits stated on its last response

    def stated_limits(self) -> StatedLimits | None:
        """The x-ratelimit-* limits of this thread's last response (None if it stated none)."""
        return getattr(self._last, "limits", None)

    @property
    def uses_json_schema(self) -> bool:
        """True while requests carry a json_schema response_format (else json_object)."""
        return self._use_schema

    def classify(self, messages: list[dict[str, str]]) -> tuple[Classification, Usage | None]:
        """Send one request; map every failure to our error kinds."""
        use_schema = self._use_schema
        self._last.limits = None
        try:
            if use_schema:
                return self._classify_with_schema(messages)
            return self._classify_with_json_object(messages)
        except openai.BadRequestError as exc:
            if use_schema and self._may_fall_back and _is_response_format_error(exc):
                with self._mode_lock:
                    self._use_schema = False  # this provider lacks json_schema: switch for the run
                raise TransientError(
                    "provider does not support json_schema; retrying with json_object", 0.0
                ) from None
            raise PermanentError(f"LLM 400 bad request: {_message(exc)}") from None
        except openai.AuthenticationError:
            raise FatalProviderError(
                f"the LLM provider rejected the API key (401) at {self.base_url}; check LLM_API_KEY"
            ) from None
        except openai.PermissionDeniedError as exc:
            raise FatalProviderError(
                f"the LLM provider refused access (403): {_message(exc)}"
            ) from None
        except openai.NotFoundError:
            raise FatalProviderError(
                f"model {self.model!r} was not found at {self.base_url}; check LLM_MODEL"
            ) from None
        except openai.RateLimitError as exc:
            self._last.limits = stated_limits(exc.response.headers)
            if exc.code == "insufficient_quota" or _error_type(exc) == "insufficient_quota":
                raise FatalProviderError(
                    "the LLM account is out of quota (429 insufficient_quota); completed work is "
                    "saved, add credit and run again"
                ) from None
            retry_after = retry_after_seconds(exc.response.headers)
            raise RateLimitedError("LLM 429 rate limited", retry_after) from None
        except openai.APITimeoutError:
            raise TransientError("LLM request timed out") from None
        except openai.APIConnectionError:
            raise TransientError("LLM connection failed") from None
        except openai.APIStatusError as exc:
            if exc.status_code in (408, 409) or exc.status_code >= 500:
                retry_after = retry_after_seconds(exc.response.headers)
                raise TransientError(f"LLM HTTP {exc.status_code}", retry_after) from None
            raise PermanentError(f"LLM HTTP {exc.status_code}: {_message(exc)}") from None
        except (json.JSONDecodeError, AttributeError, TypeError):
            # A 200 whose body is not a chat completion (HTML, truncated JSON, a bare string).
            raise TransientError("LLM answered with a body that is not a chat completion") from None

    def _classify_with_schema(
        self, messages: list[dict[str, str]]
    ) -> tuple[Classification, Usage | None]:
        # chat.completions.parse() rebuilds the strict schema from the model on every call
        # (about 5 ms of CPU each); the same response_format, built once, costs nothing.
        return self._complete(messages, _schema_response_format(self.kinds))

    def _classify_with_json_object(
        self, messages: list[dict[str, str]]
    ) -> tuple[Classification, Usage | None]:
        return self._complete(messages, {"type": "json_object"})

    def _complete(
        self, messages: list[dict[str, str]], response_format: dict[str, object]
    ) -> tuple[Classification, Usage | None]:
        # The raw response carries the x-ratelimit-* headers the pacer reads.
        raw = self._client.chat.completions.with_raw_response.create(
            model=self.model,
            # Our plain dicts are what the SDK's TypedDicts describe.
            messages=cast(Any, messages),
            response_format=cast(Any, response_format),
            max_completion_tokens=self._max_tokens,
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
    """Validate a JSON answer against the rubric's kinds, tolerating code fences."""
    fenced = _FENCE.match(content)
    text = fenced.group(1) if fenced else content.strip()
    try:
        answer = answer_model(kinds).model_validate_json(text)
    except pydantic.ValidationError as exc:
        raise InvalidOutputError(
            f"LLM output did not match the schema: {_first(exc)}", 0.0
        ) from None
    return Classification.model_validate(answer.model_dump())


def _usage(usage: object) -> Usage | None:
    if usage is None:
        return None
    return Usage(
        prompt_tokens=getattr(usage, "prompt_tokens", 0) or 0,
        completion_tokens=getattr(usage, "completion_tokens", 0) or 0,
    )


def _first(exc: pydantic.ValidationError) -> str:
    where, what = first_problem(exc, "output")
    return f"{where}: {what}"[:200]


def _message(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return body["message"][:300]
    return str(exc)[:300]


def _error_type(exc: openai.APIStatusError) -> str | None:
    body = exc.body
    return body.get("type") if isinstance(body, dict) else None


def _is_response_format_error(exc: openai.BadRequestError) -> bool:
    text = f"{exc.param or ''} {_message(exc)}".lower()
    return "response_format" in text or "json_schema" in text
