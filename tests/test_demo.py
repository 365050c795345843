"""`make demo`'s supervisor: the whole service up with seeded referrals, then nothing left behind.

These tests run the real command in a child process on the embedded default (SQLite under a
temporary var/ and a private Redis), exactly as a newcomer would, and find every process the run
started through /proc: each inherits RMC_VAR_DIR, which points at this test's own directory.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.cookiejar import CookieJar
from pathlib import Path
from typing import Any

import pytest

from rmc_outreach.config import PROJECT_ROOT

START_TIMEOUT_S = 150.0
STOP_TIMEOUT_S = 60.0
BANNER = re.compile(r"rmc-outreach demo running at (http://127\.0\.0\.1:\d+/)")
PASSWORD_LINE = re.compile(r"password for this run: (\S+)")

pytestmark = pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs /proc")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _demo_env(var_dir: Path) -> dict[str, str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in ("REDIS_URL", "DATABASE_URL", "PORT", "PUBLIC_BASE_URL", "RMC_MODE")
    }
    env["RMC_VAR_DIR"] = str(var_dir)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _proc_stat(pid: int) -> list[str] | None:
    """Fields of /proc/PID/stat after the command name (state first), None if it is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def _running_processes_of(var_dir: Path) -> dict[tuple[int, str], str]:
    """Live (non-zombie) processes of this run: those whose environment carries its RMC_VAR_DIR,
    and their descendants (redis-server rewrites its environment area for its process title).

    Keyed by (pid, start time), so a pid reused by an unrelated process is never mistaken.
    """
    marker = f"RMC_VAR_DIR={var_dir}".encode()
    processes: dict[int, tuple[list[str], bool, str]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        stat = _proc_stat(int(entry.name))
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, UnicodeDecodeError):
            continue
        if stat is not None and stat[0] != "Z":
            processes[int(entry.name)] = (stat, marker in environ, cmdline)
    ours = {pid for pid, (_, marked, _) in processes.items() if marked}
    grew = True
    while grew:
        children = {pid for pid, (stat, _, _) in processes.items() if int(stat[1]) in ours}
        grew = not children <= ours
        ours |= children
    # Field 22 of stat (the 20th after the name) is the start time in clock ticks since boot.
    return {(pid, processes[pid][0][19]): processes[pid][2] for pid in ours}


def _still_running(processes: dict[tuple[int, str], str]) -> list[str]:
    """Those of ``processes`` (from ``_running_processes_of``) that still run."""
    alive = []
    for (pid, started_at), command in processes.items():
        stat = _proc_stat(pid)
        if stat is not None and stat[0] != "Z" and stat[19] == started_at:
            alive.append(command)
    return alive


class _Output:
    """Collects a child's output lines on a thread so its pipe never fills."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(process,), daemon=True)
        self._thread.start()

    def _read(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            self.lines.append(line)

    def text(self) -> str:
        return "".join(self.lines)

    def join(self) -> None:
        self._thread.join(timeout=10)


@pytest.fixture
def var_dir(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "var"
    yield path
    # Whatever happened in the test, leave none of the processes it started running.
    for pid, _ in _running_processes_of(path):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


# One browser-like session for the test: the demo's pages need a signed-in user.
_OPENER = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))


def _get(url: str) -> str:
    assert url.startswith("http://127.0.0.1:")
    with _OPENER.open(url, timeout=10) as response:
        assert response.status == 200
        body: str = response.read().decode("utf-8")
        return body


def _sign_in(port: int, output: str) -> None:
    """Sign in as the demo's supervisor with the password the demo printed."""
    match = PASSWORD_LINE.search(output)
    assert match is not None, f"no demo password printed:\n{output}"
    token = json.loads(_get(f"http://127.0.0.1:{port}/api/session"))["csrf_token"]
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/login",
        data=json.dumps({"username": "demo-supervisor", "password": match.group(1)}).encode(),
        headers={"Content-Type": "application/json", "X-CSRFToken": token},
        method="POST",
    )
    with _OPENER.open(request, timeout=10) as response:
        assert json.loads(response.read())["user"]["role"] == "supervisor"


