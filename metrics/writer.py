"""The writes of a batch of refreshes, done in order on a thread of their own while the next query runs.

A refresh is a warehouse query, then writes to Sextant's database: the run marked running, then up
to two years of snapshots, the run's outcome and the metric's last refresh, committed. On a
worker computing a batch (metrics.tasks.refresh_metrics), the writes of one run overlap the
query of the next: the writer thread has its own database connection, and the query drivers and
psycopg2 release the GIL while they wait. Whatever has queued up while the thread wrote goes in
the next transaction, so a busy batch pays one commit for several runs. A transaction that only
marks runs as running commits without waiting for the disk (synchronous_commit off): losing it
in a database crash only shows a run as queued a little longer. Every outcome commits durably
before the task returns and its message is acknowledged.

The thread and its connection live as long as the worker process, not one batch: a new connection
costs a few milliseconds, and a new backend's first insert pays again for its catalogue caches and
the compiled snapshot triggers. Around each batch the thread treats its connection as Django
treats a request's (close_old_connections): it is closed when older than CONN_MAX_AGE (0 outside
workers, so there it lasts one batch) or after an error, and health-checked on its next use; an
idle writer checks its age every IDLE_CHECK_S too, so a quiet worker holds no old connection.

In process (the embedded demo, eager tests) or on a database other than PostgreSQL, the writes run
at once, in the caller's thread.
"""

from __future__ import annotations

import itertools
import logging
import os
import queue
import threading
from collections.abc import Callable
from typing import Any

from django.db import close_old_connections, connection, connections, transaction

_STOP = object()
_END_OF_BATCH = object()  # queued as a batch's last write: its connection is kept only if young and healthy
logger = logging.getLogger(__name__)
# How often an idle writer checks its connection's age, so a quiet worker lets it go.
IDLE_CHECK_S = 30.0


class ResultWriter:
    """One batch's writes, run in order. `submit` returns at once on the thread, after the write
    otherwise; `drain` waits for every submitted write and raises the error of one that failed
    (after which the batch's later writes are skipped); leaving the `with` block drains."""

    def __init__(self, *, threaded: bool) -> None:
        self.threaded = threaded and connection.vendor == "postgresql"
        self.error: BaseException | None = None
        self._thread: _WriterThread | None = None
        self._pending = 0
        self._idle = threading.Condition()

    def __enter__(self) -> ResultWriter:
        if self.threaded:
            self._thread = _WriterThread.for_process()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._thread is not None:
            self._send(_END_OF_BATCH, ())
            self._wait()
            self._thread = None
        if exc[0] is None:
            self._raise()
        elif self.error is not None and self.error is not exc[1]:
            logger.error("A refresh write failed while its batch broke off on another error", exc_info=self.error)

    def submit(self, write: Callable[..., Any], *args: Any, durable: bool = True) -> None:
        """Queue `write(*args)`; `durable=False` for a write that may be lost in a database crash."""
        self._raise()
        if self._thread is None:
            with transaction.atomic():
                write(*args)
            return
        self._send(write, args, durable)

    def drain(self) -> None:
        if self._thread is not None:
            self._wait()
        self._raise()

    def done(self, count: int) -> None:
        """Called by the thread: `count` of this batch's items are processed."""
        with self._idle:
            self._pending -= count
            self._idle.notify_all()

    def _send(self, write: Callable[..., Any], args: tuple, durable: bool = True) -> None:
        if not self._thread.is_alive():  # not to compute a batch whose results no one would write
            raise RuntimeError("the refresh writer thread has stopped")
        with self._idle:
            self._pending += 1
        self._thread.queue.put((self, write, args, durable))

    def _wait(self) -> None:
        with self._idle:
            while not self._idle.wait_for(lambda: self._pending == 0, timeout=1.0):
                if not self._thread.is_alive():
                    raise RuntimeError("the refresh writer thread stopped with writes pending")

    def _raise(self) -> None:
        if self.error is not None:
            raise self.error


class _WriterThread:
    """The process's writer: a daemon thread taking (batch, write, args, durable) from its queue."""

    _current: _WriterThread | None = None
    _lock = threading.Lock()

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.queue: queue.Queue = queue.Queue()
        self._last_batch: ResultWriter | None = None
        self._thread = threading.Thread(target=self._loop, name="refresh-writer", daemon=True)
        self._thread.start()

    @classmethod
    def for_process(cls) -> _WriterThread:
        """This process's writer, started on first use (and again in a forked child)."""
        with cls._lock:
            current = cls._current
            if current is None or current.pid != os.getpid() or not current.is_alive():
                current = cls._current = cls()
            return current

    @classmethod
    def stop(cls) -> None:
        """Stops this process's writer, if any, once its queue is done, and closes its connection."""
        with cls._lock:
            current, cls._current = cls._current, None
        if current is not None and current.pid == os.getpid() and current.is_alive():
            current.queue.put(_STOP)
            current._thread.join(timeout=30)

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def _loop(self) -> None:
        try:
            while True:
                try:
                    items = [self.queue.get(timeout=IDLE_CHECK_S)]
                except queue.Empty:  # idle: a connection past CONN_MAX_AGE goes now, not at the next batch
                    close_old_connections()
                    continue
                while True:
                    try:
                        items.append(self.queue.get_nowait())
                    except queue.Empty:
                        break
                stop = any(item is _STOP for item in items)
                self._run([item for item in items if item is not _STOP])
                if stop:
                    return
        finally:
            connections.close_all()  # this thread's connections only

    def _run(self, items: list[tuple]) -> None:
        """Writes the items in order: each batch's run of consecutive writes in one transaction."""
        for batch, grouped in itertools.groupby(items, key=lambda item: item[0]):
            group = list(grouped)
            writes = [item for item in group if item[1] is not _END_OF_BATCH]
            if batch is not self._last_batch:  # a new batch: a connection too old or broken goes
                self._last_batch = batch
                close_old_connections()
            try:
                if writes and batch.error is None:
                    _write(writes)
            except BaseException as error:  # noqa: BLE001 - handed to the batch's thread, which raises it
                batch.error = error
            finally:
                if len(writes) < len(group):  # the batch is over: keep the connection only if fit
                    self._last_batch = None
                    close_old_connections()
                batch.done(len(group))


def _write(writes: list[tuple]) -> None:
    with transaction.atomic():
        if not any(durable for *_, durable in writes):
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit TO OFF")
        for _, write, args, _ in writes:
            write(*args)


def stop_process_writer() -> None:
    """For a worker process shutting down (config/celery.py): close the writer's connection."""
    _WriterThread.stop()
