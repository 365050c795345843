"""The service a pipeline-style benchmark runs: a temporary database, a private Redis, the carrier
plan and the processes (web, worker, beat, simulator), set up and torn down in one place for
``benchmarks.pipeline`` and ``benchmarks.handoff``."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from benchmarks.intake import temporary_database
from benchmarks.pipeline_parts.processes import PipelineProcesses
from rmc_outreach import clock, db
from rmc_outreach.config import Settings, load_settings
from rmc_outreach.demo_carrier import CarrierPlan, plan_carrier
from rmc_outreach.embedded_redis import EmbeddedRedis, free_port
from rmc_outreach.migrate import upgrade_to_head

BENCH_SECRET_KEY = "pipeline-benchmark-secret-key-" + "x" * 32
# Settings the children must not inherit from the caller's shell: the run makes its own.
OWN_SETTINGS = ("DATABASE_URL", "REDIS_URL", "PORT", "PUBLIC_BASE_URL", "SECRET_KEY", "RMC_")


def child_env(
    var_dir: Path, database_url: str, redis_url: str, port: int, max_calls: int
) -> dict[str, str]:
    """The children's environment: the caller's, without our settings, plus the run's own."""
    env = {name: value for name, value in os.environ.items() if not name.startswith(OWN_SETTINGS)}
    env = {name: value for name, value in env.items() if not name.startswith("TWILIO_")}
    env.update(
        RMC_VAR_DIR=str(var_dir),
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        SECRET_KEY=BENCH_SECRET_KEY,
        PORT=str(port),
        PYTHONUNBUFFERED="1",
        RMC_MAX_CALLS_IN_FLIGHT=str(max_calls),
    )
    return env


@contextmanager
def work_dir(path: str | None) -> Iterator[Path]:
    """``path`` (kept afterwards), or a temporary folder removed at the end."""
    if path:
        Path(path).mkdir(parents=True, exist_ok=True)
        yield Path(path).resolve()
        return
    with tempfile.TemporaryDirectory(prefix="rmc-pipeline-") as folder:
        yield Path(folder)


@dataclass
class BenchService:
    """Everything a run set up; ``stop`` ends the processes (the database stays readable)."""

    var_dir: Path
    redis_server: EmbeddedRedis
    redis_url: str
    settings: Settings
    plan: CarrierPlan
    processes: PipelineProcesses

    @property
    def redis_pid(self) -> int | None:
        """The private Redis server's process id (for its CPU time)."""
        return self.redis_server.process.pid if self.redis_server.process else None

    @property
    def ledger_path(self) -> Path:
        """Where the carrier simulator writes its ledger."""
        return self.var_dir / "simulator-ledger.jsonl"

    def stop(self) -> None:
        """Stop every child process and the private Redis; back to the real clock. Idempotent."""
        self.processes.stop_all()
        self.redis_server.stop()
        clock.use_real_clock()


@contextmanager
def bench_service(
    work: str | None,
    database_url: str,
    *,
    max_calls: int,
    seed: int,
    concurrency: int,
    keep_database: bool = False,
) -> Iterator[BenchService]:
    """A migrated temporary database, a private Redis and the planned processes (not started);
    everything is stopped and dropped on the way out (the database kept if asked), however the
    run ends."""
    with work_dir(work) as folder, temporary_database(database_url, keep=keep_database) as url:
        var_dir = folder / "var"
        redis_server = EmbeddedRedis(var_dir / "redis")
        redis_url = redis_server.start()
        port = free_port()
        env = child_env(var_dir, url, redis_url, port, max_calls)
        plan = plan_carrier(env, load_settings(env), port=port, seed=seed)
        settings = load_settings(env)
        processes = PipelineProcesses(
            env, folder / "processes.log", port=port, concurrency=concurrency
        )
        service = BenchService(var_dir, redis_server, redis_url, settings, plan, processes)
        try:
            upgrade_to_head(db.configure(settings))
            yield service
        finally:
            service.stop()
            db.get_engine().dispose()
