"""A synthetic, realistic e-RS-style worklist: the referrals the demo, tests and benchmarks use.

``synthetic_worklist_csv(count, seed=..., today=...)`` returns the bytes of a CSV file in the
worklist format intake reads (``WORKLIST_COLUMNS``), deterministic for a seed. Every row is valid
for intake in development mode, and it looks like a real export: diverse names with apostrophes,
hyphens and diacritics, phones written in the several ways people type them, flags as yes/no,
Y/N, true/false, 1/0 or blank, dates as DD/MM/YYYY or YYYY-MM-DD, priorities in any case.

Only test identities are made: NHS numbers in the 999 range with a valid check digit, phone
numbers in Ofcom's drama ranges.
"""

from __future__ import annotations

import csv
import io
import itertools
import random
import unicodedata
from datetime import date, timedelta

from rmc_outreach.identifiers import nhs_check_digit
from rmc_outreach.intake.columns import OPTIONAL_COLUMNS, REQUIRED_COLUMNS
from rmc_outreach.simulation.names import INTERPRETER_LANGUAGES, NAME_ORIGINS, NameOrigin

# The importer's own column list, so the generator can never drift from what intake expects.
WORKLIST_COLUMNS: tuple[str, ...] = REQUIRED_COLUMNS + OPTIONAL_COLUMNS

NHS_TEST_RANGE_PREFIX = "999"
NHS_NUMBERS_AVAILABLE = 909_091  # 10**6 suffixes, less the ~1 in 11 whose check digit would be 10
REFERRAL_WINDOW_DAYS = 120

SPECIALTIES: tuple[str, ...] = (
    "Cardiology",
    "Dermatology",
    "ENT",
    "Gastroenterology",
    "General Surgery",
    "Gynaecology",
    "Neurology",
    "Ophthalmology",
    "Orthopaedics",
    "Respiratory",
    "Rheumatology",
    "Urology",
    "Endocrinology",
    "Pain Management",
    "Paediatrics",
)
# Two-week-wait (suspected cancer) pathways.
TWO_WEEK_WAIT_SPECIALTIES: tuple[str, ...] = (
    "Breast",
    "Colorectal",
    "Dermatology",
    "Gynaecology",
    "Urology",
    "Respiratory",
    "Upper GI",
    "Head and Neck",
    "Haematology",
)
PRIORITY_SPELLINGS: dict[str, tuple[str, ...]] = {
    "routine": ("Routine", "routine", "ROUTINE"),
    "urgent": ("Urgent", "URGENT", "urgent"),
    "2ww": ("2WW", "2ww"),
}
FLAG_SPELLINGS: tuple[tuple[str, str], ...] = (
    ("yes", "no"),
    ("Yes", "No"),
    ("Y", "N"),
    ("true", "false"),
    ("TRUE", "FALSE"),
    ("1", "0"),
)

# Fictional towns, each with a county and postcode districts in a plausible area.
TOWNS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("Walford", "London", ("E20", "E15")),
    ("Weatherfield", "Greater Manchester", ("M5", "M6", "M7")),
    ("Holby", "Avon", ("BS3", "BS4", "BS16")),
    ("Borchester", "Borsetshire", ("WR1", "WR2")),
    ("Ambridge", "Borsetshire", ("WR10", "WR11")),
    ("Hotten", "West Yorkshire", ("LS21", "LS29")),
    ("Royston Vasey", "Derbyshire", ("SK13", "SK14")),
    ("Pontypandy", "Mid Glamorgan", ("CF44", "CF45")),
    ("Causton", "Midsomer", ("HP9", "HP10")),
    ("Greendale", "Cumbria", ("LA9", "LA8")),
    ("Trumpton", "Bedfordshire", ("LU5", "LU6")),
    ("St Mary Mead", "Kent", ("ME14", "ME15")),
    ("Camberwick Green", "Hertfordshire", ("SG1", "SG2")),
    ("Letherbridge", "Borsetshire", ("WR14",)),
    ("Newtown Hollow", "Lancashire", ("BB1", "BB2", "PR1")),
    ("Brackley Vale", "Leicestershire", ("LE1", "LE2", "LE4")),
)
LOCALITIES: tuple[str, ...] = (
    "Little Haddow",
    "East Feltham",
    "Upper Shaw",
    "Millbrook",
    "Kings Norbury",
    "Ashdown End",
    "Nether Wallop Green",
)
STREET_NAMES: tuple[str, ...] = (
    "Acacia",
    "Laburnum",
    "Chestnut",
    "Victoria",
    "Albert",
    "Station",
    "Church",
    "Mill",
    "Coronation",
    "Jubilee",
    "Rosamund",
    "Kestrel",
    "Bramble",
    "Hawthorn",
    "Meadow",
    "Orchard",
    "Windmill",
    "Canal",
    "Foundry",
    "St John's",
    "Queen's",
    "Pen-y-Bryn",
)
STREET_KINDS: tuple[str, ...] = ("Road", "Street", "Avenue", "Lane", "Close", "Drive", "Way")
HOUSE_NAMES: tuple[str, ...] = (
    "Rose Cottage",
    "The Old Forge",
    "Ty Gwyn",
    "Holly Lodge",
    "Orchard House",
    "The Willows",
)
BLOCK_NAMES: tuple[str, ...] = ("Kestrel House", "Sycamore Court", "Riverside Mews", "Tower View")
# Letters allowed in the inward part of a postcode (never C, I, K, M, O or V).
INWARD_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"


