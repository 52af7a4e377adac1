"""The long-running service (``python -m bot run``).

    AsyncIOScheduler (APScheduler 3.x), times in each job's own zone
      poll:<interval>   one job per distinct feed interval (jittered, max_instances=1,
                        coalesce): polls that group's due feeds through one shared client;
                        then checks alerts if anything new was flagged
      digest:<name>     one per subscription: its cron schedule in its time zone;
                        misfire_grace_time=1h + coalesce, so a digest missed during a short
                        outage is sent once when the bot is back; jobs live in memory, so
                        at start a digest missed while the process was down is caught up
      admin             hourly, if an admin destination is configured
      app-config        every minute: subscriptions and feeds made in Slack (by this
                        replica or another) are scheduled without a restart
    HTTP (optional)     /healthz, /metrics
    Slack app           with SLACK_APP_TOKEN: Socket Mode on its own threads (bot.slack.app)

Slack calls block, so deliveries run on one dedicated thread with its own SQLite
connection (WAL lets it write beside the poller). Shutdown (SIGTERM/SIGINT): pause the
scheduler, let running jobs finish (APScheduler's asyncio shutdown would cancel them
mid-write), then stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from bot.app import manage
from bot.app.delivery import (
    SubscriptionOutcome,
    destination_for,
    ledger_key,
    run_subscription,
)
from bot.config import Config, FeedConfig, SubscriptionConfig
from bot.delivery.destination import Destination
from bot.errors import BUG_KINDS, StorageError
from bot.ingest.poll import FeedOutcome, Poller
from bot.match import Matcher
from bot.runtime import admin as admin_reports
from bot.runtime.health import HealthServer, Metrics
from bot.runtime.schedule import cron_trigger, missed, previous_run
from bot.settings import Settings
from bot.storage import Storage, open_storage

if TYPE_CHECKING:
    from bot.slack.app import SlackApp

log = logging.getLogger("bot.runtime.service")
T = TypeVar("T")

DIGEST_MISFIRE_GRACE = 3600
#: seconds the health probe waits for a database lock
HEALTH_BUSY_TIMEOUT = 2.0
SHUTDOWN_GRACE = 30.0
ADMIN_INTERVAL = 3600
APP_CONFIG_INTERVAL = 60


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class CycleRecord:
    """What one poll cycle stored, for the health check."""

    at: datetime
    parsed: int
    broken: frozenset[str]  # feeds that failed with an internal error or a dead worker


def ingestion_healthy(cycles: Sequence[CycleRecord], *, now: datetime, window: timedelta) -> bool:
    """False when polls run but store nothing because of the bot's own errors: within the
    window, at least two feeds failed that way and they outnumber the feeds parsed and
    stored. One buggy feed among working ones is that feed's problem (shown by ``feeds``
    and the admin report), not the service's."""
    recent = [c for c in cycles if now - c.at <= window]
    broken = set().union(*(c.broken for c in recent)) if recent else set()
    parsed = sum(c.parsed for c in recent)
    failures = sum(len(c.broken) for c in recent)
    return not (len(broken) >= 2 and failures > parsed)


def record_poll(metrics: Metrics, outcomes: list[FeedOutcome]) -> None:
    for o in outcomes:
        metrics.feed_polls.labels(status=o.status).inc()
        if o.status == "error":
            metrics.feed_errors.labels(kind=o.error_kind or "unknown").inc()
        metrics.articles_new.inc(o.new)
        metrics.articles_flagged.inc(o.flagged)


def record_delivery(metrics: Metrics, outcome: SubscriptionOutcome) -> None:
    if outcome.digests:
        metrics.delivered.labels(subscription=outcome.name, kind="digest").inc(outcome.digests)
    if outcome.alerts:
        metrics.delivered.labels(subscription=outcome.name, kind="alert").inc(outcome.alerts)
    if outcome.error is not None:
        metrics.slack_errors.labels(code=outcome.error.code).inc()


