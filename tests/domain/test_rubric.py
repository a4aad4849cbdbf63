"""The rubric is data: the bundled file, edits a RevOps person might make, and broken files
reported in one line naming the line."""

import pytest

from domain.errors import InvalidOutputError
from domain.rubric import DEFAULT_RUBRIC_FILE, RubricError, load_rubric, parse_rubric
from tasks.llm_client import parse_classification

TEXT = DEFAULT_RUBRIC_FILE.read_text()


def test_the_bundled_rubric_is_the_gpu_rubric():
    rubric = load_rubric()
    assert rubric.label == "gpu-infrastructure@2"
    assert rubric.kinds[:2] == ("gpu_infrastructure", "ml_training")
    assert rubric.weak_kinds == {"funding", "headcount", "other", "business"}
    assert [rubric.tier_for(s) for s in (100, 70, 69, 40, 39, 0)] == [
        "HOT", "HOT", "WARM", "WARM", "COLD", "COLD",
    ]  # fmt: skip
    assert (rubric.band("HOT"), rubric.band("WARM"), rubric.band("COLD")) == (
        (70, 100),
        (40, 69),
        (0, 39),
    )


def test_an_edited_rubric_changes_thresholds_kinds_and_prompt():
    from domain.prompt import build_messages

    text = (
        TEXT.replace('name = "gpu-infrastructure"', 'name = "gpu-strict"')
        .replace("min_score = 70", "min_score = 85")
        .replace('kind = "hiring"', 'kind = "ml_hiring"')
    )
    rubric = parse_rubric(text, "strict.toml")
    assert rubric.tier_for(80) == "WARM" and rubric.tier_for(85) == "HOT"
    system = build_messages(rubric, "Acme", None, [], include_schema=True)[0]["content"]
    assert "- HOT (score 85-100):" in system and "- WARM (score 40-84):" in system
    assert "Signal kinds: gpu_infrastructure, ml_training, inference, ml_hiring," in system
    assert '"ml_hiring"' in system  # the JSON schema spelled out for json_object providers
    answer = (
        '{"tier": "HOT", "score": 90, "confidence": "high", '
        '"reasoning": "It trains models on its own GPUs.", "signals": '
        '[{"kind": "%s", "url": "u", "excerpt": "e"}]}'
    )
    assert parse_classification(answer % "ml_hiring", rubric.kinds).signals[0].kind == "ml_hiring"
    with pytest.raises(InvalidOutputError, match="did not match the schema"):
        parse_classification(answer % "hiring", rubric.kinds)  # not a kind of this rubric


BROKEN = [
    (TEXT.replace("[search]", "[search"), "line 18: not valid TOML"),
    (TEXT.replace("min_score = 70", "min_score = 30"), "line 27: tiers.HOT.min_score: 30 must"),
    (TEXT.replace("min_score = 70", "min_score = 170"), "line 27: tiers.HOT.min_score:"),
    (TEXT.replace("min_score = 0", "min_score = 5"), "line 37: tiers.COLD.min_score: must be 0"),
    (TEXT.replace('look_for = "trains', 'lok_for = "trains'), "line 51: unknown setting"),
    (TEXT.replace('kind = "other"', 'kind = "hiring"'), "line 77: signals[7].kind: 'hiring'"),
    (TEXT.replace('kind = "hiring"', 'kind = "ML Hiring"'), "line 60: signals[4].kind:"),
    (TEXT.replace("{company_name} GPU", "{company} GPU"), "line 21: search.query: the query"),
    (TEXT.replace("min_relevance = 0.4", "min_relevance = 4"), "line 23: search.min_relevance:"),
    (TEXT.replace("[tiers.WARM]", "[tiers.WARMER]"), "line 31: tiers.WARMER: Input should be"),
    (TEXT.replace("version = 2\n", ""), "version is missing"),
]


@pytest.mark.parametrize("text, message", BROKEN, ids=[m.split(":")[0] for _, m in BROKEN])
def test_a_broken_rubric_is_one_line_naming_the_line(text, message):
    with pytest.raises(RubricError) as refused:
        parse_rubric(text, "mine.toml")
    assert str(refused.value).startswith("mine.toml: ") and "\n" not in str(refused.value)
    assert message in str(refused.value)


def test_a_rubric_file_that_is_missing_or_not_text_is_one_line(tmp_path):
    with pytest.raises(RubricError, match="rubric file not found"):
        load_rubric(tmp_path / "nope.toml")
    (tmp_path / "bin.toml").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(RubricError, match="not UTF-8"):
        load_rubric(tmp_path / "bin.toml")


def test_cli_refuses_a_broken_rubric_before_any_work(tmp_path, monkeypatch, capsys):
    from territory.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TERRITORY_DB", str(tmp_path / "t.duckdb"))
    monkeypatch.setenv("TAVILY_API_KEY", "tvly-rubric-dummy")
    monkeypatch.setenv("LLM_API_KEY", "sk-rubric-dummy")
    (tmp_path / "a.csv").write_text("name\nAcme\n")
    (tmp_path / "bad.toml").write_text(TEXT.replace("min_score = 70", "min_score = 30"))
    assert main(["run", "a.csv", "--rubric", "bad.toml"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "bad.toml: line 27: tiers.HOT.min_score" in err[0]
    assert not (tmp_path / "t.duckdb").exists()
