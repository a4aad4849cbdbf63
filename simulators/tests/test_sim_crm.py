"""The CRM simulators' wire formats as the vendors document them: auth errors, batch limits,
unknown fields refused, 207 multi-status, injected 429 with Retry-After."""

import httpx
import pytest

from simulators.crm_server import start_crm_simulators


@pytest.fixture(scope="module")
def crm():
    with start_crm_simulators({"hs"}, {"name", "gpu_tier"}, {"sf"}, {"Name", "GPU_Tier__c"}) as s:
        yield s


def test_hubspot_errors_and_limits(crm):
    crm.reset()
    crm.hubspot.add("1", name="A")
    url = crm.hubspot_url + "/crm/v3/objects/companies/batch/update"
    ok = {"Authorization": "Bearer hs"}
    bad = httpx.post(url, json={"inputs": []}, headers={"Authorization": "Bearer no"})
    assert bad.status_code == 401 and bad.json()["category"] == "INVALID_AUTHENTICATION"
    many = {"inputs": [{"id": str(i), "properties": {}} for i in range(101)]}
    assert httpx.post(url, json=many, headers=ok).status_code == 400
    unknown = {"inputs": [{"id": "1", "properties": {"gpu_mood": "x"}}]}
    answer = httpx.post(url, json=unknown, headers=ok)
    assert answer.status_code == 400 and answer.json()["errors"][0]["code"] == (
        "PROPERTY_DOESNT_EXIST"
    )
    mixed = {"inputs": [{"id": "1", "properties": {"gpu_tier": "HOT"}},
                        {"id": "2", "properties": {"gpu_tier": "HOT"}}]}  # fmt: skip
    answer = httpx.post(url, json=mixed, headers=ok)
    assert answer.status_code == 207 and answer.json()["errors"][0]["context"]["ids"] == ["2"]
    crm.hubspot.inject("POST", "batch/update", 429, retry_after=3)
    limited = httpx.post(url, json=mixed, headers=ok)
    assert limited.status_code == 429 and limited.headers["retry-after"] == "3"
    assert limited.json()["category"] == "RATE_LIMITS"


def test_salesforce_errors_and_limits(crm):
    crm.reset()
    crm.salesforce.add("001000000000001AAA", Name="A")
    url = crm.salesforce_url + "/services/data/v59.0/composite/sobjects"
    ok = {"Authorization": "Bearer sf"}
    bad = httpx.patch(url, json={"records": []}, headers={"Authorization": "Bearer no"})
    assert bad.status_code == 401 and bad.json()[0]["errorCode"] == "INVALID_SESSION_ID"
    record = {"attributes": {"type": "Account"}, "id": "001000000000001AAA"}
    many = {"allOrNone": False, "records": [record] * 201}
    assert httpx.patch(url, json=many, headers=ok).status_code == 400
    unknown = {"allOrNone": False, "records": [record | {"GPU_Mood__c": "x"}]}
    answer = httpx.patch(url, json=unknown, headers=ok)
    assert answer.status_code == 400 and answer.json()[0]["errorCode"] == "INVALID_FIELD"
    gone = record | {"id": "001000000000002AAA", "GPU_Tier__c": "HOT"}
    answer = httpx.patch(url, json={"records": [record | {"GPU_Tier__c": "HOT"}, gone]},
                         headers=ok)  # fmt: skip
    assert [r["success"] for r in answer.json()] == [True, False]
    crm.salesforce.inject("GET", "query", 403)
    q = httpx.get(crm.salesforce_url + "/services/data/v59.0/query/",
                  params={"q": "SELECT Id FROM Account WHERE Id IN ('x')"}, headers=ok)  # fmt: skip
    assert q.status_code == 403 and q.json()[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"
