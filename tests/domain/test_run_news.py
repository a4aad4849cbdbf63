"""What a run's end keeps of the territory's result pairs: only its news, the same change list
and tier moves as from every pair (pure functions, no I/O)."""

from domain.alerts import tier_moves
from domain.changes import changes_in, news_of


def row(key, tier, score, run_id, signals=None):
    signals = [] if signals is None else signals
    return {"company_key": key, "company": key.title(), "tier": tier, "score": score,
            "confidence": "high", "signals": signals, "run_id": run_id}  # fmt: skip


def signal(text):
    return {"kind": "gpu", "url": f"https://news.example/{len(text)}", "excerpt": text}


def territory_pairs():
    quotes = [signal("It runs 4,000 H100s."), signal("It trains its own models.")]
    return [
        (row("old", "HOT", 90, "r1", quotes), None),  # another run's result: not this run's news
        (row("new", "HOT", 88, "r2", quotes), None),  # new to the territory
        (row("same", "WARM", 50, "r2", quotes), row("same", "WARM", 50, "r1", quotes)),
        (row("moved", "HOT", 80, "r2", quotes), row("moved", "COLD", 10, "r1", [])),
        (row("quote", "WARM", 50, "r2", quotes[:1]), row("quote", "WARM", 50, "r1", quotes)),
    ]


def test_a_run_keeps_only_its_news_and_reports_the_same_changes():
    pairs = territory_pairs()
    news = news_of(pairs, "r2")
    kept = news.pairs
    assert [now["company_key"] for now, _ in kept] == ["moved", "quote", "new"]
    assert news.n_new == 1
    assert changes_in(kept, "r2") == changes_in(pairs, "r2")
    assert [c.describe() for c in changes_in(kept, "r2")] == [
        "COLD -> HOT (10 -> 80): new signal 'It runs 4,000 H100s.', news.example; "
        "new signal 'It trains its own models.', news.example",
        "WARM (50 -> 50): signal gone 'It trains its own models.', news.example",
        "new: HOT (88)",
    ]
    moves, new = tier_moves(kept, "r2")
    assert ([m.key for m in moves], new) == (["moved"], 1)
    assert (moves, new) == tier_moves(pairs, "r2")


def test_a_new_company_is_kept_with_its_first_signal_only():
    (now, before), *_ = news_of(territory_pairs()[1:2], "r2").new
    assert before is None and now["signals"] == [signal("It runs 4,000 H100s.")]
    assert now["tier"] == "HOT" and now["score"] == 88


def test_of_the_companies_new_to_the_territory_it_counts_all_and_keeps_the_first_by_name():
    # A first run of a big territory: every company is new, read in no particular order.
    names = [f"Company {n:04d}" for n in range(1_000)]
    shuffled = names[7::13] + [n for i, n in enumerate(names) if i % 13 != 7]
    pairs = [(row(name.lower(), "WARM", 40, "r2"), None) for name in shuffled]
    pairs.append((row("moved", "HOT", 80, "r2"), row("moved", "COLD", 10, "r1")))
    news = news_of(pairs, "r2", named=5)
    assert news.n_new == 1_000
    assert [now["company"] for now, _ in news.new] == [n.title() for n in names[:5]]
    assert [now["company_key"] for now, _ in news.moved] == ["moved"]
    # The change list names the same first new companies as one made of every pair.
    assert changes_in(news.pairs, "r2")[:6] == changes_in(pairs, "r2")[:6]


def test_of_the_changes_that_move_no_tier_it_counts_all_and_keeps_the_most_important():
    # A refresh of a big territory: most scores move a little, a few tiers move.
    pairs = [
        (row(f"co{n:04d}", "WARM", 40 + n % 17, "r2"), row(f"co{n:04d}", "WARM", 40, "r1"))
        for n in range(1_000)
    ]  # 1,000 - 1,000 // 17 of them moved their score
    pairs += [(row(f"up{n}", "HOT", 80, "r2"), row(f"up{n}", "WARM", 50, "r1")) for n in range(3)]
    news = news_of(pairs, "r2", named=5)
    assert [now["company_key"] for now, _ in news.moved] == ["up0", "up1", "up2"]
    assert (news.n_other, len(news.other)) == (1_000 - 59, 5)
    assert news.n_changed == 3 + 941
    # The same first changes, in the same order, as a list made of every pair.
    assert changes_in(news.pairs, "r2")[:8] == changes_in(pairs, "r2")[:8]
    moves, _ = tier_moves(news.moved, "r2")
    assert [m.key for m in moves] == ["up0", "up1", "up2"]
