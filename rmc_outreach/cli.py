"""The command line: ``python -m rmc_outreach COMMAND``.

Commands print no personal data. Exit codes: 0 success; ``import-referrals`` 1 when some rows were
rejected, 2 when the file was rejected and 3 when the import failed (nothing written); 2 for bad
arguments; 78 for invalid configuration.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path

from rmc_outreach.config import ConfigError, Settings, load_settings

EXIT_CONFIG_ERROR = 78
EXIT_IMPORT_FAILED = 3


def _settings() -> Settings:
    from rmc_outreach import db
    from rmc_outreach.clock import configure_clock

    settings = load_settings()
    db.configure(settings)
    configure_clock(settings)
    return settings


def _redacted(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def cmd_init_db(_args: argparse.Namespace) -> int:
    """Create or upgrade the schema to the newest migration."""
    from rmc_outreach import db
    from rmc_outreach.migrate import upgrade_to_head

    settings = _settings()
    upgrade_to_head(db.get_engine())
    print(f"Database {_redacted(settings.database_url)} is at the newest schema.")
    return 0


def _print_import_report(report_json: dict[str, object], lines: list[str], as_json: bool) -> None:
    if as_json:
        print(json.dumps(report_json, ensure_ascii=False))
    else:
        print("\n".join(lines))


def cmd_import_referrals(args: argparse.Namespace) -> int:
    """Import an e-RS worklist CSV; exit 0 all accepted, 1 some rows rejected, 2 file rejected."""
    from rmc_outreach.intake import import_worklist

    settings = _settings()
    path = Path(args.file)
    try:
        with path.open("rb") as handle:
            # One byte over the limit is enough for the importer to refuse the file.
            data = handle.read(settings.intake_max_bytes + 1)
    except OSError as error:
        message = f"cannot read {path}: {error.strerror or error}"
        empty: dict[str, object] = {
            "imported": 0,
            "updated": 0,
            "unchanged": 0,
            "rejected": [],
            "file_errors": [message],
        }
        _print_import_report(empty, [f"File rejected: {message}"], args.json)
        return 2
    try:
        report = import_worklist(
            data, filename=path.name, settings=settings, actor_label=args.actor or "cli"
        )
    except Exception as error:
        # Database errors can quote row values, so only the kind of error is shown.
        message = (
            f"the import failed and nothing was written ({type(error).__name__}); "
            "see the import history and try again"
        )
        failed: dict[str, object] = {
            "imported": 0,
            "updated": 0,
            "unchanged": 0,
            "rejected": [],
            "file_errors": [message],
        }
        _print_import_report(failed, [f"Import failed: {message}"], args.json)
        return EXIT_IMPORT_FAILED
    _print_import_report(report.as_json(), report.summary_lines(), args.json)
    return report.exit_code


def cmd_seed_demo(args: argparse.Namespace) -> int:
    """Generate a synthetic worklist (test-range NHS numbers, drama phones) and import it."""
    from rmc_outreach.clock import now
    from rmc_outreach.db import session_scope
    from rmc_outreach.demo_carrier import ensure_sim_handlers
    from rmc_outreach.intake import import_worklist
    from rmc_outreach.simulation.population import synthetic_worklist_csv

    settings = _settings()
    if settings.production:
        print("seed-demo refuses to run in production mode.", file=sys.stderr)
        return 2
    today: date = now().date()
    data = synthetic_worklist_csv(args.referrals, seed=args.seed, today=today)
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    worklist = settings.var_dir / "demo-worklist.csv"
    worklist.write_bytes(data)
    report = import_worklist(
        data, filename=worklist.name, settings=settings, actor_label="seed-demo"
    )
    print("\n".join(report.summary_lines()))
    print(f"The generated worklist is at {worklist}")
    with session_scope() as session:
        created = ensure_sim_handlers(session, args.handlers)
    print(f"Simulated handlers: {created} created, {args.handlers} wanted (client:sim_handler_N).")
    return report.exit_code


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password: ")
    second = getpass.getpass("Password again: ")
    if first != second:
        raise ValueError("the passwords do not match")
    return first


def cmd_create_user(args: argparse.Namespace) -> int:
    """Create a staff user with a role."""
    from rmc_outreach.accounts import AccountError, create_user, give_handler_record
    from rmc_outreach.db import session_scope

    settings = _settings()
    if args.endpoint and args.role != "handler":
        print("Cannot create user: --endpoint is for the handler role only", file=sys.stderr)
        return 2
    handler_id = None
    try:
        password = _read_password(args)
        with session_scope() as session:
            user = create_user(
                session,
                username=args.username,
                display_name=args.display_name or args.username,
                role=args.role,
                password=password,
                actor_label="cli",
            )
            if args.endpoint:
                handler_id = give_handler_record(
                    session,
                    user,
                    args.endpoint,
                    allow_fictional=not settings.production,
                    actor_label="cli",
                ).id
            user_id, username, role = user.id, user.username, user.role
    except (AccountError, ValueError) as error:
        print(f"Cannot create user: {error}", file=sys.stderr)
        return 2
    print(f"Created user {username} (id {user_id}) with role {role}.")
    if handler_id is not None:
        print(f"Their handler console is /console/{handler_id}.")
    elif role == "handler":
        print("No handler record yet (no console, no calls): create the user with --endpoint.")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """Run web, worker, beat and a private Redis on the embedded default, with demo data."""
    from rmc_outreach.demo import run_demo

    port = args.port or load_settings().port
    return run_demo(
        referrals=args.referrals,
        port=port,
        seed=args.seed,
        reset=args.reset,
        speed=args.speed,
        handlers=args.handlers,
    )


def cmd_check_config(_args: argparse.Namespace) -> int:
    """Validate the configuration and print it without secrets."""
    settings = load_settings()
    print(f"mode: {settings.mode}")
    print(f"database: {_redacted(settings.database_url)}")
    print(
        f"redis: {_redacted(settings.redis_url) if settings.redis_url else '(embedded, private)'}"
    )
    print(f"public base URL: {settings.public_base_url}")
    print(f"Twilio API: {settings.twilio_api_base_url or 'Twilio (api.twilio.com)'}")
    print("Configuration is valid.")
    return 0


def cmd_outreach(args: argparse.Namespace) -> int:
    """Pause or resume automated outreach (all, or one priority), or show what is paused."""
    from rmc_outreach import pacing
    from rmc_outreach.db import session_scope

    _settings()
    actor = f"cli {getpass.getuser()}"
    try:
        with session_scope() as session:
            if args.action == "pause":
                if not pacing.pause(session, args.scope, reason=args.reason, actor_label=actor):
                    print(f"Outreach was already paused for {args.scope}.")
            elif args.action == "resume" and not pacing.resume(
                session, args.scope, actor_label=actor
            ):
                print(f"Outreach was not paused for {args.scope}.")
            paused = pacing.pauses(session)
    except ValueError as error:
        print(error, file=sys.stderr)
        return 2
    for pause in paused:
        print(f"paused: {pause.scope} since {pause.paused_at:%Y-%m-%d %H:%M} UTC ({pause.reason})")
    if not paused:
        print("Outreach is running for every priority.")
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    """Print the managers' statistics for a range of local days (the figures the statistics
    page shows, from the same function)."""
    from rmc_outreach import clock
    from rmc_outreach.db import session_scope
    from rmc_outreach.engine_config import engine_config
    from rmc_outreach.metrics import RangeError, parse_range, statistics_for
    from rmc_outreach.settings_store.live import live_settings

    settings = _settings()
    # As the statistics page: the calling days and texts an admin has set count too.
    config = live_settings.applied(engine_config(settings))
    moment = clock.now()
    try:
        date_range = parse_range(args.date_from, args.date_to, config.window.local(moment).date())
    except RangeError as error:
        print(f"stats: {error}", file=sys.stderr)
        return 2
    with session_scope(read_only=True) as session:
        figures = statistics_for(session, date_range, config, generated_at=moment).as_dict()
    if args.json:
        print(json.dumps(figures, ensure_ascii=False))
        return 0
    reach, staff = figures["reach"], figures["staff_time"]
    abandoned = figures["handoffs"]["abandoned"]
    rate = "-" if reach["rate"] is None else f"{reach['rate']:.1%}"
    print(
        f"{figures['range']['from']} to {figures['range']['to']} ({figures['range']['timezone']})"
    )
    print(f"reach rate: {rate} ({reach['reached']} of {reach['referrals']} referrals)")
    print(f"attempts: {figures['attempts']['total']}")
    print(f"staff time saved: {staff['saved_hours']} h ({staff['fte_per_day']} FTE a day)")
    print(f"abandoned calls: {abandoned['abandoned']} of {abandoned['live_answered']}")
    print(f"estimated provider cost: GBP {figures['cost']['total']:.2f}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every command."""
    parser = argparse.ArgumentParser(
        prog="python -m rmc_outreach",
        description="rmc-outreach: automated outbound patient contact for referral management.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    init_db = commands.add_parser("init-db", help="create or upgrade the database schema")
    init_db.set_defaults(handler=cmd_init_db)

    importer = commands.add_parser("import-referrals", help="import an e-RS worklist CSV")
    importer.add_argument("file", help="path of the CSV file")
    importer.add_argument("--json", action="store_true", help="print one JSON object")
    importer.add_argument("--actor", help="who is importing (recorded in the audit trail)")
    importer.set_defaults(handler=cmd_import_referrals)

    seed = commands.add_parser("seed-demo", help="import synthetic referrals (never production)")
    seed.add_argument("--referrals", type=int, default=500, help="how many (default 500)")
    seed.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    seed.add_argument(
        "--handlers",
        type=int,
        default=6,
        help="simulated handler records client:sim_handler_1..N, idempotent (default 6)",
    )
    seed.set_defaults(handler=cmd_seed_demo)

    user = commands.add_parser("create-user", help="create a staff user")
    user.add_argument("--username", required=True)
    user.add_argument("--display-name")
    user.add_argument(
        "--role", required=True, choices=["handler", "supervisor", "manager", "admin"]
    )
    user.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    user.add_argument(
        "--endpoint",
        help="handlers: where calls ring them (UK phone, sip: URI or client:identity); "
        "gives them a handler record and console",
    )
    user.set_defaults(handler=cmd_create_user)

    demo = commands.add_parser("demo", help="run the whole service with synthetic data")
    demo.add_argument("--referrals", type=int, default=500)
    demo.add_argument("--port", type=int, default=None, help="web port (default: PORT or 8000)")
    demo.add_argument("--seed", type=int, default=1)
    demo.add_argument(
        "--speed",
        type=float,
        default=30.0,
        help="simulated clock rate: simulated seconds per real second (default 30)",
    )
    demo.add_argument("--handlers", type=int, default=6, help="simulated call handlers (default 6)")
    demo.add_argument("--reset", action="store_true", help="start again from an empty database")
    demo.set_defaults(handler=cmd_demo)

    outreach = commands.add_parser(
        "outreach", help="pause or resume automated contact: all, or one priority"
    )
    outreach.add_argument("action", choices=("pause", "resume", "status"))
    outreach.add_argument("--scope", default="all", help="all (default), 2ww, urgent or routine")
    outreach.add_argument("--reason", default="", help="why (required to pause)")
    outreach.set_defaults(handler=cmd_outreach)

    stats = commands.add_parser(
        "stats", help="the managers' statistics for a range of days (default: the last 28)"
    )
    stats.add_argument("--from", dest="date_from", metavar="DATE", help="first day, YYYY-MM-DD")
    stats.add_argument("--to", dest="date_to", metavar="DATE", help="last day, YYYY-MM-DD")
    stats.add_argument("--json", action="store_true", help="print one JSON object")
    stats.set_defaults(handler=cmd_stats)

    check = commands.add_parser("check-config", help="validate the configuration")
    check.set_defaults(handler=cmd_check_config)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command and return its exit code."""
    args = build_parser().parse_args(argv)
    if getattr(args, "referrals", 1) is not None and getattr(args, "referrals", 1) < 1:
        print("--referrals must be at least 1", file=sys.stderr)
        return 2
    if getattr(args, "handlers", 0) < 0:
        print("--handlers cannot be negative", file=sys.stderr)
        return 2
    try:
        code: int = args.handler(args)
    except ConfigError as error:
        print(error, file=sys.stderr)
        return EXIT_CONFIG_ERROR
    return code