class Deliverer:
    """Runs deliveries on one thread (Slack's client blocks). On a database shared by
    replicas, a subscription's delivery is claimed first: one replica at a time sends its
    digests (a replica that dies leaves a claim that expires, and the next one resumes the
    outbox without repeating a message: it finds what was sent by its metadata)."""

    def __init__(
        self,
        config: Config,
        settings: Settings,
        storage: Storage,
        metrics: Metrics,
        clock: Callable[[], datetime],
        owner: str,
    ) -> None:
        self.config = config
        self.settings = settings
        self.storage = storage
        self.metrics = metrics
        self.clock = clock
        self.owner = owner
        self.matcher = Matcher(config.keywords)
        self.executor = ThreadPoolExecutor(1, thread_name_prefix="delivery")
        #: set at shutdown: Slack retry waits end at once (the digest stays pending)
        self.stop = threading.Event()
        #: the Slack app is connected (it receives the feedback buttons' clicks)
        self.app_running = False

    def destination(self, sub: SubscriptionConfig) -> Destination:
        return destination_for(self.config, self.settings, sub, stop=self.stop)

    def feedback_buttons(self, destination: Destination) -> bool:
        """Stories carry feedback buttons when the Slack app runs (it receives the clicks)
        and the digest is posted by the bot (a webhook's message cannot be edited)."""
        return (
            self.app_running
            and self.config.bot.slack.app.feedback_buttons
            and destination.kind == "slack"
        )

    def run(self, sub: SubscriptionConfig, *, digest: bool) -> SubscriptionOutcome | None:
        """Deliver one subscription; None if another replica is delivering it now. A
        scheduled digest is built once for its scheduled time, however many replicas (or
        restarts) run its job."""
        destination = self.destination(sub)
        now = self.clock()
        slot = None
        if digest:
            slot = previous_run(
                sub.schedule,
                self.config.timezone_of(sub),
                now,
                timedelta(seconds=DIGEST_MISFIRE_GRACE),
            )
        with claimed(self.storage, f"deliver:{ledger_key(sub, destination)}", self) as claim:
            if claim is None:
                return None
            outcome = run_subscription(
                self.config,
                self.storage,
                self.matcher,
                sub,
                destination,
                clock=self.clock,
                digest=digest,
                slot=slot,
                keep_claim=claim.acquire,
                feedback=self.feedback_buttons(destination),
            )
        record_delivery(self.metrics, outcome)
        return outcome

    def admin(self) -> None:
        settings = self.config.bot.admin
        if settings is None:
            return
        probe = SubscriptionConfig(
            name="admin", channel=settings.channel, webhook_env=settings.webhook_env
        )
        with claimed(self.storage, "admin", self) as claim:
            if claim is not None:
                admin_reports.report(
                    self.config, self.storage, self.destination(probe), now=self.clock()
                )

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, lambda: fn(*args, **kwargs))

    def close(self) -> None:
        self.executor.shutdown(wait=True)


class Claim:
    """A lease held while delivering (always held, on a database of one process)."""

    def __init__(self, storage: Storage, name: str, deliverer: Deliverer) -> None:
        self.storage, self.name, self.deliverer = storage, name, deliverer
        self.ttl = timedelta(seconds=deliverer.config.bot.replicas.claim_ttl)
        self.held = False

    def acquire(self) -> bool:
        """Take it, or renew it (false if another replica holds it now)."""
        if not self.storage.shared:
            self.held = True
        else:
            self.held = self.storage.acquire_lease(
                self.name, self.deliverer.owner, now=self.deliverer.clock(), ttl=self.ttl
            )
        return self.held

    def release(self) -> None:
        if self.held and self.storage.shared:
            self.storage.release_lease(self.name, self.deliverer.owner)
        self.held = False


@contextlib.contextmanager
def claimed(storage: Storage, name: str, deliverer: Deliverer) -> Iterator[Claim | None]:
    """The claim ``name`` while delivering, or None if another replica holds it."""
    claim = Claim(storage, name, deliverer)
    if not claim.acquire():
        yield None
        return
    try:
        yield claim
    finally:
        claim.release()