def synthetic_nhs_numbers(count: int, rng: random.Random) -> list[str]:
    """``count`` distinct NHS numbers in the 999 test range, each with a valid check digit."""
    if count > NHS_NUMBERS_AVAILABLE:
        raise ValueError(f"the 999 test range holds only {NHS_NUMBERS_AVAILABLE} NHS numbers")
    seen: set[str] = set()
    numbers: list[str] = []
    while len(numbers) < count:
        first_nine = f"{NHS_TEST_RANGE_PREFIX}{rng.randrange(1_000_000):06d}"
        check = nhs_check_digit(first_nine)
        if check is None or first_nine in seen:
            continue
        seen.add(first_nine)
        numbers.append(f"{first_nine}{check}")
    return numbers


def synthetic_ubrns(count: int, rng: random.Random) -> list[str]:
    """``count`` distinct 12-digit UBRNs (never starting with 0, as spreadsheets eat the zero)."""
    seen: set[int] = set()
    ubrns: list[str] = []
    while len(ubrns) < count:
        value = rng.randrange(10**11, 10**12)
        if value not in seen:
            seen.add(value)
            ubrns.append(str(value))
    return ubrns


def _mobile(rng: random.Random) -> str:
    line = f"{rng.randrange(1000):03d}"
    return rng.choice(
        (
            f"07700 900{line}",
            f"07700900{line}",
            f"+44 7700 900{line}",
            f"+447700900{line}",
            f"07700 900 {line}",
        )
    )


LANDLINE_SHAPES: tuple[tuple[str, ...], ...] = (
    ("01632 960{}", "01632960{}", "+44 1632 960{}", "(01632) 960{}"),
    ("01632 960{}", "01632960{}", "+44 1632 960{}", "(01632) 960{}"),
    ("020 7946 0{}", "02079460{}", "+44 20 7946 0{}", "(020) 7946 0{}"),
    ("0113 496 0{}", "01134960{}", "+44 113 496 0{}", "(0113) 496 0{}"),
)


def _landline(rng: random.Random) -> str:
    return rng.choice(rng.choice(LANDLINE_SHAPES)).format(f"{rng.randrange(1000):03d}")


def _spaced_nhs_number(nhs_number: str) -> str:
    return f"{nhs_number[:3]} {nhs_number[3:6]} {nhs_number[6:]}"


def _format_date(value: date, rng: random.Random) -> str:
    if rng.random() < 0.7:
        return value.strftime("%d/%m/%Y")
    return value.isoformat()


def _date_of_birth(rng: random.Random, today: date, child: bool) -> date:
    # Referral populations skew old; a few children are referred with a carer to contact.
    age = rng.randint(1, 17) if child else round(rng.triangular(18, 98, 66))
    return today - timedelta(days=int(age * 365.25) + rng.randrange(1, 365))


def _postcode(rng: random.Random, districts: tuple[str, ...]) -> str:
    inward = f"{rng.randint(1, 9)}{rng.choice(INWARD_LETTERS)}{rng.choice(INWARD_LETTERS)}"
    return f"{rng.choice(districts)} {inward}"


def _address(rng: random.Random) -> tuple[list[str], str]:
    town, county, districts = rng.choice(TOWNS)
    street = f"{rng.choice(STREET_NAMES)} {rng.choice(STREET_KINDS)}"
    number = rng.randint(1, 240)
    shape = rng.random()
    if shape < 0.6:
        lines = [f"{number} {street}", town, county if rng.random() < 0.5 else ""]
    elif shape < 0.8:
        block = rng.choice(BLOCK_NAMES)
        lines = [f"Flat {rng.randint(1, 40)}", f"{block}, {number} {street}", town, county]
    else:
        lines = [rng.choice(HOUSE_NAMES), street, rng.choice(LOCALITIES), town, county]
    lines += [""] * (5 - len(lines))
    return lines, _postcode(rng, districts)


