"""Sample letter contexts: names with diacritics, short and long addresses, both print sizes."""

from __future__ import annotations

from datetime import date

from rmc_outreach.letters import LetterContext, letter_context
from rmc_outreach.messages import default_public_context

BOOKING_NUMBER = "0113 496 0123"
PUBLIC = default_public_context(BOOKING_NUMBER)

SAMPLE_PATIENTS: dict[str, tuple[str, str, list[str | None], str]] = {
    "polish": ("Łukasz", "Wiśniewski", ["14 Queen's Road", None, None, "Leeds", None], "LS6 1AA"),
    "vietnamese": (
        "Thị Mai",
        "Nguyễn",
        ["Flat 2", "Đặng Court", "88 Mill Lane", "Bradford", "West Yorkshire"],
        "BD1 5AA",
    ),
    "welsh": (
        "Siân",
        "Llŷr-Ó Briain",
        ["Tŷ Gwyn", "Heol y Felin", None, "Caerdydd", None],
        "cf10 1aa",
    ),
    "longest": (
        "Maximilian-Alexander",
        "Featherstonehaugh-Cholmondeley",
        [
            "Apartment 1204, The Residences at Kingsway",
            "Victoria Embankment Gardens",
            "St Margaret's-at-Cliffe",
            "Kingston upon Hull",
            "East Riding of Yorkshire",
        ],
        "HU12 9ZZ",
    ),
}


def sample_context(name: str, *, large_print: bool) -> LetterContext:
    """The letter context of one sample patient."""
    given, family, address, postcode = SAMPLE_PATIENTS[name]
    return letter_context(
        given_name=given,
        family_name=family,
        address=address,
        postcode=postcode,
        ubrn="000123456789",
        letter_date=date(2026, 11, 27),
        large_print=large_print,
        public=PUBLIC,
    )
