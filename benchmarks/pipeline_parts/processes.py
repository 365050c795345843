"""The processes of one pipeline benchmark run, and the worker kills.

The demo's supervisor (``rmc_outreach.demo``) starts and stops them exactly as ``make demo`` does:
each child in its own session, SIGTERM to the leaders then SIGKILL to whatever outlives the grace
period. Here their output goes to a log file instead of the terminal (gunicorn's access log alone
would drown the benchmark's own lines), and the Celery worker can be killed with SIGKILL: either
a pool child caught executing a task, or the worker's main process (then the rest of its process
group with it, as when a machine or container dies) followed by a fresh worker.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from celery import Celery

from rmc_outreach.demo import _commands, _healthy, _Supervisor, _wait_group_gone
from rmc_outreach.demo_carrier import CarrierPlan
from workers.queues import TaskNames

HEALTH_TIMEOUT_S = 120.0
INSPECT_TIMEOUT_S = 1.0
# Tasks worth killing a pool child for, most interesting first: a kill in the middle of one of
# these is what acks_late, reject_on_worker_lost and the sweeper must recover from.
KILL_TARGETS = (
    TaskNames.PLACE_CALL,
    TaskNames.APPLY_PROVIDER_EVENT,
    TaskNames.SEND_SMS,
    TaskNames.DISPATCH_DUE_REFERRALS,
    TaskNames.PREPARE_LETTER,
)


class _LoggedSupervisor(_Supervisor):
    """The demo's supervisor, its children's output written to a file rather than the terminal."""

    def __init__(self, env: Mapping[str, str], log: TextIO) -> None:
        super().__init__(env)
        self.log = log

    def say(self, name: str, line: str) -> None:
        """Write one line, prefixed with the process it came from, to the run's log file."""
        with self.output_lock:
            self.log.write(f"{name:>8} | {line.rstrip()}\n")
            self.log.flush()


