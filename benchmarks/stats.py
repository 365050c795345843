"""Statistics benchmark: the managers' statistics over a million contact attempts in PostgreSQL.

    python -m benchmarks.stats [--attempts 1000000] [--per-day 2000] [--range-days 28]
                               [--rounds 20] [--seed 1] [--database-url URL]

A temporary database is created on the server of ``--database-url`` (its database part is
ignored), migrated with Alembic and filled in SQL with a centre's history at a steady
``--per-day`` attempts a calendar day (a million attempts is about 500 days): referrals with one
to six attempts on the routine cadence (call, text, call, call, text, letter), about 60 %
reached (on a call, where a person pressed 1 and was handed over, a reply to a text or a call
back after a letter), calls that rang out, reached voicemail or a machine, were busy or failed;
handoffs with waits, 2 % abandoned. Rows are written in the order the service writes them
(referrals as they arrive, attempts and handoffs as they happen), so a range of days lies on
neighbouring pages as it does in a live database. Then it is vacuumed and analysed, and timed:

- ``stats_ms``: ``metrics.statistics_for`` (what ``python -m rmc_outreach stats --json``
  prints), serialised to JSON, in a fresh read-only transaction each round;
- ``page_ms``: ``GET /stats`` by a signed-in manager through Flask's test client (the same
  figures, plus the charts and the HTML).

Both over the last ``--range-days`` days (the page's default, 28). Since the history runs at a
steady rate, the range holds the same number of attempts at any size; what grows with the table
is the depth of its indexes.

Target (2 cores): ``stats_ms_p50`` <= 300 ms at 1,000,000 attempts (and the page's p50).
The last line of output is one JSON object of the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, func, select, text
from sqlalchemy import table as table_clause

from benchmarks.intake import DEFAULT_DATABASE_URL, temporary_database
from rmc_outreach import db
from rmc_outreach.clock import frozen_at
from rmc_outreach.config import load_settings
from rmc_outreach.engine_config import engine_config
from rmc_outreach.metrics import default_range, statistics_for
from rmc_outreach.migrate import upgrade_to_head

# Friday 27 November 2026, 17:00 in London: the end of the history and "now".
MOMENT = datetime(2026, 11, 27, 17, 0, tzinfo=UTC)
# Reached referrals stop early and the newest are still under way: 2.7 made attempts each.
MEAN_ATTEMPTS_PER_REFERRAL = 2.7
WARM_UP_ROUNDS = 3
LOADED_TABLES = ("patient", "referral", "contact_attempt", "handoff")
MANAGER = "bench-manager"
MANAGER_PASSWORD = "benchmark manager password"  # noqa: S105 - a throw-away database's user

# bench_u(n, k): a uniform draw in [0, 1), the same for every run with the same seed.
UNIFORM_FUNCTION = """
CREATE OR REPLACE FUNCTION bench_u(n bigint, k integer) RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT ((hashint8(n * 64 + k) # hashint4({seed})) & 2147483647)::double precision
           / 2147483648.0
$$
"""

# Synthetic people: NHS numbers in the 999 test range, Ofcom drama-range mobiles.
PATIENTS_SQL = """
INSERT INTO patient (id, nhs_number, given_name, family_name, date_of_birth, mobile_phone,
                     address_line_1, postcode, created_at, updated_at)
SELECT n, '999' || lpad(n::text, 7, '0'), 'Test', 'Patient' || n,
       DATE '1930-01-01' + (bench_u(n, 1) * 25000)::int,
       '+447700900' || lpad((n % 1000)::text, 3, '0'), n || ' High Street', 'LS1 4AP',
       :moment - interval '2 years', :moment - interval '2 years'
FROM generate_series(1, CAST(:referrals AS integer)) AS n
"""

# Each referral: how many attempts it got (1-6), when its first one was, whether and on which
# attempt it was reached. Its attempts follow a day apart. As in the service, where a worklist is
# imported days before its first calls, ids (and rows on disk) follow the referrals' arrival: the
# n-th draw gets the id of its place in time.
REFERRALS_SQL = """
WITH drawn AS (
    SELECT n,
        1 + floor(bench_u(n, 10) * 6)::int AS planned,
        :moment - bench_u(n, 11) * CAST(:span_days AS integer) * interval '1 day'
            - interval '8 hours' AS first_at,
        bench_u(n, 12) < 0.62 AS reached,
        bench_u(n, 13) AS u_reached_on
    FROM generate_series(1, CAST(:referrals AS integer)) AS n
), shaped AS (
    SELECT *, CASE WHEN reached THEN 1 + floor(u_reached_on * planned)::int END AS reached_on,
        row_number() OVER (ORDER BY first_at, n) AS id
    FROM drawn
)
INSERT INTO referral (id, ubrn, patient_id, specialty, priority, referral_date, status,
                      journey_step, reached_at, reached_by, created_at, updated_at)
SELECT id, lpad((100000000000 + id)::text, 12, '0'), n,
    (ARRAY['Cardiology','Dermatology','Gastroenterology','Ophthalmology','Orthopaedics','ENT',
           'Gynaecology','Urology','Neurology','Rheumatology'])[1 + n % 10],
    CASE WHEN bench_u(n, 14) < 0.15 THEN '2ww' WHEN bench_u(n, 14) < 0.40 THEN 'urgent'
         ELSE 'routine' END,
    (first_at - interval '5 days')::date,
    CASE WHEN reached THEN CASE WHEN bench_u(n, 15) < 0.7 THEN 'booked' ELSE 'reached' END
         ELSE 'exhausted' END,
    COALESCE(reached_on, planned),
    CASE WHEN reached THEN first_at + (reached_on - 1) * interval '1 day'
                           + interval '2 minutes' END,
    CASE WHEN reached THEN CASE WHEN reached_on IN (2, 5) THEN 'sms' ELSE 'call' END END,
    first_at - interval '5 days', first_at
FROM shaped
ORDER BY id
"""

# Attempts and handoffs are written in time order, as the dispatch claims and webhooks write them:
# a range of days is a run of neighbouring pages, not rows strewn over the whole table.
ATTEMPTS_SQL = """
WITH steps AS (
    SELECT r.id AS referral_id, s, r.reached_at,
        r.updated_at + (s - 1) * interval '1 day' AS created_at,
        CASE WHEN s IN (2, 5) THEN 'sms' WHEN s = 6 THEN 'letter' ELSE 'call' END AS channel,
        r.reached_at IS NOT NULL AND s = r.journey_step AS reaching,
        bench_u(r.id * 8 + s, 20) AS u
    FROM referral AS r, generate_series(1, r.journey_step) AS s
)
INSERT INTO contact_attempt (id, referral_id, channel, step, state, outcome, destination,
                             answered_by, keypad_choice, created_at, claimed_at, started_at,
                             ended_at, duration_seconds, template)
SELECT md5(CAST(:seed AS text) || ':' || referral_id || ':' || s)::uuid, referral_id, channel, s,
    'final',
    CASE WHEN channel = 'letter' THEN 'letter_printed'
         WHEN channel = 'sms' THEN CASE WHEN reaching THEN 'replied' ELSE 'delivered' END
         WHEN reaching THEN 'human_handoff'
         WHEN u < 0.50 THEN 'no_answer' WHEN u < 0.80 THEN 'voicemail_left'
         WHEN u < 0.87 THEN 'machine_no_message' WHEN u < 0.92 THEN 'busy'
         WHEN u < 0.95 THEN 'failed' ELSE 'ivr_choice' END,
    CASE WHEN channel <> 'letter' THEN '+447700900' || lpad((referral_id % 1000)::text, 3, '0') END,
    CASE WHEN channel <> 'call' THEN NULL
         WHEN reaching OR u >= 0.95 THEN 'human'
         WHEN u >= 0.50 AND u < 0.80 THEN 'machine_end_beep'
         WHEN u >= 0.80 AND u < 0.87 THEN 'machine_start' END,
    CASE WHEN channel = 'call' AND reaching THEN '1'
         WHEN channel = 'call' AND u >= 0.95 THEN '2' END,
    created_at, created_at, created_at, created_at + interval '1 minute',
    CASE WHEN channel <> 'call' THEN NULL
         WHEN reaching THEN 60 + floor(u * 400)::int
         WHEN u >= 0.50 AND u < 0.80 THEN 25 + floor(u * 20)::int
         WHEN u >= 0.95 THEN 40 ELSE 0 END,
    CASE WHEN channel = 'sms' THEN 'invitation' END
FROM steps
WHERE created_at < :moment
ORDER BY created_at
"""

HANDOFFS_SQL = """
INSERT INTO handoff (attempt_id, referral_id, source, queued_at, connected_at, ended_at,
                     abandoned, ended_reason)
SELECT a.id, a.referral_id, 'outbound', a.created_at + interval '40 seconds',
    CASE WHEN bench_u(a.referral_id, 30) >= 0.02
         THEN a.created_at + interval '45 seconds'
              + bench_u(a.referral_id, 31) * interval '90 seconds' END,
    a.created_at + interval '100 seconds' + bench_u(a.referral_id, 31) * interval '90 seconds',
    bench_u(a.referral_id, 30) < 0.02,
    CASE WHEN bench_u(a.referral_id, 30) < 0.02 THEN 'abandoned_timeout' ELSE 'bridged_done' END
FROM contact_attempt AS a
WHERE a.outcome = 'human_handoff'
ORDER BY a.created_at
"""


def load(engine: Engine, *, attempts: int, per_day: int, seed: int) -> dict[str, int]:
    """Fill the database with about ``attempts`` attempts at ``per_day`` a day, then analyse."""
    referrals = max(1, round(attempts / MEAN_ATTEMPTS_PER_REFERRAL))
    params: dict[str, Any] = {
        "moment": MOMENT,
        "seed": seed,
        "referrals": referrals,
        "span_days": max(1, round(attempts / per_day)),
    }
    with engine.begin() as connection:
        connection.execute(text(UNIFORM_FUNCTION.format(seed=int(seed))))
        connection.execute(text("SET LOCAL jit = off"))
        for statement in (PATIENTS_SQL, REFERRALS_SQL, ATTEMPTS_SQL, HANDOFFS_SQL):
            connection.execute(text(statement), params)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        for name in LOADED_TABLES:
            connection.execute(text(f"VACUUM (ANALYZE) {name}"))
        return {
            name: int(connection.scalar(select(func.count()).select_from(table_clause(name))) or 0)
            for name in LOADED_TABLES
        }


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def measure(database_url: str, *, range_days: int, rounds: int) -> dict[str, Any]:
    """Time the statistics function and the page; returns the figures."""
    from admin_ui import create_app
    from rmc_outreach.accounts import create_user
    from rmc_outreach.db import session_scope

    with tempfile.TemporaryDirectory() as var_dir:
        settings = load_settings(
            {
                "DATABASE_URL": database_url,
                "RMC_VAR_DIR": var_dir,
                "SECRET_KEY": "benchmark-secret-key-" + "x" * 32,
            }
        )
        db.configure(settings)
        config = engine_config(settings)
        with session_scope() as session:
            create_user(
                session,
                username=MANAGER,
                display_name="Benchmark manager",
                role="manager",
                password=MANAGER_PASSWORD,
                actor_label="benchmark",
            )
        app = create_app(settings)
        client = app.test_client()
        token = client.get("/api/session").get_json()["csrf_token"]
        signed_in = client.post(
            "/login",
            data={"username": MANAGER, "password": MANAGER_PASSWORD, "csrf_token": token},
        )
        if signed_in.status_code != 303:
            raise RuntimeError(f"the benchmark manager could not sign in ({signed_in.status_code})")
        with frozen_at(MOMENT):
            date_range = default_range(config.window.local(MOMENT).date(), range_days)
            query = f"?from={date_range.first.isoformat()}&to={date_range.last.isoformat()}"
            stats_ms: list[float] = []
            page_ms: list[float] = []
            size = 0
            for index in range(WARM_UP_ROUNDS + rounds):
                started = time.perf_counter()
                with session_scope(read_only=True) as session:
                    figures = statistics_for(session, date_range, config, generated_at=MOMENT)
                    size = len(json.dumps(figures.as_dict()))
                elapsed = (time.perf_counter() - started) * 1000
                started = time.perf_counter()
                response = client.get("/stats" + query)
                page_elapsed = (time.perf_counter() - started) * 1000
                if response.status_code != 200:
                    raise RuntimeError(f"/stats answered {response.status_code}")
                if index >= WARM_UP_ROUNDS:
                    stats_ms.append(elapsed)
                    page_ms.append(page_elapsed)
            found = figures.as_dict()
    return {
        "range_days": range_days,
        "range_attempts": found["attempts"]["total"],
        "range_referrals_first_contacted": found["reach"]["referrals"],
        "reach_rate": found["reach"]["rate"],
        "json_bytes": size,
        "stats_ms_p50": round(statistics.median(stats_ms), 1),
        "stats_ms_p90": round(_percentile(stats_ms, 0.9), 1),
        "page_ms_p50": round(statistics.median(page_ms), 1),
        "page_ms_p90": round(_percentile(page_ms, 0.9), 1),
        "rounds": rounds,
        "load_average": round(os.getloadavg()[0], 2),
    }


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its figures; the last line is JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--attempts", type=int, default=1_000_000)
    parser.add_argument("--per-day", type=int, default=2_000, help="attempts a calendar day")
    parser.add_argument("--range-days", type=int, default=28)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    args = parser.parse_args(argv)
    if not args.database_url.startswith("postgresql"):
        print("the statistics benchmark needs PostgreSQL (--database-url)", file=sys.stderr)
        return 2
    with temporary_database(args.database_url) as url:
        engine = db.make_engine(url)
        upgrade_to_head(engine)
        started = time.perf_counter()
        counts = load(engine, attempts=args.attempts, per_day=args.per_day, seed=args.seed)
        load_s = time.perf_counter() - started
        engine.dispose()
        figures = measure(url, range_days=args.range_days, rounds=args.rounds)
    result = {
        "attempts": counts["contact_attempt"],
        "referrals": counts["referral"],
        "handoffs": counts["handoff"],
        "load_s": round(load_s, 1),
        **figures,
        "target_stats_ms_p50": 300,
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
