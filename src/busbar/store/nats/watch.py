"""Watching a key-value bucket: its current keys, then every change, in order.

One ordered push consumer on the bucket's stream (``deliver_policy=last_per_subject``)
delivers the newest message of every key, then every change from any client.  It is
the same consumer nats-py's ``watchall()`` makes, with two differences (both from
docs/nats-notes.md §1): the end of the first snapshot is the first message with no
messages pending after it (``num_pending == 0``), not nats-py's marker, which can come
before the snapshot; and idle heartbeats come every second instead of every five, so
that a watch whose server died is noticed (and re-created from the last sequence seen
by nats-py's ordered consumer) in about two seconds instead of ten to twenty.

:meth:`BucketWatch.reached` lets a caller wait until the watch has delivered a given
stream sequence: :meth:`busbar.store.base.Store.sync` is built on it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import DeliverPolicy

log = logging.getLogger("busbar.store")

# Called with (bucket key, value or None when deleted, revision) for each message.
EntryListener = Callable[[str, "bytes | None", int], None]

HEARTBEAT = 1.0
KV_OPERATION = "KV-Operation"
_MARKER_REASON = "Nats-Marker-Reason"


class BucketWatch:
    """Follows one bucket (stream ``KV_<bucket>``) from its current state on."""

    def __init__(self, js: JetStreamContext, bucket: str, listener: EntryListener) -> None:
        self._js = js
        self._bucket = bucket
        self._stream = f"KV_{bucket}"
        self._prefix = f"$KV.{bucket}."
        self._listener = listener
        self._sub: JetStreamContext.PushSubscription | None = None
        self.seen = 0  # the highest stream sequence delivered
        self._snapshot: asyncio.Future[None] | None = None
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []

    async def start(self) -> None:
        """Subscribe, and return once the bucket's current keys have been delivered."""
        loop = asyncio.get_running_loop()
        self._snapshot = loop.create_future()
        info = await self._js.stream_info(self._stream)
        if info.state.messages == 0:
            self._snapshot.set_result(None)
        self._sub = await self._js.subscribe(
            self._prefix + ">",
            stream=self._stream,
            cb=self._on_message,
            ordered_consumer=True,
            deliver_policy=DeliverPolicy.LAST_PER_SUBJECT,
            idle_heartbeat=HEARTBEAT,
        )
        await self._snapshot

    async def stop(self) -> None:
        if self._sub is not None:
            try:
                await self._sub.unsubscribe()
            except Exception:  # noqa: BLE001 - the connection may be gone already
                pass
            self._sub = None
        for _, waiter in self._waiters:
            waiter.cancel()
        self._waiters = []

    async def _on_message(self, msg: Msg) -> None:
        meta = msg.metadata
        seq = meta.sequence.stream
        headers = msg.headers or {}
        deleted = headers.get(KV_OPERATION) in ("DEL", "PURGE") or _MARKER_REASON in headers
        try:
            self._listener(msg.subject[len(self._prefix) :], None if deleted else msg.data, seq)
        except Exception:  # noqa: BLE001 - one bad entry must not stop the watch
            log.exception("applying a bucket change failed", extra={"bucket": self._bucket, "seq": seq})
        if seq > self.seen:
            self.seen = seq
            if self._waiters:
                self._wake()
        if meta.num_pending == 0 and self._snapshot is not None and not self._snapshot.done():
            self._snapshot.set_result(None)

    def _wake(self) -> None:
        still = []
        for target, waiter in self._waiters:
            if target <= self.seen:
                if not waiter.done():
                    waiter.set_result(None)
            else:
                still.append((target, waiter))
        self._waiters = still

    async def last_seq(self) -> int:
        """The bucket's newest stream sequence, as its stream leader knows it now."""
        info = await self._js.stream_info(self._stream)
        return int(info.state.last_seq)

    async def reached(self, target: int, timeout: float) -> bool:
        """Wait (up to *timeout*) until the watch has delivered stream sequence *target*."""
        if self.seen >= target:
            return True
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((target, waiter))
        try:
            await asyncio.wait_for(waiter, timeout)
        except TimeoutError:
            self._waiters = [(t, w) for t, w in self._waiters if w is not waiter]
            return False
        return True
