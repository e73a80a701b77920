"""Every figure /metrics serves, defined in one place (prometheus-client).

Two sources: what this process counts as it goes (updates handled, calls to the Bot API), and
what the database holds, read at each scrape (`Figures`, bot/services/health.py) so that the
bot, `run-job` and the backup agree. No label carries a NIK, KK number, name or chat id: labels
are handler names, Bot API methods, outcomes, message kinds, states and job names.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from bot.services.health import Figures

METHOD = re.compile(r"[A-Za-z]{1,40}")
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class TelegramHealth:
    """When the Bot API last answered, and whether the last call got an answer."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.last_answer: float | None = None
        self.last_error: str | None = None  # the last call's failure, None when it was answered
        self.failing_since = 0.0  # the first failure after the last answer

    def answered(self) -> None:
        self.last_answer, self.last_error = self.clock(), None

    def failed(self, error: str) -> None:
        if self.last_error is None:
            self.failing_since = self.clock()
        self.last_error = error

    def unreachable_for(self) -> float:
        """Seconds since the last answer (or, if none ever came, since the first failure) while
        calls fail; 0 while the last call was answered."""
        if self.last_error is None:
            return 0.0
        since = self.last_answer if self.last_answer is not None else self.failing_since
        return max(0.0, self.clock() - since)


class Metrics:
    """One process's metrics, in a registry of its own (an Application can be built twice)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.registry = CollectorRegistry()
        self.telegram = TelegramHealth(clock)
        self.updates = Counter(
            "dukcapil_updates_handled",
            "Updates handled, by handler and outcome (ok or error)",
            ("handler", "outcome"),
            registry=self.registry,
        )
        self.update_seconds = Histogram(
            "dukcapil_update_handling_seconds",
            "Time a handler took for one update",
            ("handler",),
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.telegram_requests = Counter(
            "dukcapil_telegram_requests",
            "Calls to the Bot API by method and outcome (sent, blocked, failed, retry_after,"
            " server_error, unreachable)",
            ("method", "outcome"),
            registry=self.registry,
        )
        self.retry_after = Counter(
            "dukcapil_telegram_429",
            "429 Too Many Requests answers received from the Bot API",
            registry=self.registry,
        )
        self.database = DatabaseCollector()
        self.registry.register(self.database)
        # Each label set's series, found once: prometheus-client's `labels()` takes a lock and
        # builds a key on every call (a percent or two of a /cek's time).
        self._handled: dict[tuple[str, str], tuple[Counter, Histogram]] = {}
        self._calls: dict[tuple[str, str], Counter] = {}

    def handled(self, handler: str, outcome: str, seconds: float) -> None:
        """A handler's callback ended (`ok` or `error`) after `seconds`."""
        series = self._handled.get((handler, outcome))
        if series is None:
            series = self._handled[(handler, outcome)] = (
                self.updates.labels(handler, outcome),
                self.update_seconds.labels(handler),
            )
        series[0].inc()
        series[1].observe(seconds)

    def telegram_call(self, url: str, status: int | None, error: str | None = None) -> None:
        """An HTTP call to the Bot API ended with `status`, or with no answer (`error`)."""
        method = url.rsplit("/", 1)[-1]
        method = "file" if "/file/bot" in url or not METHOD.fullmatch(method) else method
        outcome = _outcome(status)
        calls = self._calls.get((method, outcome))
        if calls is None:
            calls = self._calls[(method, outcome)] = self.telegram_requests.labels(method, outcome)
        calls.inc()
        if status == 429:
            self.retry_after.inc()
        if outcome in ("unreachable", "server_error"):
            self.telegram.failed(error or f"HTTP {status}")
        else:
            self.telegram.answered()

    def render(self, figures: Figures) -> bytes:
        """The Prometheus text of every metric, the database's as of `figures`."""
        self.database.figures = figures
        return generate_latest(self.registry)


def _outcome(status: int | None) -> str:
    if status is None:
        return "unreachable"
    if status == 200:
        return "sent"
    if status == 403:
        return "blocked"
    if status == 429:
        return "retry_after"
    return "server_error" if status >= 500 else "failed"


class DatabaseCollector(Collector):
    """The figures read from the database at the scrape."""

    def __init__(self) -> None:
        self.figures: Figures | None = None

    def collect(self) -> Iterator[Metric]:
        figures = self.figures
        if figures is None:
            return
        outbox = GaugeMetricFamily(
            "dukcapil_outbox_messages",
            "Outbox messages by kind and state (sent, failed, blocked, queued, ...)",
            labels=("kind", "state"),
        )
        for (kind, state), count in sorted(figures.outbox.items()):
            outbox.add_metric((kind, state), count)
        yield outbox
        yield GaugeMetricFamily(
            "dukcapil_outbox_due", "Queued messages whose moment has come", value=figures.due
        )
        yield GaugeMetricFamily(
            "dukcapil_outbox_oldest_due_age_seconds",
            "How long the oldest due message has waited",
            value=figures.oldest_due.total_seconds(),
        )
        yield from _jobs(figures)
        yield GaugeMetricFamily(
            "dukcapil_status_checks_failed_last_hour",
            "Failed status checks (all accounts) in the last hour",
            value=figures.failed_checks,
        )
        yield GaugeMetricFamily(
            "dukcapil_check_burst",
            "1 while a burst of failed status checks lasts",
            value=int(figures.burst),
        )
        yield _by_state("dukcapil_bookings", "Bookings by state", figures.bookings)
        created = CounterMetricFamily("dukcapil_bookings_created", "Bookings ever made")
        created.add_metric((), sum(figures.bookings.values()))
        yield created
        yield _by_state("dukcapil_tickets", "Damaged/lost card tickets by state", figures.tickets)
        yield GaugeMetricFamily(
            "dukcapil_database_bytes", "Size of the database file", value=figures.database_bytes
        )
        yield from _backup(figures)


def _jobs(figures: Figures) -> Iterator[Metric]:
    success = GaugeMetricFamily(
        "dukcapil_job_last_success_timestamp_seconds",
        "When each scheduled job last ran to its end (Unix time)",
        labels=("job",),
    )
    failures = CounterMetricFamily(
        "dukcapil_job_failures", "Failed runs of each scheduled job", labels=("job",)
    )
    for job in figures.jobs:
        if job.last_success_at is not None:
            success.add_metric((job.job,), job.last_success_at.timestamp())
        failures.add_metric((job.job,), job.failures)
    yield success
    yield failures


def _backup(figures: Figures) -> Iterator[Metric]:
    backup = figures.backup
    yield GaugeMetricFamily(
        "dukcapil_backup_last_success_timestamp_seconds",
        "When the last backup succeeded (Unix time; 0: never)",
        value=backup.last_success.timestamp() if backup.last_success else 0,
    )
    yield GaugeMetricFamily(
        "dukcapil_backup_failing",
        "1 when the latest backup failed (no success since)",
        value=int(backup.failing),
    )


def _by_state(name: str, documentation: str, counts: dict[str, int]) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, documentation, labels=("state",))
    for state, count in sorted(counts.items()):
        family.add_metric((state,), count)
    return family
