"""The store interface: everything busbar keeps, behind one API that an embedded
SQLite file, an in-memory store (tests) and NATS JetStream (a cluster of busbar
nodes) all implement, so that the API, the router and the dispatcher are the same
code whatever keeps the data.

Three kinds of state, each shaped after what a replicated log does well:

* **Resources** — buses, rules (with their targets), connections, API destinations,
  tags, quota ledgers: JSON documents keyed by ``(kind, key)``, each with a
  *revision*.  Reads are served from memory and never block; writes are durable when
  their awaitable returns; :meth:`Store.modify` changes one document by
  compare-and-set, so concurrent writers (on one node or several) never lose a
  change; :meth:`Store.watch` tells listeners of every change, whichever node made it.
  (JetStream: a key-value bucket, watched.)
* **The event log** — accepted events, durable before PutEvents answers.  The router
  *consumes* it: :meth:`Store.next_events` hands out events not yet routed (with
  several nodes, each event to one of them), and :meth:`Store.record_deliveries`
  stores the deliveries found for them and marks them routed, so that after a crash
  an event is routed again (at-least-once), never lost.  An event may carry a
  ``dedup_id``: appending the same one twice stores it once (forwards, schedule ticks
  and replays use it); and it may name the only rules it is for (``rules``: a schedule
  tick is for its rule, a replay for its ``FilterArns``).  (JetStream: a stream,
  ``Nats-Msg-Id``, a shared durable consumer.)
* **Deliveries** — one per (event, target) the router matched, in *lanes*: one lane
  per target ARN, so that one target's backlog or slowness never holds up another's.
  The dispatcher *takes* due deliveries of a lane (they are then leased to this node
  until it records what became of them: finished, retried later, or dead), and a
  delivery whose lease is never settled (its node died) comes back to be taken
  again.  Dead deliveries are kept until redriven.  (JetStream: a work-queue stream,
  a durable consumer per lane, message schedules for retries, a dead-letter stream.)
* **Log groups** — the lines log-group targets were given, per log group, readable
  in one place whichever node wrote them (``busbar log-groups tail``).  (SQLite: one
  JSON-lines file per log group under ``<data-dir>/log-groups/``; JetStream: a stream.)
* **Archives** — events kept for replay, per archive (named by an id the API chooses),
  in the order they were archived, read back by event time with a cursor, counted,
  pruned by age and dropped with their archive.  (JetStream: a stream per archive.)

Error vocabulary: :class:`AlreadyExists`, :class:`NotFound`, :class:`Conflict` (a
compare-and-set lost) and :class:`Unavailable` (nothing was written; try again).
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
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
    quorum, ...): nothing was written; the caller may try again later.

    ``stored``: when :meth:`Store.append_events` raises it, the positions (in the batch)
    of the events that were stored all the same (a cluster store stores each event on
    its own; the embedded store stores a batch whole or not at all)."""

    def __init__(self, message: str = "", stored: AbstractSet[int] = frozenset()) -> None:
        super().__init__(message)
        self.stored = frozenset(stored)


class CannotStart(StoreError):
    """The store refuses to start (JetStream off, replicas that cannot be placed, a
    server out of reach, ...); the message says why and what to change."""


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


# The records below are made for every event and delivery, so they are plain slotted
# dataclasses (a frozen one costs five times as much to make): treat them as values and
# never change one; dataclasses.replace() makes a changed copy.


@dataclass(slots=True)
class NewEvent:
    """An accepted event, ready to append.  ``envelope`` is the JSON EventBridge
    delivers; ``time`` is its event time in epoch seconds (for replay ranges);
    ``bus`` the store key of its bus (``account/region/name``)."""

    event_id: str
    bus: str
    envelope: bytes
    time: float
    ingested_at: float
    trace_header: str | None = None
    hops: int = 0  # how many bus-to-bus forwards brought it here (loop guard)
    # How many more events may descend from this one through bus-to-bus forwards
    # (None: the server's --max-event-descendants).  See busbar.router.
    budget: int | None = None
    # Appending an event with a dedup_id already stored stores nothing (a retried
    # forward, a schedule tick fired by two nodes, a resumed replay).  None: always stored.
    dedup_id: str | None = None
    # The only rules (ARNs) the event is for; None: every rule of its bus.  A replay's
    # events are matched as usual, then given only to its FilterArns' rules.
    rules: tuple[str, ...] | None = None
    # Give the event to ``rules`` without matching their patterns: a schedule tick
    # fires its rule whatever the rule's pattern.
    direct: bool = False


@dataclass(slots=True)
class StoredEvent:
    """An event read back from the log, with its sequence number (unique per store,
    growing in the order events were stored)."""

    seq: int
    event_id: str
    bus: str
    envelope: bytes
    time: float
    ingested_at: float
    trace_header: str | None
    hops: int = 0
    budget: int | None = None
    rules: tuple[str, ...] | None = None  # see NewEvent
    direct: bool = False


