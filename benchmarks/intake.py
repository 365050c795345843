"""Referral intake benchmark: import a synthetic 100,000-row worklist, then import it again.

    python -m benchmarks.intake [--rows 100000] [--database-url URL] [--seed 1]

``--database-url`` names a PostgreSQL server (its database part is ignored): a temporary database
is created there, migrated with Alembic and dropped afterwards. A ``sqlite:///`` URL uses a
temporary file instead. Targets (2 cores): import <= 30 s and <= 400 MB peak RSS; re-import
(every row unchanged) <= 15 s. The last line of output is one JSON object of the figures.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import random
import resource
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from rmc_outreach import db
from rmc_outreach.config import Settings, load_settings
from rmc_outreach.identifiers import nhs_check_digit
from rmc_outreach.intake import import_worklist
from rmc_outreach.intake.columns import OPTIONAL_COLUMNS, REQUIRED_COLUMNS
from rmc_outreach.migrate import upgrade_to_head

DEFAULT_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/"

GIVEN_NAMES = (
    "Amara",
    "Oliver",
    "Zoë",
    "Mohammed",
    "Siobhán",
    "Priya",
    "Wojciech",
    "Chloé",
    "Kwame",
    "Aisha",
    "Dylan",
    "Mei",
    "Seren",
    "Tomasz",
    "Fatima",
    "Jack",
    "Niamh",
    "Arjun",
    "Olamide",
    "Gráinne",
    "Yusuf",
    "Eilidh",
    "Hannah",
    "Rhys",
    "Ngozi",
    "Björn",
    "Leah",
    "Ahmed",
    "Isla",
)
FAMILY_NAMES = (
    "Okafor",
    "Smith",
    "Nowak",
    "Patel",
    "O'Brien",
    "Jones",
    "Khan",
    "Williams",
    "Begum",
    "MacDonald",
    "Evans",
    "Chen",
    "Kowalczyk",
    "Mensah",
    "Ahmed",
    "Brown",
    "Ó Súilleabháin",
    "Taylor",
    "Hussain",
    "Davies",
    "Nguyen",
    "Wilson",
    "Adeyemi",
    "Murphy",
    "Thomas",
    "Singh",
)
STREETS = ("High Street", "Station Road", "Church Lane", "Mill Road", "Park Avenue", "Green Way")
TOWNS = (
    ("Leeds", "LS1 4AP"),
    ("Sheffield", "S1 2HE"),
    ("Bristol", "BS1 5TR"),
    ("Manchester", "M1 1AE"),
    ("Cardiff", "CF10 1EP"),
    ("Glasgow", "G1 1XQ"),
)
SPECIALTIES = (
    "Cardiology",
    "Dermatology",
    "Gastroenterology",
    "Ophthalmology",
    "Orthopaedics",
    "ENT",
    "Gynaecology",
    "Urology",
    "Neurology",
    "Rheumatology",
)
PRIORITIES = ("routine", "routine", "routine", "urgent", "2ww")
LANDLINE_PREFIXES = ("0113 496 0", "0114 496 0", "0117 496 0", "020 7946 0", "0161 496 0")


def _nhs_numbers(rng: random.Random, count: int) -> list[str]:
    bodies = rng.sample(range(999_000_000, 1_000_000_000), min(count * 2, 1_000_000))
    numbers = []
    for body in bodies:
        check = nhs_check_digit(str(body))
        if check is not None:
            numbers.append(f"{body}{check}")
            if len(numbers) == count:
                return numbers
    raise ValueError("not enough NHS numbers in the 999 range for this many rows")


def synthetic_worklist(rows: int, seed: int) -> bytes:
    """A valid worklist of ``rows`` referrals, one patient each, as UTF-8 CSV bytes."""
    rng = random.Random(seed)
    header = list(REQUIRED_COLUMNS + OPTIONAL_COLUMNS)
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    today = date(2026, 11, 1)
    for index, nhs_number in enumerate(_nhs_numbers(rng, rows)):
        born = today - timedelta(days=rng.randrange(18 * 365, 95 * 365))
        town, postcode = rng.choice(TOWNS)
        has_mobile = rng.random() < 0.85
        ubrn = f"{100_000_000_000 + index:012d}"
        writer.writerow(
            [
                f"{ubrn[:4]} {ubrn[4:8]} {ubrn[8:]}",
                f"{nhs_number[:3]} {nhs_number[3:6]} {nhs_number[6:]}",
                rng.choice(GIVEN_NAMES),
                rng.choice(FAMILY_NAMES),
                born.strftime("%d/%m/%Y") if index % 2 else born.isoformat(),
                f"07700 900{rng.randrange(1000):03d}" if has_mobile else "",
                f"{rng.choice(LANDLINE_PREFIXES)}{rng.randrange(1000):03d}"
                if rng.random() < 0.6 or not has_mobile
                else "",
                f"{rng.randrange(1, 200)} {rng.choice(STREETS)}",
                town,
                "",
                "",
                "",
                postcode,
                rng.choice(SPECIALTIES),
                rng.choice(PRIORITIES),
                (today - timedelta(days=rng.randrange(1, 120))).strftime("%d/%m/%Y"),
                "yes" if rng.random() < 0.05 else "",
                "yes" if rng.random() < 0.03 else "no",
                "",  # letter_only
                "",  # landline_only
                "y" if rng.random() < 0.02 else "",
                "Polish" if rng.random() < 0.02 else "",
                "",
            ]
        )
    return buffer.getvalue().encode("utf-8")


@contextmanager
def temporary_database(url: str, *, keep: bool = False) -> Iterator[str]:
    """A fresh empty database on the server of ``url`` (or a temporary SQLite file); dropped
    afterwards unless ``keep`` (PostgreSQL only: its name is printed, to look into the run)."""
    if url.startswith("sqlite"):
        with tempfile.TemporaryDirectory() as folder:
            yield f"sqlite:///{Path(folder) / 'bench.sqlite3'}"
        return
    admin_url = make_url(url).set(database="postgres")
    admin: Engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"rmc_bench_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(url).set(database=name).render_as_string(hide_password=False)
    finally:
        db.get_engine().dispose()
        if keep:
            print(f"database kept: {name}", file=sys.stderr)
        else:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _settings(database_url: str, var_dir: str) -> Settings:
    return load_settings(
        {
            "DATABASE_URL": database_url,
            "RMC_VAR_DIR": var_dir,
            "SECRET_KEY": "benchmark-secret-key-" + "x" * 32,
            "INTAKE_MAX_ROWS": "1000000",
            "INTAKE_MAX_BYTES": str(1024 * 1024 * 1024),
        }
    )


def _peak_rss_mb() -> float:
    # Linux reports ru_maxrss in kilobytes.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its figures; the last line is JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--seed", type=int, default=1)
    options = parser.parse_args(argv)

    data = synthetic_worklist(options.rows, options.seed)
    print(f"worklist: {options.rows:,} rows, {len(data) / 1e6:.1f} MB", file=sys.stderr)
    with tempfile.TemporaryDirectory() as var_dir, temporary_database(options.database_url) as url:
        settings = _settings(url, var_dir)
        upgrade_to_head(db.configure(settings))

        started = time.perf_counter()
        first = import_worklist(data, filename="bench.csv", settings=settings, actor_label="bench")
        import_seconds = time.perf_counter() - started

        started = time.perf_counter()
        second = import_worklist(data, filename="bench.csv", settings=settings, actor_label="bench")
        reimport_seconds = time.perf_counter() - started
        db.get_engine().dispose()

    for line in first.summary_lines()[:3] + second.summary_lines()[:3]:
        print(line, file=sys.stderr)
    figures = {
        "rows": options.rows,
        "import_s": round(import_seconds, 2),
        "reimport_s": round(reimport_seconds, 2),
        "peak_rss_mb": round(_peak_rss_mb(), 1),
        "imported": first.imported,
        "unchanged": second.unchanged,
        "rejected_rows": first.rejected_rows + second.rejected_rows,
        "backend": make_url(options.database_url).get_backend_name(),
    }
    print(json.dumps(figures))
    return 0 if first.exit_code == 0 and second.exit_code == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
