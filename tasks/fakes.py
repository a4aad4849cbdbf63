"""In-process stand-ins for Tavily and the LLM: a queue of answers and a history of calls.

In the style of simonw/llm's `MockModel`: a test queues what the provider will do (a body, a
classification, or an exception to raise), runs the code above the clients, and asserts on
what was asked. Nothing goes over HTTP, so a retry, budget or fatal-error case takes
milliseconds; the wire formats are tested against the loopback simulators instead.

Hand them to a run through `Providers(..., fakes=Fakes(search, classifier))`.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from domain.models import Classification, Usage
from tasks.rate_headers import StatedLimits

Answer = Any  # what a fake gives back, or an exception instance it raises


_NOTHING = object()  # no queued answer left


class _Queue:
    """Answers in order; when they run out, `default(call)` answers (or nothing may)."""

    def __init__(self, answers: list[Answer], default: Callable[[Any], Answer] | None) -> None:
        self._answers: deque[Answer] = deque(answers)
        self._default = default
        self._lock = threading.Lock()
        self.calls: list[Any] = []

    def next(self, call: Any) -> Any:
        with self._lock:
            self.calls.append(call)
            queued = self._answers.popleft() if self._answers else _NOTHING
            n_calls = len(self.calls)
        if queued is not _NOTHING:
            answer = queued
        elif self._default is not None:
            answer = self._default(call)  # outside the lock: it may be slow, as providers are
        else:
            raise AssertionError(f"no answer queued for call {n_calls}: {call!r}")
        if isinstance(answer, BaseException):
            raise answer
        return answer


@dataclass(frozen=True)
class SearchCall:
    """One search the code asked for."""

    query: str
    search_depth: str
    max_results: int
    include_raw_content: bool


class FakeSearchClient:
    """A `SearchClient`: answers searches from a queue of bodies (or exceptions to raise)."""

    def __init__(
        self,
        *answers: Answer,
        default: Callable[[SearchCall], Answer] | None = None,
        stated: StatedLimits | None = None,
    ) -> None:
        self._queue = _Queue(list(answers), default)
        self._stated = stated

    @property
    def calls(self) -> list[SearchCall]:
        """Every search asked for, in order."""
        return list(self._queue.calls)

    def search(
        self, query: str, *, search_depth: str, max_results: int, include_raw_content: bool
    ) -> dict[str, Any]:
        """The next queued answer for this search."""
        call = SearchCall(query, search_depth, max_results, include_raw_content)
        return self._queue.next(call)

    def stated_limits(self) -> StatedLimits | None:
        """The limits the fake states (None unless given)."""
        return self._stated


class FakeClassifier:
    """A `Classifier`: answers from a queue of (Classification, Usage) pairs, bare
    Classifications, or exceptions to raise; `calls` holds every list of messages sent."""

    def __init__(
        self,
        *answers: Answer,
        default: Callable[[list[dict[str, str]]], Answer] | None = None,
        model: str = "fake-model",
        uses_json_schema: bool = True,
    ) -> None:
        self._queue = _Queue(list(answers), default)
        self.model = model
        self._json_schema = uses_json_schema
        self.aborted = False

    @property
    def uses_json_schema(self) -> bool:
        """Whether requests would carry a json_schema (else the prompt holds the schema)."""
        return self._json_schema

    @property
    def calls(self) -> list[list[dict[str, str]]]:
        """Every list of messages sent, in order."""
        return list(self._queue.calls)

    def classify(self, messages: list[dict[str, str]]) -> tuple[Classification, Usage | None]:
        """The next queued answer for these messages."""
        answer = self._queue.next(messages)
        if isinstance(answer, Classification):
            return answer, None
        return answer

    def stated_limits(self) -> StatedLimits | None:
        """A fake states no limits."""
        return None

    def abort(self) -> None:
        """Remember that the run cut its requests."""
        self.aborted = True


@dataclass(eq=False)
class Fakes:
    """The clients a run uses instead of the live ones (compared by identity, so a
    `Providers` holding them stays hashable)."""

    search: FakeSearchClient = field(default_factory=FakeSearchClient)
    classifier: FakeClassifier = field(default_factory=FakeClassifier)
