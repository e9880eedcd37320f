"""The server's one rate limiter: ``limits``' sliding-window counters, in memory or shared in Redis.

Every limit of the server goes through ``RateLimiter.spend`` (take ``cost`` units now, or learn how
long to wait) and ``RateLimiter.wait`` (would one more unit be refused?):

- API keys: each key may spend its per-minute allowance (``SIGNALS_RATE_LIMIT`` or the key's own
  ``--rate-limit``) within any minute, so its burst is its own rate. A request costs one unit per
  text or sentence window the model scores (``Scorer.segment_count``); other requests cost one.
- failed authentications (unknown or revoked keys) per client address
  (``SIGNALS_AUTH_FAILURE_LIMIT`` a minute), checked before the database is asked;
- failed triage logins, per (username, client address) and per client address.

Where the counters live is ``SIGNALS_LIMITS_URL``, a ``limits`` storage URI:

- ``memory://`` (the default): in the process. Right for one worker; with several, each counts its
  own share, so every limit is multiplied by the number of workers (the server warns at start).
- ``redis://HOST:PORT/DB`` (or ``rediss://``, ``redis+sentinel://``): one set of counters for every
  worker and host behind the load balancer. docs/deploy.md explains why Redis and not PostgreSQL.

If the shared store cannot be reached, requests that need a limit get 503 with ``Retry-After``
(``LimitsUnavailable``), never a silent pass and never a 500; ``/readyz`` says so too.
Counters expire with their window, so memory stays bounded without ever clearing them wholesale.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import TypeVar

from limits import RateLimitItem, RateLimitItemPerSecond
from limits.storage import storage_from_string
from limits.strategies import SlidingWindowCounterRateLimiter

DEFAULT_LIMITS_URL = "memory://"
#: Seconds a client is told to wait when the shared store is unreachable.
UNAVAILABLE_RETRY_AFTER = 5

T = TypeVar("T")


class LimitsUnavailable(RuntimeError):
    """The shared limits store did not answer; the request is refused with 503."""


def per(amount: int, seconds: int) -> RateLimitItem:
    """``amount`` units per ``seconds`` (e.g. ``per(600, 60)``)."""
    return RateLimitItemPerSecond(max(1, amount), max(1, seconds))


class RateLimiter:
    """Named limits over identifiers: ``spend("key", per(600, 60), "17", cost=3)``.

    >>> limiter = RateLimiter("memory://")
    >>> limiter.spend("key", per(2, 60), "17", cost=2), limiter.wait("key", per(2, 60), "17") > 0
    (0.0, True)
    >>> limiter.shared
    False
    """

    def __init__(self, url: str = DEFAULT_LIMITS_URL) -> None:
        try:
            # Short socket timeouts: a stalled store must not hold requests for the driver's default.
            options = {"socket_timeout": 2, "socket_connect_timeout": 2} if url.startswith("redis") else {}
            self.storage = storage_from_string(url, **options)
        except Exception as exc:  # unknown scheme, missing driver
            raise ValueError(f"SIGNALS_LIMITS_URL {url.split('@')[-1]!r}: {exc}") from None
        self.url = url
        self._limiter = SlidingWindowCounterRateLimiter(self.storage)

    @property
    def shared(self) -> bool:
        """Whether the counters live outside this process (shared by every worker)."""
        return not self.url.startswith("memory")

    def spend(self, name: str, item: RateLimitItem, *ident: str, cost: int = 1) -> float:
        """Take ``cost`` units: 0.0 when allowed, else the seconds to wait (nothing is taken then)."""
        if self._call(lambda: self._limiter.hit(item, name, *ident, cost=cost)):
            return 0.0
        return self._retry_after(item, name, *ident)

    def wait(self, name: str, item: RateLimitItem, *ident: str) -> float:
        """0.0 while one more unit would be allowed, else the seconds to wait (takes nothing)."""
        if self._call(lambda: self._limiter.test(item, name, *ident)):
            return 0.0
        return self._retry_after(item, name, *ident)

    def healthy(self) -> bool:
        """Whether the store answers (always, in memory)."""
        try:
            return bool(self.storage.check())
        except Exception:
            return False

    def _retry_after(self, item: RateLimitItem, *ident: str) -> float:
        stats = self._call(lambda: self._limiter.get_window_stats(item, *ident))
        return max(1.0, float(math.ceil(stats.reset_time - time.time())))

    @staticmethod
    def _call(fn: Callable[[], T]) -> T:
        try:
            return fn()
        except Exception as exc:  # the store's connection errors (redis.ConnectionError, timeouts)
            raise LimitsUnavailable(f"the rate-limit store is unreachable ({type(exc).__name__})") from exc
