"""The per-address brake on sign-in: too many failed sign-ins from one address in a window and
that address may not try again until the window ends.

It complements the per-account lockout (``rmc_outreach.sign_in``): the lockout stops guessing at
one account, this stops one machine guessing across many. The limit is well above ten, as a call
centre's staff often share one address. Counts live in Redis so every web worker shares them;
without Redis (a bare development server) they live in this process. If Redis fails the brake is
released (logged): the account lockout still holds, and staff can still sign in.
"""

from __future__ import annotations

import logging
import threading
import time

import redis

log = logging.getLogger(__name__)

KEY_PREFIX = "rmc:sign-in-failures:"


class SignInThrottle:
    """Failed sign-ins per address in fixed windows of ``window_seconds``."""

    def __init__(self, redis_url: str | None, *, limit: int, window_seconds: int) -> None:
        self.limit = limit
        self.window_seconds = window_seconds
        self._client: redis.Redis | None = (
            redis.Redis.from_url(redis_url, socket_timeout=1.0, socket_connect_timeout=1.0)
            if redis_url
            else None
        )
        self._local: dict[str, tuple[int, float]] = {}
        self._lock = threading.Lock()

    def _key(self, address: str) -> str:
        window = int(time.time() // self.window_seconds)
        return f"{KEY_PREFIX}{window}:{address}"

    def blocked(self, address: str) -> bool:
        """True when this address has used up its failures for the current window."""
        return self._count(address, add=0) >= self.limit

    def record_failure(self, address: str) -> None:
        """Count one failed sign-in from this address."""
        self._count(address, add=1)

    def _count(self, address: str, *, add: int) -> int:
        key = self._key(address)
        if self._client is not None:
            try:
                if add:
                    pipeline = self._client.pipeline()
                    pipeline.incrby(key, add)
                    pipeline.expire(key, self.window_seconds * 2)
                    count, _ = pipeline.execute()
                    return int(count)
                value = self._client.get(key)
                return int(value) if value is not None else 0
            except redis.RedisError:
                log.warning("sign-in throttle: Redis unavailable, not throttling")
                return 0
        with self._lock:
            now = time.monotonic()
            self._local = {k: v for k, v in self._local.items() if v[1] > now}
            count = self._local.get(key, (0, now + self.window_seconds * 2))[0] + add
            self._local[key] = (count, now + self.window_seconds * 2)
            return count
