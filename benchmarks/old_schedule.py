"""The old in-house batcher's schedule, re-implemented for comparison on the same simulators.

What the old app did: every Tavily search first (advanced, 20 results, raw content, results
under relevance 0.4 dropped) with 100 in flight, then one LLM call per company in consecutive
batches of 50, each batch waiting for its slowest call before the next one starts. It used
asyncio with the providers' async clients; so does this. It sends the same prompt the flow
sends, so both schedules do the same work. Usage:

    python -m benchmarks.old_schedule COMPANIES.csv OUT.json   (keys and URLs from the env)
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from datetime import UTC, datetime

from openai import AsyncOpenAI
from tavily import AsyncTavilyClient

from domain.accounts import read_accounts
from domain.context import build_sources, select_pages
from domain.models import Classification, SearchRequest
from domain.prompt import build_messages
from domain.rubric import load_rubric
from flows.settings import DEFAULT_QUERY_TEMPLATE as QUERY
from tasks.search import build_query, to_outcome

SEARCHES_IN_FLIGHT = 100
LLM_BATCH = 50
MIN_SCORE = 0.4
CONTEXT_CHARS = 60_000
RUBRIC = load_rubric()  # the same prompt as the flow sends, so only the schedule differs


async def _run(csv_path: str) -> dict[str, object]:
    accounts = read_accounts(csv_path).accounts
    tavily = AsyncTavilyClient(
        api_key=os.environ["TAVILY_API_KEY"], api_base_url=os.environ["TAVILY_BASE_URL"]
    )
    llm = AsyncOpenAI(
        api_key=os.environ["LLM_API_KEY"], base_url=os.environ["LLM_BASE_URL"], timeout=120
    )
    model = os.environ.get("LLM_MODEL", "simulated-model")
    gate = asyncio.Semaphore(SEARCHES_IN_FLIGHT)

    async def search(account):
        query = build_query(QUERY, account.name, account.domain)
        async with gate:
            body = await tavily.search(
                query, search_depth="advanced", max_results=20, include_raw_content=True
            )
        request = SearchRequest(
            company_key=account.key, endpoint="old", name=account.name, domain=account.domain,
            query=query, search_depth="advanced", max_results=20,
        )  # fmt: skip
        return to_outcome(request, body, CONTEXT_CHARS)

    async def classify(account, outcome) -> str:
        sources = build_sources(select_pages(outcome.pages, MIN_SCORE), CONTEXT_CHARS)
        messages = build_messages(RUBRIC, account.name, account.domain, sources, False)
        reply = await llm.chat.completions.parse(
            model=model, messages=messages, response_format=Classification
        )
        return reply.choices[0].message.parsed.tier

    started = time.monotonic()
    searched = await asyncio.gather(*(search(a) for a in accounts), return_exceptions=True)
    search_done = time.monotonic() - started
    tiers: list[str | None] = []
    for i in range(0, len(accounts), LLM_BATCH):
        pairs = zip(accounts[i : i + LLM_BATCH], searched[i : i + LLM_BATCH], strict=True)
        batch = [classify(a, o) for a, o in pairs if not isinstance(o, BaseException)]
        tiers.extend(await asyncio.gather(*batch, return_exceptions=True))
    elapsed = time.monotonic() - started
    ok = sum(isinstance(t, str) for t in tiers)
    return {
        "finished_at": datetime.now(UTC).isoformat(),
        "companies": len(accounts),
        "classified": ok,
        "search_seconds": round(search_done, 2),
        "elapsed_seconds": round(elapsed, 2),
    }


def main() -> int:
    """Run the old schedule over a CSV and write its timings as JSON."""
    result = asyncio.run(_run(sys.argv[1]))
    with open(sys.argv[2], "w") as fh:
        json.dump(result, fh)
    return 0


if __name__ == "__main__":
    sys.exit(main())
