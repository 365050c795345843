"""The process supervisor behind ``make demo``: the whole service on one machine, then a clean stop.

It migrates the database, seeds synthetic referrals into an empty one, starts a private Redis
(unless ``REDIS_URL`` is set) and the three Procfile processes (web, worker, beat), each in its own
session so that a terminal's Ctrl-C reaches only this supervisor. Their output is shown prefixed
with their name. On Ctrl-C or SIGTERM, or when any of them exits on its own, every process group is
stopped (SIGTERM, then SIGKILL after a grace period) and the private Redis with them: nothing is
left running.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from types import FrameType

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from rmc_outreach.config import PROJECT_ROOT, ConfigError, Settings, load_settings
from rmc_outreach.db import make_engine
from rmc_outreach.demo_accounts import ensure_demo_users, new_demo_password
from rmc_outreach.demo_carrier import (
    DEFAULT_SIM_HANDLERS,
    CarrierPlan,
    handler_arguments,
    plan_carrier,
    start_simulated_clock,
)
from rmc_outreach.embedded_redis import EmbeddedRedis, EmbeddedRedisError
from rmc_outreach.migrate import upgrade_to_head
from rmc_outreach.models import Referral

STOP_GRACE_S = 10.0
HEALTH_TIMEOUT_S = 180.0
POLL_S = 0.2


class _Supervisor:
    """The children of one demo run, their output pumps, and the signal that asks them to stop."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = dict(env)
        self.children: dict[str, subprocess.Popen[bytes]] = {}
        # Watched for an unexpected exit, but stopped by their owner after the children.
        self.watched: dict[str, subprocess.Popen[bytes]] = {}
        self.pumps: list[threading.Thread] = []
        self.signals_received = 0
        self.output_lock = threading.Lock()

    def say(self, name: str, line: str) -> None:
        """Print one line prefixed with the process name it came from."""
        with self.output_lock:
            sys.stdout.write(f"{name:>6} | {line.rstrip()}\n" if name else f"{line}\n")
            sys.stdout.flush()

    def stopping(self) -> bool:
        """True once a stop was asked for (Ctrl-C or SIGTERM)."""
        return self.signals_received > 0

    def request_stop(self, signum: int, _frame: FrameType | None) -> None:
        """Signal handler: ask the main loop to stop (a second signal stops without grace).

        It only counts: printing here could deadlock on the output lock the main thread holds.
        """
        self.signals_received += 1

    def start(self, name: str, command: Sequence[str]) -> subprocess.Popen[bytes]:
        """Start a child in its own session, its output pumped to ours with its name."""
        process = subprocess.Popen(
            list(command),
            cwd=PROJECT_ROOT,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.children[name] = process
        pump = threading.Thread(target=self._pump, args=(name, process), daemon=True)
        pump.start()
        self.pumps.append(pump)
        return process

    def _pump(self, name: str, process: subprocess.Popen[bytes]) -> None:
        assert process.stdout is not None  # noqa: S101 - always set: stdout=PIPE
        for raw in iter(process.stdout.readline, b""):
            self.say(name, raw.decode("utf-8", errors="replace"))
        process.stdout.close()

    def exited(self) -> tuple[str, int] | None:
        """The first child that has exited and its exit code, or None while all run."""
        for name, process in (self.children | self.watched).items():
            code = process.poll()
            if code is not None:
                return name, code
        return None

    def stop_all(self) -> None:
        """Stop every child and everything it started; SIGKILL what outlives the grace period.

        SIGTERM goes to each leader (gunicorn's master, celery's main process), which stop their
        own workers in order; a group whose leader is already gone gets it directly. Whatever is
        still alive in a group after the grace period is killed.
        """
        for process in self.children.values():
            if process.poll() is None:
                _signal(process.pid, signal.SIGTERM)
            else:
                _signal(-process.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_S
        while time.monotonic() < deadline and self.signals_received < 2:
            if not any(_group_alive(process.pid) for process in self.children.values()):
                break
            time.sleep(POLL_S)
        for name, process in self.children.items():
            if _group_alive(process.pid):
                self.say("demo", f"{name} did not stop in time; killing it")
            _wait_group_gone(process.pid)
            process.wait()
        for pump in self.pumps:
            pump.join(timeout=2)


def _signal(pid: int, signum: signal.Signals) -> None:
    """Send a signal to a process (or, with a negative pid, its whole group) if it still exists."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)


def _group_alive(pgid: int) -> bool:
    """True while any process of the group runs (zombies only await reaping: they count as gone)."""
    proc = Path("/proc")
    if not (proc / "self").exists():  # no /proc (macOS): ask the kernel, zombies included
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, 0)
            return True
        return False
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def _wait_group_gone(pgid: int, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while _group_alive(pgid) and time.monotonic() < deadline:
        _signal(-pgid, signal.SIGKILL)
        time.sleep(0.05)


def port_in_use(port: int) -> bool:
    """True when something already listens on 127.0.0.1:port (or every interface)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                return True
            raise
    return False


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - our own http URL
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _referral_count(settings: Settings) -> int:
    engine = make_engine(settings.database_url)
    try:
        upgrade_to_head(engine)
        with engine.connect() as connection:
            return int(connection.execute(select(func.count()).select_from(Referral)).scalar_one())
    finally:
        engine.dispose()


def _reset_embedded_database(settings: Settings) -> None:
    database = Path(settings.database_url.removeprefix("sqlite:///"))
    for path in (database, *(database.with_name(database.name + s) for s in ("-wal", "-shm"))):
        path.unlink(missing_ok=True)
    (settings.var_dir / "celerybeat-schedule").unlink(missing_ok=True)


def _commands(port: int, var_dir: Path) -> dict[str, list[str]]:
    python = sys.executable
    return {
        "web": [python, "-m", "gunicorn", "admin_ui.wsgi:app", "--bind", f"127.0.0.1:{port}",
                "--workers", "2", "--threads", "4", "--access-logfile", "-",
                "--graceful-timeout", "5", "--no-control-socket"],
        "worker": [python, "-m", "celery", "-A", "workers.celery_app", "worker",
                   "--loglevel", "WARNING", "--concurrency", "2"],
        "beat": [python, "-m", "celery", "-A", "workers.celery_app", "beat",
                 "--loglevel", "WARNING", "--schedule", str(var_dir / "celerybeat-schedule")],
    }  # fmt: skip


def _seed(supervisor: _Supervisor, referrals: int, seed: int, handlers: int) -> bool:
    """Run ``seed-demo`` as a child; True when it imported its rows (a few rejections allowed)."""
    command = [sys.executable, "-m", "rmc_outreach", "seed-demo",
               "--referrals", str(referrals), "--seed", str(seed),
               "--handlers", str(handlers)]  # fmt: skip
    process = supervisor.start("seed", command)
    while process.poll() is None:
        if supervisor.stopping():
            return False
        time.sleep(POLL_S)
    del supervisor.children["seed"]
    if process.returncode == 1:
        supervisor.say("demo", "seed-demo rejected some rows; carrying on with the rest")
    return process.returncode in (0, 1)


def _supervise(supervisor: _Supervisor, port: int, sign_in: str = "") -> int:
    """Wait for the web process to be healthy, announce it, then watch until asked to stop."""
    health_url = f"http://127.0.0.1:{port}/healthz"
    deadline = time.monotonic() + HEALTH_TIMEOUT_S
    announced = False
    while not supervisor.stopping():
        finished = supervisor.exited()
        if finished is not None:
            # A terminal's Ctrl-C also reaches the private Redis, which shares our process group:
            # give our own signal handler the moment to run before calling that exit unexpected.
            time.sleep(POLL_S)
            if supervisor.stopping():
                break
            name, code = finished
            supervisor.say("demo", f"{name} exited unexpectedly with code {code}; stopping")
            return 1
        if not announced and _healthy(health_url):
            announced = True
            rule = "=" * 76
            banner = f"rmc-outreach demo running at http://127.0.0.1:{port}/  — Ctrl-C to stop"
            supervisor.say("", f"{rule}\n  {banner}\n{sign_in}{rule}")
        elif not announced and time.monotonic() > deadline:
            supervisor.say("demo", f"{health_url} did not answer in {HEALTH_TIMEOUT_S:.0f} s")
            return 1
        time.sleep(POLL_S if announced else 0.5)
    supervisor.say("demo", "stopping web, worker and beat")
    return 0


def _startup_problem(settings: Settings, port: int, reset: bool) -> str | None:
    if settings.production:
        return "the demo refuses to run in production mode (RMC_MODE=production)"
    if reset and os.environ.get("DATABASE_URL", "").strip():
        return "--reset deletes only the embedded SQLite database; DATABASE_URL is set, so it won't"
    if port_in_use(port):
        return f"port {port} is already in use: stop what uses it, or choose another with --port"
    return None


def _start_carrier(supervisor: _Supervisor, plan: CarrierPlan) -> bool:
    """Start the carrier simulator (when this run has one) and wait until it answers."""
    if plan.simulator_command is None:
        supervisor.say("demo", "Twilio traffic goes to TWILIO_API_BASE_URL: no simulator started")
        return True
    supervisor.start("carrier", plan.simulator_command)
    health = supervisor.env["TWILIO_API_BASE_URL"] + "/_simulator/health"
    deadline = time.monotonic() + 60
    while not _healthy(health):
        if supervisor.stopping() or supervisor.exited() or time.monotonic() > deadline:
            return False
        time.sleep(POLL_S)
    return True


def _run(
    supervisor: _Supervisor,
    settings: Settings,
    plan: CarrierPlan,
    *,
    referrals: int,
    port: int,
    seed: int,
    reset: bool,
    speed: float,
    handlers: int,
) -> int:
    if reset:
        _reset_embedded_database(settings)
        supervisor.say("demo", "embedded database reset")
    existing = _referral_count(settings)
    supervisor.say("demo", f"database migrated; {existing} referrals present")
    if plan.simulated_clock:
        start = start_simulated_clock(settings, supervisor.env["REDIS_URL"], speed=speed)
        supervisor.say(
            "demo",
            f"simulated clock starts at {start:%a %d %b %Y %H:%M} UTC, {speed:g}x real time, "
            "jumping over quiet hours",
        )
    if existing == 0 and referrals > 0 and not _seed(supervisor, referrals, seed, handlers):
        return 0 if supervisor.stopping() else 1
    if supervisor.stopping():
        return 0
    sign_in = _demo_sign_in(settings, port)
    if plan.simulator_command is not None:
        # Simulated handlers answer the ACD's calls as the handler records (created if missing)
        # and sign in to the console as their users, with passwords from the run's auth token.
        token = supervisor.env.get("TWILIO_AUTH_TOKEN")
        command = plan.simulator_command + handler_arguments(
            replace(settings, twilio_auth_token=token), handlers
        )
        plan = replace(plan, simulator_command=command)
        supervisor.say("demo", f"{handlers} simulated handlers will sign in to the console")
    if not _start_carrier(supervisor, plan):
        return 0 if supervisor.stopping() else 1
    for name, command in _commands(port, settings.var_dir).items():
        supervisor.start(name, command)
    return _supervise(supervisor, port, sign_in)


def _demo_sign_in(settings: Settings, port: int) -> str:
    """Give the demo's supervisor, manager and admin a fresh password for this run; the lines
    that tell the person running the demo how to sign in (synthetic data only)."""
    password = new_demo_password()
    engine = make_engine(settings.database_url)
    try:
        with Session(engine) as session, session.begin():
            usernames = ensure_demo_users(session, password, production=settings.production)
    finally:
        engine.dispose()
    return (
        f"  sign in at http://127.0.0.1:{port}/login as {', '.join(usernames)}\n"
        f"  password for this run: {password}\n"
    )


def run_demo(
    *,
    referrals: int,
    port: int,
    seed: int,
    reset: bool,
    speed: float = 30.0,
    handlers: int = DEFAULT_SIM_HANDLERS,
) -> int:
    """Run the service with synthetic referrals until Ctrl-C; 0 after a clean stop, else non-zero.

    ``handlers`` simulated handlers (records ``Handler 1..N``, endpoints ``client:sim_handler_K``)
    answer the ACD's calls through the carrier simulator and record outcomes on the console.

    Uses ``DATABASE_URL`` and ``REDIS_URL`` when set; otherwise the embedded SQLite file under
    ``var/`` and a private Redis owned by this run. ``reset`` deletes the embedded database first.
    """
    try:
        # RMC_CLOCK=simulated needs a Redis, which this run may be about to start itself.
        settings = load_settings({k: v for k, v in os.environ.items() if k != "RMC_CLOCK"})
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 2
    problem = _startup_problem(settings, port, reset)
    if problem:
        print(f"rmc-outreach demo: {problem}", file=sys.stderr)
        return 2

    supervisor = _Supervisor(dict(os.environ, PORT=str(port), PYTHONUNBUFFERED="1"))
    previous_handlers = {
        signum: signal.signal(signum, supervisor.request_stop)
        for signum in (signal.SIGINT, signal.SIGTERM)
    }
    private_redis: EmbeddedRedis | None = None
    try:
        if settings.redis_url is None:
            private_redis = EmbeddedRedis(settings.var_dir / "redis")
            supervisor.env["REDIS_URL"] = private_redis.start()
            if private_redis.process is not None:
                supervisor.watched["redis"] = private_redis.process
            supervisor.say("demo", "private Redis started")
        plan = plan_carrier(supervisor.env, settings, port=port, seed=seed)
        exit_code = _run(
            supervisor,
            settings,
            plan,
            referrals=referrals,
            port=port,
            seed=seed,
            reset=reset,
            speed=speed,
            handlers=handlers,
        )
    except (EmbeddedRedisError, SQLAlchemyError) as error:
        supervisor.say("demo", f"could not start: {error}")
        exit_code = 1
    finally:
        supervisor.stop_all()
        if private_redis is not None:
            private_redis.stop()
        for signum, handler in previous_handlers.items():
            signal.signal(signum, handler)
    supervisor.say("demo", "stopped" if exit_code == 0 else f"stopped with exit code {exit_code}")
    return exit_code
