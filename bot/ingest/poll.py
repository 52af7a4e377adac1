"""One poll cycle: fetch -> parse -> match -> store, for every feed, concurrently.

    for each due feed, at most N at once (and M per host):
        claim it (replicas on one database: the first to claim a due feed polls it)
        result = fetch(url, validators)         # 304 -> done, nothing parsed
        if hash(body) == stored hash: done      # servers without validators
        articles = parse(body) in a worker process (feedparser is CPU-bound; a page
                   source's selectors, bot.ingest.pages, run there too)
        matches  = match(articles) in the same worker (not the backlog of a first poll)
        store(articles, decide)                 # identity.decide: new / edited / seen,
                                                # backlog on first poll; one transaction
        save validators and health              # only after the batch is stored

Storage calls run in threads (asyncio.to_thread): a database across a network never stalls
the fetches of other feeds.

Failures are recorded on the feed (kind, message, consecutive count) and the feed is
retried later with exponential backoff and jitter, or after the server's Retry-After.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import random
import socket
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import httpx

from bot.config import Config, FeedConfig
from bot.errors import FeedError, FetchError, StorageError
from bot.ingest.canonical import redact_url
from bot.ingest.fetch import Fetcher
from bot.ingest.fulltext import wants_full_text
from bot.ingest.identity import decide
from bot.ingest.pages import HTML_ACCEPT, parse_page
from bot.ingest.parse import parse_feed
from bot.ingest.politeness import Budget, HostPace, RobotsCache
from bot.ingest.urlguard import Refused
from bot.ingest.workers import JobFailed, JobOutcome, WorkerPool, run_job
from bot.match import KeywordSet, Matcher
from bot.models import (
    Article,
    FeedState,
    FetchResult,
    FullText,
    FullTextOutcome,
    Match,
    ParsedFeed,
)
from bot.storage import Storage, StoredArticle

if TYPE_CHECKING:
    from bot.ingest.article import ArticleText

log = logging.getLogger("bot.ingest.poll")

#: below this many feeds, worker processes cost more to start than they save
PROCESS_POOL_MIN_FEEDS = 8
BACKOFF_JITTER = (0.8, 1.2)
#: a feed due this much later is polled now: interval jobs are jittered, and a feed must not
#: wait a whole interval more because its job ran a few seconds early. At most a tenth of
#: the feed's interval, so that replicas, whose jobs run on phases of their own, fetch a
#: feed once per interval between them.
DUE_TOLERANCE = timedelta(seconds=90)
T = TypeVar("T")

OutcomeStatus = Literal["ok", "unchanged", "not_modified", "error", "skipped"]


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class FeedOutcome:
    """What one feed's poll did; printed by ``poll --once`` and logged as one event."""

    feed: str
    status: OutcomeStatus
    new_ids: tuple[int, ...] = ()
    backlog: int = 0
    edited: int = 0
    seen: int = 0
    error_kind: str | None = None
    error_message: str | None = None
    next_poll: datetime | None = None
    elapsed: float = 0.0
    warnings: tuple[str, ...] = field(default=())
    #: new articles the matcher flagged (alerts look at these)
    flagged_ids: tuple[int, ...] = ()
    #: article pages fetched for thin entries (README "Full text"), and what came of each
    full_texts: tuple[FullTextOutcome, ...] = ()

    @property
    def new(self) -> int:
        return len(self.new_ids)

    @property
    def flagged(self) -> int:
        return len(self.flagged_ids)


@dataclass
class CycleTimes:
    """Where a poll cycle's time went (``poll --once --timings``, ``make bench``). Feeds are
    fetched, parsed and stored at the same time, so each stage is a total over feeds, in
    seconds, beside the cycle's wall time: fetch is time waiting for responses, store is
    time in storage calls (on threads), parse and match are CPU seconds in the workers."""

    wall: float = 0.0
    fetch: float = 0.0
    parse: float = 0.0
    match: float = 0.0
    store: float = 0.0
    #: from the cycle's start until the worker processes could take work (None: no pool)
    workers_ready: float | None = None
    #: time.perf_counter() when the cycle started (start-up is measured up to it)
    started_at: float = 0.0

    def to_json(self) -> dict[str, float | None]:
        return {
            key: (round(value, 3) if value is not None else None)
            for key, value in self.__dict__.items()
            if key != "started_at"
        }