@dataclass(frozen=True, slots=True)
class NewArchivedEvent:
    """An event to keep in an archive.  ``time`` is its event time (replays choose by
    it); ``dedup_id``, when given, is unique within the archive: archiving the same one
    again (a retried archive delivery) keeps one copy."""

    event_id: str
    time: float
    envelope: bytes
    dedup_id: str | None = None


@dataclass(frozen=True, slots=True)
class ArchivedEvent:
    """An event kept in an archive.  ``position`` is unique per store and grows in the
    order events were archived; (``time``, ``position``) is the cursor of a replay."""

    position: int
    event_id: str
    time: float
    archived_at: float
    envelope: bytes

    @property
    def cursor(self) -> tuple[float, int]:
        return (self.time, self.position)


@dataclass(frozen=True, slots=True)
class ArchiveStats:
    """How many events an archive holds (in a time range) and their bytes."""

    count: int
    size_bytes: int


@dataclass(slots=True)
class NewDelivery:
    """A delivery the router found: what to send (``payload``; None means the
    envelope itself), to which target (a snapshot of its configuration), for which
    rule, in which lane (the target's ARN)."""

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
    budget: int = 0  # descendants the event it forwards (bus targets) may still have

    @property
    def lane(self) -> str:
        return str(self.target["Arn"])


@dataclass(slots=True)
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
    budget: int = 0

    @property
    def lane(self) -> str:
        return str(self.target["Arn"])


@dataclass(frozen=True, slots=True)
class LogLine:
    """One line of a log group, with its position (lines after it have larger ones)."""

    position: int
    line: bytes


# Told the lanes that may have new due deliveries (taken by dispatchers on this node).
LaneListener = Callable[[AbstractSet[str]], None]