def test_the_demo_serves_its_seeded_referrals_and_ctrl_c_stops_every_process(
    var_dir: Path,
) -> None:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "rmc_outreach", "demo", "--referrals", "50", "--port", str(port)],
        cwd=PROJECT_ROOT,
        env=_demo_env(var_dir),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        # Its own process group, like a command run from a terminal: Ctrl-C goes to the group.
        start_new_session=True,
    )
    output = _Output(process)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not BANNER.search(output.text()):
            assert process.poll() is None, f"demo exited early:\n{output.text()}"
            assert time.monotonic() < deadline, f"no banner in time:\n{output.text()}"
            time.sleep(0.5)
        match = BANNER.search(output.text())
        assert match is not None
        assert match.group(1) == f"http://127.0.0.1:{port}/"

        health = json.loads(_get(f"http://127.0.0.1:{port}/healthz"))
        assert health["database"]["ok"] and health["redis"]["ok"]
        _sign_in(port, output.text())
        queue = json.loads(_get(f"http://127.0.0.1:{port}/api/queue"))
        assert queue["counts"]["total"] == 50
        page = _get(f"http://127.0.0.1:{port}/")
        assert re.search(r'data-status="total" data-priority="total">\s*50\s*<', page)
        # Outreach moves: the engine calls patients through the simulator and some are reached.
        by_status = _wait_for_reached(port, output)
        assert by_status["waiting"]["total"] < 50

        started = _running_processes_of(var_dir)
        commands = "\n".join(started.values())
        expected_processes = (
            "gunicorn",
            "celery -A workers.celery_app worker",
            "beat",
            "redis-server",
            "rmc_outreach.simulation.carrier",
        )
        for expected in expected_processes:
            assert expected in commands, f"{expected} is not running:\n{commands}"
        assert process.pid in {pid for pid, _ in started}
        # The simulated handlers (seeded, six by default) sign in to the console at start.
        assert "--handlers 6" in commands and "--handler sim_handler_6=" in commands
        _wait_for_sign_ins(var_dir / "simulator-ledger.jsonl", 6)

        os.killpg(process.pid, signal.SIGINT)
        exit_code = process.wait(timeout=STOP_TIMEOUT_S)
        output.join()
        assert exit_code == 0, output.text()[-3000:]
        assert _still_running(started) == []
        assert _running_processes_of(var_dir) == {}
        # No personal data in any log of the run: its processes' output and its log files.
        _assert_no_personal_data_in_logs(var_dir, output.text())
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


# Digit runs in a log, allowing the spaces, hyphens and dots people and formatters put inside.
_DIGIT_RUN = re.compile(r"\+?\d(?:[ \-.]?\d)+")


def _log_files(var_dir: Path) -> list[Path]:
    """Every log file the run left under its var/ folder."""
    return sorted(
        path
        for path in var_dir.rglob("*")
        if path.is_file() and (path.suffix == ".log" or "log" in path.name.split(".")[0].lower())
    )


def _assert_no_personal_data_in_logs(var_dir: Path, output: str) -> None:
    """None of the seeded patients' names, NHS numbers or phone numbers (in any format) appears
    in the demo's output (every process's log lines) or in a log file under ``var_dir``."""
    with contextlib.closing(sqlite3.connect(var_dir / "rmc_outreach.sqlite3")) as database:
        patients = database.execute(
            "SELECT given_name, family_name, nhs_number, mobile_phone, landline_phone,"
            " carer_phone FROM patient"
        ).fetchall()
    assert len(patients) >= 40, "the demo seeded too few patients to check"
    names: set[str] = set()
    numbers: set[str] = set()
    for given, family, nhs_number, *phones in patients:
        names |= {f"{given} {family}", f"{family}, {given}", f"{family} {given}"}
        numbers.add(nhs_number)
        # A UK number's national significant digits: in +44..., 0... or 44... form alike.
        numbers |= {phone.removeprefix("+44") for phone in phones if phone}
    logs = {"demo output": output}
    logs |= {str(path): path.read_text(errors="replace") for path in _log_files(var_dir)}
    for where, text in logs.items():
        found_names = sorted(name for name in names if name in text)
        assert found_names == [], f"patient names in {where}: {found_names[:5]}"
        runs = {re.sub(r"\D", "", run) for run in _DIGIT_RUN.findall(text)}
        found_numbers = sorted(n for n in numbers if any(n in run for run in runs))
        assert found_numbers == [], f"NHS or phone numbers in {where}: {found_numbers[:5]}"


