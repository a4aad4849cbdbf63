"""The store's (latest, before) result pairs: read narrow and a batch at a time, the signals of
each side added by row id, the same pairs as the rows stored."""

from domain.models import Classification, CompanyResult, Signal
from storage.duckdb_store import TerritoryStore
from storage.sql import FETCH_ROWS


def result(key, score, quotes):
    signals = [Signal(kind="gpu", url=f"https://news.example/{key}", excerpt=q) for q in quotes]
    verdict = Classification(
        tier="WARM", score=score, confidence="high", reasoning="r", signals=signals
    )
    return CompanyResult(company_key=key, name=key.title(), status="ok", classification=verdict)


def quotes_of(row):
    return [s["excerpt"] for s in row["signals"]] if row else None


def test_pairs_carry_each_sides_own_signals_across_batches(tmp_path):
    # More companies than a batch: the last batch's rows are read by row id as well.
    keys = [f"co{n:05d}" for n in range(FETCH_ROWS + 300)]
    with TerritoryStore.open(tmp_path / "t.duckdb") as store:
        first = store.start_run("emea", "full", {}, None, len(keys), 0, len(keys))
        store.save_results(first, "emea", [result(k, 40, [f"{k} rents GPUs."]) for k in keys])
        store.finish_run(first, "completed")
        second = store.start_run("emea", "full", {}, None, len(keys), 0, len(keys))
        again = [
            result(k, 40, [f"{k} rents GPUs."])  # the same quote
            if n % 3 == 0
            else result(k, 50, [f"{k} rents GPUs.", f"{k} trains models."])  # one more
            for n, k in enumerate(keys)
        ]
        store.save_results(second, "emea", again)
        store.save_results(second, "emea", [result("newco", 70, ["Newco buys H100s."])])
        store.finish_run(second, "completed")
        pairs = {
            now["company_key"]: (now, before) for now, before in store.iter_result_pairs("emea")
        }
    assert len(pairs) == len(keys) + 1
    now, before = pairs["newco"]
    assert (quotes_of(now), before, now["run_id"]) == (["Newco buys H100s."], None, second)
    for n, key in enumerate(keys):
        now, before = pairs[key]
        assert (now["run_id"], before["run_id"]) == (second, first)
        assert quotes_of(before) == [f"{key} rents GPUs."]
        if n % 3 == 0:
            assert now["score"] == before["score"] == 40
            assert before["signals"] is now["signals"]  # the same stored text: not compared
        else:
            assert (now["score"], before["score"]) == (50, 40)
            assert quotes_of(now) == [f"{key} rents GPUs.", f"{key} trains models."]
