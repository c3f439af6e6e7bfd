"""The store interface: everything busbar keeps, behind one small API.

Three kinds of state, chosen so that an embedded SQLite file and a distributed
log (NATS JetStream: streams with acknowledgement, key-value buckets) can both
implement them:

* **Resources** — metadata (event buses, tags, and later rules, targets,
  connections, archives) as JSON documents keyed by ``(kind, key)``.  Reads are
  served from memory; writes are durable when the awaitable returns.
* **The event log** — an append-only sequence of accepted events.  Each event
  gets a sequence number that only grows; ``append_events`` returns only after
  the events are durable.
* **Deliveries** — one durable record per (event, target) the router matched,
  written in the same transaction that moves the router's position, so a crash
  never loses one and never records one twice.  A delivery is pending (with a
  due time for its next attempt) until it is finished (deleted) or dead (kept,
  with its last error, until redriven).
* **Consumers** — named positions in the log.  A consumer (the router) reads
  events after its position in order and acknowledges up to a sequence number;
  after a crash it resumes after the last acknowledged event, so consumption is
  at-least-once.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any


class StoreError(Exception):
    """Base of the store's own errors (the API layer turns them into AWS errors)."""


class AlreadyExists(StoreError):
    """``create_resource`` found a resource with that kind and key."""


class NotFound(StoreError):
    """The resource to change does not exist."""


class Conflict(StoreError):
    """The resource changed since the revision the caller read (compare-and-set failed)."""


class Unavailable(StoreError):
    """The store cannot take writes now (its file was replaced, the cluster lost its
    quorum, ...): nothing was written; the caller may try again later."""


@dataclass(frozen=True, slots=True)
class Versioned:
    """A resource document and its revision (a number that grows with every change)."""

    value: dict[str, Any]
    revision: int


# Called with (kind, key, value or None when deleted) for every change, whichever node made it.
ChangeListener = Callable[[str, str, "dict[str, Any] | None"], None]
# Given the current document (None: there is none), answers the new one (None: delete it).
Change = Callable[["dict[str, Any] | None"], "dict[str, Any] | None"]

# How often modify() reads again after losing a race, before giving up.
MODIFY_ATTEMPTS = 50


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An accepted event, ready to append.  ``envelope`` is the JSON EventBridge
    delivers; ``time`` is its event time in epoch seconds (for replay ranges)."""

    event_id: str
    bus: str
    envelope: bytes
    time: float
    ingested_at: float
    trace_header: str | None = None
    hops: int = 0  # how many bus-to-bus forwards brought it here (loop guard)


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An event read back from the log, with its sequence number."""

    seq: int
    event_id: str
    bus: str
    envelope: bytes
    time: float
    ingested_at: float
    trace_header: str | None
    hops: int = 0


@dataclass(frozen=True, slots=True)
class NewDelivery:
    """A delivery the router found: what to send (``payload``; None means the
    envelope itself), to which target (a snapshot of its configuration), for which rule."""

    event_id: str
    bus: str
    rule_name: str
    rule_arn: str
    target: dict[str, Any]
    envelope: bytes
    payload: bytes | None
    trace_header: str | None
    ingested_at: float
    hops: int = 0
    shaping_error: str | None = None  # the input could not be shaped: dead-letter without sending


@dataclass(frozen=True, slots=True)
class StoredDelivery:
    """A delivery as stored, with its id and progress."""

    id: int
    event_id: str
    bus: str
    rule_name: str
    rule_arn: str
    target: dict[str, Any]
    envelope: bytes
    payload: bytes | None
    trace_header: str | None
    ingested_at: float
    hops: int
    attempts: int
    due_at: float
    state: str  # "pending" or "dead"
    error_code: str | None
    error_message: str | None
    shaping_error: str | None = None


