"""Worker processes that parse and match feeds, and survive what documents do to them.

Parsing is CPU-bound and runs untrusted documents through C extensions and deep recursion,
so it runs in its own processes (pebble's ``ProcessPool``), with these guarantees:

- **Nothing raised in a worker crosses back as an exception.** ``run_job`` turns every
  outcome into a plain record: the job's result, or a :class:`JobFailed` with the error's
  kind, message and (for a bug) the traceback as text. An exception the parent cannot
  unpickle is what broke the old ``ProcessPoolExecutor`` for every feed (issue 8).
- **A worker that dies** (killed, out of memory, a segfault) fails only the job it held,
  with kind ``worker_died``; pebble starts a replacement. A pool that is broken anyway is
  replaced, and the job is tried once more on the new one.
- **A watchdog** bounds the time one job may take (``poll.parse_timeout``): the worker is
  stopped and replaced, the feed fails with kind ``parse_timeout``.
- **A memory limit** per worker (``poll.worker_memory_mb``, RLIMIT_AS): a document that
  needs more memory fails as ``too_large`` instead of waking the kernel's OOM killer.
- **No orphans.** A worker whose parent is gone (``kill -9`` of the bot) exits by itself
  within a second, and with it the multiprocessing resource tracker.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import signal
import threading
import time
import traceback
from collections.abc import Callable
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import pebble

from bot.errors import FeedError

log = logging.getLogger("bot.ingest.workers")

T = TypeVar("T")

#: how often a worker checks that the process that started it is still alive
PARENT_CHECK_SECONDS = 1.0


@dataclass(frozen=True)
class JobFailed:
    """A job that did not produce its result. ``kind`` is a FeedError kind, or ``internal``
    (a bug: ``trace`` holds its traceback), ``worker_died``, ``parse_timeout``."""

    kind: str
    message: str
    trace: str = ""


@dataclass(frozen=True)
class JobDone(Generic[T]):
    value: T


JobOutcome = JobDone[T] | JobFailed


def run_job(function: Callable[..., T], /, *args: Any, **kwargs: Any) -> JobOutcome[T]:
    """Run ``function`` and return its outcome as a record; never raises (but for
    BaseExceptions such as SystemExit, which pebble reports as a dead worker)."""
    try:
        return JobDone(function(*args, **kwargs))
    except FeedError as e:
        return JobFailed(e.kind, e.message)
    except MemoryError:
        return JobFailed(
            "too_large",
            "parsing this document needed more memory than a worker may use "
            "(poll.worker_memory_mb in bot.yaml)",
        )
    except RecursionError:
        return JobFailed("not_a_feed", "the document is nested too deeply to be a feed")
    except Exception as e:
        return JobFailed("internal", f"{type(e).__name__}: {e}", traceback.format_exc())


# -- inside a worker ----------------------------------------------------------------------

_INITIALIZERS: list[Callable[[], None]] = []


def _watch_parent(parent: int) -> None:
    while True:
        time.sleep(PARENT_CHECK_SECONDS)
        if os.getppid() != parent:
            # The bot is gone (kill -9): nobody will ever read our results.
            os._exit(0)


def _limit_memory(megabytes: int) -> None:
    if megabytes <= 0:
        return
    try:
        import resource

        limit = megabytes * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ImportError, ValueError, OSError) as e:  # not on this platform, or not allowed
        log.warning("cannot limit worker memory to %d MB: %s", megabytes, e)


def _init_worker(
    parent: int, memory_mb: int, setup: Callable[..., None] | None, setup_args: tuple[Any, ...]
) -> None:
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
    _limit_memory(memory_mb)
    if setup is not None:
        setup(*setup_args)


# -- in the bot ---------------------------------------------------------------------------


def _ready() -> bool:
    """A no-op job: when it has run, the pool's workers take work."""
    return True


