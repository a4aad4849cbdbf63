"""Refresh by tier: the due rule (pure), its windows under SEARCH_CACHE_TTL, and the rubric's
[refresh] table, broken ones refused in one line naming the line."""

from datetime import UTC, datetime, timedelta

import pytest

from domain.refresh import RefreshPolicy, RefreshRule, Standing, fresh_for, is_due
from domain.rubric import DEFAULT_RUBRIC_FILE, RubricError, load_rubric, parse_rubric

DAY = timedelta(days=1)
MONDAY = datetime(2026, 11, 30, 6, 0, tzinfo=UTC)  # a weekly run's start
POLICY = RefreshPolicy.of(load_rubric().refresh)
KEY, RUBRIC, MODEL = "tavily-abc", "gpu-infrastructure@2", "gpt-4.1-mini"


def standing(tier="HOT", confidence="high", searched=MONDAY, **changes):
    """A verdict judged on the newest stored search, fetched at `searched`."""
    fields = dict(
        status="ok",
        tier=tier,
        confidence=confidence,
        rubric=RUBRIC,
        model=MODEL,
        judged_on=KEY,
        judged_at=searched,
        newest_search=searched,
    )
    return Standing(**(fields | changes))


def due(s, now, policy=POLICY):
    return is_due(policy, s, search_key=KEY, rubric=RUBRIC, model=MODEL, now=now)


def test_the_bundled_rubric_refreshes_hot_weekly_warm_fortnightly_cold_monthly():
    assert load_rubric().refresh == RefreshRule(HOT=7, WARM=14, COLD=30, low_confidence=7)
    # Each window less its half-day of slack.
    assert dict(POLICY.tiers) == {"HOT": 6.5 * DAY, "WARM": 13.5 * DAY, "COLD": 29.5 * DAY}
    assert POLICY.low_confidence == POLICY.shortest == 6.5 * DAY


@pytest.mark.parametrize(
    "tier, searched_in_weeks",
    [("HOT", [0, 1, 2, 3, 4, 5]), ("WARM", [0, 2, 4, 6]), ("COLD", [0, 5, 10])],
)
def test_a_weekly_schedule_searches_each_tier_as_often_as_its_window_says(tier, searched_in_weeks):
    # Last week's run searched the company some hours after it started: still due this week.
    searched, seen = MONDAY + timedelta(hours=3), [0]
    for week in range(1, searched_in_weeks[-1] + 1):
        now = MONDAY + week * 7 * DAY
        if due(standing(tier, searched=searched), now):
            seen.append(week)
            searched = now + timedelta(hours=3)
    assert seen == searched_in_weeks


def test_a_daily_schedule_searches_a_hot_company_every_seventh_day():
    searched = MONDAY + timedelta(minutes=40)
    days = [d for d in range(1, 8) if due(standing("HOT", searched=searched), MONDAY + d * DAY)]
    assert days == [7]


def test_low_confidence_is_checked_at_least_weekly_whatever_the_tier():
    ten_days = MONDAY + 10 * DAY
    assert due(standing("COLD", "low"), ten_days)
    assert not due(standing("COLD", "medium"), ten_days)
    assert fresh_for(POLICY, standing("COLD", "low")) == 6.5 * DAY
    # Never longer than the tier's own window.
    slow_low = RefreshPolicy.of(RefreshRule(HOT=2, low_confidence=20))
    assert fresh_for(slow_low, standing("HOT", "low")) == 1.5 * DAY


@pytest.mark.parametrize("status", ["failed", "ambiguous", "skipped", None])
def test_a_company_without_a_verdict_is_always_due(status):
    fresh = standing(searched=MONDAY - timedelta(minutes=5), status=status, tier=None)
    assert due(fresh, MONDAY)
    # Its stored search still stands in for the shortest window (a failed answer is retried
    # from the search it failed on), so being due does not mean paying Tavily again.
    assert fresh_for(POLICY, fresh) == POLICY.shortest


def test_never_searched_is_due():
    assert due(Standing(), MONDAY)
    assert due(standing(newest_search=None), MONDAY)


def test_a_changed_rubric_or_model_is_due_but_a_verdict_that_needed_no_model_is_not():
    an_hour = MONDAY + timedelta(hours=1)
    assert not due(standing(), an_hour)
    assert due(standing(rubric="gpu-infrastructure@1"), an_hour)
    assert due(standing(model="gpt-4.1"), an_hour)
    # "Nothing relevant found" is COLD without asking the model: no model to have changed.
    assert not due(standing("COLD", "medium", model=None), an_hour)