class Service:
    def __init__(
        self,
        config: Config,
        settings: Settings,
        *,
        storage: Storage | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        #: the configuration from the files; ``config`` adds what was made in Slack
        self.base_config = config
        self.settings = settings
        self.clock = clock
        self.metrics = Metrics()
        self.storage = storage or open_storage(settings.data_dir, settings.database_url)
        config = self._effective()
        self.config = config
        self.owner = f"{socket.gethostname()}:{os.getpid()}"
        self.poller = Poller(
            config, self.storage, clock=clock, keep_workers=True, due_only=True, owner=self.owner
        )
        self.deliverer = Deliverer(config, settings, self.storage, self.metrics, clock, self.owner)
        self.scheduler = AsyncIOScheduler(timezone=config.bot.timezone)
        self.health_host = settings.health_host or config.bot.http.host
        self.health_port = (
            settings.health_port if settings.health_port is not None else config.bot.http.port
        )
        self.health: HealthServer | None = None
        self.app: SlackApp | None = None
        self.started = clock()
        self.stopping = asyncio.Event()
        self._running: set[asyncio.Task[Any]] = set()
        self.cycles: deque[CycleRecord] = deque(maxlen=1000)
        # The health probe writes to the database: on its own thread, so a locked or slow
        # database never stalls the event loop (and polling).
        self._health_executor = ThreadPoolExecutor(1, thread_name_prefix="health")

    # -- jobs ------------------------------------------------------------------------------

    def _tracked(
        self, name: str, job: Callable[[], Awaitable[None]]
    ) -> Callable[[], Awaitable[None]]:
        """Wrap a job: tracked for graceful shutdown, and a bug is logged, never fatal."""

        async def run() -> None:
            if self.stopping.is_set():
                return
            task = asyncio.current_task()
            assert task is not None
            self._running.add(task)
            try:
                await job()
            except Exception:
                log.exception(
                    "job %s failed (a bug: please report it); the service carries on", name
                )
            finally:
                self._running.discard(task)

        return run

    def _poll_job(self, feeds: list[FeedConfig]) -> Callable[[], Awaitable[None]]:
        async def job() -> None:
            started = time.monotonic()
            outcomes = await self.poller.poll(feeds)
            self.metrics.poll_duration.observe(time.monotonic() - started)
            record_poll(self.metrics, outcomes)
            self.cycles.append(
                CycleRecord(
                    self.clock(),
                    parsed=sum(1 for o in outcomes if o.status == "ok"),
                    broken=frozenset(o.feed for o in outcomes if o.error_kind in BUG_KINDS),
                )
            )
            if any(o.flagged for o in outcomes):
                for sub in self.config.bot.subscriptions:
                    if sub.alert_score is not None:
                        await self.deliverer.call(self.deliverer.run, sub, digest=False)

        return job

    def _digest_job(self, sub: SubscriptionConfig) -> Callable[[], Awaitable[None]]:
        async def job() -> None:
            outcome = await self.deliverer.call(self.deliverer.run, sub, digest=True)
            if outcome is not None and outcome.error is not None:
                log.error("digest for %s not delivered: %s", sub.name, outcome.error)

        return job

    def _effective(self) -> Config:
        config, notes = manage.load_effective(self.base_config, self.storage)
        for note in notes:
            log.warning("%s", note)
        return config

    async def reconfigure(self) -> bool:
        """Build the configuration again with what was made in Slack; if subscriptions or
        feeds changed, schedule them (without a restart). True if anything changed. The
        database is read off the event loop."""
        try:
            config = await asyncio.to_thread(self._effective)
        except StorageError as e:
            log.error("could not read the subscriptions and feeds made in Slack: %s", e)
            return False
        if (config.feeds, config.bot.subscriptions) == (
            self.config.feeds,
            self.config.bot.subscriptions,
        ):
            return False
        known = {job.id for job in self.scheduler.get_jobs()}
        new = [s for s in config.bot.subscriptions if f"digest:{s.name}" not in known]

        def last_delivered() -> dict[str, datetime | None]:
            return {
                s.name: self.storage.last_delivered(ledger_key(s, self.deliverer.destination(s)))
                for s in new
            }

        try:
            delivered = await asyncio.to_thread(last_delivered)
        except StorageError as e:
            log.error("could not read the new subscriptions' deliveries: %s", e)
            return False
        self.config = self.poller.config = self.deliverer.config = config
        log.info(
            "configuration changed: %d feeds, %d subscriptions",
            len(config.feeds),
            len(config.bot.subscriptions),
        )
        if self.scheduler.running:
            self.schedule(delivered)
            for job in self.scheduler.get_jobs():
                if job.id not in known:
                    log.info("scheduled %s, next at %s", job.name, job.next_run_time)
        return True

    def schedule(self, delivered: dict[str, datetime | None] | None = None) -> None:
        """Add every job; called again after a change, it replaces them and removes the
        jobs of what is gone. ``delivered``: the new subscriptions' last deliveries, read
        beforehand off the event loop (at start, they are read here)."""
        wanted: set[str] = set()
        groups: dict[float, list[FeedConfig]] = {}
        for feed in self.config.feeds:
            if feed.enabled:
                groups.setdefault(self.config.interval(feed), []).append(feed)
        now = self.clock()
        for interval, feeds in sorted(groups.items()):
            job_id = f"poll:{interval:g}s"
            wanted.add(job_id)
            existing = self.scheduler.get_job(job_id)
            self.scheduler.add_job(
                self._tracked(job_id, self._poll_job(feeds)),
                IntervalTrigger(seconds=interval, jitter=min(60.0, interval * 0.1)),
                id=job_id,
                name=f"poll {len(feeds)} feeds every {interval:g}s",
                max_instances=1,
                coalesce=True,
                # first poll right away; a new feed in a group is due at once anyway
                # (polls take only due feeds), so a replaced job keeps its rhythm
                next_run_time=existing.next_run_time if existing else now,
                misfire_grace_time=None,
                replace_existing=True,
            )
        for sub in self.config.bot.subscriptions:
            job_id = f"digest:{sub.name}"
            wanted.add(job_id)
            if self.scheduler.get_job(job_id) is None:
                self._catch_up(sub, now, delivered)
            trigger = cron_trigger(sub.schedule, self.config.timezone_of(sub))
            self.scheduler.add_job(
                self._tracked(job_id, self._digest_job(sub)),
                trigger,
                id=job_id,
                name=f"digest {sub.name} ({sub.schedule} {self.config.timezone_of(sub)})",
                max_instances=1,
                coalesce=True,
                misfire_grace_time=DIGEST_MISFIRE_GRACE,
                replace_existing=True,
            )
        if self.config.bot.admin is not None and self.scheduler.get_job("admin") is None:
            self.scheduler.add_job(
                self._tracked("admin", lambda: self.deliverer.call(self.deliverer.admin)),
                IntervalTrigger(seconds=ADMIN_INTERVAL),
                id="admin",
                max_instances=1,
                coalesce=True,
                next_run_time=now + timedelta(minutes=5),
            )
        if self.scheduler.get_job("app-config") is None:
            self.scheduler.add_job(
                self._tracked("app-config", self._refresh_job),
                IntervalTrigger(seconds=APP_CONFIG_INTERVAL),
                id="app-config",
                name="read the subscriptions and feeds made in Slack",
                max_instances=1,
                coalesce=True,
            )
        for job in self.scheduler.get_jobs():
            if job.id.startswith(("poll:", "digest:")) and job.id not in wanted:
                job.remove()

    async def _refresh_job(self) -> None:
        await self.reconfigure()

    def _catch_up(
        self,
        sub: SubscriptionConfig,
        now: datetime,
        delivered: dict[str, datetime | None] | None = None,
    ) -> None:
        """Jobs live in memory, so a digest whose time passed while the bot was down would be
        lost with the old process; if that time is within the misfire grace and no digest
        went out since, send it once now."""
        key = ledger_key(sub, self.deliverer.destination(sub))
        due = missed(
            sub.schedule,
            self.config.timezone_of(sub),
            now=now,
            last_delivered=(
                delivered[sub.name]
                if delivered is not None and sub.name in delivered
                else self.storage.last_delivered(key)
            ),
            grace=timedelta(seconds=DIGEST_MISFIRE_GRACE),
        )
        if due is not None:
            log.info(
                "digest %s was due at %s while the bot was down: sending it now", sub.name, due
            )
            self.scheduler.add_job(
                self._tracked(f"catch-up:{sub.name}", self._digest_job(sub)),
                "date",
                run_date=now,
                id=f"catch-up:{sub.name}",
                misfire_grace_time=None,
            )

    # -- health ----------------------------------------------------------------------------

    def _probe_storage(self, now: datetime) -> tuple[datetime | None, str | None]:
        """On the health thread: the last successful poll, and whether a write succeeds."""
        try:
            successes = [s.last_success for s in self.storage.all_feeds() if s.last_success]
        except StorageError as e:
            return None, str(e)
        last = max(successes) if successes else None
        try:
            self.storage.heartbeat(now)
        except StorageError as e:
            return last, str(e)
        return last, None

    async def check(self) -> tuple[bool, dict[str, Any]]:
        now = self.clock()
        alive = self.scheduler.running and not self.stopping.is_set()
        intervals = [self.config.interval(f) for f in self.config.feeds if f.enabled]
        allowed = timedelta(seconds=max([*intervals, 1800.0])) * 3
        loop = asyncio.get_running_loop()
        try:
            last, storage_error = await asyncio.wait_for(
                loop.run_in_executor(self._health_executor, self._probe_storage, now),
                HEALTH_BUSY_TIMEOUT + 3,
            )
        except TimeoutError:
            last, storage_error = None, "the database did not answer in time"
        except StorageError as e:
            last, storage_error = None, str(e)
        recent = (last is not None and now - last <= allowed) or (
            not intervals or now - self.started <= allowed
        )
        ingesting = ingestion_healthy(self.cycles, now=now, window=allowed)
        writable = storage_error is None
        details: dict[str, Any] = {
            "scheduler": "running" if alive else "stopped",
            "last_successful_poll": last.isoformat() if last else None,
            "polls_recent": recent,
            "storing": ingesting,
            "storage_writable": writable,
        }
        if storage_error:
            details["storage_error"] = storage_error
        if not ingesting:
            details["storing_error"] = (
                "polls run but most feeds fail with internal errors (a bug: see the log)"
            )
        return alive and recent and writable and ingesting, details

    # -- lifecycle -------------------------------------------------------------------------

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.request_stop)
        if self.health_port is not None:
            self.health = HealthServer(self.health_host, self.health_port, self.metrics, self.check)
            self.health_port = await self.health.start()
        self.schedule()
        self.scheduler.start()
        self.start_app(loop)
        log.info(
            "service started: %d feeds, %d subscriptions",
            len(self.config.feeds),
            len(self.config.bot.subscriptions),
            extra={"event": "start"},
        )
        for job in self.scheduler.get_jobs():
            log.info("scheduled %s, next at %s", job.name, job.next_run_time)
        await self.stopping.wait()
        await self.shutdown()

    def start_app(self, loop: asyncio.AbstractEventLoop) -> None:
        """The Slack app, when SLACK_APP_TOKEN is set. A problem with it (a bad token,
        Slack unreachable) is logged with what to do; polling and digests carry on."""
        token = self.settings.slack_app_token
        if token is None:
            return
        from bot.slack.app import AppHost, SlackApp
        from bot.slack.client import credential_problem

        slack = self.base_config.bot.slack
        bot_token = self.settings.secret(slack.token_env)
        problem = credential_problem(token) or (
            None if token.startswith("xapp-") else "is not an app-level token (xapp-...)"
        )
        if problem or not bot_token:
            log.error(
                "Slack app not started: %s",
                f"SLACK_APP_TOKEN {problem}: create an app-level token with "
                "connections:write (Basic Information > App-Level Tokens) and set it"
                if problem
                else f"{slack.token_env} is not set: the app answers with the bot token",
            )
            return

        def changed() -> None:
            # from Slack's threads: the scheduler lives on the event loop
            asyncio.run_coroutine_threadsafe(self.reconfigure(), loop)

        host = AppHost(self.base_config, self.storage, self.settings, self.clock, changed)
        try:
            app = SlackApp(
                host, bot_token=bot_token, app_token=token, api_url=self.settings.slack_api_url
            )
            app.start()
        except Exception as e:  # SlackApiError (invalid_auth ...), a connection error
            detail = getattr(getattr(e, "response", None), "get", lambda _k: None)("error")
            log.error(
                "Slack app not started: %s; digests are still sent. Check SLACK_APP_TOKEN "
                "(xapp-..., with connections:write) and that Socket Mode is on.",
                detail or f"{type(e).__name__}: {e}",
            )
            return
        self.app = app
        self.deliverer.app_running = True

    def request_stop(self) -> None:
        self.deliverer.stop.set()
        if not self.stopping.is_set():
            log.info("stopping: no new work; waiting for running jobs", extra={"event": "stop"})
            self.stopping.set()

    async def shutdown(self) -> None:
        self.scheduler.pause()
        running = [t for t in self._running if not t.done()]
        if running:
            _, pending = await asyncio.wait(running, timeout=SHUTDOWN_GRACE)
            for task in pending:
                # Each feed's batch and each outbox step is its own transaction: cancelling
                # here loses nothing that is not redone next time.
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=5)
        self.scheduler.shutdown(wait=False)
        await asyncio.sleep(0)
        if self.app is not None:
            await asyncio.to_thread(self.app.close)
        if self.health is not None:
            await self.health.stop()
        self.poller.close()
        self.deliverer.close()
        self._health_executor.shutdown(wait=True)
        self.storage.close()
        log.info("stopped", extra={"event": "stopped"})


async def run_once(
    config: Config,
    settings: Settings,
    *,
    progress: Callable[[FeedOutcome], None] | None = None,
) -> tuple[list[FeedOutcome], list[SubscriptionOutcome]]:
    """Poll every feed once, then deliver every subscription's digest as if due."""
    storage = open_storage(settings.data_dir, settings.database_url)
    owner = f"{socket.gethostname()}:{os.getpid()}"
    deliverer = Deliverer(config, settings, storage, Metrics(), utcnow, owner)
    try:
        outcomes = await Poller(config, storage, progress=progress, owner=owner).poll()
        deliveries = [
            outcome
            for sub in config.bot.subscriptions
            if (outcome := await deliverer.call(deliverer.run, sub, digest=True)) is not None
        ]
    finally:
        deliverer.close()
        storage.close()
    return outcomes, deliveries
