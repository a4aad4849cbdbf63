"""The classification task: one chunk of companies, their LLM calls running concurrently."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from domain.account_metadata import Metadata
from domain.accounts import Account
from domain.context import Focus, SourceBlock, build_sources, select_pages
from domain.costs import Prices, Spend, load_prices
from domain.entities import EntityCheck, sort_out
from domain.errors import (
    FatalProviderError,
    InvalidOutputError,
    PermanentError,
    ProviderError,
    TimedOutError,
)
from domain.evidence import check_signals, judge
from domain.models import Classification, CompanyResult, SearchOutcome, Usage
from domain.prompt import build_messages
from domain.rubric import Rubric
from tasks.chunk_outcome import ChunkOutcome, ResultFeed
from tasks.cpu_turn import cpu_turn
from tasks.handoff import Handoff
from tasks.llm_client import Classifier
from tasks.pacing import paced_call
from tasks.phase_clock import CLASSIFY_TASK_PHASES, PhaseClock
from tasks.providers import Providers
from tasks.retry import RetryPolicy
from tasks.schema_watch import SchemaWatch
from tasks.slots import Slots, Stopped, StopSignal, map_in_threads, priority


@dataclass
class ChunkItem:
    """One company of a chunk with its search outcome (or why the search failed)."""

    company_key: str
    name: str
    domain: str | None
    metadata: dict[str, str]
    outcome: SearchOutcome | None = None
    search_error: str | None = None
    search_cached: bool = False

    @classmethod
    def of(cls, account: Account) -> ChunkItem:
        metadata = Metadata.of(account.metadata).to_dict()  # unpacked once, as results take it
        return cls(account.key, account.name, account.domain, metadata)

    def drop_pages(self) -> None:
        """Let go of the pages once classified: the chunk stays open for its slowest company
        and would hold every finished company's pages (about 100 KB each) until then."""
        if self.outcome is not None and self.outcome.pages:
            self.outcome = self.outcome.model_copy(update={"pages": []})

    def result(self, **fields: Any) -> CompanyResult:
        """This company's result: who it is, and `fields` (status, error, verdict...)."""
        return CompanyResult(
            company_key=self.company_key,
            name=self.name,
            domain=self.domain,
            metadata=self.metadata,
            **fields,
        )


@dataclass
class ChunkWork:
    """Everything a classification task needs for one chunk."""

    index: int
    items: list[ChunkItem]
    # Some company of the run has been classified: the model can fill the schema, so answers
    # that do not fit are the model's bad moments, not a model that cannot do the job.
    answers_proven: bool = False
    # Threads only: each company's search arrives here as it ends (the chunk's search task
    # runs alongside); None: every company's search had ended before the chunk was submitted.
    handoff: Handoff | None = None


@dataclass(frozen=True)
class ClassifyOptions:
    """The knobs of classification that come from settings."""

    min_score: float
    context_max_chars: int
    rubric: Rubric
    today: date  # recency of dated evidence is judged against it
    trim: bool = True  # cut pages to the passages around the rubric's signals (CONTEXT_TRIM)
    prices: Prices = field(default_factory=load_prices)


@task(name="classify-chunk", task_run_name="classify chunk {chunk.index}", cache_policy=NO_CACHE)
def classify_chunk(
    chunk: ChunkWork,
    providers: Providers,
    llm_slots: Slots,
    stop: StopSignal,
    options: ClassifyOptions,
    feed: ResultFeed | None = None,
) -> ChunkOutcome:
    """Classify one chunk of companies with the LLM, each company on its own."""
    fatal: list[str] = []
    handed_over: dict[str, str] = {}
    classifier, pace = providers.classifier(), providers.llm_pace()
    watch = SchemaWatch(classifier.model, active=not chunk.answers_proven)
    clock = PhaseClock()

    def send(messages: list[dict[str, str]], retry: bool) -> tuple[Classification, Usage | None]:
        return paced_call(
            lambda: classifier.classify(messages),
            llm_slots,
            pace,
            stop,
            classifier.stated_limits,
            retry,
        )

    def classify_one(item: ChunkItem) -> CompanyResult | None:
        if chunk.handoff is not None and not _searched(item, chunk.handoff, stop):
            return None  # never searched (or stopping): left for a later run
        if stop.is_set():
            return None
        try:
            result = classify_item(
                item, classifier, send, providers.policy, options, stop, pace.outage, watch, clock
            )
        except FatalProviderError as exc:
            fatal.append(str(exc))
            stop.set()  # tell the other companies, chunks and the flow to stop sending
            return None
        except Stopped:
            return None
        item.drop_pages()
        if feed is not None:
            feed.put(result)  # stored as it finishes: a cancel or a crash loses in-flight only
            handed_over[item.company_key] = result.status
        if watch.verdict is not None and not stop.is_set():
            fatal.append(watch.verdict)  # the model cannot do it: stop paying for answers
            stop.set()
        return result

    # A thread per company, like the searches: the shared slots cap what is in flight, and
    # every company of the chunk waits in line at its priority, so the oldest chunk goes first.
    with priority(chunk.index):  # the oldest chunk's companies get LLM slots first
        outcomes = map_in_threads(classify_one, chunk.items, "llm")

    # The flow logs the one line per chunk once the chunk is stored.
    results = [r for r in outcomes if r is not None and r.company_key not in handed_over]
    unprocessed = [i.company_key for i, r in zip(chunk.items, outcomes, strict=True) if r is None]
    phases, reason = clock.seconds(CLASSIFY_TASK_PHASES), (fatal[0] if fatal else None)
    return ChunkOutcome(chunk.index, results, unprocessed, reason, phases, handed_over)


