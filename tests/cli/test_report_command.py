"""`territory report`, the command on a database: it writes the territory's page from the
stored runs, and a territory without results or a path it cannot write is one line."""

import os

import pytest

from territory.cli import main
from tests.cli.report_samples import seed_two_runs


def test_report_command_writes_the_territory(tmp_path, monkeypatch, capsys):
    db = tmp_path / "t.duckdb"
    second = seed_two_runs(db)
    monkeypatch.setenv("TERRITORY_DB", str(db))
    out = tmp_path / "emea.html"
    assert main(["report", str(out), "--territory", "emea"]) == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == f"report: 4 companies -> {out}\n"
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert f"<code>{second[:8]}</code>" in page
    assert "<code>gpt-test</code>" in page
    assert "4 of 4 companies" in page
    assert "WARM -&gt; HOT (55 -&gt; 91): new signal" in page
    assert "new: WARM (62)" in page
    assert '<a href="https://h.example/a"' in page
    assert "search failed: Tavily HTTP 500" in page
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask  # like any file written, not 0600
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_unknown_territory_is_one_line(tmp_path, monkeypatch, capsys):
    db = tmp_path / "t.duckdb"
    seed_two_runs(db)
    monkeypatch.setenv("TERRITORY_DB", str(db))
    out = tmp_path / "x.html"
    assert main(["report", str(out), "--territory", "nowhere"]) == 2
    err = capsys.readouterr().err
    assert err == "territory: no results for territory 'nowhere' (territories with runs: emea)\n"
    assert not out.exists()


@pytest.mark.parametrize("where", ["missing-dir/x.html", "a-directory"])
def test_a_path_that_cannot_be_written_is_one_line(tmp_path, monkeypatch, capsys, where):
    db = tmp_path / "t.duckdb"
    seed_two_runs(db)
    monkeypatch.setenv("TERRITORY_DB", str(db))
    (tmp_path / "a-directory").mkdir()
    (tmp_path / "a-directory" / "keep").write_text("not empty")
    out = tmp_path / where
    assert main(["report", str(out), "--territory", "emea"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"territory: cannot write {out}: ") and err.count("\n") == 1
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
