"""Resources in a JetStream key-value bucket, served from memory.

Each resource is the key ``<kind>.<key, base64url>`` of the bucket ``<prefix>-resources``
(one value per key, replicas R, direct gets on).  Its revision is the stream sequence
of its newest message: it grows with every change, as the store interface asks.

* **Reads** come from a cache in memory, filled at start by a watch of the bucket
  (:mod:`busbar.store.nats.watch`) and kept current by the same watch: a change made by
  another node reaches this one's cache and change listeners about a millisecond
  later (docs/nats-notes.md §1).
* **Writes** are compare-and-set on the key's last sequence
  (``Nats-Expected-Last-Subject-Sequence``; 0: the key must not exist).  Once JetStream
  acknowledges one, the cache and the listeners learn of it at once (read-your-writes);
  the watch delivers the same revision later and it is skipped: every key remembers the
  newest revision applied (deletes included), and older news of it is ignored.
* A write whose outcome is unknown (a timeout through an election) is sent again with
  the same ``Nats-Msg-Id``.  JetStream checks the expected sequence before the message
  id, so a retry of a write that did land is refused as stale; the key's last message
  then carries our message id, which tells the two cases apart.
* :meth:`Resources.sync` reads the bucket's last sequence and waits for the watch to
  deliver it: afterwards this node's reads include every change committed before.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

import orjson
from nats.js import JetStreamContext
from nats.js.errors import APIError, NotFoundError

from busbar.store.base import AlreadyExists, ChangeListener, Conflict, NotFound, Unavailable, Versioned
from busbar.store.nats.codec import parse_resource_key, resource_key
from busbar.store.nats.connection import WRITE_DEADLINE, Health, describe, retrying, transient
from busbar.store.nats.watch import KV_OPERATION, BucketWatch

log = logging.getLogger("busbar.store")

# A stale compare-and-set: 10071 "wrong last sequence: <n>", or 10164 without the number.
WRONG_LAST_SEQUENCE = (10071, 10164)
EXPECTED_LAST = "Nats-Expected-Last-Subject-Sequence"
MSG_ID = "Nats-Msg-Id"
# How long sync() waits for the watch before re-creating it, and before giving up.
SYNC_WAIT = 2.0
SYNC_ATTEMPTS = 3


class Resources:
    """The resources part of :class:`busbar.store.nats.NatsStore`."""

    def __init__(self, js: JetStreamContext, bucket: str, health: Health) -> None:
        self._js = js
        self._bucket = bucket
        self._stream = f"KV_{bucket}"
        self._subject = f"$KV.{bucket}."
        self._health = health
        self._cache: dict[str, dict[str, Versioned]] = {}
        self._applied: dict[tuple[str, str], int] = {}  # newest revision applied per key, deletes too
        self._listeners: list[ChangeListener] = []
        self._watch = BucketWatch(js, bucket, self._on_entry)

    async def start(self) -> None:
        await self._watch.start()

    async def stop(self) -> None:
        await self._watch.stop()

    # -- reads ---------------------------------------------------------------------
    def get(self, kind: str, key: str) -> Versioned | None:
        return self._cache.get(kind, {}).get(key)

    def list(self, kind: str, prefix: str) -> list[tuple[str, dict[str, Any]]]:
        return sorted((key, found.value) for key, found in self._cache.get(kind, {}).items() if key.startswith(prefix))

    def watch(self, listener: ChangeListener) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    # -- what the cache learns -------------------------------------------------------
    def _on_entry(self, token: str, data: bytes | None, revision: int) -> None:
        parsed = parse_resource_key(token)
        if parsed is None:
            return
        kind, key = parsed
        self._apply(kind, key, None if data is None else orjson.loads(data), revision)

    def _apply(self, kind: str, key: str, value: dict[str, Any] | None, revision: int) -> None:
        """Take in the resource at *revision* unless something as new was taken in already."""
        if self._applied.get((kind, key), 0) >= revision:
            return
        self._applied[(kind, key)] = revision
        if value is None:
            if self._cache.get(kind, {}).pop(key, None) is None:
                return
        else:
            self._cache.setdefault(kind, {})[key] = Versioned(value, revision)
        for listener in list(self._listeners):
            try:
                listener(kind, key, value)
            except Exception:  # noqa: BLE001 - one listener's bug must not hide the change from others
                log.exception("resource change listener failed", extra={"kind": kind, "key": key})

    # -- writes --------------------------------------------------------------------
    async def create(self, kind: str, key: str, value: dict[str, Any]) -> int:
        blob = orjson.dumps(value)
        try:
            revision = await self._write(kind, key, blob, expected=0)
        except Conflict:
            # A deleted key keeps a tombstone: creating it again means writing after it.
            last = await self._last(kind, key)
            if last is None or last[1] is not None:
                raise AlreadyExists(f"{kind} {key}") from None
            try:
                revision = await self._write(kind, key, blob, expected=last[0])
            except Conflict:
                raise AlreadyExists(f"{kind} {key}") from None
        self._apply(kind, key, orjson.loads(blob), revision)
        return revision

    async def update(self, kind: str, key: str, value: dict[str, Any], revision: int) -> int:
        blob = orjson.dumps(value)
        try:
            new = await self._write(kind, key, blob, expected=revision)
        except Conflict:
            last = await self._last(kind, key)
            if last is None or last[1] is None:
                raise NotFound(f"{kind} {key}") from None
            raise
        self._apply(kind, key, orjson.loads(blob), new)
        return new

    async def put(self, kind: str, key: str, value: dict[str, Any]) -> int:
        blob = orjson.dumps(value)
        revision = await self._write(kind, key, blob, expected=None)
        self._apply(kind, key, orjson.loads(blob), revision)
        return revision

    async def delete(self, kind: str, key: str, revision: int | None) -> bool:
        if revision is None:
            # Whatever its revision: delete what is there now (read from the stream, not the
            # cache, which may not know yet of another node's write).
            while True:
                last = await self._last(kind, key)
                if last is None or last[1] is None:
                    if last is not None:
                        self._apply(kind, key, None, last[0])
                    return False
                try:
                    deleted = await self._write(kind, key, b"", expected=last[0], delete=True)
                except Conflict:
                    continue
                self._apply(kind, key, None, deleted)
                return True
        try:
            deleted = await self._write(kind, key, b"", expected=revision, delete=True)
        except Conflict:
            last = await self._last(kind, key)
            if last is None or last[1] is None:
                if last is not None:
                    self._apply(kind, key, None, last[0])
                return False
            raise
        self._apply(kind, key, None, deleted)
        return True

    async def _write(self, kind: str, key: str, blob: bytes, *, expected: int | None, delete: bool = False) -> int:
        """Publish one change; answer its revision.  Conflict when *expected* (the key's
        last sequence, 0: none) no longer holds."""
        subject = self._subject + resource_key(kind, key)
        msg_id = uuid.uuid4().hex
        headers = {MSG_ID: msg_id}
        if expected is not None:
            headers[EXPECTED_LAST] = str(expected)
        if delete:
            headers[KV_OPERATION] = "DEL"
        attempts = 0

        async def publish() -> int:
            nonlocal attempts
            attempts += 1
            ack = await self._js.publish(subject, blob, headers=dict(headers))
            return int(ack.seq)

        try:
            revision = await retrying(publish, time.monotonic() + WRITE_DEADLINE)
        except Exception as error:
            if isinstance(error, APIError) and error.err_code in WRONG_LAST_SEQUENCE:
                if attempts > 1:
                    # An earlier attempt may have landed: then the key's last message is ours.
                    message = await self._last_message(kind, key)
                    if message is not None and (message.headers or {}).get(MSG_ID) == msg_id:
                        self._health.wrote()
                        return int(message.seq)
                raise Conflict(f"{kind} {key}") from None
            if transient(error):
                self._health.failed()
            if transient(error) or isinstance(error, APIError):
                raise self._unavailable(kind, key, error) from None
            raise
        self._health.wrote()
        return revision

    def _unavailable(self, kind: str, key: str, error: BaseException) -> Unavailable:
        return Unavailable(f"the resource {kind} {key} could not be written: {describe(error)}")

    async def _last_message(self, kind: str, key: str) -> Any:
        subject = self._subject + resource_key(kind, key)
        try:
            return await retrying(
                lambda: self._js.get_last_msg(self._stream, subject, direct=True), time.monotonic() + WRITE_DEADLINE
            )
        except NotFoundError:
            return None

    async def _last(self, kind: str, key: str) -> tuple[int, dict[str, Any] | None] | None:
        """The key's last revision and its value (None: a tombstone); None when the bucket
        never had the key."""
        message = await self._last_message(kind, key)
        if message is None:
            return None
        operation = (message.headers or {}).get(KV_OPERATION)
        value = None if operation in ("DEL", "PURGE") or not message.data else orjson.loads(message.data)
        return int(message.seq), value

    # -- catching up ---------------------------------------------------------------
    async def changed(self, kind: str, key: str) -> None:
        """Read the key from the bucket (another node's write made our compare-and-set fail,
        and the watch may not have brought it yet)."""
        last = await self._last(kind, key)
        if last is not None:
            self._apply(kind, key, last[1], last[0])

    async def sync(self) -> None:
        target = await retrying(self._watch.last_seq, time.monotonic() + WRITE_DEADLINE)
        for _ in range(SYNC_ATTEMPTS):
            if await self._watch.reached(target, SYNC_WAIT):
                return
            # The watch is stuck (its server died and nats-py has not noticed yet): start over.
            log.warning("the resource watch lags; watching again", extra={"seen": self._watch.seen, "last": target})
            await self._restart_watch()
        raise Unavailable("this node cannot follow resource changes (the resource watch does not advance)")

    async def _restart_watch(self) -> None:
        await self._watch.stop()
        self._watch = BucketWatch(self._js, self._bucket, self._on_entry)
        await self._watch.start()