def _searched(item: ChunkItem, handoff: Handoff, stop: StopSignal) -> bool:
    """Wait for the company's search to end, and take its pages or its error."""
    searched = handoff.wait(item.company_key, stop)
    if isinstance(searched, bool):
        return searched
    item.outcome, item.search_error = searched.outcome, searched.error
    return True


def classify_item(
    item: ChunkItem,
    classifier: Classifier,
    send: Callable[[list[dict[str, str]], bool], tuple[Classification, Usage | None]],
    policy: RetryPolicy,
    options: ClassifyOptions,
    stop: StopSignal,
    outage: Callable[[], float] = lambda: 0.0,
    watch: SchemaWatch | None = None,
    clock: PhaseClock | None = None,
) -> CompanyResult:
    """One company: sort out its evidence, ask the LLM (with retries), keep what holds up."""
    rubric, clock = options.rubric, clock or PhaseClock()
    base: dict[str, Any] = dict(search_cached=item.search_cached, rubric=rubric.label)
    if item.outcome is None:
        return item.result(**base, status="failed", error=f"search failed: {item.search_error}")
    base |= dict(
        search_key=item.outcome.request.cache_key, search_fetched_at=item.outcome.fetched_at
    )
    with cpu_turn(), clock.timing("trim"):  # see tasks.cpu_turn
        entities, sources, early = _evidence(item, options, base)
    if early is not None:
        return early
    with clock.timing("classify"):  # the prompt, the calls with their retries, the answers
        ask = _Asking(item, classifier, send, sources, rubric, watch)
        try:
            verdict, _ = policy.call(ask, should_stop=stop.is_set, outage=outage)
        except FatalProviderError:
            raise
        except ProviderError as exc:
            if stop.is_set():
                raise Stopped from exc  # cut short by the run stopping: left for the next run
            return item.result(
                **base,
                status="failed",
                error=str(exc),
                model=classifier.model,
                evidence=ask.last.kept(),
                **_costs(ask.spend, item, classifier.model, options),
            )
    with cpu_turn(), clock.timing("evidence"):
        # A signal must quote a page the model was shown, verbatim; anything else is dropped.
        read = [p for p in entities.kept if p.url in {s.url for s in sources}]
        checked = check_signals(verdict.signals, read, {s.url for s in sources})
        judged, summary = judge(verdict, checked, read, rubric, options.today, entities.set_aside)
    return item.result(
        **base,
        status="ok",
        classification=judged,
        model=classifier.model,
        signals_dropped=checked.dropped,
        evidence=summary,
        **_costs(ask.spend, item, classifier.model, options),
    )


class _Asking:
    """One company's attempts at the LLM: each bills its tokens, a retry after an answer
    that did not fit says what was wrong, and the run's schema watch sees every answer."""

    def __init__(
        self,
        item: ChunkItem,
        classifier: Classifier,
        send: Callable[[list[dict[str, str]], bool], tuple[Classification, Usage | None]],
        sources: list[SourceBlock],
        rubric: Rubric,
        watch: SchemaWatch | None,
    ) -> None:
        self.item, self.classifier, self.send = item, classifier, send
        self.sources, self.rubric, self.watch = sources, rubric, watch
        self.spend, self.last = Spend(), _LastAnswer()
        self.attempts = 0
        self.messages = build_messages(
            rubric, item.name, item.domain, sources, include_schema=False
        )

    def __call__(self) -> tuple[Classification, Usage | None]:
        item = self.item
        # The client spells the schema out itself when it cannot send it as a response format.
        messages = self.messages + self.last.feedback()  # what was wrong with the last answer
        prompt = "\n".join(m["content"] for m in messages)
        self.attempts += 1
        try:
            verdict, usage = self.send(messages, self.attempts > 1)  # (messages, a retry?)
        except InvalidOutputError as exc:
            self.spend.add(exc.usage, prompt, exc.answer)  # unusable, and billed all the same
            self.last.failed(exc)
            if self.watch is not None and self.watch.unusable(item.company_key, str(exc)):
                raise PermanentError(str(exc)) from exc  # no more attempts: the run stops
            raise
        except TimedOutError:
            # The provider read the prompt and may have answered: it bills for that.
            self.spend.add(None, prompt, "")
            raise
        self.spend.add(usage, prompt, verdict.model_dump_json())
        if self.watch is not None:
            self.watch.answered()
        return verdict, usage


