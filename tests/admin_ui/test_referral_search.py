"""Referral search (/referrals): by UBRN, NHS number and name, filters, pages, masking; on
SQLite and PostgreSQL."""

from __future__ import annotations

import re

from sqlalchemy import Engine

from rmc_outreach.db import session_scope
from rmc_outreach.identifiers import format_nhs_number, mask_nhs_number
from rmc_outreach.models import Channel, Priority, ReferralStatus
from rmc_outreach.phones import format_national
from rmc_outreach.referral_search import PAGE_SIZE
from tests.admin_ui.conftest import StaffClient
from tests.factories import create_patient, create_referral


def ubrns_on(html: str) -> list[str]:
    """The UBRNs in the results table, in order."""
    return re.findall(r'<td class="mono"><a href="/referrals/\d+">(\d{12})</a>', html)


def make_people() -> dict[str, tuple[str, str]]:
    """Three patients with known names; returns name -> (UBRN, NHS number)."""
    made = {}
    with session_scope() as session:
        for given, family, specialty in (
            ("Amara", "Okafor", "Cardiology"),
            ("Siobhan", "O'Brien", "Dermatology"),
            ("Okafor", "Smith", "Cardiology"),
        ):
            patient = create_patient(session, given_name=given, family_name=family)
            referral = create_referral(session, patient=patient, specialty=specialty)
            made[f"{given} {family}"] = (referral.ubrn, patient.nhs_number)
    return made


def test_a_ubrn_typed_with_spaces_finds_its_referral(database: Engine, client: StaffClient) -> None:
    made = make_people()
    ubrn, _ = made["Amara Okafor"]

    response = client.get("/referrals", query_string={"q": f"{ubrn[:4]} {ubrn[4:8]} {ubrn[8:]}"})

    assert response.status_code == 200
    assert ubrns_on(response.get_data(as_text=True)) == [ubrn]


def test_an_nhs_number_typed_with_spaces_finds_the_patients_referrals_masked(
    database: Engine, client: StaffClient
) -> None:
    made = make_people()
    ubrn, nhs_number = made["Siobhan O'Brien"]

    response = client.get("/referrals", query_string={"q": format_nhs_number(nhs_number)})

    html = response.get_data(as_text=True)
    assert ubrns_on(html) == [ubrn]
    assert mask_nhs_number(nhs_number) in html
    assert nhs_number not in html.replace(f'value="{format_nhs_number(nhs_number)}"', "")
    assert format_nhs_number(nhs_number) not in html.replace(
        f'value="{format_nhs_number(nhs_number)}"', ""
    )


def test_a_family_name_prefix_in_any_case_finds_family_names_before_given_names(
    database: Engine, client: StaffClient
) -> None:
    made = make_people()

    html = client.get("/referrals", query_string={"q": "okaf"}).get_data(as_text=True)

    # "Okafor" as a family name; the patient whose given name is Okafor is not a family match.
    assert ubrns_on(html) == [made["Amara Okafor"][0]]


def test_given_and_family_name_in_either_order_find_the_patient(
    database: Engine, client: StaffClient
) -> None:
    made = make_people()
    expected = [made["Siobhan O'Brien"][0]]

    for typed in ("Siobhan O'Brien", "sio o'b", "O'Brien, Siobhan"):
        html = client.get("/referrals", query_string={"q": typed}).get_data(as_text=True)
        assert ubrns_on(html) == expected, typed


def test_one_word_that_starts_no_family_name_is_looked_for_in_given_names(
    database: Engine, client: StaffClient
) -> None:
    made = make_people()

    html = client.get("/referrals", query_string={"q": "Amara"}).get_data(as_text=True)

    assert ubrns_on(html) == [made["Amara Okafor"][0]]
    assert "these are given names" in html


def test_filters_narrow_the_results(database: Engine, client: StaffClient) -> None:
    with session_scope() as session:
        wanted = create_referral(
            session,
            specialty="Urology",
            priority=Priority.URGENT,
            status=ReferralStatus.IN_OUTREACH,
            next_channel=Channel.SMS,
        ).ubrn
        reached = create_referral(
            session, specialty="Urology", status=ReferralStatus.REACHED, reached_by=Channel.CALL
        ).ubrn
        create_referral(session, specialty="Urology", priority=Priority.ROUTINE)
        create_referral(session, specialty="Cardiology", priority=Priority.URGENT)

    def found(**filters: str) -> list[str]:
        return ubrns_on(client.get("/referrals", query_string=filters).get_data(as_text=True))

    assert found(specialty="Urology", priority="urgent") == [wanted]
    assert found(status="in_outreach") == [wanted]
    assert found(channel="next:sms") == [wanted]
    assert found(channel="reached:call") == [reached]
    assert len(found(specialty="Urology")) == 3


def test_the_specialty_list_offers_every_specialty_once(
    database: Engine, client: StaffClient
) -> None:
    make_people()

    html = client.get("/referrals").get_data(as_text=True)

    assert html.count('<option value="Cardiology"') == 1
    assert html.count('<option value="Dermatology"') == 1


def test_results_come_a_page_at_a_time_with_links_between_pages(
    database: Engine, client: StaffClient
) -> None:
    with session_scope() as session:
        patient = create_patient(session, family_name="Pagewright")
        for _ in range(PAGE_SIZE + 5):
            create_referral(session, patient=patient)

    first = client.get("/referrals", query_string={"q": "pagewright"}).get_data(as_text=True)
    second = client.get("/referrals", query_string={"q": "pagewright", "page": "2"}).get_data(
        as_text=True
    )

    assert len(ubrns_on(first)) == PAGE_SIZE
    assert 'rel="next"' in first
    assert len(ubrns_on(second)) == 5
    assert 'rel="prev"' in second
    assert 'rel="next"' not in second
    assert not set(ubrns_on(first)) & set(ubrns_on(second))


def test_a_search_that_cannot_run_says_why_and_repeats_nothing_typed(
    database: Engine, client: StaffClient
) -> None:
    for typed, message in (
        ("12345", "type 12 digits for a UBRN or 10 for an NHS number"),
        ("9990000019", "not a valid NHS number"),
        ("Smith 12", "search by UBRN (12 digits), NHS number (10 digits) or name"),
    ):
        response = client.get("/referrals", query_string={"q": typed})
        assert response.status_code == 422
        html = response.get_data(as_text=True)
        assert message in html
        assert 'href="#field-q"' in html
    assert client.get("/referrals", query_string={"status": "nonsense"}).status_code == 422


def test_results_show_no_clear_phone_number(database: Engine, client: StaffClient) -> None:
    with session_scope() as session:
        patient = create_patient(session, family_name="Phoneless")
        create_referral(session, patient=patient)
        mobile = patient.mobile_phone
    assert mobile is not None

    html = client.get("/referrals", query_string={"q": "phoneless"}).get_data(as_text=True)

    assert "Phoneless" in html
    assert mobile not in html
    assert format_national(mobile) not in html