def backoff_delay(failures: int, base: float, cap: float, rng: random.Random) -> float:
    """Seconds to wait after ``failures`` consecutive failures: base * 2^(n-1), capped,
    with +-20% jitter so feeds that failed together do not retry together."""
    delay = min(cap, base * 2.0 ** max(0, failures - 1))
    return delay * rng.uniform(*BACKOFF_JITTER)


_WORKER_MATCHER: Matcher | None = None


def _init_worker(keywords: KeywordSet) -> None:
    """Build the matcher once per worker process (the automaton is not picklable)."""
    global _WORKER_MATCHER
    _WORKER_MATCHER = Matcher(keywords)


def parse_and_match(
    body: bytes,
    headers: Mapping[str, str],
    *,
    feed: FeedConfig,
    url: str,
    now: datetime,
    match_since: datetime | None,
    matcher: Matcher | None = None,
) -> tuple[ParsedFeed, dict[str, Match], tuple[float, float]]:
    """Parse a body and match its articles: the CPU-bound half of a poll, run in a worker;
    also the CPU seconds each half took (for CycleTimes).
    ``matcher`` is None in worker processes, which use the one built by their initializer.
    Entries older than ``match_since`` (the backlog of a first poll) are not matched. A
    ``kind: page`` source is read with its selectors (bot.ingest.pages), a feed by
    feedparser: the same worker, the same limits."""
    started = time.process_time()
    if feed.kind == "page":
        assert feed.page is not None, "config validation requires page: for kind: page"
        parsed = parse_page(
            body,
            headers,
            feed=feed.name,
            url=url,
            page=feed.page,
            now=now,
            language_hint=feed.language,
        )
    else:
        parsed = parse_feed(
            body, headers, feed=feed.name, url=url, now=now, language_hint=feed.language
        )
    active = matcher or _WORKER_MATCHER
    assert active is not None, "worker started without _init_worker"
    parsed_at = time.process_time()
    matches = {
        a.entry_id: active.match(a.title, a.summary, feed_tags=feed.tags).record()
        for a in parsed.articles
        if match_since is None or a.published >= match_since
    }
    return parsed, matches, (parsed_at - started, time.process_time() - parsed_at)


def extract_and_match(
    body: bytes,
    headers: Mapping[str, str],
    *,
    url: str,
    title: str,
    feed_tags: tuple[str, ...],
    matcher: Matcher | None = None,
) -> tuple[ArticleText, Match | None]:
    """An article page's main text, and the decision on the title and that text (None when
    the page gave no text to decide on): CPU-bound, run where feeds are parsed."""
    # Imported here: trafilatura costs every process (the parent, each worker) memory and
    # start-up time, and most cycles fetch no article page.
    from bot.ingest.article import extract_article

    page = extract_article(body, url, content_type=headers.get("content-type"))
    if not page.text:
        return page, None
    active = matcher or _WORKER_MATCHER
    assert active is not None, "worker started without _init_worker"
    return page, active.match(title, page.text, feed_tags=feed_tags).record()


def uses_worker_processes(feed_count: int, workers: int, *, service: bool) -> bool:
    """The long-running service always parses in worker processes (a document must never
    be able to hold or crash the process that polls everything else); a one-shot poll of a
    few feeds parses in a thread, because starting processes costs more than it saves."""
    if service:
        return True
    return feed_count >= PROCESS_POOL_MIN_FEEDS and (workers or os.cpu_count() or 1) >= 2