# What of a failed answer is kept with the error, and sent back to the model with a retry.
ANSWER_KEPT_CHARS = 2_000


class _LastAnswer:
    """The last answer that did not fit, and why: shown to the model on the next attempt
    (a near-deterministic model would give the same answer to the same prompt) and kept
    with the company's error so that someone can see what went wrong."""

    def __init__(self) -> None:
        self.answer: str | None = None
        self.problem = ""

    def failed(self, exc: InvalidOutputError) -> None:
        self.answer, self.problem = exc.answer or "", str(exc)

    def feedback(self) -> list[dict[str, str]]:
        if self.answer is None:
            return []
        said = self.answer[:ANSWER_KEPT_CHARS] or "(no answer)"
        return [
            {"role": "assistant", "content": said},
            {
                "role": "user",
                "content": f"That answer could not be used: {self.problem}. Answer again with "
                "one JSON object that matches the schema exactly, quoting the sources verbatim.",
            },
        ]

    def kept(self) -> dict[str, object] | None:
        if self.answer is None:
            return None
        return {"last_answer": self.answer[:ANSWER_KEPT_CHARS], "answer_problem": self.problem}


def _evidence(
    item: ChunkItem, options: ClassifyOptions, base: dict[str, Any]
) -> tuple[EntityCheck, list[SourceBlock], CompanyResult | None]:
    """The pages to show the LLM; or, when there is nothing to ask about (a name shared by
    several organisations, no relevant page), the company's result without asking."""
    assert item.outcome is not None
    rubric = options.rubric
    relevant = select_pages(item.outcome.pages, options.min_score)
    entities = sort_out(item.name, item.domain, relevant)
    if entities.rivals:
        # Several organisations answer to this name: guessing would score the wrong one.
        named = ", ".join(f"{d} ({n} pages)" for d, n in entities.rivals[:4])
        return (
            entities,
            [],
            item.result(
                **base,
                status="ambiguous",
                error=f"the results are about {len(entities.rivals)} organisations named "
                f"{item.name!r}: {named}; give its domain to choose",
                evidence={"pages_read": len(relevant), "organisations": entities.rivals[:4]},
            ),
        )
    focus = Focus(item.name, rubric.keywords, item.domain) if options.trim else None
    sources = build_sources(entities.kept, options.context_max_chars, focus)
    if not sources:
        # Nothing relevant to judge: say what was searched rather than pay for a guess.
        returned = len(item.outcome.pages)
        verdict = Classification(
            tier="COLD",
            score=0,
            confidence="low",
            signals=[],
            reasoning=f"Searched: {returned} result{'s' if returned != 1 else ''}, none at or "
            f"above relevance {options.min_score:g}"
            + (f" about {item.domain}" if entities.set_aside else "")
            + f"; no {rubric.absence} signal was found.",
        )
        summary = {
            "pages_read": 0,
            "domains_read": 0,
            "sources": 0,
            "set_aside": entities.set_aside,
        }
        return (
            entities,
            sources,
            item.result(**base, status="ok", classification=verdict, evidence=summary),
        )

    return entities, sources, None


def _costs(spend: Spend, item: ChunkItem, model: str, options: ClassifyOptions) -> dict:
    """Tokens every call used (failed ones too), and the money for them and the search."""
    credits = search_credits(item.outcome, options.prices) if not item.search_cached else 0.0
    llm = options.prices.llm_usd(model, spend.prompt_tokens, spend.completion_tokens)
    return {
        "usage": Usage(prompt_tokens=spend.prompt_tokens, completion_tokens=spend.completion_tokens)
        if spend.calls
        else None,
        "tokens_estimated": spend.estimated,
        "tavily_credits": credits,
        "llm_cost_usd": llm,
        "cost_usd": None if llm is None else llm + options.prices.tavily_usd(credits),
    }


def search_credits(outcome: SearchOutcome | None, prices: Prices) -> float:
    """What a search cost in credits: as Tavily reported, else the price of its depth."""
    if outcome is None:
        return 0.0
    if outcome.credits is not None:
        return outcome.credits
    return prices.search_credits(outcome.request.search_depth)
