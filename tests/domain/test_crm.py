"""The CRM mapping file (validated with one-line errors) and the value comparison."""

import pytest

from domain.crm import FIELDS, changes, load_mapping, normalised, property_values, record_id
from domain.errors import ConfigError


def test_the_bundled_mapping_names_every_field_with_prefixed_names():
    hubspot, salesforce = load_mapping("hubspot"), load_mapping("salesforce")
    assert set(hubspot.properties) == set(FIELDS) == set(salesforce.properties)
    assert all(p.startswith("gpu_") for p in hubspot.property_names)
    assert all(p.startswith("GPU_") and p.endswith("__c") for p in salesforce.property_names)
    assert hubspot.match_domain and not salesforce.match_domain


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("[hubspot.properties]\ntier = 'gpu_tier'\n", "no [salesforce] table"),
        ("[salesforce]\n[salesforce.properties]\nmood = 'GPU_Mood__c'\n", "'mood' is not one of"),
        ("[salesforce]\n[salesforce.properties]\ntier = 'GPU Tier'\n", "not a valid salesforce"),
        ("[salesforce]\n[salesforce.properties]\ntier = 'Name'\n", "the CRM's own field"),
        (
            "[salesforce]\n[salesforce.properties]\ntier = 'X__c'\nscore = 'x__c'\n",
            "mapped twice",
        ),
        (
            "[salesforce]\nmatch_domain = true\n[salesforce.properties]\ntier = 'X__c'\n",
            "only HubSpot",
        ),
        ("[salesforce]\nid_columns = 'Id'\n[salesforce.properties]\ntier = 'X__c'\n", "id_columns"),
        ("[salesforce\n", "not valid TOML"),
        ("[salesforce]\n", "must map our fields"),
    ],
)
def test_a_broken_mapping_is_one_line(tmp_path, text, says):
    path = tmp_path / "map.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_mapping("salesforce", path)
    assert says in str(caught.value) and "\n" not in str(caught.value)
    assert str(path) in str(caught.value)


def test_values_ids_and_the_comparison():
    mapping = load_mapping("hubspot")
    result = {
        "tier": "HOT",
        "score": 91,
        "confidence": "high",
        "rank": 1,
        "overridden": False,
        "reasoning": "a\n b",
        "signals": [{"url": "https://x"}],
        "updated_at": None,
        "metadata": {"HS_Object_ID": " 42 ", "crm_id": "7"},
    }
    assert record_id(result, mapping) == "42"
    values = property_values(result, mapping)
    assert values["gpu_reason"] == "a b" and values["gpu_evidence_url"] == "https://x"
    held = {
        "gpu_tier": "HOT",
        "gpu_score": 91.0,
        "gpu_confidence": "high",
        "gpu_rank": "1",
        "gpu_reason": "a b",
        "gpu_evidence_url": "https://x",
        "gpu_override": "false",
    }
    assert changes(held, values) == []
    assert normalised("2026-12-03T10:00:00.000+0000") == normalised("2026-12-03T10:00:00Z")
    assert normalised("") is None and normalised(True) == "true"