def _describe_exit(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def _stop_in_background(pool: pebble.ProcessPool) -> None:
    """Stop a broken pool without blocking the event loop (joining waits for its threads)."""
    pool.stop()
    threading.Thread(target=pool.join, daemon=True, name="pool-reaper").start()


class WorkerPool:
    """A pool of worker processes that heals itself. ``setup(*setup_args)`` runs once in
    every new worker (e.g. to build the matcher, whose automaton is not picklable)."""

    def __init__(
        self,
        workers: int,
        *,
        timeout: float,
        memory_mb: int = 0,
        setup: Callable[..., None] | None = None,
        setup_args: tuple[Any, ...] = (),
    ) -> None:
        self.workers = max(1, workers)
        self.timeout = timeout
        self.memory_mb = memory_mb
        self.setup = setup
        self.setup_args = setup_args
        self._pool: pebble.ProcessPool | None = None
        self._lock = threading.Lock()
        #: pools replaced because they broke (for tests and the log)
        self.replaced = 0
        #: the pool whose workers start() has seen take work
        self._started: pebble.ProcessPool | None = None

    def _current(self) -> pebble.ProcessPool:
        with self._lock:
            if self._pool is None or not self._pool.active:
                if self._pool is not None:
                    self.replaced += 1
                    log.warning("the parse worker pool broke; starting a new one")
                    _stop_in_background(self._pool)
                # spawn, not fork: forking a process that runs an event loop and threads
                # is unsafe.
                self._pool = pebble.ProcessPool(
                    self.workers,
                    initializer=_init_worker,
                    initargs=(os.getpid(), self.memory_mb, self.setup, self.setup_args),
                    context=multiprocessing.get_context("spawn"),
                )
            return self._pool

    def start(self) -> None:
        """Start the worker processes ahead of the first job and wait until they take work
        (their setup done); a pool used without it starts them on the first job."""
        pool = self._current()
        if pool is self._started:
            return  # the service keeps its pool: started once, not probed every cycle
        futures = [pool.schedule(_ready) for _ in range(self.workers)]
        for future in futures:
            try:
                future.result(timeout=self.timeout)
            except Exception:
                return  # a broken start shows on the first real job, which says why
        self._started = pool

    def _discard(self, pool: pebble.ProcessPool) -> None:
        with self._lock:
            if self._pool is pool:
                self._pool = None
                self.replaced += 1
                log.warning("the parse worker pool broke; starting a new one")
        _stop_in_background(pool)

    async def run(self, function: Callable[..., T], /, **kwargs: Any) -> JobOutcome[T]:
        """Run ``function(**kwargs)`` in a worker; every failure comes back as JobFailed."""
        for _attempt in range(2):
            pool = self._current()
            try:
                future = pool.schedule(
                    run_job, args=(function,), kwargs=kwargs, timeout=self.timeout
                )
            except RuntimeError:  # the pool stopped between the check and the call
                self._discard(pool)
                continue
            try:
                outcome: JobOutcome[T] = await asyncio.wrap_future(future)
                return outcome
            except TimeoutError:
                return JobFailed(
                    "parse_timeout",
                    f"parsing and matching took longer than {self.timeout:g}s "
                    "(poll.parse_timeout in bot.yaml); the worker was stopped and replaced",
                )
            except pebble.ProcessExpired as e:
                return JobFailed(
                    "worker_died",
                    f"the worker process parsing this feed died ({_describe_exit(e.exitcode)}); "
                    "it was replaced and the feed is retried later",
                )
            except BrokenProcessPool:
                self._discard(pool)
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise  # our caller cancelled us
                self._discard(pool)  # the pool dropped the job (it was stopped): retry once
        return JobFailed("worker_died", "the parse worker pool broke twice while parsing this feed")

    def worker_pids(self) -> list[int]:
        """The live workers' process ids (for tests and diagnostics)."""
        pool = self._pool
        if pool is None:
            return []
        workers = getattr(getattr(pool, "_pool_manager", None), "worker_manager", None)
        return [pid for pid in getattr(workers, "workers", {}) if pid]

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.stop()
            pool.join(timeout=10)