@dataclass(frozen=True)
class Kill:
    """One SIGKILL: which process, what it was doing, and when (seconds into the run)."""

    target: str  # "pool-child" or "main-process"
    pid: int
    task: str | None
    at_s: float


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    """Fields of /proc/PID/stat after the command name (state first); None when it is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def cpu_seconds(*, group: int | None = None, command: str | None = None) -> float:
    """CPU seconds (user + system, with reaped children) of the live processes of a process
    group, or of every process running ``command`` (e.g. the PostgreSQL server's)."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        fields = _stat(int(entry.name))
        if fields is None:
            continue
        if group is not None and int(fields[2]) != group:
            continue
        if command is not None:
            with contextlib.suppress(OSError):
                if (entry / "comm").read_text().strip() != command:
                    continue
        total += sum(int(value) for value in fields[11:15])
    return total / CLOCK_TICKS


def _children_of(pid: int) -> list[int]:
    """Direct children of a process (Linux /proc)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            found += [int(child) for child in (task / "children").read_text().split()]
    return found


class PipelineProcesses:
    """Carrier simulator, web, worker and beat of one run, started from one environment."""

    def __init__(self, env: Mapping[str, str], log_path: Path, *, port: int, concurrency: int):
        self._log = log_path.open("a", encoding="utf-8")
        self.supervisor = _LoggedSupervisor(env, self._log)
        self.env = self.supervisor.env
        self.port = port
        self.concurrency = concurrency
        self._worker_generation = 0
        self.cpu_of_killed_workers = 0.0

    def _command(self, name: str) -> list[str]:
        command = _commands(self.port, Path(self.env["RMC_VAR_DIR"]))[name]
        if name == "worker":
            index = command.index("--concurrency")
            command[index + 1] = str(self.concurrency)
        return command

    def start_carrier(self, plan: CarrierPlan) -> None:
        """Start the carrier simulator and wait until it answers."""
        if plan.simulator_command is None:
            raise RuntimeError("the pipeline benchmark needs its own carrier simulator")
        self.supervisor.start("carrier", plan.simulator_command)
        self._wait_healthy(self.env["TWILIO_API_BASE_URL"] + "/_simulator/health", "carrier")

    def start_service(self) -> None:
        """Start web, worker and beat (the Procfile's processes) and wait for the web."""
        self.supervisor.start("web", self._command("web"))
        self.start_worker()
        self.supervisor.start("beat", self._command("beat"))
        self._wait_healthy(f"http://127.0.0.1:{self.port}/healthz", "web")

    def start_worker(self, *, queues: Sequence[str] = ()) -> int:
        """Start a Celery worker (all queues unless ``queues``); returns its main process id."""
        command = self._command("worker")
        if queues:
            command += ["--queues", ",".join(queues)]
        self._worker_generation += 1
        command += ["--hostname", f"bench{self._worker_generation}@%h"]
        return self.supervisor.start("worker", command).pid

    def wait_worker_ready(self, app: Celery, timeout_s: float = 180.0) -> None:
        """Wait until the current worker answers a ping (imported, pool forked, consuming)."""
        deadline = time.monotonic() + timeout_s
        while not app.control.ping(timeout=1.0):
            self.check_alive()
            if time.monotonic() > deadline:
                raise RuntimeError(f"the worker did not answer within {timeout_s:.0f} s")

    def stop_worker(self) -> None:
        """Stop the current worker (warm shutdown, then whatever is left is killed)."""
        process = self.supervisor.children.pop("worker")
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=15)
        _wait_group_gone(process.pid)
        process.wait()

    @property
    def worker_pid(self) -> int:
        """The main process of the current worker."""
        return self.supervisor.children["worker"].pid

    def _wait_healthy(self, url: str, name: str) -> None:
        deadline = time.monotonic() + HEALTH_TIMEOUT_S
        while not _healthy(url):
            failed = self.supervisor.exited()
            if failed is not None:
                raise RuntimeError(f"{failed[0]} exited with code {failed[1]} while starting")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not answer {url} in {HEALTH_TIMEOUT_S:.0f} s")
            time.sleep(0.2)

    def check_alive(self) -> None:
        """Raise when a child exited on its own (a killed worker is replaced before this runs)."""
        failed = self.supervisor.exited()
        if failed is not None:
            raise RuntimeError(f"{failed[0]} exited unexpectedly with code {failed[1]}")

    def kill_busy_pool_child(self, app: Celery, at_s: float, patience_s: float = 20.0) -> Kill:
        """SIGKILL a pool child of the worker caught executing a task (calls first).

        Asks the worker which tasks it is executing (``inspect active``: task name and the pool
        process running it) until one of ``KILL_TARGETS`` is seen; after ``patience_s`` any busy
        child will do, and failing that any child. The worker's main process notices the lost
        child, rejects its message back to the queue (reject_on_worker_lost) and forks another.
        """
        deadline = time.monotonic() + patience_s
        pool = set(_children_of(self.worker_pid))
        while True:
            active = _active_tasks(app)
            busy = [(name, pid) for name, pid in active if pid in pool]
            preferred = sorted(
                (KILL_TARGETS.index(name), name, pid) for name, pid in busy if name in KILL_TARGETS
            )
            task: str | None
            if preferred:
                _, task, pid = preferred[0]
                break
            if time.monotonic() > deadline and (busy or pool):
                task, pid = busy[0] if busy else (None, sorted(pool)[0])
                break
            time.sleep(0.05)
            pool = set(_children_of(self.worker_pid))
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        return Kill("pool-child", pid, task, round(at_s, 1))

    def kill_worker_main_process(self, app: Celery, at_s: float) -> Kill:
        """SIGKILL the worker's main process and its pool, then start a new worker.

        The killed worker never acknowledges the messages it held, so Redis keeps them unacked
        (until the visibility timeout, far beyond a run): the sweeper must recover that work.
        """
        process = self.supervisor.children.pop("worker")
        busy = [name for name, _pid in _active_tasks(app)]
        self.cpu_of_killed_workers += cpu_seconds(group=process.pid)
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGKILL)
        _wait_group_gone(process.pid)
        process.wait()
        self.supervisor.say("bench", f"worker {process.pid} killed; starting another")
        self.start_worker()
        return Kill("main-process", process.pid, busy[0] if busy else None, round(at_s, 1))

    def cpu_by_process(self) -> dict[str, float]:
        """CPU seconds used so far by each child (its whole process group)."""
        used = {
            name: cpu_seconds(group=process.pid)
            for name, process in self.supervisor.children.items()
        }
        used["worker"] = used.get("worker", 0.0) + self.cpu_of_killed_workers
        return used

    def carrier_stats(self) -> dict[str, Any]:
        """The simulator's ``/_simulator/stats``."""
        request = urllib.request.Request(  # noqa: S310 - our own loopback http URL
            self.env["TWILIO_API_BASE_URL"] + "/_simulator/stats",
            headers={"Authorization": "Basic " + _basic(self.env)},
        )
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            stats: dict[str, Any] = json.load(response)
        return stats

    def stop_all(self) -> None:
        """Stop every child (SIGTERM, then SIGKILL after the grace period) and close the log."""
        self.supervisor.stop_all()
        self._log.close()


def _basic(env: Mapping[str, str]) -> str:
    pair = f"{env['TWILIO_ACCOUNT_SID']}:{env['TWILIO_AUTH_TOKEN']}"
    return base64.b64encode(pair.encode()).decode()


def _active_tasks(app: Celery) -> list[tuple[str, int]]:
    """(task name, pool process id) of every task the workers are executing right now."""
    try:
        replies = app.control.inspect(timeout=INSPECT_TIMEOUT_S).active() or {}
    except Exception as error:  # a worker being restarted may not answer
        print(f"inspect failed: {type(error).__name__}", file=sys.stderr)
        return []
    return [
        (str(task.get("name")), int(task.get("worker_pid") or 0))
        for tasks in replies.values()
        for task in tasks
    ]
