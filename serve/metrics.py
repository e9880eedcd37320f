"""Prometheus metrics of one app instance (own registry, so test apps never collide).

Flag rates per signal are ``rate(signals_flagged_total[5m]) / rate(signals_items_scored_total[5m])``
(and ``signals_review_total`` for the review threshold); the served model is the
``signals_model_info{name, version}`` series whose value is 1.
"""

from __future__ import annotations

from collections.abc import Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from signals.schema import SIGNALS, Score

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """The counters and histograms the middleware and routes update."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "signals_http_requests", "HTTP requests answered", ["method", "route", "status"], registry=r
        )
        self.latency = Histogram(
            "signals_http_request_duration_seconds",
            "Time from request to response",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.items = Counter("signals_items_scored", "Texts scored", ["route"], registry=r)
        self.flagged = Counter(
            "signals_flagged", "Texts at or above the flag threshold", ["signal"], registry=r
        )
        self.review = Counter(
            "signals_review", "Texts at or above the review threshold", ["signal"], registry=r
        )
        self.model_info = Gauge(
            "signals_model_info", "The served model (value 1)", ["name", "version"], registry=r
        )
        self.reloads = Counter("signals_model_reloads", "Model reloads", ["outcome"], registry=r)
        self.rate_limited = Counter("signals_rate_limited", "Requests refused by the rate limit", registry=r)
        # Touch every label so dashboards see zeros instead of missing series.
        for s in SIGNALS:
            self.flagged.labels(s)
            self.review.labels(s)

    def observe_scores(self, route: str, scores: Sequence[Score]) -> None:
        self.items.labels(route).inc(len(scores))
        for s in SIGNALS:
            n_flag = sum(1 for sc in scores if sc.flags.get(s))
            n_review = sum(1 for sc in scores if sc.review.get(s))
            if n_flag:
                self.flagged.labels(s).inc(n_flag)
            if n_review:
                self.review.labels(s).inc(n_review)

    def set_model(self, name: str, version: str) -> None:
        self.model_info.clear()
        self.model_info.labels(name, version).set(1)