@dataclass
class Capabilities:
    """What a backend does beyond the interface, for the code that could use it."""

    # Deliveries just recorded may be handed straight to this node's dispatcher
    # (they are leased to it already), instead of being taken from the store.
    handoff: bool = False
    # How many nodes share the work (rates of API destinations are split between them).
    nodes: Callable[[], int] = field(default=lambda: 1)


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

    async def sync(self) -> None:  # noqa: B027 - a no-op by default
        """Wait until this node's reads (and its change listeners) include every resource
        change committed, by any node, before the call.  The API calls it before an
        operation, so that a client alternating between nodes reads its own writes; the
        embedded store sees every change at once."""

    # -- event log -----------------------------------------------------------------
    @abc.abstractmethod
    async def append_events(self, events: Sequence[NewEvent]) -> None:
        """Append durably, or raise Unavailable: then none of them is stored but those
        its ``stored`` names."""

    @abc.abstractmethod
    async def next_events(self, limit: int, wait: float) -> list[StoredEvent]:
        """Up to *limit* events nobody has routed yet, oldest first, leased to this node
        (waiting up to *wait* seconds for one).  Events handed out and not recorded by
        :meth:`record_deliveries` come back after a restart (or, in a cluster, after the
        lease expires)."""

    @abc.abstractmethod
    async def record_deliveries(self, deliveries: Sequence[NewDelivery], routed: Sequence[StoredEvent]) -> list[int]:
        """Store *deliveries* (pending, due now) and mark *routed* as routed, atomically as
        far as the backend can (at worst a crash between routes an event twice: at
        least once); answer the deliveries' ids in order.  With the ``handoff``
        capability the deliveries are leased to this node on return (release those it
        does not keep)."""

    @abc.abstractmethod
    def read_events(self, after_seq: int, limit: int = 1000) -> list[StoredEvent]:
        """Up to *limit* stored events with sequence numbers above *after_seq*, in order
        (for ``busbar events``; thread-safe and blocking)."""

    @abc.abstractmethod
    async def prune_events(self, ingested_before: float, limit: int = 10_000) -> int:
        """Delete at most *limit* of the oldest *routed* events ingested before
        *ingested_before*; answer how many."""

    @abc.abstractmethod
    def last_seq(self) -> int:
        """The sequence number of the newest stored event (0 when none)."""

    @abc.abstractmethod
    def unrouted(self) -> int:
        """How many stored events wait to be routed (for health and metrics)."""

    # -- deliveries ----------------------------------------------------------------
    @abc.abstractmethod
    def lanes_with_work(self) -> set[str]:
        """Lanes that hold pending deliveries (at start-up: where to begin)."""

    @abc.abstractmethod
    def on_lane_work(self, listener: LaneListener) -> None:
        """Call *listener* (on the event loop) with lanes that may have new due work:
        deliveries recorded or redriven, by this node or another."""

    @abc.abstractmethod
    async def take(self, lane: str, limit: int) -> list[StoredDelivery]:
        """Up to *limit* pending, due deliveries of *lane* that nobody holds, soonest due
        first, leased to this node until it finishes, retries, dead-letters or releases
        them."""

    @abc.abstractmethod
    def next_due(self, lane: str) -> float | None:
        """When the next unleased delivery of *lane* is due, or None when there is none
        (or the backend cannot tell: a cluster store hands retries back by itself)."""

    @abc.abstractmethod
    async def release(self, delivery_ids: Sequence[int]) -> None:
        """Give back leases unchanged (the deliveries may be taken again at once)."""

    @abc.abstractmethod
    async def finish_deliveries(self, delivery_ids: Sequence[int]) -> None:
        """These deliveries succeeded: forget them."""

    @abc.abstractmethod
    async def retry_delivery(
        self, delivery_id: int, attempts: int, due_at: float, error_code: str, error_message: str
    ) -> None:
        """Record a failed attempt and when to try again; the lease ends (the delivery is
        taken again once due)."""

    @abc.abstractmethod
    async def dead_letter(
        self,
        delivery_id: int,
        attempts: int,
        error_code: str,
        error_message: str,
        forward: NewEvent | NewDelivery | None,
    ) -> None:
        """Give up on a delivery.  With *forward*, store the dead letter and forget the
        delivery, atomically: an event (on the dead-letter bus) is appended; a delivery
        (to a dead-letter queue) is recorded pending, not leased, and its lane's listeners
        are told.  Without, keep the delivery as dead for ``busbar dead-letters``."""

    @abc.abstractmethod
    def dead_deliveries(self, after_id: int = 0, limit: int = 1000) -> list[StoredDelivery]:
        """Dead deliveries with ids above *after_id*, oldest first."""

    @abc.abstractmethod
    def pending_count(self) -> int:
        """How many deliveries are pending (for health and metrics)."""

    @abc.abstractmethod
    def pending_deliveries(self, after_id: int = 0, limit: int = 1000) -> list[StoredDelivery]:
        """Pending deliveries with ids above *after_id*, oldest first, leased or not (for
        ``busbar deliveries list`` and the console; thread-safe and blocking)."""

    @abc.abstractmethod
    def delivery_counts(self) -> dict[tuple[str, str], int]:
        """How many deliveries each (state, lane) holds, for ``/metrics`` (thread-safe and
        blocking; states are "pending" and "dead")."""

    @abc.abstractmethod
    async def redrive(self, delivery_ids: Sequence[int] | None = None) -> list[int]:
        """Make dead deliveries (all, or those ids) pending again with fresh attempts, due
        now; answer their ids (the lanes hear of them through :meth:`on_lane_work`)."""

    # -- log groups ----------------------------------------------------------------
    # A log group is named by its key, ``account/region/name``.

    @abc.abstractmethod
    async def append_log_lines(self, group: str, lines: Sequence[bytes]) -> None:
        """Append *lines* (each one JSON text, without its newline) to *group*, durably."""

    @abc.abstractmethod
    def read_log_lines(self, group: str, after: int = 0, limit: int = 1000) -> list[LogLine]:
        """Up to *limit* lines of *group* whose positions are above *after*, oldest first
        (for ``busbar log-groups tail``; thread-safe and blocking)."""

    # -- archives ------------------------------------------------------------------
    # An archive is named by an id the API chooses (a new one for every archive created,
    # so that an archive deleted and made again never shows its predecessor's events).

    @abc.abstractmethod
    async def archive_events(self, archive: str, events: Sequence[NewArchivedEvent]) -> None:
        """Keep *events* in *archive* durably (one whose dedup_id the archive holds
        already is left out)."""

    @abc.abstractmethod
    async def read_archive(
        self, archive: str, start: float, end: float, after: tuple[float, int] | None = None, limit: int = 500
    ) -> list[ArchivedEvent]:
        """Up to *limit* events of *archive* whose event time is at or after *start* and
        before *end*, in the order of (time, position), beginning after the cursor *after*."""

    @abc.abstractmethod
    async def archive_stats(self, archive: str, start: float | None = None, end: float | None = None) -> ArchiveStats:
        """How many events *archive* holds (with event times at or after *start* and before
        *end*, when given), and the bytes of their envelopes."""

    @abc.abstractmethod
    async def prune_archive(self, archive: str, archived_before: float, limit: int = 10_000) -> int:
        """Delete at most *limit* of the events of *archive* archived before
        *archived_before* (its retention); answer how many."""

    @abc.abstractmethod
    async def drop_archive(self, archive: str) -> None:
        """Delete every event of *archive* (the archive was deleted)."""

    # -- life cycle ----------------------------------------------------------------
    @property
    def capabilities(self) -> Capabilities:
        return Capabilities()

    @abc.abstractmethod
    async def start(self) -> None:
        """Open the store; safe to call once per process."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Finish the writes in flight, then release the store."""

    def observe_commits(self, listener: Callable[[float], None]) -> None:  # noqa: B027 - optional
        """Call *listener* with the seconds each commit took (a backend without commits of its
        own calls nothing); ``/metrics`` reports them (busbar.observe)."""

    # -- health and erasure (busbar.store.datadir; not abstract: a backend without files has neither) --
    def health(self) -> str | None:
        """Why the store cannot take writes now (its file deleted or replaced, its last commit
        failed), or None when it can.  ``/health`` reports it."""
        return None

    async def scrub(self) -> None:
        """Make what was overwritten or deleted so far unrecoverable from the store's files
        (called after connection secrets are replaced or removed)."""
        return None
