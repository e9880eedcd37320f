"""The server's one rate limiter: ``limits``' sliding-window counters, in memory (per process).

Every limit of the server goes through ``RateLimiter.spend`` (take ``cost`` units now, or learn how
long to wait) and ``RateLimiter.wait`` (would one more unit be refused?):

- API keys: each key may spend its per-minute allowance (``SIGNALS_RATE_LIMIT`` or the key's own
  ``--rate-limit``) within any minute, so its burst is its own rate. A request costs one unit per
  text or sentence window the model scores (``Scorer.segment_count``); other requests cost one.
- failed authentications (unknown or revoked keys) per client address
  (``SIGNALS_AUTH_FAILURE_LIMIT`` a minute), checked before the database is asked;
- failed triage logins, per (username, client address) and per client address.

Counters expire with their window, so memory stays bounded without ever clearing them wholesale.
With several workers each process counts its own share (a shared store is a later step).
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, RateLimitItemPerSecond
from limits.storage import MemoryStorage
from limits.strategies import SlidingWindowCounterRateLimiter


def per(amount: int, seconds: int) -> RateLimitItem:
    """``amount`` units per ``seconds`` (e.g. ``per(600, 60)``)."""
    return RateLimitItemPerSecond(max(1, amount), max(1, seconds))


class RateLimiter:
    """Named limits over identifiers: ``spend("key", per(600, 60), "17", cost=3)``."""

    def __init__(self) -> None:
        self._limiter = SlidingWindowCounterRateLimiter(MemoryStorage())

    def spend(self, name: str, item: RateLimitItem, *ident: str, cost: int = 1) -> float:
        """Take ``cost`` units: 0.0 when allowed, else the seconds to wait (nothing is taken then)."""
        if self._limiter.hit(item, name, *ident, cost=cost):
            return 0.0
        return self._retry_after(item, name, *ident)

    def wait(self, name: str, item: RateLimitItem, *ident: str) -> float:
        """0.0 while one more unit would be allowed, else the seconds to wait (takes nothing)."""
        if self._limiter.test(item, name, *ident):
            return 0.0
        return self._retry_after(item, name, *ident)

    def _retry_after(self, item: RateLimitItem, *ident: str) -> float:
        stats = self._limiter.get_window_stats(item, *ident)
        return max(1.0, float(math.ceil(stats.reset_time - time.time())))
