"""The store's blocking reads (``busbar events``, ``busbar dead-letters list``, counts for
health and metrics): a thread with its own event loop and its own NATS connection.

The interface makes these reads plain calls that block, as SQLite's are.  A NATS
connection belongs to the event loop it was opened on, and a call that blocks that loop
could never get its answer; so the reads go to a second connection, served by a thread
of its own, opened on first use (the command line reads without starting the store).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import TypeVar

from nats.aio.client import Client as NATS
from nats.js import JetStreamContext

from busbar.store.base import CannotStart, Unavailable
from busbar.store.nats.connection import Health, NatsOptions, connect, describe

T = TypeVar("T")

# How long one blocking read may take.
READ_TIMEOUT = 30.0


class Reader:
    """Runs reads on a connection of its own, in a thread of its own."""

    def __init__(self, options: NatsOptions) -> None:
        self._options = options
        self._health = Health(options)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._nc: NATS | None = None
        self._js: JetStreamContext | None = None
        self._lock = threading.Lock()

    def call(self, read: Callable[[JetStreamContext], Awaitable[T]]) -> T:
        """Run *read* with the reader's JetStream context and wait for its answer."""
        loop = self._running_loop()
        future = asyncio.run_coroutine_threadsafe(self._run(read), loop)
        try:
            return future.result(READ_TIMEOUT)
        except TimeoutError:
            future.cancel()
            raise Unavailable("NATS did not answer a read in time") from None
        except CannotStart as error:
            raise Unavailable(str(error)) from None

    async def _run(self, read: Callable[[JetStreamContext], Awaitable[T]]) -> T:
        if self._js is None:
            self._nc = await connect(self._options, "busbar-reader", self._health)
            self._js = self._nc.jetstream()
        try:
            return await read(self._js)
        except Unavailable:
            raise
        except Exception as error:
            raise Unavailable(f"a read from JetStream failed: {describe(error)}") from error

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
                self._thread = threading.Thread(target=self._loop.run_forever, name="busbar-nats-reader", daemon=True)
                self._thread.start()
            return self._loop

    def close(self) -> None:
        with self._lock:
            loop, thread, self._loop, self._thread = self._loop, self._thread, None, None
        if loop is None or thread is None:
            return
        if self._nc is not None:
            self._health.closing = True
            try:
                asyncio.run_coroutine_threadsafe(self._nc.close(), loop).result(5.0)
            except Exception:  # noqa: BLE001 - closing anyway
                pass
        self._nc = self._js = None
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5.0)
        loop.close()