def _wait_for_sign_ins(ledger: Path, count: int, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        lines = ledger.read_text().splitlines() if ledger.exists() else []
        entries = [json.loads(line) for line in lines]
        signed = {e["identity"] for e in entries if e.get("purpose") == "sign_in"}
        if signed == {f"sim_handler_{n}" for n in range(1, count + 1)}:
            return
        assert time.monotonic() < deadline, f"handlers did not sign in: {sorted(signed)}"
        time.sleep(0.5)


def _wait_for_reached(port: int, output: _Output, timeout_s: float = 90.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        queue = json.loads(_get(f"http://127.0.0.1:{port}/api/queue"))
        by_status: dict[str, Any] = queue["counts"]["by_status"]
        if by_status["reached"]["total"] > 0:
            return by_status
        assert time.monotonic() < deadline, f"nobody reached in time:\n{output.text()[-3000:]}"
        time.sleep(1)


def test_the_demo_refuses_a_port_in_use_before_starting_anything(var_dir: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "rmc_outreach", "demo", "--referrals", "5", "--port", str(port)],
            cwd=PROJECT_ROOT,
            env=_demo_env(var_dir),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 2
    assert f"port {port} is already in use" in result.stderr
    assert not (var_dir / "redis").exists(), "no private Redis may be started"
    assert not (var_dir / "rmc_outreach.sqlite3").exists(), "no database may be made"


def test_with_twilio_api_base_url_set_the_demo_starts_no_simulator_and_calls_there(
    var_dir: Path, tmp_path: Path
) -> None:
    from rmc_outreach.config import load_settings
    from rmc_outreach.simulation.carrier import start_simulator

    port = _free_port()
    account_sid, auth_token = "AC" + "1" * 32, "external-endpoint-token"
    endpoint_settings = load_settings(
        {
            "RMC_VAR_DIR": str(tmp_path / "endpoint"),
            "TWILIO_ACCOUNT_SID": account_sid,
            "TWILIO_AUTH_TOKEN": auth_token,
            "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        }
    )
    endpoint = start_simulator(endpoint_settings, seed=5, time_scale=30.0)
    env = _demo_env(var_dir) | {
        "TWILIO_API_BASE_URL": endpoint.base_url,
        "TWILIO_ACCOUNT_SID": account_sid,
        "TWILIO_AUTH_TOKEN": auth_token,
        "RMC_CLOCK": "simulated",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "rmc_outreach", "demo", "--referrals", "30", "--port", str(port)],
        cwd=PROJECT_ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    output = _Output(process)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not endpoint.ledger():
            assert process.poll() is None, f"demo exited early:\n{output.text()}"
            assert time.monotonic() < deadline, f"no call reached the endpoint:\n{output.text()}"
            time.sleep(0.5)
        assert "no simulator started" in output.text()
        commands = "\n".join(_running_processes_of(var_dir).values())
        assert "rmc_outreach.simulation.carrier" not in commands
        assert any(entry.get("operation") == "create_call" for entry in endpoint.ledger())
        os.killpg(process.pid, signal.SIGINT)
        assert process.wait(timeout=STOP_TIMEOUT_S) == 0
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        endpoint.stop()
