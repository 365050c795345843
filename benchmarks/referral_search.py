"""Referral search benchmark: the search page's lookups among a million referrals in PostgreSQL.

    python -m benchmarks.referral_search [--referrals 1000000] [--rounds 40] [--seed 1]
                                         [--database-url URL]

A temporary database is created on the server of ``--database-url`` (its database part is
ignored), migrated with Alembic and filled in SQL by ``benchmarks.dispatch.load`` (patients,
referrals and past attempts; 15 given names x 17 family names, so a family name matches about
1 in 17 patients: far commoner than any real surname). Then ``measure_search`` times
``referral_search.search_referrals``, one read-only transaction per search, for each kind of
search in turn: UBRN, NHS number, "Given Family", a family name alone, a family name with a
status filter, the filters alone (status and priority; specialty) and page 5 of a family name.
The specialty list the page shows (a skip scan) is timed too.

Target (2 cores): ``search_ms_p50`` <= 100 ms at 1,000,000 referrals (p50 over every search).
The last line of output is one JSON object of the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from benchmarks.dispatch import load, spread
from benchmarks.intake import DEFAULT_DATABASE_URL, temporary_database
from rmc_outreach import db
from rmc_outreach.config import load_settings
from rmc_outreach.migrate import upgrade_to_head
from rmc_outreach.referral_search import parse_search, search_referrals, specialties

WARM_UP_ROUNDS = 3
GIVEN_NAMES = ("Amara", "Oliver", "Mohammed", "Priya", "Kwame", "Aisha", "Seren", "Arjun")
FAMILY_NAMES = ("Okafor", "Smith", "Nowak", "Patel", "O'Brien", "Jones", "Khan", "Chen")


def _samples(engine: Engine, count: int, seed: int) -> tuple[list[str], list[str]]:
    """``count`` UBRNs and NHS numbers of stored referrals, drawn at random."""
    with engine.connect() as connection:
        total = int(connection.execute(text("SELECT max(id) FROM referral")).scalar_one())
        picked = random.Random(seed).sample(range(1, total + 1), min(count, total))
        rows = connection.execute(
            text(
                "SELECT r.ubrn, p.nhs_number FROM referral AS r "
                "JOIN patient AS p ON p.id = r.patient_id WHERE r.id = ANY(:ids)"
            ),
            {"ids": picked},
        ).all()
    return [row[0] for row in rows], [row[1] for row in rows]


def _searches(engine: Engine, rounds: int, seed: int) -> dict[str, list[dict[str, str]]]:
    """Query strings for each kind of search, ``rounds`` of each (plus warm-up)."""
    count = rounds + WARM_UP_ROUNDS
    ubrns, nhs_numbers = _samples(engine, count, seed)
    chooser = random.Random(seed + 1)

    def family() -> str:
        return chooser.choice(FAMILY_NAMES)

    return {
        "ubrn": [{"q": ubrn} for ubrn in ubrns],
        "nhs_number": [{"q": f"{n[:3]} {n[3:6]} {n[6:]}"} for n in nhs_numbers],
        "full_name": [{"q": f"{chooser.choice(GIVEN_NAMES)} {family()}"} for _ in range(count)],
        "family_name": [{"q": family().lower()[:4]} for _ in range(count)],
        "family_name_and_status": [
            {"q": family(), "status": chooser.choice(("waiting", "booked", "exhausted"))}
            for _ in range(count)
        ],
        "filters_only": [
            {"status": chooser.choice(("waiting", "in_outreach")), "priority": "2ww"}
            for _ in range(count)
        ],
        "specialty": [
            {"specialty": chooser.choice(("Cardiology", "ENT", "Urology")), "channel": "next:call"}
            for _ in range(count)
        ],
        "family_name_page_5": [{"q": family(), "page": "5"} for _ in range(count)],
    }


def _time(work: Callable[[], object], rounds: list[Any]) -> list[float]:
    timings = []
    for _ in rounds:
        started = time.perf_counter()
        work()
        timings.append((time.perf_counter() - started) * 1000)
    return timings[WARM_UP_ROUNDS:]


def measure_search(engine: Engine, *, rounds: int = 40, seed: int = 1) -> dict[str, float]:
    """Time every kind of search (``rounds`` each, after warm-up) on the configured database;
    returns ``search_ms_p50`` (over all searches), p90, max, a p50 per kind and
    ``specialties_ms_p50``. Callable on any loaded database (``db.configure`` first)."""
    all_timings: list[float] = []
    figures: dict[str, float] = {}
    for kind, queries in _searches(engine, rounds, seed).items():
        timings: list[float] = []
        for warm_up, query in enumerate(queries):
            search = parse_search(query)
            started = time.perf_counter()
            with db.session_scope(read_only=True) as session:
                search_referrals(session, search)
            if warm_up >= WARM_UP_ROUNDS:
                timings.append((time.perf_counter() - started) * 1000)
        figures[f"{kind}_ms_p50"] = round(statistics.median(timings), 2)
        all_timings.extend(timings)

    def list_specialties() -> None:
        with db.session_scope(read_only=True) as session:
            specialties(session)

    specialty_timings = _time(list_specialties, [None] * (rounds + WARM_UP_ROUNDS))
    return {
        "load_average": round(os.getloadavg()[0], 2),
        **spread("search", all_timings),
        **figures,
        "specialties_ms_p50": round(statistics.median(specialty_timings), 2),
    }


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its figures; the last line is JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--referrals", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    options = parser.parse_args(argv)
    if make_url(options.database_url).get_backend_name() != "postgresql":
        parser.error("the referral search benchmark needs PostgreSQL")

    with tempfile.TemporaryDirectory() as var_dir, temporary_database(options.database_url) as url:
        settings = load_settings(
            {
                "DATABASE_URL": url,
                "RMC_VAR_DIR": var_dir,
                "SECRET_KEY": "benchmark-secret-key-" + "x" * 32,
            }
        )
        engine = db.configure(settings)
        upgrade_to_head(engine)
        started = time.perf_counter()
        counts = load(engine, first=1, last=options.referrals, seed=options.seed)
        print(
            f"loaded {options.referrals:,} referrals in {time.perf_counter() - started:.1f} s: "
            f"{counts}",
            file=sys.stderr,
        )
        figures = measure_search(engine, rounds=options.rounds, seed=options.seed)
        engine.dispose()
    result: dict[str, Any] = {
        "referrals": options.referrals,
        "patients": counts["patient"],
        "rounds": options.rounds,
        **figures,
        "backend": "postgresql",
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
