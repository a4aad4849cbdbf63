"""Which companies a reviewer sees, and reading a filled-in review file (all rows or none)."""

import pytest

from domain.accounts import InputError
from domain.review import check_score, read_review, review_reasons, review_request


def row(status="ok", model_tier="HOT", confidence="high", **extra):
    return {"status": status, "model_tier": model_tier, "model_confidence": confidence} | extra


def test_the_companies_worth_a_look_and_why():
    assert review_reasons(row(), previous_tier="HOT") == []
    assert review_reasons(row(), previous_tier=None) == []  # new, sure: nothing to check
    assert review_reasons(row(confidence="low"), None) == ["low confidence"]
    assert review_reasons(row(confidence="low"), "COLD") == [
        "low confidence",
        "tier moved COLD -> HOT",
    ]
    assert review_reasons(row("failed", None, None), None) == ["failed"]
    assert review_reasons(row("ambiguous", None, None), None) == [
        "ambiguous: several organisations of this name"
    ]
    assert review_reasons(row("skipped", None, None), None) == []


def test_an_override_is_listed_again_only_when_the_model_changed_its_mind():
    standing = row(
        "ok", "COLD", "low", overridden=True, override_tier="HOT", override_model_tier="COLD"
    )
    assert review_reasons(standing | {"override_disputed": True}, "HOT") == []
    moved = standing | {"model_tier": "WARM", "override_disputed": True}
    assert review_reasons(moved, "COLD") == ["the model now says WARM, the override HOT"]
    agreed = standing | {"model_tier": "HOT", "override_disputed": False}
    assert review_reasons(agreed, "COLD") == []


def test_a_review_row_becomes_a_request():
    blank = {"review_tier": "", "review_score": "", "review_reason": "", "review_by": ""}
    assert review_request("Acme", blank, "emea", "me") is None
    filled = blank | {"review_tier": "hot", "review_score": " 72 ", "review_reason": "buys GPUs"}
    request = review_request("Acme", filled | {"territory": "emea"}, None, "me", "line 2")
    assert (request.action, request.tier, request.score, request.by) == ("set", "HOT", 72, "me")
    assert (request.territory, request.key, request.where) == ("emea", "acme", "line 2")
    cleared = review_request("Acme", blank | {"Review Tier": "clear"}, "emea", "me")
    assert cleared.action == "clear" and cleared.tier is None
    # A name the export defused for spreadsheets comes back as it is stored.
    defused = review_request("'=SUM(A1)", filled, "emea", "me")
    assert defused.company == "=SUM(A1)"
    assert review_request("Acme", filled | {"review_by": "Dana"}, "emea", "me").by == "Dana"


@pytest.mark.parametrize(
    "cells, message",
    [
        ({"review_tier": "HOTT", "review_reason": "x"}, "review_tier 'HOTT' is not HOT, WARM"),
        ({"review_reason": "x"}, "review_tier is empty"),
        ({"review_tier": "HOT"}, "review_reason is empty"),
        ({"review_tier": "HOT", "review_reason": "x", "review_score": "101"}, "not from 0 to 100"),
        ({"review_tier": "HOT", "review_reason": "x", "review_score": "high"}, "whole number"),
        ({"review_tier": "HOT", "review_reason": "x", "territory": "apac"}, "is not 'emea'"),
    ],
)
def test_a_bad_row_says_what_is_wrong(cells, message):
    with pytest.raises(ValueError, match=message):
        review_request("Acme", cells, "emea", "me")


def test_check_score():
    assert check_score("") is None and check_score(None) is None and check_score("0") == 0
    with pytest.raises(ValueError):
        check_score("-1")


def test_a_review_file_is_read_whole_or_refused_naming_the_row(tmp_path):
    path = tmp_path / "review.csv"
    header = "territory,company,domain,owner,why,tier,review_tier,review_score,review_reason\n"
    path.write_text(
        header
        + "emea,Acme,acme.example,Dana,failed,,HOT,80,called us\n"
        + "emea,Globex,,Lee,low confidence,COLD,,,\n"
        + "emea,Initech,,Lee,failed,,clear,,\n",
        encoding="utf-8-sig",
    )
    review = read_review(path, None, "me")
    assert review.territory == "emea" and review.n_rows == 3
    assert [(r.company, r.action, r.tier, r.score) for r in review.requests] == [
        ("Acme", "set", "HOT", 80),
        ("Initech", "clear", None, None),
    ]
    stored = [{"action": "set"}]
    assert review.describe(stored) == (
        "1 applied to 'emea' from review.csv (1 set, 0 cleared); "
        "1 clear with no override in force; 1 row left blank"
    )
    path.write_text(
        header
        + "emea,Acme,,Dana,failed,,HOT,80,called us\n"
        + "emea,Globex,,Lee,low confidence,COLD,LUKEWARM,,meh\n"
        + "emea,Initech,,Lee,failed,,HOT,,\n"
    )
    with pytest.raises(InputError) as caught:
        read_review(path, None, "me")
    assert str(caught.value) == (
        "review.csv line 3 (Globex): review_tier 'LUKEWARM' is not HOT, WARM, COLD or CLEAR "
        "(and 1 more bad rows); nothing applied"
    )
    path.write_text(header + "emea,Acme,,,,,HOT,,x\napac,Globex,,,,,COLD,,y\n")
    with pytest.raises(InputError, match="several territories"):
        read_review(path, None, "me")
