"""What a run tells the people who own the accounts: one event per company whose tier moved and
one summary per run (pure: builds the events' names, resources and payloads; sends nothing).

A default Prefect server drops events when flooded, so a run never sends one event per company:
only moves (at most MAX_MOVE_EVENTS, most important first) and its summary.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

from domain.changes import TIER_RANK, ResultPair
from domain.columns import owner_column
from domain.costs import cost_line
from domain.passages import readable

TIER_CHANGED = "territory.company.tier-changed"
RUN_COMPLETED = "territory.run.completed"
# Events with the same id are one event to Prefect's triggers: a retried flow run that emits
# its moves again does not post them twice.
_EVENT_IDS = uuid.UUID("6f1c4a52-3b7e-4d0c-9a51-2f6e8d9c0b13")

MAX_MOVE_EVENTS = 100  # a rubric change can move thousands: nobody reads 1,000 messages
MAX_DIGEST_OWNERS = 20  # owners listed in a run's summary
MAX_DIGEST_MOVES = 10  # moves listed per owner
MAX_METADATA_COLUMNS = 30
MAX_TEXT = 300  # characters of any one text in a payload
NO_OWNER = "(no owner)"
# Passthrough columns never copied into an event: a CSV can carry credentials by mistake.
_SECRET_COLUMN = re.compile(r"api[ _-]?key|token|secret|passw|credential", re.IGNORECASE)


@dataclass(frozen=True)
class TierMove:
    """A company whose tier this run changed: its current result and the one before it."""

    current: dict[str, Any]  # company_key, company, tier, score, signals, domain, metadata...
    before: dict[str, Any]

    @property
    def key(self) -> str:
        return str(self.current["company_key"])

    @property
    def steps(self) -> int:
        """Tier steps, positive up (COLD -> HOT is 2)."""
        return TIER_RANK[self.current["tier"]] - TIER_RANK[self.before["tier"]]


def tier_moves(pairs: list[ResultPair], run_id: str) -> tuple[list[TierMove], int]:
    """The moves this run made among (current, before) result pairs, biggest first (then up
    before down, then by score change), and how many companies it classified for the first
    time (those are new, not moves)."""
    moves, new = [], 0
    for current, before in pairs:
        if current.get("run_id") != run_id:
            continue
        if before is None:
            new += 1
        elif before.get("tier") != current.get("tier"):
            moves.append(TierMove(current, before))

    def order(m: TierMove) -> tuple[int, int, int, str]:
        delta = (m.current.get("score") or 0) - (m.before.get("score") or 0)
        return (-abs(m.steps), -m.steps, -abs(delta), str(m.current.get("company")))

    return sorted(moves, key=order), new


def owner_of(metadata: dict[str, Any] | None) -> str:
    """The account's owner from its passthrough columns (see columns.owner_column), or
    NO_OWNER."""
    column = owner_column(metadata or {})
    return (one_line((metadata or {}).get(column)) if column else "") or NO_OWNER


def one_line(text: Any, limit: int = MAX_TEXT) -> str:
    """Text on one line, at most `limit` characters."""
    flat = " ".join(str(text or "").split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def reason_of(reasoning: Any) -> str:
    """The model's reasoning in one line: its first sentence."""
    flat = one_line(reasoning, limit=10_000)
    first = re.split(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(\[])", flat, maxsplit=1)[0]
    return one_line(first)


def move_payload(move: TierMove, territory: str, run_id: str) -> dict[str, Any]:
    """The payload of one tier-changed event: who, what moved, why, and the evidence."""
    current, before = move.current, move.before
    metadata = safe_metadata(current.get("metadata"))
    old_score, new_score = before.get("score"), current.get("score")
    return {
        "territory": territory,
        "company": one_line(current.get("company")),
        "company_key": move.key,
        "domain": current.get("domain") or None,
        "owner": owner_of(metadata),
        "metadata": metadata,
        "old_tier": before["tier"],
        "new_tier": current["tier"],
        "direction": "up" if move.steps > 0 else "down",
        "old_score": old_score,
        "new_score": new_score,
        "score_change": (new_score or 0) - (old_score or 0),
        "confidence": current.get("confidence"),
        "reason": reason_of(current.get("reasoning")),
        "top_signal": top_signal(current, before),
        "unchecked": not current.get("signals"),  # no quote of the new verdict held up
        "run_id": run_id,
    }


def safe_metadata(metadata: dict[str, Any] | None) -> dict[str, str]:
    """The passthrough columns fit for an event: bounded, and none that looks like a secret."""
    out: dict[str, str] = {}
    for name, value in (metadata or {}).items():
        if len(out) >= MAX_METADATA_COLUMNS:
            break
        if not _SECRET_COLUMN.search(str(name)):
            out[one_line(name, 100)] = one_line(value)
    return out


def top_signal(current: dict[str, Any], before: dict[str, Any]) -> dict[str, Any] | None:
    """The evidence to read first: the first signal that is new since the result before (the
    news behind the move), else the verdict's first signal."""
    signals = [s for s in current.get("signals") or [] if isinstance(s, dict)]
    seen = {one_line(s.get("excerpt"), 10_000).lower() for s in before.get("signals") or []}
    fresh = [s for s in signals if one_line(s.get("excerpt"), 10_000).lower() not in seen]
    if not signals:
        return None
    chosen = (fresh or signals)[0]
    return {
        "kind": chosen.get("kind"),
        "excerpt": one_line(readable(chosen.get("excerpt"))),
        "url": chosen.get("url"),
        "published": chosen.get("published"),
    }


def company_resource(payload: dict[str, Any]) -> dict[str, str]:
    """The company as a Prefect resource; its labels are what automations filter on."""
    territory = payload["territory"]
    return {
        "prefect.resource.id": f"territory.company.{territory}.{payload['company_key']}",
        "prefect.resource.name": payload["company"],
        "prefect.resource.role": "company",
        "territory.name": territory,
        "territory.tier": payload["new_tier"],
        "territory.previous-tier": payload["old_tier"],
        "territory.owner": payload["owner"],
    }


def run_resource(run: dict[str, Any]) -> dict[str, str]:
    """The run (its row) as a Prefect resource. `territory.scope` tells a territory's run from
    a one-company lookup, whose summary nobody needs posted."""
    territory, run_id = run["territory"], run["run_id"]
    return {
        "prefect.resource.id": f"territory.run.{run_id}",
        "prefect.resource.name": f"{territory} {run_id[:8]}",
        "prefect.resource.role": "territory-run",
        "territory.name": territory,
        "territory.status": run["status"],
        "territory.scope": "company" if run.get("only_company") else "territory",
    }


def territory_related(territory: str) -> dict[str, str]:
    """The territory, as a related resource of every event about it."""
    return {
        "prefect.resource.id": f"territory.territory.{territory}",
        "prefect.resource.name": territory,
        "prefect.resource.role": "territory",
    }


def move_event_id(payload: dict[str, Any]) -> uuid.UUID:
    return uuid.uuid5(
        _EVENT_IDS, f"{payload['run_id']}/{payload['company_key']}/{payload['new_tier']}"
    )


def summary_event_id(run_id: str, status: str) -> uuid.UUID:
    return uuid.uuid5(_EVENT_IDS, f"{run_id}/summary/{status}")


def summary_payload(
    run: dict[str, Any], moves: list[dict[str, Any]], n_new: int, n_sent: int
) -> dict[str, Any]:
    """The payload of a run's summary event: counts, cost, the moves and a digest per owner.
    `run` is the run's row; `moves` the payloads of every move (sent or not)."""
    counts = {
        name: int(run.get(f"n_{name}") or 0)
        for name in ("companies", "ok", "failed", "ambiguous", "skipped", "hot", "warm", "cold")
    }
    owners, more_owners = owner_digest(moves)
    return {
        "territory": run["territory"],
        "run_id": run["run_id"],
        "status": run["status"],
        "mode": run.get("mode"),
        "rubric": run.get("rubric"),
        "message": one_line(run.get("message")) or None,
        "counts": counts,
        "search_cached": int(run.get("n_search_cached") or 0),
        "cost_usd": round(float(run.get("cost_usd") or 0.0), 4),
        "cost": cost_line(run),
        "elapsed_seconds": run.get("elapsed_seconds"),
        "moves": len(moves),
        "moves_up": sum(1 for m in moves if m["direction"] == "up"),
        "moves_down": sum(1 for m in moves if m["direction"] == "down"),
        "moves_to_hot": sum(1 for m in moves if m["new_tier"] == "HOT"),
        "moves_sent": n_sent,  # tier-changed events sent (MAX_MOVE_EVENTS at most)
        "new": n_new,
        "owners": owners,
        "owners_more": more_owners,
    }


def owner_digest(moves: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    """Each owner's moves, owners with the most moves first (bounded: MAX_DIGEST_OWNERS owners,
    MAX_DIGEST_MOVES moves each); and how many owners were left out."""
    by_owner: dict[str, list[dict[str, Any]]] = {}
    for move in moves:
        by_owner.setdefault(move["owner"], []).append(move)
    ordered = sorted(
        by_owner.items(), key=lambda item: (-len(item[1]), item[0] == NO_OWNER, item[0])
    )
    digest = [
        {
            "owner": owner,
            "moves": [
                {
                    key: m[key]
                    for key in ("company", "old_tier", "new_tier", "old_score", "new_score")
                }
                for m in owned[:MAX_DIGEST_MOVES]
            ],
            "more": max(0, len(owned) - MAX_DIGEST_MOVES),
        }
        for owner, owned in ordered[:MAX_DIGEST_OWNERS]
    ]
    return digest, max(0, len(ordered) - MAX_DIGEST_OWNERS)
