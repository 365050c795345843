"""Dispatch benchmark: claim batches of due referrals among a million in PostgreSQL.

    python -m benchmarks.dispatch [--referrals 1000000] [--batch 100] [--rounds 30] [--seed 1]
                                  [--also-small] [--database-url URL]

A temporary database is created on the server of ``--database-url`` (its database part is
ignored), migrated with Alembic, filled with a synthetic centre's worth of patients, referrals and
past contact attempts in SQL (most referrals closed, waiting or planned for later; 5 % due now;
2WW, urgent and routine mixed), vacuumed, analysed and checkpointed, then ``dispatch.claim_due``
is timed: one committed transaction per round (session, locking reads, writes and commit), each
round claiming new referrals as production does. Between rounds (untimed) the claimed attempts
are finished, as workers would. ``load_average`` reports how busy the machine was meanwhile.

With ``--also-small`` the same is first measured at a tenth of the size, then the table grows
tenfold and it is measured again: ``growth_ratio`` is the large p50 over the small p50.

Target (2 cores): ``claim_ms_p50`` <= 50 ms at 1,000,000 referrals, unchanged as the table grows.
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
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, func, select, text
from sqlalchemy import table as table_clause
from sqlalchemy.engine import make_url

from benchmarks.intake import DEFAULT_DATABASE_URL, temporary_database
from rmc_outreach import db
from rmc_outreach.clock import frozen_at
from rmc_outreach.config import load_settings
from rmc_outreach.dispatch import claim_due
from rmc_outreach.engine_config import EngineConfig, engine_config
from rmc_outreach.migrate import upgrade_to_head

# Wednesday 25 November 2026, 10:00 in London: inside the default calling window.
MOMENT = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
PATIENTS_PER_REFERRAL = 0.7
# NHS numbers in the 999 test range with a valid check digit: about 909,000 exist.
MAX_PATIENTS = 900_000
WARM_UP_ROUNDS = 3
LOADED_TABLES = ("patient", "referral", "contact_attempt")

# bench_u(n, k): a uniform draw in [0, 1), the same for every run with the same seed.
UNIFORM_FUNCTION = """
CREATE OR REPLACE FUNCTION bench_u(n bigint, k integer) RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT ((hashint8(n * 64 + k) # hashint4({seed})) & 2147483647)::double precision
           / 2147483648.0
$$
"""

PATIENTS_SQL = """
WITH numbers AS (
    SELECT body, (11 - (
        substr(body::text, 1, 1)::int * 10 + substr(body::text, 2, 1)::int * 9
        + substr(body::text, 3, 1)::int * 8 + substr(body::text, 4, 1)::int * 7
        + substr(body::text, 5, 1)::int * 6 + substr(body::text, 6, 1)::int * 5
        + substr(body::text, 7, 1)::int * 4 + substr(body::text, 8, 1)::int * 3
        + substr(body::text, 9, 1)::int * 2) % 11) % 11 AS check_digit
    FROM generate_series(999000000, 999999999) AS body
), valid AS (
    SELECT body::text || check_digit::text AS nhs_number,
           row_number() OVER (ORDER BY body) AS n
    FROM numbers WHERE check_digit <> 10
)
INSERT INTO patient (
    id, nhs_number, given_name, family_name, date_of_birth, mobile_phone, landline_phone,
    address_line_1, address_line_2, postcode, no_voicemail, no_sms, letter_only, large_print,
    sms_opted_out_at, sms_opt_out_source, contact_opted_out_at, contact_opt_out_source,
    created_at, updated_at)
SELECT n, nhs_number,
    (ARRAY['Amara','Oliver','Zoë','Mohammed','Siobhán','Priya','Wojciech','Kwame','Aisha',
           'Mei','Seren','Tomasz','Fatima','Niamh','Arjun'])[1 + n % 15],
    (ARRAY['Okafor','Smith','Nowak','Patel','O''Brien','Jones','Khan','Williams','Begum',
           'Evans','Chen','Mensah','Hussain','Davies','Singh','Murphy','Taylor'])[1 + n % 17],
    DATE '1930-01-01' + (bench_u(n, 1) * 25000)::int,
    CASE WHEN bench_u(n, 2) < 0.85
         THEN '+447700900' || lpad((n % 1000)::text, 3, '0') END,
    CASE WHEN bench_u(n, 2) >= 0.85 OR bench_u(n, 3) < 0.4
         THEN '+441632960' || lpad((n * 7 % 1000)::text, 3, '0') END,
    CASE WHEN bench_u(n, 4) < 0.97 THEN (1 + n % 200)::text || ' High Street' END,
    'Leeds', 'LS1 4AP',
    bench_u(n, 5) < 0.03, bench_u(n, 6) < 0.02, bench_u(n, 7) < 0.01, bench_u(n, 8) < 0.02,
    CASE WHEN bench_u(n, 9) < 0.01 THEN :moment - interval '40 days' END,
    CASE WHEN bench_u(n, 9) < 0.01 THEN 'sms_stop' END,
    CASE WHEN bench_u(n, 10) < 0.003 THEN :moment - interval '20 days' END,
    CASE WHEN bench_u(n, 10) < 0.003 THEN 'phone' END,
    :moment - interval '60 days', :moment - interval '60 days'
FROM valid WHERE n BETWEEN CAST(:first AS integer) AND CAST(:last AS integer)
"""

# kind: the referral's situation. 8 % waiting, 5 % due now, 0.5 % due to be planned,
# 0.02 % with a step under way, ~24.5 % planned for later, 62 % closed.
REFERRALS_SQL = """
WITH drawn AS (
    SELECT n, bench_u(n, 20) AS u_kind, bench_u(n, 21) AS u_step, bench_u(n, 22) AS u_when,
           bench_u(n, 23) AS u_priority, bench_u(n, 24) AS u_misc
    FROM generate_series(CAST(:first AS integer), CAST(:last AS integer)) AS n
), kinds AS (
    SELECT *, CASE
        WHEN u_kind < 0.08 THEN 'waiting'
        WHEN u_kind < 0.13 THEN 'due'
        WHEN u_kind < 0.135 THEN 'to_plan'
        WHEN u_kind < 0.1352 THEN 'under_way'
        WHEN u_kind < 0.38 THEN 'later'
        WHEN u_kind < 0.58 THEN 'reached'
        WHEN u_kind < 0.88 THEN 'booked'
        WHEN u_kind < 0.92 THEN 'declined'
        WHEN u_kind < 0.98 THEN 'exhausted'
        ELSE 'cancelled' END AS kind
    FROM drawn
), steps AS (
    SELECT *, CASE kind
        WHEN 'waiting' THEN 0
        WHEN 'due' THEN floor(u_step * 3)::int
        WHEN 'later' THEN floor(u_step * 5)::int
        ELSE 1 + floor(u_step * 5)::int END AS step
    FROM kinds
)
INSERT INTO referral (
    id, ubrn, patient_id, specialty, priority, referral_date, status, next_action_at,
    journey_step, reached_at, reached_by, next_channel, last_contact_at, journey_end_reason,
    created_at, updated_at)
SELECT n, lpad((100000000000 + n)::text, 12, '0'),
    CAST(:first_patient AS integer) + floor(u_misc * CAST(:patients AS integer))::int,
    (ARRAY['Cardiology','Dermatology','Gastroenterology','Ophthalmology','Orthopaedics','ENT',
           'Gynaecology','Urology','Neurology','Rheumatology'])[1 + n % 10],
    CASE WHEN u_priority < 0.15 THEN '2ww' WHEN u_priority < 0.40 THEN 'urgent'
         ELSE 'routine' END,
    DATE '2026-11-25' - (1 + u_when * 120)::int,
    CASE WHEN kind IN ('due', 'to_plan', 'under_way', 'later') THEN 'in_outreach'
         ELSE kind END,
    CASE kind
        WHEN 'due' THEN :moment - u_when * interval '3 days'
        WHEN 'to_plan' THEN :moment - u_when * interval '1 hour'
        WHEN 'later' THEN :moment + interval '1 minute' + u_when * interval '10 days' END,
    step,
    CASE WHEN kind IN ('reached', 'booked', 'declined')
         THEN :moment - u_when * interval '30 days' END,
    CASE WHEN kind IN ('reached', 'booked', 'declined')
         THEN CASE WHEN u_step < 0.8 THEN 'call' ELSE 'sms' END END,
    CASE WHEN kind IN ('due', 'later', 'under_way')
         THEN CASE WHEN step % 3 = 1 THEN 'sms' ELSE 'call' END END,
    CASE WHEN step > 0 THEN :moment - interval '2 days' - u_when * interval '6 hours' END,
    CASE WHEN kind = 'exhausted' THEN 'exhausted' END,
    :moment - interval '30 days', :moment - interval '1 day'
FROM steps
"""

# Every step a referral has done has its attempt; the step under way is still in flight.
ATTEMPTS_SQL = """
INSERT INTO contact_attempt (
    id, referral_id, channel, step, state, outcome, destination, provider_sid,
    created_at, claimed_at, started_at, ended_at, template)
SELECT md5(CAST(:seed AS text) || ':' || r.id || ':' || s)::uuid, r.id, channel, s,
    CASE WHEN r.next_action_at IS NULL AND r.status = 'in_outreach' AND s = r.journey_step
         THEN 'sent' ELSE 'final' END,
    CASE WHEN r.next_action_at IS NULL AND r.status = 'in_outreach' AND s = r.journey_step
         THEN NULL
         WHEN channel = 'call' THEN 'no_answer' WHEN channel = 'sms' THEN 'delivered'
         ELSE 'letter_printed' END,
    CASE WHEN channel <> 'letter' THEN '+447700900' || lpad((r.id % 1000)::text, 3, '0') END,
    CASE WHEN channel = 'call' THEN 'CA' || md5(r.id || ':' || s)
         WHEN channel = 'sms' THEN 'SM' || md5(r.id || ':' || s) END,
    :moment - (r.journey_step - s + 2) * interval '1 day',
    :moment - (r.journey_step - s + 2) * interval '1 day',
    :moment - (r.journey_step - s + 2) * interval '1 day',
    :moment - (r.journey_step - s + 2) * interval '1 day' + interval '40 seconds',
    CASE WHEN channel = 'sms' THEN 'invitation' END
FROM referral AS r,
     generate_series(1, r.journey_step) AS s,
     LATERAL (SELECT CASE WHEN s % 3 = 2 THEN 'sms' WHEN s = 6 THEN 'letter'
                          ELSE 'call' END AS channel) AS c
WHERE r.id BETWEEN CAST(:first AS integer) AND CAST(:last AS integer)
"""


def _schema_to_rebuild(connection: Connection) -> list[tuple[str, str, str]]:
    """Keys, indexes and foreign keys of (or into) the loaded tables, in the order they are
    built again: (table, name, definition); ``definition`` is a CREATE INDEX statement for plain
    indexes and a constraint definition otherwise."""
    constraints = connection.execute(
        text(
            """
            SELECT c.contype, c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid)
            FROM pg_constraint AS c
            WHERE (c.contype IN ('p', 'u') AND c.conrelid::regclass::text = ANY(:tables))
               OR (c.contype = 'f' AND (c.conrelid::regclass::text = ANY(:tables)
                                        OR c.confrelid::regclass::text = ANY(:tables)))
            """
        ),
        {"tables": list(LOADED_TABLES)},
    ).all()
    indexes = connection.execute(
        text(
            """
            SELECT t.relname, i.relname, pg_get_indexdef(x.indexrelid)
            FROM pg_index AS x
            JOIN pg_class AS i ON i.oid = x.indexrelid
            JOIN pg_class AS t ON t.oid = x.indrelid
            WHERE t.relname = ANY(:tables)
              AND NOT EXISTS (SELECT 1 FROM pg_constraint AS c WHERE c.conindid = x.indexrelid)
            """
        ),
        {"tables": list(LOADED_TABLES)},
    ).all()
    keys = [(row[1], row[2], row[3]) for row in constraints if row[0] != "f"]
    foreign = [(row[1], row[2], row[3]) for row in constraints if row[0] == "f"]
    return [*keys, *((row[0], row[1], row[2]) for row in indexes), *foreign]


def load(engine: Engine, *, first: int, last: int, seed: int) -> dict[str, int]:
    """Add referrals ``first``..``last`` (with their patients and past attempts), then analyse.

    Keys, indexes and foreign keys of the loaded tables are dropped for the load and built again
    (and the foreign keys checked) afterwards: far faster than maintaining them row by row.
    """
    patients_before = max(0, min(MAX_PATIENTS, int((first - 1) * PATIENTS_PER_REFERRAL)))
    patients_after = max(patients_before + 1, min(MAX_PATIENTS, int(last * PATIENTS_PER_REFERRAL)))
    params: dict[str, Any] = {"moment": MOMENT, "seed": seed}
    with engine.begin() as connection:
        connection.execute(text(UNIFORM_FUNCTION.format(seed=int(seed))))
        connection.execute(text("SET LOCAL maintenance_work_mem = '256MB'"))
        connection.execute(text("SET LOCAL jit = off"))
        rebuild = _schema_to_rebuild(connection)
        for table, name, definition in reversed(rebuild):
            if definition.startswith("CREATE"):
                connection.execute(text(f'DROP INDEX "{name}"'))
            else:
                connection.execute(text(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"'))
        connection.execute(
            text(PATIENTS_SQL),
            {**params, "first": patients_before + 1, "last": patients_after},
        )
        connection.execute(
            text(REFERRALS_SQL),
            {
                **params,
                "first": first,
                "last": last,
                "first_patient": patients_before + 1,
                "patients": patients_after - patients_before,
            },
        )
        connection.execute(text(ATTEMPTS_SQL), {**params, "first": first, "last": last})
        for table, name, definition in rebuild:
            if definition.startswith("CREATE"):
                connection.execute(text(definition))
            else:
                connection.execute(
                    text(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
                )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        for name in LOADED_TABLES:
            connection.execute(text(f"VACUUM (ANALYZE) {name}"))
        # Both sizes start measuring just after a checkpoint: every page a claim touches first
        # is then written whole to the WAL, as in production between checkpoints.
        connection.execute(text("CHECKPOINT"))
        counts = {
            name: int(connection.scalar(select(func.count()).select_from(table_clause(name))) or 0)
            for name in LOADED_TABLES
        }
        counts["due"] = int(
            connection.execute(
                text(
                    "SELECT count(*) FROM referral WHERE status = 'in_outreach' "
                    "AND next_channel IS NOT NULL AND next_action_at <= :moment"
                ),
                {"moment": MOMENT},
            ).scalar_one()
        )
    return counts


def _finish_attempts(engine: Engine, attempt_ids: list[Any]) -> None:
    """What the workers would do: the claimed attempts end (untimed)."""
    if not attempt_ids:
        return
    with engine.begin() as connection:
        connection.execute(
            text(
                "UPDATE contact_attempt SET state = 'final', outcome = 'no_answer', "
                "ended_at = :moment WHERE id = ANY(:ids)"
            ),
            {"moment": MOMENT, "ids": attempt_ids},
        )


def spread(name: str, timings: list[float]) -> dict[str, float]:
    """``{name}_ms_p50``, ``_p90`` and ``_max`` of ``timings`` (milliseconds), to 0.01 ms."""
    ordered = sorted(timings)
    return {
        f"{name}_ms_p50": round(statistics.median(ordered), 2),
        f"{name}_ms_p90": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))], 2),
        f"{name}_ms_max": round(ordered[-1], 2),
    }


def measure(engine: Engine, config: EngineConfig, rounds: int) -> dict[str, float]:
    """Time ``rounds`` committed claims (after a few untimed warm-up rounds)."""
    timings: list[float] = []
    claimed: list[int] = []
    with frozen_at(MOMENT):
        for round_number in range(WARM_UP_ROUNDS + rounds):
            started = time.perf_counter()
            with db.session_scope() as session:
                queued = claim_due(session, config, MOMENT)
            elapsed = (time.perf_counter() - started) * 1000
            _finish_attempts(engine, [item.attempt_id for item in queued])
            if round_number >= WARM_UP_ROUNDS:
                timings.append(elapsed)
                claimed.append(len(queued))
    return {
        # The machine's 1-minute load average after the rounds: others' work skews timings.
        "load_average": round(os.getloadavg()[0], 2),
        **spread("claim", timings),
        "claimed_per_round": round(statistics.mean(claimed), 1),
    }


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its figures; the last line is JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--referrals", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--also-small", action="store_true")
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    options = parser.parse_args(argv)
    if make_url(options.database_url).get_backend_name() != "postgresql":
        parser.error("the dispatch benchmark needs PostgreSQL")

    figures: dict[str, Any] = {
        "referrals": options.referrals,
        "batch": options.batch,
        "rounds": options.rounds,
    }
    sizes = [options.referrals]
    if options.also_small:
        sizes.insert(0, max(1, options.referrals // 10))
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
        # The cap on calls in flight is not what is measured: workers finish each round's calls.
        config = replace(
            engine_config(settings, env={}),
            dispatch_batch_size=options.batch,
            max_calls_in_flight=options.batch * 10,
        )
        loaded = 0
        results: list[dict[str, float]] = []
        for size in sizes:
            started = time.perf_counter()
            counts = load(engine, first=loaded + 1, last=size, seed=options.seed)
            loaded = size
            print(
                f"loaded {size:,} referrals in {time.perf_counter() - started:.1f} s: {counts}",
                file=sys.stderr,
            )
            result = measure(engine, config, options.rounds)
            print(f"{size:,} referrals: {result}", file=sys.stderr)
            results.append({**result, "attempts": counts["contact_attempt"], "due": counts["due"]})
        engine.dispose()

    figures.update(results[-1])
    if options.also_small:
        small = results[0]
        figures["small_referrals"] = sizes[0]
        figures["small_claim_ms_p50"] = small["claim_ms_p50"]
        figures["small_claim_ms_p90"] = small["claim_ms_p90"]
        figures["small_load_average"] = small["load_average"]
        figures["growth_ratio"] = round(figures["claim_ms_p50"] / small["claim_ms_p50"], 2)
    figures["backend"] = "postgresql"
    print(json.dumps(figures))
    # Fewer claims than the batch means the due referrals ran out: the figures are not valid.
    return 0 if all(r["claimed_per_round"] >= 0.9 * options.batch for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
