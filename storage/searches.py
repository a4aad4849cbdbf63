"""Searches: the raw Tavily results, kept as the search cache and the input of re-scoring."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import duckdb

from domain.models import SearchOutcome, SearchPage, SearchRequest
from domain.refresh import Standing
from storage.body_index import BodyIndex
from storage.pages import read_pages, save_pages
from storage.sql import (
    INSERT_BATCH_ROWS,
    Session,
    connected,
    insert_rows,
    searches_in,
    transaction,
)

_SEARCH_COLUMNS = (
    "search_key, fetched_at, company_key, query, parameters, request_id, response_time, "
    "n_pages, run_id, credits, cost_usd"
)


class SearchesMixin(Session):
    """The `searches` and `search_pages` tables."""

    bodies: BodyIndex  # where page_bodies holds each text, kept between sessions

    @connected
    def save_searches(
        self,
        outcomes: Iterable[SearchOutcome],
        run_id: str | None = None,
        usd_per_credit: float = 0,
    ) -> None:
        """Keep fresh raw search results (the search cache, and the input of re-scoring), with
        the run that paid for them and what they cost."""
        outcomes = list(outcomes)
        if not outcomes:
            return
        keys = [o.request.cache_key for o in outcomes]  # a hash of each request: computed once
        rows: list[list[Any]] = []
        for key, o in zip(keys, outcomes, strict=True):
            r = o.request
            params = {
                "search_depth": r.search_depth,
                "max_results": r.max_results,
                "include_raw_content": r.include_raw_content,
                "endpoint": r.endpoint,
                "domain": r.domain,
            }
            rows.append(
                [
                    key,
                    o.fetched_at,
                    r.company_key,
                    r.query,
                    json.dumps(params),
                    o.request_id,
                    o.response_time,
                    len(o.pages),
                    run_id,
                    o.credits,
                    None if o.credits is None else o.credits * usd_per_credit,
                ]
            )
        with transaction(self.conn):
            fresh = sorted(_firsts(rows) - _stored_before(self.conn, rows))
            insert_rows(
                self.conn, f"INSERT INTO searches ({_SEARCH_COLUMNS})", [rows[i] for i in fresh]
            )
            # A search stored before (a retried chunk) has its pages stored with it already;
            # search_pages has no key of its own to refuse them twice (see SEARCH_PAGES_TABLE).
            stored = [(keys[i], outcomes[i]) for i in fresh]
            new = save_pages(self.conn, _pages_of(stored), self.bodies)
        self.bodies.add(new)  # committed: from now on these texts are stored

    @connected
    def cached_searches(
        self, requests: list[SearchRequest], fresh_after: datetime | Mapping[str, datetime]
    ) -> dict[str, SearchOutcome]:
        """The newest stored search per request fetched after `fresh_after` (one time for all,
        or one per company key, as refresh by tier gives), by company key."""
        if not requests:
            return {}
        by_key = {r.cache_key: r for r in requests}
        afters = [
            fresh_after if isinstance(fresh_after, datetime) else fresh_after[r.company_key]
            for r in requests
        ]
        heads = self.conn.execute(
            "SELECT s.search_key, max(s.fetched_at) FROM searches s JOIN (SELECT "
            "unnest(?::VARCHAR[]) AS search_key, unnest(?::TIMESTAMPTZ[]) AS after) w "
            "USING (search_key) WHERE s.fetched_at > w.after GROUP BY s.search_key",
            [[r.cache_key for r in requests], afters],
        ).fetchall()
        return self._outcomes(heads, by_key)

    @connected
    def standings(self, territory: str, requests: list[SearchRequest]) -> dict[str, Standing]:
        """Per company of `requests`: its latest result in the territory (status, the verdict
        in force (an override first), rubric, model, the search it was judged on) and the
        newest stored search for its request, whatever its age: what the refresh rule decides
        on (domain/refresh.py)."""
        if not requests:
            return {}
        rows = self.conn.execute(
            """
            WITH wanted AS (
              SELECT unnest(?::VARCHAR[]) AS company_key, unnest(?::VARCHAR[]) AS search_key
            ), newest AS (
              SELECT search_key, max(fetched_at) AS fetched_at
              FROM searches JOIN wanted USING (search_key) GROUP BY search_key
            )
            SELECT w.company_key, r.status, r.tier, r.confidence, r.rubric, r.model,
                   r.search_key, r.search_fetched_at, n.fetched_at
            FROM wanted w
            -- the verdict in force: a reviewer's override of the tier paces its refresh too
            LEFT JOIN effective_results r ON r.territory = ? AND r.company_key = w.company_key
            LEFT JOIN newest n ON n.search_key = w.search_key
            """,
            [[r.company_key for r in requests], [r.cache_key for r in requests], territory],
        ).fetchall()
        return {
            key: Standing(status, tier, confidence, rubric, model, judged_on, judged_at, newest)
            for key, status, tier, confidence, rubric, model, judged_on, judged_at, newest in rows
        }

    @connected
    def search_refs(self, territory: str) -> dict[str, tuple[str, datetime]]:
        """The search each company's latest result was judged on: (search_key, fetched_at)."""
        rows = self.conn.execute(
            "SELECT company_key, search_key, search_fetched_at FROM company_results "
            "WHERE territory = ? AND search_key IS NOT NULL",
            [territory],
        ).fetchall()
        return {k: (key, at) for k, key, at in rows}

    @connected
    def stored_searches(self, refs: dict[str, tuple[str, datetime]]) -> dict[str, SearchOutcome]:
        """Those exact stored searches, whatever their age (re-scoring reads them), by company."""
        return self._outcomes(list(dict.fromkeys(refs.values())), None)

    def _outcomes(
        self, heads: list[tuple[str, datetime]], requests: dict[str, SearchRequest] | None
    ) -> dict[str, SearchOutcome]:
        """Searches and their pages for (search_key, fetched_at) pairs, by company key.

        Without `requests`, each search's request is rebuilt from what was stored with it.
        """
        assert self.conn is not None
        if not heads:
            return {}
        where, values = searches_in(heads)
        meta = {
            (k, t): (company, query, params, rid, rt)
            for k, t, company, query, params, rid, rt in self.conn.execute(
                "SELECT search_key, fetched_at, company_key, query, parameters, request_id, "
                f"response_time FROM searches WHERE {where}",
                values,
            ).fetchall()
        }
        pages: dict[tuple[str, datetime], list[SearchPage]] = {key: [] for key in meta}
        for k, t, url, title, score, content, raw in read_pages(self.conn, heads, self.bodies):
            pages[(k, t)].append(
                SearchPage(
                    url=url,
                    title=title or "",
                    score=score or 0.0,
                    content=content or "",
                    raw_content=raw,
                )
            )
        found = {}
        for (key, fetched_at), (company, query, params, request_id, rt) in meta.items():
            request = (
                requests[key] if requests is not None else _stored_request(company, query, params)
            )
            found[request.company_key] = SearchOutcome(
                request=request,
                fetched_at=fetched_at,
                pages=pages[(key, fetched_at)],
                response_time=rt,
                request_id=request_id,
            )
        return found


