"""Reviewers' overrides as requests, the companies worth a human look, and the review file's
rows (pure functions; reading the file is the only I/O, as for the accounts file)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from domain.accounts import InputError, read_accounts
from domain.models import TIERS
from domain.names import normalize_name
from domain.verdicts import OverrideAction

# What the review file adds to a company's row: the reviewer fills these in.
REVIEW_COLUMNS = ("review_tier", "review_score", "review_reason", "review_by")
CLEAR = "CLEAR"  # in review_tier: end the override in force
# A CSV cell starting with one of these was written with a leading quote (export.py), so a
# spreadsheet shows it as text; reading it back takes the quote off again.
_DEFUSED = ("'=", "'+", "'-", "'@")


@dataclass(frozen=True)
class OverrideRequest:
    """One override to record (or clear) for a company named as the user wrote it."""

    company: str
    action: OverrideAction
    tier: str | None = None
    score: int | None = None
    reason: str | None = None
    by: str = ""
    where: str = ""  # where the request came from, for messages ("review.csv line 7")
    territory: str | None = None

    @property
    def key(self) -> str:
        """The company's key, as results are stored under it."""
        return normalize_name(self.company)


def check_score(value: str | int | None) -> int | None:
    """A reviewer's score: empty, or a whole number from 0 to 100."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        score = int(str(value).strip())
    except ValueError:
        raise ValueError(f"score {str(value)!r} is not a whole number from 0 to 100") from None
    if not 0 <= score <= 100:
        raise ValueError(f"score {score} is not from 0 to 100")
    return score


def review_reasons(row: Mapping[str, Any], previous_tier: str | None) -> list[str]:
    """Why a company (an effective result row) is worth a human look; empty when it is not.

    Not yet overridden: failed, ambiguous namesakes, low confidence, or a tier that moved since
    its previous result. Overridden: only when the model's tier has changed since the override
    was made and disagrees with it (a standing disagreement was already looked at).
    """
    status, model_tier = row.get("status"), row.get("model_tier")
    if row.get("overridden"):
        if row.get("override_disputed") and model_tier != row.get("override_model_tier"):
            return [f"the model now says {model_tier}, the override {row.get('override_tier')}"]
        return []
    if status == "failed":
        return ["failed"]
    if status == "ambiguous":
        return ["ambiguous: several organisations of this name"]
    if status != "ok":
        return []
    reasons = []
    if row.get("model_confidence") == "low":
        reasons.append("low confidence")
    if previous_tier is not None and previous_tier != model_tier:
        reasons.append(f"tier moved {previous_tier} -> {model_tier}")
    return reasons


@dataclass(frozen=True)
class ReviewFile:
    """A filled-in review file: its territory, the overrides asked for, its rows."""

    name: str
    territory: str
    requests: list[OverrideRequest]
    n_rows: int

    @property
    def source(self) -> str:
        """Where the overrides came from, as their rows record it."""
        return f"review:{self.name}"

    def describe(self, stored: Sequence[Mapping[str, Any]]) -> str:
        """One line: how many overrides were applied, cleared, and left blank."""
        set_ = sum(r["action"] == "set" for r in stored)
        cleared = len(stored) - set_
        idle = sum(r.action == "clear" for r in self.requests) - cleared
        parts = [f"{len(stored)} applied to {self.territory!r} from {self.name}"]
        parts.append(f"({set_} set, {cleared} cleared)")
        if idle:
            parts.append(f"{idle} clear{'s' if idle > 1 else ''} with no override in force")
        blank = self.n_rows - len(self.requests)
        parts.append(f"{blank} row{'s' if blank != 1 else ''} left blank")
        return " ".join(parts[:2]) + "; " + "; ".join(parts[2:])


def read_review(path: str | os.PathLike, territory: str | None, by: str) -> ReviewFile:
    """The overrides a filled-in review file asks for (rows with a reviewer column filled in).

    Every row is checked first; the first bad one is an InputError naming its line, and then
    nothing is to be applied. `territory` stands in for rows without a territory column and
    must match the rows that have one; `by` for rows without review_by. One territory a file.
    """
    parsed = read_accounts(path)
    name = os.path.basename(path)
    requests: list[OverrideRequest] = []
    problems: list[str] = []
    for account in parsed.accounts:
        where = f"{name} line {account.rows[0]} ({account.name})"
        try:
            request = review_request(account.name, account.metadata, territory, by, where)
        except ValueError as exc:
            problems.append(f"{where}: {exc}")
            continue
        if request is not None:
            requests.append(request)
    if problems:
        more = f" (and {len(problems) - 1} more bad rows)" if len(problems) > 1 else ""
        raise InputError(f"{problems[0]}{more}; nothing applied")
    territories = sorted({str(r.territory) for r in requests})
    if len(territories) > 1:
        raise InputError(
            f"{name}: rows of several territories ({', '.join(territories)}); "
            "import one territory's rows at a time; nothing applied"
        )
    chosen = territories[0] if territories else territory or ""
    return ReviewFile(name, chosen, requests, len(parsed.accounts))


def review_request(
    company: str, cells: Mapping[str, str], territory: str | None, by: str, where: str = ""
) -> OverrideRequest | None:
    """One review row as a request (None: the reviewer left it blank); ValueError if bad."""
    values = {_column(k): (v or "").strip() for k, v in cells.items()}
    filled = {c: values.get(c, "") for c in REVIEW_COLUMNS}
    if not any(filled.values()):
        return None
    row_territory = values.get("territory") or territory
    if not row_territory:
        raise ValueError("no territory column and no --territory")
    if territory and row_territory != territory:
        raise ValueError(f"territory {row_territory!r} is not {territory!r}")
    if company.startswith(_DEFUSED):
        company = company[1:]
    tier = filled["review_tier"].upper()
    who = filled["review_by"] or by
    if tier == CLEAR:
        reason = filled["review_reason"] or None
        return OverrideRequest(company, "clear", None, None, reason, who, where, row_territory)
    if tier not in TIERS:
        shown = f"review_tier {filled['review_tier']!r} is not" if tier else "review_tier is empty;"
        raise ValueError(f"{shown} HOT, WARM, COLD or {CLEAR}")
    if not filled["review_reason"]:
        raise ValueError("review_reason is empty; say why")
    score = check_score(filled["review_score"])
    return OverrideRequest(
        company, "set", tier, score, filled["review_reason"], who, where, row_territory
    )


def _column(name: str) -> str:
    return "_".join(name.casefold().replace("-", " ").split())


def review_columns(passthrough: Iterable[str]) -> list[str]:
    """The review file's columns: what identifies a company, why it is listed, the verdict
    in force and the model's, then the reviewer's empty columns."""
    return [
        "territory",
        "company",
        "domain",
        *passthrough,
        "why",
        "rank",
        "tier",
        "score",
        "confidence",
        "status",
        "model_tier",
        "model_score",
        "previous_tier",
        "override_by",
        "override_reason",
        "top_signal",
        "top_signal_url",
        "error",
        *REVIEW_COLUMNS,
    ]
