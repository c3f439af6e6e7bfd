"""Which busbar nodes are alive: each beats in the bucket ``<prefix>-nodes``.

Every node writes its key every ``BEAT`` seconds; the bucket keeps a key ``TTL``
seconds (its ``max_age``), and every node watches it.  A node counts as alive while it
was heard from within ``ALIVE`` seconds, by this node's clock (no clocks compared
across machines).  A node that stops deletes its key, so the others count it out at
once; one that dies is counted out after ``ALIVE`` seconds.  The dispatcher splits an
API destination's invocation rate between the live nodes.
"""

from __future__ import annotations

import asyncio
import logging
import time

import orjson
from nats.js import JetStreamContext

from busbar.store.nats.watch import BucketWatch
from busbar.tasks import cancel_and_wait

log = logging.getLogger("busbar.store")

BEAT = 2.0
ALIVE = 3 * BEAT
TTL = 5 * BEAT


class Nodes:
    """This node's heartbeat, and the count of live nodes."""

    def __init__(self, js: JetStreamContext, bucket: str, node: str) -> None:
        self._js = js
        self._subject = f"$KV.{bucket}.{node}"
        self._node = node
        self._heard: dict[str, float] = {}  # node -> when last heard (monotonic)
        self._watch = BucketWatch(js, bucket, self._on_entry)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._beat()
        await self._watch.start()
        self._task = asyncio.create_task(self._run(), name="busbar-nats-heartbeat")

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait([self._task])
        await self._watch.stop()
        try:
            await self._js.publish(self._subject, b"", headers={"KV-Operation": "DEL"}, timeout=2.0)
        except Exception:  # noqa: BLE001 - then the others count this node out after ALIVE seconds
            pass

    def count(self) -> int:
        """How many nodes are alive (this one included)."""
        now = time.monotonic()
        return 1 + sum(1 for node, at in self._heard.items() if node != self._node and now - at < ALIVE)

    def _on_entry(self, node: str, data: bytes | None, revision: int) -> None:
        if data is None:
            self._heard.pop(node, None)
        else:
            self._heard[node] = time.monotonic()

    async def _beat(self) -> None:
        await self._js.publish(self._subject, orjson.dumps({"at": time.time()}), timeout=2.0)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(BEAT)
            try:
                await self._beat()
            except Exception as error:  # noqa: BLE001 - beat again next time
                log.debug("heartbeat failed", extra={"error": repr(error)})
