"""The corpus in tests/cli/bad_inputs/: every file is refused (one line, exit 2, database untouched)
or accepted with each company name stored in DuckDB byte for byte as the file wrote it."""

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from territory.cli import main
from tests.helpers import SETTING_NAMES, seed_database

ROOT = Path(__file__).parents[2]
CORPUS = Path(__file__).parent / "bad_inputs"

# Built rather than spelled out (it would not fit a line); the test checks it is 300 characters
# and that these exact bytes are in the file.
NAME_300 = ("Acme Ünïcödé 日本 Rockets " * 20)[:299] + "Z"

# file -> ("reject", a fragment of the one-line message) or ("accept", names in file order).
MANIFEST: dict[str, tuple[str, str] | tuple[str, list[str]]] = {
    # -- refused: the file as a whole is not a CSV of companies
    "empty.csv": ("reject", "no companies found (the file is empty)"),
    "bom_only.csv": ("reject", "no companies found (the file is empty)"),
    "header_only.csv": ("reject", "no companies found (only a header row)"),
    "header_and_blank_rows.csv": (
        "reject",
        "no companies found (only blank rows after the header)",
    ),
    "binary_png.csv": ("reject", "is a binary file (it contains NUL bytes)"),
    "nul_byte_in_middle.csv": ("reject", "is a binary file (it contains NUL bytes)"),
    "workbook.xlsx": ("reject", "looks like an Excel workbook but cannot be read"),
    "utf16_bom.csv": ("reject", "is UTF-16 text; save the file as UTF-8"),
    "utf16_no_bom.csv": ("reject", "is a binary file (it contains NUL bytes)"),
    "invalid_utf8.csv": ("reject", "not valid UTF-8 text (byte 0xe9 at offset 8)"),
    # -- refused: the header
    "no_name_column.csv": ("reject", "no company name column; found columns: 'organisation'"),
    "two_name_columns.csv": ("reject", "columns 'name' and 'company' both look like the company"),
    "duplicate_columns.csv": ("reject", "duplicate column 'notes' (columns 2 and 3)"),
    # -- refused: one row
    "ragged_rows.csv": ("reject", "line 3: 3 values but the header has 2 columns"),
    "unclosed_quote.csv": ("reject", "line 3: a quoted value starting here is never closed"),
    "badly_quoted.csv": ("reject", "line 2: badly quoted value"),
    "value_without_header.csv": ("reject", "line 2: value in column 2, which has no header name"),
    "invalid_domain.csv": ("reject", "line 3: 'info@globex.com' is not a valid domain"),
    "empty_name.csv": ("reject", "line 3: empty company name"),
    "only_invisible_name.csv": ("reject", "line 2: empty company name"),
    "name_301_chars.csv": (
        "reject",
        "line 2: company name is 301 characters long (the limit is 300)",
    ),
    "name_10000_chars.csv": ("reject", "line 3: company name is 10000 characters long"),
    "control_chars_ansi.csv": (
        "reject",
        "line 3: the company name contains a control character (U+001B)",
    ),
    "control_char_bel.csv": (
        "reject",
        "line 2: the company name contains a control character (U+0007)",
    ),
    "control_char_c1.csv": (
        "reject",
        "line 2: the company name contains a control character (U+009B)",
    ),
    "tab_inside_name.csv": (
        "reject",
        "line 2: the company name contains a control character (U+0009)",
    ),
    "newline_in_quoted_name.csv": (
        "reject",
        "line 3: the company name contains a control character (U+000A)",
    ),
    # -- accepted, every name exactly as written
    "names_sql_and_quotes.csv": (
        "accept",
        [
            "Robert'); DROP TABLE company_results;--",
            'Acme "Rockets", Inc.',
            "O'Brien; Sons & Daughters",
            "1 OR 1=1 /* Globex */ --",
            'Say "hi"; DELETE FROM runs',
            "100% {name} %s $(rm -rf /) `ls` <b>Initech</b> \\n",
        ],
    ),
    "names_like_formulas.csv": (
        "accept",
        ['=HYPERLINK("http://evil.example","x")', "+1-555-0100 Telecom", "@SUM(A1:A9) Ltd"],
    ),
    "names_other_scripts.csv": (
        "accept",
        [
            "株式会社日本語テック",
            "شركة الاتصالات السعودية",
            "Ελληνικά Πετρέλαια Α.Ε.",
            "Газпром нефть",
            "टाटा कंसल्टेंसी सर्विसेज",
            "תעשייה אווירית לישראל",
            "삼성전자",
            "Cafe\u0301 Noir SARL",  # decomposed é (NFD): stored decomposed, not normalised
        ],
    ),
    "names_emoji.csv": (
        "accept",
        [
            "Acme 🚀 Rockets",
            "👩\u200d💻 Devs",  # ZWJ sequence
            "🏳\ufe0f\u200d🌈 Pride Co",  # variation selector + ZWJ
            "👍🏽 Thumbs",  # skin-tone modifier
            "🇯🇵 Flags Inc",  # regional indicator pair
            "🚀🌕",
        ],
    ),
    "names_inner_spaces_and_zero_width.csv": (
        "accept",
        [
            "Acme  Rockets",
            "Initech   Holdings",
            "Ac\u200bme Widgets",  # zero-width space kept in the stored name
            "Globex\u00a0Corporation",  # no-break space
            "\u200fRTL Mark Trading",  # right-to-left mark
        ],
    ),
    "duplicates_merged_by_key.csv": ("accept", ["Acme Corp", "Globex"]),
    "leading_trailing_spaces.csv": ("accept", ["Acme Rockets", "Globex", "Initech  Holdings"]),
    "name_300_chars.csv": ("accept", [NAME_300]),
    "bom_crlf.csv": ("accept", ["Acme Rockets", "Globex Ünïcödé"]),
    "old_mac_cr_line_endings.csv": ("accept", ["Acme Rockets", "Globex"]),
    "semicolon_delimited.csv": ("accept", ["Müller & Söhne, Berlin", "Acme Ärzte-Bedarf AG"]),
    "tab_delimited.csv": ("accept", ["Acme, Inc.", "O'Reilly; Media"]),
}

