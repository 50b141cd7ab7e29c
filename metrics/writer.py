"""The writes of a batch of refreshes, done in order on a thread of their own while the next query runs.

A refresh is a warehouse query, then writes to Sextant's database: the run marked running, then up
to two years of snapshots, the run's outcome and the metric's last refresh, committed. On a
worker computing a batch (metrics.tasks.refresh_metrics), the writes of one run overlap the
query of the next: the thread has its own database connection, and the query drivers and
psycopg2 release the GIL while they wait. Whatever has queued up while the thread wrote goes in
the next transaction, so a busy batch pays one commit for several runs. A transaction that only
marks runs as running commits without waiting for the disk (synchronous_commit off): losing it
in a database crash only shows a run as queued a little longer. Every outcome commits durably
before the task returns and its message is acknowledged.

In process (the embedded demo, eager tests) or on a database other than PostgreSQL, the writes run
at once, in the caller's thread.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any

from django.db import connection, connections, transaction

_STOP = object()


class ResultWriter:
    """Runs the submitted writes in order. `submit` returns at once on the thread, after the write
    otherwise; `drain` waits for every submitted write (and raises the error of one that failed);
    leaving the `with` block drains, stops the thread and closes its connection."""

    def __init__(self, *, threaded: bool) -> None:
        self.threaded = threaded and connection.vendor == "postgresql"
        self._queue: queue.Queue = queue.Queue()
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> ResultWriter:
        if self.threaded:
            self._thread = threading.Thread(target=self._loop, name="refresh-writer", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._thread is not None:
            self._queue.put(_STOP)
            self._thread.join()
            self._thread = None
        if exc[0] is None:
            self._raise()

    def submit(self, write: Callable[..., Any], *args: Any, durable: bool = True) -> None:
        """Queue `write(*args)`; `durable=False` for a write that may be lost in a database crash."""
        self._raise()
        if self._thread is None:
            with transaction.atomic():
                write(*args)
            return
        self._queue.put((write, args, durable))

    def drain(self) -> None:
        if self._thread is not None:
            self._queue.join()
        self._raise()

    def _raise(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def _loop(self) -> None:
        try:
            while True:
                items = [self._queue.get()]
                while True:
                    try:
                        items.append(self._queue.get_nowait())
                    except queue.Empty:
                        break
                writes = [item for item in items if item is not _STOP]
                try:
                    if writes and self._error is None:
                        self._write(writes)
                except BaseException as error:  # noqa: BLE001 - handed to the batch's thread, which raises it
                    self._error = error
                finally:
                    for _ in items:
                        self._queue.task_done()
                if len(writes) < len(items):
                    return
        finally:
            connections.close_all()  # this thread's connections only

    @staticmethod
    def _write(writes: list[tuple[Callable[..., Any], tuple, bool]]) -> None:
        with transaction.atomic():
            if not any(durable for *_, durable in writes):
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL synchronous_commit TO OFF")
            for write, args, _ in writes:
                write(*args)
