"""Command line: ``python -m rmc_outreach.simulation.carrier --port P --seed S [--ledger PATH]
[--handlers N] [--handler IDENTITY=ID ...]``.

``--handlers N`` simulates handlers ``sim_handler_1..N`` (they answer ``client:sim_handler_K``);
each ``--handler sim_handler_K=ID`` gives one our handler id, so it can use the console API
(sign in, outcomes) on the web process at ``PUBLIC_BASE_URL``.

Settings come from the environment (``TWILIO_ACCOUNT_SID``/``TWILIO_AUTH_TOKEN`` it accepts,
``TWILIO_SMS_FROM``, ``PUBLIC_BASE_URL`` for inbound SMS, ``RMC_CLOCK``/``REDIS_URL`` for the shared
simulated clock, ``RMC_TIMEZONE``). Refuses production mode; binds loopback unless
``--allow-remote``. Prints ``carrier simulator listening on http://HOST:PORT`` when ready.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from pathlib import Path
from types import FrameType

from rmc_outreach.clock import configure_clock
from rmc_outreach.config import ConfigError, load_settings
from rmc_outreach.simulation.carrier.server import SimulatorRefusedError, serve
from rmc_outreach.simulation.carrier.spec import ENGINES
from rmc_outreach.simulation.carrier.staff import StaffConfig


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m rmc_outreach.simulation.carrier",
        description="A local stand-in for Twilio's REST API with a synthetic population.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--ledger", type=Path, default=None, help="JSON lines file")
    parser.add_argument(
        "--time-scale",
        type=float,
        default=None,
        help="simulated seconds per real second (default: the shared clock's rate, or 1)",
    )
    parser.add_argument("--validation", choices=ENGINES, default="compiled")
    parser.add_argument("--allow-remote", action="store_true", help="bind a non-loopback host")
    parser.add_argument("--handlers", type=int, default=0, help="simulated handlers (default 0)")
    parser.add_argument(
        "--handler",
        action="append",
        default=[],
        type=_handler_id,
        metavar="IDENTITY=ID",
        help="our handler id of a simulated handler identity (repeatable)",
    )
    return parser


def _handler_id(text: str) -> tuple[str, int]:
    identity, _, number = text.partition("=")
    if not identity or not number.isdigit():
        raise argparse.ArgumentTypeError("expected IDENTITY=ID, e.g. sim_handler_1=4")
    return identity, int(number)


def _stop_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """Run the simulator until interrupted; return the exit status."""
    arguments = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        settings = load_settings()
    except ConfigError as error:
        print(error, file=sys.stderr)  # noqa: T201
        return 2
    configure_clock(settings)
    ledger = arguments.ledger or settings.var_dir / "simulator-ledger.jsonl"
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    try:
        serve(
            settings,
            host=arguments.host,
            port=arguments.port,
            seed=arguments.seed,
            time_scale=arguments.time_scale,
            ledger_path=ledger,
            validation=arguments.validation,
            allow_remote=arguments.allow_remote,
            staff=StaffConfig(count=arguments.handlers, handler_ids=dict(arguments.handler)),
        )
    except SimulatorRefusedError as error:
        print(f"refused: {error}", file=sys.stderr)  # noqa: T201
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