ORIGIN_CUMULATIVE_WEIGHTS = tuple(itertools.accumulate(origin.weight for origin in NAME_ORIGINS))


def _pick_origin(rng: random.Random) -> NameOrigin:
    return rng.choices(NAME_ORIGINS, cum_weights=ORIGIN_CUMULATIVE_WEIGHTS)[0]


def _flag(rng: random.Random, probability: float, spelling: tuple[str, str]) -> str:
    if rng.random() < probability:
        return spelling[0]
    return "" if rng.random() < 0.5 else spelling[1]


def _row(rng: random.Random, ubrn: str, nhs_number: str, today: date) -> dict[str, str]:
    origin = _pick_origin(rng)
    female = rng.random() < 0.52
    given = rng.choice(origin.female if female else origin.male)
    child = rng.random() < 0.015
    date_of_birth = _date_of_birth(rng, today, child)

    phone_shape = rng.random()
    mobile = "" if phone_shape < 0.15 else _mobile(rng)  # ~15% have only a landline
    landline = _landline(rng) if phone_shape < 0.5 else ""  # ~35% have both
    carer = ""
    if child or rng.random() < 0.036:
        carer = _mobile(rng) if rng.random() < 0.8 else _landline(rng)

    priority_roll = rng.random()
    if priority_roll < 0.10:
        priority, specialty = "2ww", rng.choice(TWO_WEEK_WAIT_SPECIALTIES)
    else:
        priority = "urgent" if priority_roll < 0.30 else "routine"
        specialty = "Paediatrics" if child and rng.random() < 0.6 else rng.choice(SPECIALTIES)
    if specialty == "Paediatrics" and not child:
        specialty = rng.choice(SPECIALTIES[:-1])

    earliest_referral = max(date_of_birth, today - timedelta(days=REFERRAL_WINDOW_DAYS))
    referral_date = today - timedelta(days=rng.randint(0, (today - earliest_referral).days))

    language = ""
    if rng.random() < 0.06:
        language = rng.choice(INTERPRETER_LANGUAGES)
    elif rng.random() < 0.3:
        language = "English"

    address_lines, postcode = _address(rng)
    spelling = rng.choice(FLAG_SPELLINGS)
    row = {
        "ubrn": ubrn,
        "nhs_number": nhs_number if rng.random() < 0.7 else _spaced_nhs_number(nhs_number),
        # Names reach intake as NFC, as a well-behaved export writes them.
        "given_name": unicodedata.normalize("NFC", given),
        "family_name": unicodedata.normalize("NFC", rng.choice(origin.family)),
        "date_of_birth": _format_date(date_of_birth, rng),
        "mobile_phone": mobile,
        "landline_phone": landline,
        "postcode": postcode if rng.random() < 0.9 else postcode.replace(" ", ""),
        "specialty": specialty,
        "priority": rng.choice(PRIORITY_SPELLINGS[priority]),
        "referral_date": _format_date(referral_date, rng),
        "no_voicemail": _flag(rng, 0.05, spelling),
        "no_sms": _flag(rng, 0.05, spelling),
        "letter_only": _flag(rng, 0.03, spelling),
        # Asked for by some patients with both phones (~3% of all): calls to the landline only.
        "landline_only": _flag(rng, 0.08 if mobile and landline else 0.0, spelling),
        "large_print": _flag(rng, 0.04, spelling),
        "language": language,
        "carer_phone": carer,
    }
    for index, line in enumerate(address_lines, start=1):
        row[f"address_line_{index}"] = line
    return row


def synthetic_worklist_rows(count: int, *, seed: int, today: date) -> list[dict[str, str]]:
    """``count`` worklist rows (column name to cell text), the same rows for the same seed."""
    if count < 0:
        raise ValueError("count must not be negative")
    rng = random.Random(seed)
    nhs_numbers = synthetic_nhs_numbers(count, rng)
    ubrns = synthetic_ubrns(count, rng)
    return [_row(rng, ubrn, nhs, today) for ubrn, nhs in zip(ubrns, nhs_numbers, strict=True)]


def synthetic_worklist_csv(count: int, *, seed: int, today: date, bom: bool = False) -> bytes:
    """A UTF-8 worklist CSV of ``count`` valid synthetic referrals, deterministic for a seed.

    ``today`` anchors every date (referral dates within the last 120 days, never in the future);
    ``bom`` writes the byte-order mark that spreadsheet exports often start with.
    """
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(WORKLIST_COLUMNS)
    for row in synthetic_worklist_rows(count, seed=seed, today=today):
        writer.writerow([row[column] for column in WORKLIST_COLUMNS])
    return ("\ufeff" if bom else "").encode("utf-8") + buffer.getvalue().encode("utf-8")
