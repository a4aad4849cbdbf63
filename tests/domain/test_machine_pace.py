"""The machine-pace benchmark measures real trimming (benchmarks/machine_pace.py): every
sample company keeps text, and both paces are reported."""

from benchmarks.machine_pace import measure, sample_companies, trim
from domain.rubric import load_rubric


def test_every_sample_company_is_trimmed_to_some_text():
    rubric = load_rubric()
    companies = sample_companies(8)
    kept = [trim(rubric, company) for company in companies]
    whole = [sum(len(p.raw_content or "") for p in pages) for _, _, pages in companies]
    # Work, not a no-op: each keeps text, and less than its pages hold.
    assert all(0 < k < w for k, w in zip(kept, whole, strict=True)), (kept, whole)


def test_the_pace_reports_both_figures():
    pace = measure(rounds=1, woken=2, idle=0.0, count=4)
    assert pace.busy_ms > 0 and pace.woken_ms > 0
    line = pace.describe()
    assert f"{pace.busy_ms:.2f} ms a company back to back" in line
    assert f"{pace.woken_ms:.2f} ms woken from" in line