def _stored_request(
    company_key: str, query: str, parameters: str | dict[str, Any]
) -> SearchRequest:
    """The request a stored search answered, rebuilt from its row (the name is not stored)."""
    params = json.loads(parameters) if isinstance(parameters, str) else parameters
    return SearchRequest(
        company_key=company_key,
        name=company_key,
        domain=params.get("domain"),
        endpoint=params.get("endpoint") or "https://api.tavily.com",
        query=query,
        search_depth=params.get("search_depth", "advanced"),
        max_results=params.get("max_results", 20),
        include_raw_content=params.get("include_raw_content", True),
    )


def _firsts(rows: list[list[Any]]) -> set[int]:
    """The place of each search's first row: searches has no key to refuse a second, and a
    batch may name a search twice (handed over by the feed, then with its chunk's end)."""
    first: dict[tuple[Any, Any], int] = {}
    for i, row in enumerate(rows):
        first.setdefault((row[0], row[1]), i)
    return set(first.values())


def _stored_before(conn: duckdb.DuckDBPyConnection, rows: list[list[Any]]) -> set[int]:
    """The places of the rows whose search (key and time) searches holds already. A join,
    not a key: DuckDB skips the row groups outside the rows' times (fetched_at's min and
    max), so a session reads the few row groups of recent searches, not the table. The time
    is compared as the INSERT would store it (a naive one as wall time in the session's zone).
    """
    held: set[int] = set()
    for start in range(0, len(rows), INSERT_BATCH_ROWS):
        part = rows[start : start + INSERT_BATCH_ROWS]
        marks = ", ".join(["(?, ?, ?)"] * len(part))
        found = conn.execute(
            f"SELECT v.i FROM (VALUES {marks}) v(i, k, t) "
            "JOIN searches s ON s.search_key = v.k AND s.fetched_at = v.t",
            [value for i, row in enumerate(part, start) for value in (i, row[0], row[1])],
        ).fetchall()
        held.update(i for (i,) in found)
    return held


def _pages_of(outcomes: list[tuple[str, SearchOutcome]]) -> list[list[Any]]:
    """The outcomes' pages (each with its search's key) as save_pages takes them."""
    return [
        [key, o.fetched_at, i, p.url, p.title, p.score, p.content, p.raw_content]
        for key, o in outcomes
        for i, p in enumerate(o.pages)
    ]