def test_a_verdict_judged_on_another_search_than_the_one_the_cache_holds_is_due():
    an_hour = MONDAY + timedelta(hours=1)
    # Another territory searched the company since: its verdict is re-judged on that search.
    assert due(standing(newest_search=MONDAY + timedelta(minutes=30)), an_hour)
    # The search itself changed (another query, depth, endpoint): a new search is needed.
    assert due(standing(judged_on="tavily-other"), an_hour)


def test_search_cache_ttl_caps_every_window_exactly_and_never_lengthens_one():
    capped = RefreshPolicy.of(load_rubric().refresh, cap=DAY)
    assert set(capped.tiers.values()) == {DAY} and capped.shortest == DAY
    assert due(standing("COLD"), MONDAY + DAY, capped)
    assert not due(standing("COLD"), MONDAY + 0.9 * DAY, capped)
    assert RefreshPolicy.of(load_rubric().refresh, cap=60 * DAY) == POLICY
    second = RefreshPolicy.of(load_rubric().refresh, cap=timedelta(seconds=1))
    assert due(standing(), MONDAY + timedelta(seconds=1.5), second)


def test_a_rubric_without_a_refresh_table_uses_the_ttl_or_a_week_for_every_tier():
    text = DEFAULT_RUBRIC_FILE.read_text()
    bare = parse_rubric(text[: text.index("[refresh]")], "bare.toml")
    assert bare.refresh is None
    week = RefreshPolicy.of(bare.refresh)
    assert set(week.tiers.values()) == {6.5 * DAY} and week.low_confidence == 6.5 * DAY
    ttl = RefreshPolicy.of(bare.refresh, cap=12 * timedelta(hours=1))
    assert set(ttl.tiers.values()) == {timedelta(hours=12)}  # exactly what the user set
    # A partial table: what is left out takes its default.
    partial = parse_rubric(text.replace("HOT = 7", "HOT = 3").replace("WARM = 14\n", ""))
    assert partial.refresh == RefreshRule(HOT=3, WARM=14, COLD=30, low_confidence=7)


TEXT = DEFAULT_RUBRIC_FILE.read_text()
LINE = {k: TEXT[: TEXT.index(f"\n{k} = ")].count("\n") + 2 for k in ("HOT", "COLD", "WARM")}
BROKEN = [
    (TEXT.replace("HOT = 7", "HOT = 0"), f"line {LINE['HOT']}: refresh.HOT: must be more than 0"),
    (TEXT.replace("HOT = 7", "HOT = -7"), f"line {LINE['HOT']}: refresh.HOT: must be more"),
    (TEXT.replace("COLD = 30", 'COLD = "30d"'), "refresh.COLD: must be a number of days"),
    (TEXT.replace("COLD = 30", "COLD = true"), f"line {LINE['COLD']}: refresh.COLD: must be"),
    (TEXT.replace("COLD = 30", "COLD = nan"), "refresh.COLD: must be more than 0"),
    (TEXT.replace("WARM = 14", "LUKEWARM = 14"), "unknown setting 'refresh.LUKEWARM' (a typo?)"),
    (TEXT.replace("WARM = 14", "warm = 14"), f"line {LINE['WARM']}: unknown setting 'refresh.warm"),
    (TEXT.replace("low_confidence = 7", "low_confidence = 99999"), "at most 3650 days"),
]


@pytest.mark.parametrize("text, message", BROKEN, ids=[m for _, m in BROKEN])
def test_a_broken_refresh_table_is_one_line_naming_the_line(text, message):
    with pytest.raises(RubricError) as refused:
        parse_rubric(text, "mine.toml")
    said = str(refused.value)
    assert said.startswith("mine.toml: line ") and "\n" not in said and message in said


def test_a_weekly_schedule_of_the_sample_mix_searches_half_as_often_as_searching_everything():
    from benchmarks.refresh_schedule import Verdict, simulate

    # The sample's mix as a simulator run gives it (README, Refresh by tier).
    mix = [
        Verdict("ok", "HOT", "high", 75, 0.002),
        Verdict("ok", "WARM", "high", 105, 0.002),
        Verdict("ok", "COLD", "medium", 120, 0.002),
    ]
    weekly = simulate(mix, 1000, 52, 0.0, None, run_hours=3, seed=7)
    tiered = simulate(mix, 1000, 52, 0.0, POLICY, run_hours=3, seed=7)
    assert weekly.searches == 52_000
    assert tiered.searches == 250 * 52 + 350 * 26 + 400 * 11  # COLD: weeks 0, 5, ..., 50
    assert 1 - tiered.searches / weekly.searches >= 0.40