class Store(abc.ABC):
    """What the API, the router and delivery need from storage."""

    # -- resources -----------------------------------------------------------------
    # Documents by (kind, key), each with a revision.  Reads are served from memory and
    # never block; a write is durable when its awaitable returns, and by then this
    # node's reads (and its change listeners) already see it.

    @abc.abstractmethod
    def get_versioned(self, kind: str, key: str) -> Versioned | None:
        """The resource and its revision, or None."""

    def get_resource(self, kind: str, key: str) -> dict[str, Any] | None:
        """The resource, or None."""
        found = self.get_versioned(kind, key)
        return found.value if found is not None else None

    @abc.abstractmethod
    def list_resources(self, kind: str, prefix: str = "") -> list[tuple[str, dict[str, Any]]]:
        """Every resource of *kind* whose key begins with *prefix*, as (key, value), sorted by key."""

    @abc.abstractmethod
    async def create_resource(self, kind: str, key: str, value: dict[str, Any]) -> int:
        """Store a new resource and answer its revision; AlreadyExists if the key is taken."""

    @abc.abstractmethod
    async def update_resource(self, kind: str, key: str, value: dict[str, Any], revision: int) -> int:
        """Replace a resource if it is still at *revision* (else Conflict; NotFound when it
        is gone); answer the new revision."""

    @abc.abstractmethod
    async def put_resource(self, kind: str, key: str, value: dict[str, Any]) -> int:
        """Create or replace a resource whatever its revision; answer the new revision."""

    @abc.abstractmethod
    async def delete_resource(self, kind: str, key: str, revision: int | None = None) -> bool:
        """Delete a resource (only if still at *revision*, when given: else Conflict);
        False when there was none."""

    @abc.abstractmethod
    def watch(self, listener: ChangeListener) -> Callable[[], None]:
        """Call *listener* on the event loop for every change of every resource, made by
        this node (before the write's awaitable returns) or another (within about a
        second).  Answers a function that stops the calls."""

    async def modify(self, kind: str, key: str, change: Change) -> dict[str, Any] | None:
        """Change one resource atomically: read it, compute the new document with *change*
        (which may raise to refuse), write it if nobody changed it meanwhile, else start
        over.  Answers the document written (None when deleted or left absent).

        Every read-modify-write of the API goes through here, so that concurrent calls
        on one resource, on one node or several, never lose an acknowledged change.
        """
        for _ in range(MODIFY_ATTEMPTS):
            current = self.get_versioned(kind, key)
            new = change(current.value if current is not None else None)
            try:
                if new is None:
                    if current is not None:
                        await self.delete_resource(kind, key, current.revision)
                    return None
                if current is None:
                    await self.create_resource(kind, key, new)
                else:
                    await self.update_resource(kind, key, new, current.revision)
                return new
            except (Conflict, AlreadyExists, NotFound):
                await self.changed(kind, key, current.revision if current is not None else 0)
        raise Unavailable(f"{kind} {key} changed {MODIFY_ATTEMPTS} times while being modified")

    async def changed(self, kind: str, key: str, revision: int) -> None:  # noqa: B027 - a no-op by default
        """Wait until this node has seen a change of the resource after *revision* (a
        cluster backend may learn of another node's write a moment after that write
        made a compare-and-set fail).  The embedded store sees every change at once."""

    # -- event log -----------------------------------------------------------------
    @abc.abstractmethod
    async def append_events(self, events: Sequence[NewEvent]) -> list[int]:
        """Append durably; return the sequence numbers, in order."""

    @abc.abstractmethod
    def read_events(self, after_seq: int, limit: int = 1000) -> list[StoredEvent]:
        """Up to *limit* events with sequence numbers above *after_seq*, in order.
        Thread-safe and blocking: call it from a worker thread on a hot loop."""

    @abc.abstractmethod
    async def prune_events(self, up_to_seq: int, ingested_before: float, limit: int = 10_000) -> int:
        """Delete at most *limit* of the oldest events with sequence numbers up to
        *up_to_seq* that were ingested before *ingested_before*; return how many."""

    @abc.abstractmethod
    def last_seq(self) -> int:
        """The sequence number of the newest committed event (0 when none)."""

    # -- deliveries ----------------------------------------------------------------
    @abc.abstractmethod
    async def record_deliveries(self, deliveries: Sequence[NewDelivery], consumer: str, seq: int) -> list[int]:
        """Store *deliveries* (pending, due now) and acknowledge the log up to *seq*
        for *consumer*, atomically; return the deliveries' ids in order."""

    @abc.abstractmethod
    def pending_deliveries(self) -> list[StoredDelivery]:
        """Every pending delivery (after a restart, to resume them)."""

    @abc.abstractmethod
    def pending_schedule(self, after: tuple[float, int] | None = None, limit: int = 1000) -> list[tuple[float, int]]:
        """``(due_at, id)`` of up to *limit* pending deliveries, soonest due first (ties by
        id), strictly after the key *after*: a keyset page, for the dispatcher to find
        what it should hold in memory without reading the deliveries themselves."""

    @abc.abstractmethod
    def pending_by_id(self, delivery_ids: Sequence[int]) -> list[StoredDelivery]:
        """The deliveries with these ids that are still pending, in no particular order.
        Thread-safe and blocking, like ``read_events``."""

    @abc.abstractmethod
    async def finish_deliveries(self, delivery_ids: Sequence[int]) -> None:
        """These deliveries succeeded: forget them."""

    @abc.abstractmethod
    async def retry_delivery(
        self, delivery_id: int, attempts: int, due_at: float, error_code: str, error_message: str
    ) -> None:
        """Record a failed attempt and when to try again."""

    @abc.abstractmethod
    async def dead_letter(
        self, delivery_id: int, attempts: int, error_code: str, error_message: str, forward: NewEvent | None
    ) -> None:
        """Give up on a delivery.  With *forward*, append that event (the dead letter,
        on the dead-letter bus) and forget the delivery, atomically; without, keep
        the delivery as dead for ``busbar dead-letters``."""

    @abc.abstractmethod
    def dead_deliveries(self, after_id: int = 0, limit: int = 1000) -> list[StoredDelivery]:
        """Dead deliveries with ids above *after_id*, oldest first."""

    @abc.abstractmethod
    async def redrive(self, delivery_ids: Sequence[int] | None = None) -> list[StoredDelivery]:
        """Make dead deliveries (all, or those ids) pending again with fresh attempts."""

    # -- consumers -----------------------------------------------------------------
    @abc.abstractmethod
    def position(self, consumer: str) -> int:
        """The last sequence number *consumer* acknowledged (0 when none)."""

    @abc.abstractmethod
    async def ack(self, consumer: str, seq: int) -> None:
        """Durably record that *consumer* is done with every event up to *seq*."""

    @abc.abstractmethod
    async def wait_for_events(self, after_seq: int, timeout: float | None = None) -> bool:
        """Wait until an event with a sequence number above *after_seq* is committed;
        False on timeout."""

    # -- life cycle ----------------------------------------------------------------
    @abc.abstractmethod
    async def start(self) -> None:
        """Open the store; safe to call once per process."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Finish the writes in flight, then release the store."""
