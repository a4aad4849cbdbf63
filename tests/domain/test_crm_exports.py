"""A CRM's own export is an accounts file as it comes: the headers HubSpot's company export
and Salesforce's reports and Data Loader write are read as the name, the domain, the owner
and the record id, without renaming a column. The header rows are the vendors' as public
projects that read their exports hold them (HubSpot: "Record ID, Company name, Company Domain
Name, Website URL, Company owner"; Salesforce reports: "Account Name, Account ID, Account
Owner, Website"; Data Loader: the fields' API names)."""

from __future__ import annotations

from domain.columns import owner_column
from domain.crm import load_mapping, record_id
from tests.domain.accounts_csv import encode, fails, parse

HUBSPOT_EXPORT = [
    ["Record ID", "Company name", "Company Domain Name", "Website URL", "Company owner",
     "Create Date", "Industry"],
    ["9001", "Bluebay Gaming Ltd", "bluebay.example", "https://www.bluebay.example/",
     "Sam Sales", "2024-02-01 09:30", "Gaming"],
    ["9002", "Harbour Lotteries Ltd", "", "harbour.example", "Sam Sales", "2023-11-12 14:00", ""],
]  # fmt: skip
SALESFORCE_REPORT = [
    ["Account Owner", "Account Name", "Type", "Website", "Account ID", "Billing Country"],
    ["Jo Rep", "Kilimo Data", "Prospect", "http://www.kilimodata.co.ke", "0015g00000AbCdE",
     "Kenya"],
]  # fmt: skip


def _as_result(account) -> dict:
    return {"metadata": account.metadata}


def test_a_hubspot_company_export_is_read_as_it_comes() -> None:
    found = parse(encode(HUBSPOT_EXPORT))
    assert (found.name_column, found.domain_column) == ("Company name", "Company Domain Name")
    bluebay, harbour = found.accounts
    assert (bluebay.name, bluebay.domain) == ("Bluebay Gaming Ltd", "bluebay.example")
    # The web address passes through, as every other column of the export.
    assert bluebay.metadata["Website URL"] == "https://www.bluebay.example/"
    assert harbour.domain is None  # no Company Domain Name: none is guessed from elsewhere
    assert owner_column(found.accounts[0].metadata) == "Company owner"
    assert record_id(_as_result(bluebay), load_mapping("hubspot")) == "9001"


def test_a_hubspot_export_with_only_the_website_url_takes_its_domain() -> None:
    rows = [[cell for i, cell in enumerate(row) if i != 2] for row in HUBSPOT_EXPORT]  # no domain
    found = parse(encode(rows))
    assert found.domain_column == "Website URL"
    assert [a.domain for a in found.accounts] == ["bluebay.example", "harbour.example"]


def test_a_salesforce_accounts_report_is_read_as_it_comes() -> None:
    found = parse(encode(SALESFORCE_REPORT))
    assert (found.name_column, found.domain_column) == ("Account Name", "Website")
    (kilimo,) = found.accounts
    assert (kilimo.name, kilimo.domain) == ("Kilimo Data", "kilimodata.co.ke")
    assert owner_column(found.accounts[0].metadata) == "Account Owner"
    assert record_id(_as_result(kilimo), load_mapping("salesforce")) == "0015g00000AbCdE"
    assert record_id(_as_result(kilimo), load_mapping("hubspot")) is None  # not HubSpot's id


def test_a_data_loader_export_matches_on_its_upper_case_id() -> None:
    found = parse(b"ID,NAME,WEBSITE,OWNERID\n001000000000001AAA,Acme,acme.example,005X\n")
    (acme,) = found.accounts
    assert (acme.name, acme.domain) == ("Acme", "acme.example")
    assert record_id(_as_result(acme), load_mapping("salesforce")) == "001000000000001AAA"


def test_a_contacts_report_with_a_person_s_name_beside_the_account_s_is_refused() -> None:
    # A Salesforce contacts report: "Name" is the person's. Guessing would research people.
    fails(b"Name,Account Name,Email\nJane Doe,Acme,j@acme.example\n", "'Name'", "'Account Name'")


def test_the_first_non_empty_id_column_wins_in_any_spelling() -> None:
    mapping = load_mapping("hubspot")  # hs_object_id, Record ID, hubspot_id, crm_id
    assert record_id({"metadata": {"crm_id": "7", "record-id": " 42 "}}, mapping) == "42"
    assert record_id({"metadata": {"Record ID": "", "CRM ID": "7"}}, mapping) == "7"
    assert record_id({"metadata": {"Record ID": None}}, mapping) is None
    assert record_id({"metadata": {}}, mapping) is None