class Poller:
    """Polls feeds into the store. The clock, random source and HTTP transport are passed
    in so tests drive real behaviour without patching."""

    def __init__(
        self,
        config: Config,
        storage: Storage,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], datetime] = utcnow,
        rng: random.Random | None = None,
        keep_workers: bool = False,
        due_only: bool = False,
        owner: str | None = None,
        progress: Callable[[FeedOutcome], None] | None = None,
    ) -> None:
        self.config = config
        self.storage = storage
        #: the service polls a feed only when it is due (several replicas may share the
        #: database: the first to claim a due feed polls it, the others skip it)
        self.due_only = due_only
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}"
        self.transport = transport
        self.clock = clock
        self.rng = rng or random.Random()
        self._matcher: Matcher | None = None
        #: the service: parse in worker processes always, and keep them between polls
        self.keep_workers = keep_workers
        self.progress = progress
        self._pool: WorkerPool | None = None
        self._claiming: asyncio.Semaphore | None = None
        full_text = config.bot.full_text
        #: kept between cycles (the service's poller lives as long as the service)
        self._robots = RobotsCache(full_text.robots_ttl)
        self._pace = HostPace(full_text.per_host_interval)
        self._budget = Budget(full_text.per_cycle)
        self._active_polls = 0
        #: the last cycle's (poll --once --timings)
        self.times = CycleTimes()
        #: feeds' states read at the start of a cycle, each taken once by its feed's poll
        self._states: dict[str, FeedState] = {}
        #: tracebacks already logged, so one bug is logged once, not once per feed
        self._bugs_logged: set[str] = set()
        self._storage_error_logged = False

    @property
    def matcher(self) -> Matcher:
        """For in-process parsing only; worker processes build their own."""
        if self._matcher is None:
            self._matcher = Matcher(self.config.keywords)
        return self._matcher

    def _worker_pool(self) -> WorkerPool:
        if self._pool is None:
            settings = self.config.bot.poll
            self._pool = WorkerPool(
                settings.parse_workers or os.cpu_count() or 1,
                timeout=settings.parse_timeout,
                memory_mb=settings.worker_memory_mb,
                setup=_init_worker,
                setup_args=(self.config.keywords,),
            )
        return self._pool

    def close(self) -> None:
        """Stop the worker processes kept between polls (``keep_workers``)."""
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    async def poll(
        self, feeds: Sequence[FeedConfig] | None = None, *, force: bool = False
    ) -> list[FeedOutcome]:
        """Poll ``feeds`` (default: every enabled feed) once. ``force`` ignores backoff and
        server-requested delays. Never raises for a feed's failure."""
        targets = [f for f in (feeds if feeds is not None else self.config.feeds) if f.enabled]
        pool = (
            self._worker_pool()
            if uses_worker_processes(
                len(targets), self.config.bot.poll.parse_workers, service=self.keep_workers
            )
            else None
        )
        self._storage_error_logged = False
        started = time.perf_counter()
        self.times = CycleTimes(started_at=started)
        if pool is not None:
            # Start the worker processes now, while the first requests are in flight: a
            # worker's start (the interpreter, the imports, the keyword automaton) takes
            # about a second, which the first fetches hide.
            asyncio.get_running_loop().run_in_executor(None, self._warm_up, pool, started)
        # One budget for polls that overlap (the service's interval groups all start at
        # once): a cycle's page fetches are capped together, not per group.
        if self._active_polls == 0:
            self._budget = Budget(self.config.bot.full_text.per_cycle)
        self._active_polls += 1
        # Replicas claim a feed when they start on it: claiming every feed of a cycle at once
        # would give the whole cycle to the replica that reached the database first (and
        # let claims expire while feeds wait for a fetch slot). Twice the fetch concurrency
        # keeps the fetcher busy while the rest stay unclaimed for the others.
        self._claiming = (
            asyncio.Semaphore(2 * self.config.bot.fetch.max_concurrency)
            if self.storage.shared
            else None
        )
        try:
            if not self.storage.shared:
                # Every feed's state in one query instead of one per feed (this process is
                # the only writer of a SQLite store; replicas read each state fresh after
                # their claim).
                # Only this poll's feeds: the service's interval groups poll on one poller,
                # and a state must never outlive the poll that read it.
                wanted = {f.name for f in targets}
                known = await self._db(self.storage.all_feeds)
                self._states.update((s.name, s) for s in known if s.name in wanted)
            async with Fetcher(self.config.bot.fetch, transport=self.transport) as fetcher:
                return list(
                    await asyncio.gather(
                        *(self._poll_reporting(fetcher, pool, f, force) for f in targets)
                    )
                )
        finally:
            self._active_polls -= 1
            self.times.wall = time.perf_counter() - started
            if not self.keep_workers:
                self.close()

    def _warm_up(self, pool: WorkerPool, started: float) -> None:
        try:
            pool.start()
        except Exception:  # the first real job reports whatever is wrong with the pool
            log.debug("starting the workers ahead of the first job failed", exc_info=True)
            return
        self.times.workers_ready = time.perf_counter() - started

    async def _poll_reporting(
        self, fetcher: Fetcher, pool: WorkerPool | None, feed: FeedConfig, force: bool
    ) -> FeedOutcome:
        try:
            if self._claiming is None:
                outcome = await self._poll_one(fetcher, pool, feed, force)
            else:
                async with self._claiming:
                    outcome = await self._poll_one(fetcher, pool, feed, force)
        except StorageError as e:
            # The database cannot be written (disk full, damaged file): nothing about this
            # feed could be recorded, so nothing is lost either; its body is fetched again
            # next time. Said once per cycle, not once per feed.
            if not self._storage_error_logged:
                self._storage_error_logged = True
                log.error("%s; polling stores nothing until this is fixed", e)
            outcome = FeedOutcome(feed.name, "error", error_kind="storage", error_message=str(e))
        if self.progress is not None:
            self.progress(outcome)
        return outcome

    async def _db(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """A storage call off the event loop (a database across a network must never stall
        fetching)."""
        started = time.perf_counter()
        try:
            return await asyncio.to_thread(fn, *args, **kwargs)
        finally:
            self.times.store += time.perf_counter() - started

    async def _poll_one(
        self, fetcher: Fetcher, pool: WorkerPool | None, feed: FeedConfig, force: bool
    ) -> FeedOutcome:
        now = self.clock()
        claim = f"poll:{feed.name}"
        if self.storage.shared and not await self._db(
            self.storage.acquire_lease, claim, self.owner, now=now, ttl=self._claim_ttl()
        ):
            return FeedOutcome(feed.name, "skipped", error_message="another replica polls it")
        try:
            return await self._poll_claimed(fetcher, pool, feed, force, now)
        finally:
            if self.storage.shared:
                await self._db(self.storage.release_lease, claim, self.owner)

    def _claim_ttl(self) -> timedelta:
        """Long enough for one fetch, parse and store (each bounded: the fetch deadline, the
        parse timeout, and 15 s for the database); a replica that dies frees its feeds then."""
        fetch, poll = self.config.bot.fetch, self.config.bot.poll
        return timedelta(seconds=fetch.deadline + poll.parse_timeout + 15)

    async def _poll_claimed(
        self,
        fetcher: Fetcher,
        pool: WorkerPool | None,
        feed: FeedConfig,
        force: bool,
        now: datetime,
    ) -> FeedOutcome:
        known = self._states.pop(feed.name, None)
        if known is not None and known.config_url == feed.url:
            state = known
        else:
            state = await self._db(self.storage.feed_state, feed.name, feed.url)
        if not force and state.not_before and state.not_before > now:
            return FeedOutcome(feed.name, "skipped", next_poll=state.not_before)
        tolerance = min(DUE_TOLERANCE, timedelta(seconds=self.config.interval(feed) / 10))
        if self.due_only and state.next_poll and state.next_poll > now + tolerance:
            # polled this interval already (by this replica or another)
            return FeedOutcome(feed.name, "skipped", next_poll=state.next_poll)
        fetch_started = time.perf_counter()
        try:
            try:
                result = await fetcher.fetch(
                    state.url,
                    etag=state.etag,
                    last_modified=state.last_modified,
                    now=now,
                    trusted=not feed.guarded,
                    accept=HTML_ACCEPT if feed.kind == "page" else None,
                )
            finally:
                self.times.fetch += time.perf_counter() - fetch_started
            return await self._handle(
                fetcher,
                pool,
                feed,
                result,
                now,
                first=state.first_polled is None,
                previous_hash=state.body_hash,
            )
        except FeedError as e:
            return await self._failed(feed, now, state.consecutive_failures + 1, e)
        except StorageError:
            raise
        except Exception as e:
            # A bug, not a feed problem: loud in the log (once), recorded on the feed, and
            # the other feeds carry on.
            self._log_bug(feed, f"{type(e).__name__}: {e}", traceback.format_exc())
            return await self._failed(
                feed,
                now,
                state.consecutive_failures + 1,
                FeedError(feed.url, f"internal error: {type(e).__name__}: {e}", "internal"),
            )

    def _log_bug(self, feed: FeedConfig, message: str, trace: str) -> None:
        """An internal error is a bug: its traceback is logged the first time it is seen,
        then one line per feed it hits."""
        lines = [line for line in trace.strip().splitlines() if line.startswith("  File ")]
        signature = (lines[-1] if lines else "") + "|" + message.split(":", 1)[0]
        if signature in self._bugs_logged:
            log.error("internal error while polling %s (logged above): %s", feed.name, message)
            return
        self._bugs_logged.add(signature)
        log.error(
            "internal error while polling %s (a bug: please report it): %s\n%s",
            feed.name,
            message,
            trace.rstrip(),
        )

    async def _parse(
        self,
        pool: WorkerPool | None,
        feed: FeedConfig,
        result: FetchResult,
        now: datetime,
        match_since: datetime | None,
    ) -> tuple[ParsedFeed, dict[str, Match]]:
        """Parse and match in a worker process (or a thread, for a one-shot poll of a few
        feeds); every failure of the job comes back as a FeedError of this feed."""
        job: dict[str, Any] = {
            "body": result.body,
            "headers": result.headers,
            "feed": feed,
            "url": result.final_url or result.url,
            "now": now,
            "match_since": match_since,
        }
        outcome = await self._in_worker(pool, parse_and_match, job)
        if isinstance(outcome, JobFailed):
            if outcome.kind == "internal":
                self._log_bug(feed, outcome.message, outcome.trace)
                raise FeedError(feed.url, f"internal error: {outcome.message}", "internal")
            raise FeedError(feed.url, outcome.message, outcome.kind)
        parsed, matches, (parse_cpu, match_cpu) = outcome.value
        self.times.parse += parse_cpu
        self.times.match += match_cpu
        return parsed, matches

    async def _full_texts(
        self,
        fetcher: Fetcher,
        pool: WorkerPool | None,
        feed: FeedConfig,
        new_ids: Sequence[int],
    ) -> tuple[FullTextOutcome, ...]:
        """Fetch the article pages of the new entries that need them, match again on the
        title and the main text, and record both on the entry."""
        if not new_ids or feed.full_text == "never":
            return ()
        settings = self.config.bot.full_text
        stored = await self._db(self.storage.articles, ids=new_ids)
        wanted = [
            a
            for a in stored
            if wants_full_text(
                a.article,
                a.match,
                mode=feed.full_text,
                thin_below=settings.thin_below,
                feed_tags=feed.tags,
            )
        ]
        return tuple(
            await asyncio.gather(*(self._full_text(fetcher, pool, feed, a) for a in wanted))
        )

    async def _full_text(
        self, fetcher: Fetcher, pool: WorkerPool | None, feed: FeedConfig, stored: StoredArticle
    ) -> FullTextOutcome:
        article = stored.article
        full, match = await self._read_page(fetcher, pool, feed, article)
        await self._db(self.storage.record_full_text, stored.id, full, match, now=self.clock())
        log.info(
            "full text for %s (%s): %s%s",
            feed.name,
            redact_url(article.link),
            full.outcome,
            f" ({full.detail})" if full.detail else "",
            extra={
                "event": "full_text",
                "feed": feed.name,
                "outcome": full.outcome,
                "flagged": bool(match and match.flagged),
            },
        )
        return full.outcome

    async def _read_page(
        self, fetcher: Fetcher, pool: WorkerPool | None, feed: FeedConfig, article: Article
    ) -> tuple[FullText, Match | None]:
        """The article page at ``link`` (a URL from the feed's content: untrusted), politely;
        every failure is an outcome, never an exception."""
        link = article.link
        if not self._budget.take():
            return FullText("budget", self.clock(), detail="full_text.per_cycle reached"), None
        try:
            fetcher.policy.check_url(link)
        except Refused as e:
            return FullText("refused", self.clock(), detail=e.reason), None
        try:
            refusal = await self._robots.refusal(fetcher, link)
            if refusal:
                return FullText(refusal[0], self.clock(), detail=refusal[1]), None
            async with self._pace.turn(link):
                result = await fetcher.fetch(link, trusted=False, accept=HTML_ACCEPT)
        except FetchError as e:
            outcome: FullTextOutcome = "refused" if e.kind == "refused" else "failed"
            return FullText(outcome, self.clock(), detail=e.message), None
        job: dict[str, Any] = {
            "body": result.body,
            "headers": result.headers,
            "url": result.final_url or link,
            "title": article.title,
            "feed_tags": feed.tags,
        }
        done = await self._in_worker(pool, extract_and_match, job)
        if isinstance(done, JobFailed):
            if done.kind == "internal":
                self._log_bug(feed, done.message, done.trace)
            return FullText("failed", self.clock(), detail=done.message), None
        page, match = done.value
        return FullText(page.outcome, self.clock(), text=page.text), match

    async def _in_worker(
        self, pool: WorkerPool | None, function: Callable[..., T], job: dict[str, Any]
    ) -> JobOutcome[T]:
        """``function(**job)`` in a worker process, or in a thread (with this process's
        matcher) when the cycle has no pool; bounded by poll.parse_timeout either way."""
        if pool is not None:
            return await pool.run(function, **job)
        timeout = self.config.bot.poll.parse_timeout
        try:
            return await asyncio.wait_for(
                asyncio.to_thread(run_job, function, matcher=self.matcher, **job), timeout
            )
        except TimeoutError:
            return JobFailed(
                "parse_timeout",
                f"parsing and matching took longer than {timeout:g}s "
                "(poll.parse_timeout in bot.yaml)",
            )

    def _schedule(
        self, feed: FeedConfig, now: datetime, server_delay: float | None
    ) -> tuple[datetime, datetime | None]:
        interval = timedelta(seconds=self.config.interval(feed))
        not_before = None
        if server_delay:
            cap = self.config.bot.fetch.max_server_delay
            not_before = now + timedelta(seconds=min(server_delay, cap))
        next_poll = max(now + interval, not_before or now)
        return next_poll, not_before

    async def _handle(
        self,
        fetcher: Fetcher,
        pool: WorkerPool | None,
        feed: FeedConfig,
        result: FetchResult,
        now: datetime,
        *,
        first: bool,
        previous_hash: str | None,
    ) -> FeedOutcome:
        next_poll, not_before = self._schedule(feed, now, result.max_age)
        warnings: list[str] = []
        if result.moved_to:
            warnings.append(
                f"moved permanently to {redact_url(result.moved_to)}; now polling that URL "
                "(update feeds.yaml to silence this)"
            )
        if result.status == "not_modified":
            await self._db(
                self.storage.record_success,
                feed.name,
                now=now,
                next_poll=next_poll,
                not_before=not_before,
                url=result.moved_to,
                etag=result.etag,
                last_modified=result.last_modified,
                body_hash=previous_hash,
            )
            return self._outcome(feed, "not_modified", next_poll, result, warnings=warnings)
        body_hash = hashlib.sha256(result.body).hexdigest()
        if body_hash == previous_hash:
            await self._db(
                self.storage.record_success,
                feed.name,
                now=now,
                next_poll=next_poll,
                not_before=not_before,
                url=result.moved_to,
                etag=result.etag,
                last_modified=result.last_modified,
                body_hash=body_hash,
            )
            return self._outcome(feed, "unchanged", next_poll, result, warnings=warnings)
        backlog_window = timedelta(hours=self.config.bot.poll.backlog_hours)
        parsed, matches = await self._parse(
            pool, feed, result, now, now - backlog_window if first else None
        )
        warnings += parsed.warnings
        decider = partial(
            decide,
            feed.name,
            parsed.articles,
            now=now,
            first_poll=first,
            backlog_window=backlog_window,
            matches=matches,
        )
        stored = await self._db(
            self.storage.store_batch, feed.name, parsed.articles, decider, now=now
        )
        await self._db(
            self.storage.record_success,
            feed.name,
            now=now,
            next_poll=next_poll,
            not_before=not_before,
            url=result.moved_to,
            etag=result.etag,
            last_modified=result.last_modified,
            body_hash=body_hash,
            title=parsed.title,
            warnings=warnings,
            had_new=bool(stored.new),
        )
        # After the batch and the feed's state are stored: whatever happens to the article
        # pages, every entry is already kept and decided on its feed text.
        full_texts = await self._full_texts(fetcher, pool, feed, stored.new)
        outcome = FeedOutcome(
            feed.name,
            "ok",
            new_ids=stored.new,
            full_texts=full_texts,
            flagged_ids=await self._db(self.storage.flagged_among, stored.new),
            backlog=stored.backlog,
            edited=len(stored.edited),
            seen=stored.unchanged,
            next_poll=next_poll,
            elapsed=result.elapsed,
            warnings=tuple(warnings),
        )
        log.info(
            "polled %s: %d new, %d backlog, %d edited, %d seen",
            feed.name,
            outcome.new,
            outcome.backlog,
            outcome.edited,
            outcome.seen,
            extra={
                "event": "poll",
                "feed": feed.name,
                "status": "ok",
                "new": outcome.new,
                "backlog": outcome.backlog,
                "edited": outcome.edited,
                "elapsed": round(result.elapsed, 3),
            },
        )
        return outcome

    def _outcome(
        self,
        feed: FeedConfig,
        status: OutcomeStatus,
        next_poll: datetime,
        result: FetchResult,
        *,
        warnings: list[str],
    ) -> FeedOutcome:
        log.info(
            "polled %s: %s",
            feed.name,
            status.replace("_", " "),
            extra={
                "event": "poll",
                "feed": feed.name,
                "status": status,
                "elapsed": round(result.elapsed, 3),
            },
        )
        return FeedOutcome(
            feed.name,
            status,
            next_poll=next_poll,
            elapsed=result.elapsed,
            warnings=tuple(warnings),
        )

    async def _failed(
        self, feed: FeedConfig, now: datetime, failures: int, error: FeedError
    ) -> FeedOutcome:
        settings = self.config.bot.poll
        delay = backoff_delay(failures, settings.backoff_base, settings.backoff_max, self.rng)
        retry_after = getattr(error, "retry_after", None)
        if retry_after:
            # The server said when: that beats our guess (capped, so a hostile
            # Retry-After cannot silence a feed for a year).
            delay = min(retry_after, self.config.bot.fetch.max_server_delay)
        next_poll = now + timedelta(seconds=delay)
        await self._db(
            self.storage.record_failure,
            feed.name,
            now=now,
            kind=error.kind,
            message=error.message,
            next_poll=next_poll,
        )
        log.warning(
            "feed %s failed (%s, %d in a row): %s; retrying at %s",
            feed.name,
            error.kind,
            failures,
            error.message,
            next_poll.isoformat(timespec="seconds"),
            extra={
                "event": "poll",
                "feed": feed.name,
                "status": "error",
                "error_kind": error.kind,
                "failures": failures,
            },
        )
        return FeedOutcome(
            feed.name,
            "error",
            error_kind=error.kind,
            error_message=error.message,
            next_poll=next_poll,
        )
