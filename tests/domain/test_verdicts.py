"""The effective verdict (override first) and the rank order, as pure functions."""

from domain.columns import OWNER_COLUMNS, owner_column
from domain.verdicts import OVERRIDE_CONFIDENCE, Verdict, effective_verdict, rank_key, ranks


def result(tier="HOT", score=90, confidence="medium", status="ok"):
    return {"status": status, "tier": tier, "score": score, "confidence": confidence}


def override(tier, score=None, action="set"):
    return {"action": action, "tier": tier, "score": score}


def test_without_an_override_the_model_counts():
    assert effective_verdict(result(), None) == Verdict("HOT", 90, "medium", False, False)
    # A latest row that clears the override: the model counts again.
    assert effective_verdict(result(), override(None, action="clear")).overridden is False
    # No tier unless the model's status is ok.
    failed = result(None, None, None, "failed")
    assert effective_verdict(failed, None) == Verdict(None, None, None, False, False)


def test_an_override_wins_and_says_whether_the_model_disputes_it():
    agreeing = effective_verdict(result("WARM", 55), override("WARM"))
    assert agreeing == Verdict("WARM", 55, OVERRIDE_CONFIDENCE, True, False)
    # The override's own score wins; without one, a score of another tier is not shown.
    assert effective_verdict(result("COLD", 5), override("HOT", 88)).score == 88
    disputed = effective_verdict(result("COLD", 5), override("HOT"))
    assert disputed == Verdict("HOT", None, "high", True, True)
    # A failed or ambiguous company gives no tier to dispute with.
    reviewed = effective_verdict(result(None, None, None, "ambiguous"), override("WARM", 60))
    assert reviewed == Verdict("WARM", 60, "high", True, False)


def test_rank_is_tier_then_confidence_then_score_then_name():
    accounts = {
        "a": (Verdict("WARM", 99, "high", False, False), "A"),
        "b": (Verdict("HOT", 70, "low", False, False), "B"),
        "c": (Verdict("HOT", 60, "high", False, False), "C"),
        "d": (Verdict("HOT", 95, "high", False, False), "D"),
        "e": (Verdict("HOT", None, "high", True, False), "E"),  # an override without a score
        "f": (Verdict(None, None, None, False, False), "F"),  # failed: no rank
        "g": (Verdict("HOT", 95, "high", False, False), "Aardvark"),  # same as d: by name
        "h": (Verdict("COLD", 100, "high", False, False), "H"),
    }
    assert ranks(accounts) == {
        "g": 1, "d": 2, "c": 3, "e": 4, "b": 5, "a": 6, "h": 7, "f": None,
    }  # fmt: skip
    assert rank_key("HOT", "low", 100, "x") > rank_key("HOT", "medium", 1, "x")


def test_the_owner_column_is_recognised_in_any_spelling():
    assert owner_column(["crm_id", "Owner"]) == "Owner"
    assert owner_column(["Account Owner", "region"]) == "Account Owner"
    assert owner_column(["owner-name"]) == "owner-name"
    assert owner_column(["REP"]) == "REP"
    assert owner_column(["rep", "owner"]) == "owner"  # the list's order decides
    assert owner_column(["crm_id", "owners", "representative"]) is None
    assert OWNER_COLUMNS[0] == "owner"