REJECTED = sorted(name for name, (verdict, _) in MANIFEST.items() if verdict == "reject")
ACCEPTED = {name: names for name, (verdict, names) in MANIFEST.items() if verdict == "accept"}


def digest(path: Path) -> str:
    """sha256 of a file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def as_written(name: str) -> bytes:
    """The bytes a CSV file holds for `name`: quoted with doubled quotes if it has any."""
    if '"' in name:
        return ('"' + name.replace('"', '""') + '"').encode("utf-8")
    return name.encode("utf-8")


def assert_names_in_file(filename: str, names: list[str]) -> None:
    """Each expected name is the file's own text, not something the parser made up."""
    data = (CORPUS / filename).read_bytes()
    for name in names:
        assert as_written(name) in data, f"{filename}: {name!r} is not in the file"


@pytest.fixture
def seeded_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Clean settings with dummy keys, and TERRITORY_DB holding one finished run with results."""
    for name in SETTING_NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env from the repo
    db = tmp_path / "seeded.duckdb"
    monkeypatch.setenv("TERRITORY_DB", str(db))
    monkeypatch.setenv("TAVILY_API_KEY", "tvly-corpus-dummy")
    monkeypatch.setenv("LLM_API_KEY", "sk-corpus-dummy")
    # Nothing listens there: if a bad file ever got through, the run fails fast and offline.
    monkeypatch.setenv("TAVILY_BASE_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("LLM_BASE_URL", "http://127.0.0.1:9")
    return seed_database(db)


def test_manifest_lists_exactly_the_corpus() -> None:
    on_disk = sorted(path.name for path in CORPUS.iterdir())
    assert on_disk == sorted(MANIFEST)
    assert len(on_disk) >= 20
    assert all(path.is_file() for path in CORPUS.iterdir())
    assert all(verdict in ("accept", "reject") for verdict, _ in MANIFEST.values())


def test_corpus_is_kept_byte_exact_by_git() -> None:
    # Line endings are part of what is tested (CRLF, lone CR, a line break inside quotes).
    attributes = (ROOT / ".gitattributes").read_text().split("\n")
    assert "tests/cli/bad_inputs/** binary" in attributes
    assert (CORPUS / "empty.csv").stat().st_size == 0
    assert b"\r\n" in (CORPUS / "bom_crlf.csv").read_bytes()
    assert b"\n" not in (CORPUS / "old_mac_cr_line_endings.csv").read_bytes()


@pytest.mark.parametrize("filename", REJECTED)
def test_rejected_input_is_one_line_exit_2_and_the_db_unchanged(
    filename: str, seeded_db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = CORPUS / filename
    fragment = MANIFEST[filename][1]
    before = digest(seeded_db)
    files_before = sorted(p.name for p in seeded_db.parent.iterdir())

    code = main(["run", str(path)])

    out, err = capsys.readouterr()
    assert code == 2, err
    assert out == ""
    assert err.endswith("\n") and err.count("\n") == 1, repr(err)
    assert err.startswith(f"territory: {path}: "), err
    assert fragment in err, err
    assert "Traceback" not in err
    assert digest(seeded_db) == before
    assert sorted(p.name for p in seeded_db.parent.iterdir()) == files_before  # no WAL either


@pytest.mark.parametrize("filename", ["binary_png.csv", "invalid_utf8.csv"])
def test_rejected_input_exits_2_as_a_real_process(filename: str, seeded_db: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TAVILY_", "LLM_"))}
    env |= {
        "TAVILY_API_KEY": "tvly-corpus-dummy",
        "LLM_API_KEY": "sk-corpus-dummy",
        "TERRITORY_DB": str(seeded_db),
    }
    before = digest(seeded_db)
    proc = subprocess.run(
        [sys.executable, "-m", "territory.cli", "run", str(CORPUS / filename)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("territory: "), proc.stderr
    assert MANIFEST[filename][1] in proc.stderr
    assert digest(seeded_db) == before


def test_accepted_expectations_are_the_files_own_text() -> None:
    # Fast guard that runs without Prefect: each expected name is literally in its file.
    assert len(NAME_300) == 300
    for filename, names in ACCEPTED.items():
        assert_names_in_file(filename, names)


@pytest.mark.slow
def test_accepted_inputs_store_every_name_byte_for_byte(
    territory_env: Path,
    sims,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # One test (one Prefect server, one database) for all files keeps CI time down; each file
    # gets its own territory, and --refresh so every company really reaches the search API.
    db = territory_env / "territory.duckdb"
    # The LLM simulator quotes the name several times and escapes non-ASCII as \uXXXX, so the
    # 300-character name's answer would pass the default 1,500-token cap and be cut off.
    monkeypatch.setenv("LLM_MAX_OUTPUT_TOKENS", "8000")
    for filename, names in ACCEPTED.items():
        assert_names_in_file(filename, names)
        sims.reset()
        territory = Path(filename).stem

        code = main(["run", str(CORPUS / filename), "--territory", territory, "--refresh"])

        err = capsys.readouterr().err
        assert code == 0, f"{filename}: exit {code}: {err[-2000:]}"
        with duckdb.connect(str(db), read_only=True) as conn:
            rows = conn.execute(
                "SELECT company, status, error FROM company_results WHERE territory = ?",
                [territory],
            ).fetchall()
        stored = sorted(company.encode("utf-8") for company, _, _ in rows)
        assert len(rows) == len(names), f"{filename}: {[row[0] for row in rows]}"
        assert stored == sorted(name.encode("utf-8") for name in names), filename
        assert {status for _, status, _ in rows} == {"ok"}, f"{filename}: {rows}"
        searches = sims.tavily.stats()["log"]
        assert len(searches) == len(names), f"{filename}: {[e['query'] for e in searches]}"
