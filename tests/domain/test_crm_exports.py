"""A CRM's own export is an accounts file as it comes: the headers HubSpot's company export
and Salesforce's reports and Data Loader write are read as the name, the domain, the owner
and the record id, without renaming a column. The header rows are the vendors' as public
projects that read their exports hold them (HubSpot: "Record ID, Company name, Company Domain
Name, Website URL, Company owner"; Salesforce reports: "Account Name, Account ID, Account
Owner, Website"; Data Loader: the fields' API names), and a report's footer is the one public
readers of those exports strip (a title, the copyright and confidentiality notice, who ran it,
the org's name; or "Grand Totals (N records)" before the notice)."""

from __future__ import annotations

from domain.columns import owner_column
from domain.crm import load_mapping, record_id
from domain.export_footer import HELD
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
    # No Company Domain Name: the Website URL says it, as HubSpot's own import reads it.
    assert harbour.domain == "harbour.example"
    assert harbour.metadata["Website URL"] == "harbour.example"
    assert owner_column(found.accounts[0].metadata) == "Company owner"
    assert record_id(_as_result(bluebay), load_mapping("hubspot")) == "9001"


def test_a_hubspot_export_with_only_the_website_url_takes_its_domain() -> None:
    rows = [[cell for i, cell in enumerate(row) if i != 2] for row in HUBSPOT_EXPORT]  # no domain
    found = parse(encode(rows))
    assert found.domain_column == "Website URL"
    assert [a.domain for a in found.accounts] == ["bluebay.example", "harbour.example"]


def test_a_web_address_that_is_no_domain_is_passed_through_not_refused() -> None:
    data = b"Company name,Company Domain Name,Website URL\nAcme,,n/a\nGlobex,globex.example,\n"
    acme, globex = parse(data).accounts
    assert (acme.domain, acme.metadata["Website URL"]) == (None, "n/a")
    assert globex.domain == "globex.example"
    # In the domain column itself a value that is no domain is still refused, as before.
    fails(b"Company name,Company Domain Name\nAcme,n/a\n", "'n/a' is not a valid domain")


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


# As Salesforce writes it below a report's rows (each line one quoted cell).
FOOTER = (
    b'\r\n\r\n"Accounts by Owner"\r\n'
    b'"Copyright (c) 2000-2026 salesforce.com, inc. All rights reserved."\r\n'
    b'"Confidential Information - Do Not Distribute"\r\n'
    b'"Generated By:  Jo Rep  12/7/2026 9:05 AM"\r\n'
    b'"Harbourline Capital"\r\n'
)
TOTALS_FOOTER = (
    b'\n\n"Grand Totals (2 records)"\n\n"Confidential Information - Do Not Distribute"\n'
    b'"Copyright (c) 2000-2026 salesforce.com, inc. All rights reserved."\n'
)


def test_a_salesforce_reports_footer_is_left_out_not_refused() -> None:
    # "Account Owner" comes first: read as rows, the footer's lines would be owners of
    # companies without a name, and the file refused.
    found = parse(encode(SALESFORCE_REPORT) + FOOTER)
    assert [a.name for a in found.accounts] == ["Kilimo Data"]
    assert found.footer_lines == 5


def test_a_footer_under_the_name_column_is_not_researched() -> None:
    data = b"Account Name,Website\r\nAcme,acme.example\r\nGlobex,globex.example"
    found = parse(data + TOTALS_FOOTER)
    assert [a.name for a in found.accounts] == ["Acme", "Globex"]
    assert found.footer_lines == 3


def test_a_name_only_file_keeps_every_name_before_the_footer() -> None:
    found = parse(b"Account Name\nAcme\nGlobex\nGrand Totals (3 records)" + FOOTER)
    assert [a.name for a in found.accounts] == ["Acme", "Globex", "Grand Totals (3 records)"]
    assert found.footer_lines == 5


def test_lines_like_a_footers_are_kept_when_they_are_no_footer() -> None:
    # No notice: one-cell lines after a blank line are companies of a name-only file.
    found = parse(b"name\nAcme\n\nGrand Totals (1 records)\nAccounts by Owner\n")
    assert len(found.accounts) == 3 and found.footer_lines == 0
    # No blank line parts the notice from a name-only file's names: nothing is guessed.
    found = parse(b"name\nAcme\nConfidential Information - Do Not Distribute\n")
    assert len(found.accounts) == 2 and found.footer_lines == 0
    # The notice with rows after it is a row like any other.
    data = b"name,domain\nAcme,acme.example\n\nConfidential Information - Do Not Distribute\n"
    found = parse(data + b"Globex,globex.example\n")
    assert len(found.accounts) == 3 and found.footer_lines == 0


def test_a_long_name_only_file_is_read_whole_around_the_held_lines() -> None:
    names = [f"Company {i}" for i in range(3 * HELD)]
    data = ("name\n" + "\n".join(names)).encode()
    found = parse(data + FOOTER)
    assert [a.name for a in found.accounts] == names and found.footer_lines == 5
    assert [a.name for a in parse(data).accounts] == names
