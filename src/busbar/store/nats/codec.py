"""How busbar's records are laid out in NATS messages, and the names they go under.

A record is one message: a line of JSON metadata, then the raw bytes it carries (an
event's envelope; a delivery's envelope and payload), so that bodies are neither
escaped nor copied into JSON.  orjson never writes a raw newline, so the first
newline ends the metadata.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from busbar.store.base import NewDelivery, NewEvent, StoredDelivery, StoredEvent

_KIND = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")


@dataclass(frozen=True)
class Names:
    """The streams, buckets and subjects of one deployment (``--nats-prefix``)."""

    prefix: str

    @property
    def events(self) -> str:
        return f"{self.prefix}-events"

    @property
    def event_subject(self) -> str:
        return f"{self.prefix}.events"

    @property
    def deliveries(self) -> str:
        return f"{self.prefix}-deliveries"

    @property
    def dead(self) -> str:
        return f"{self.prefix}-dead"

    @property
    def logs(self) -> str:
        return f"{self.prefix}-logs"

    @property
    def resources(self) -> str:
        """The key-value bucket of resources."""
        return f"{self.prefix}-resources"

    @property
    def nodes(self) -> str:
        """The key-value bucket where live nodes beat."""
        return f"{self.prefix}-nodes"

    @property
    def work(self) -> str:
        """The core-NATS subject on which nodes tell each other of lanes with new work."""
        return f"{self.prefix}.work"

    def lane_subject(self, lane: str) -> str:
        return f"{self.prefix}.deliveries.{lane_token(lane)}"

    @property
    def lane_subjects(self) -> str:
        return f"{self.prefix}.deliveries.*"

    def retry_subject(self, lane: str, delivery_id: int) -> str:
        """Where the schedule of a delivery's next attempt waits (its lane in the subject,
        so that pending deliveries are counted per lane from the subjects alone)."""
        return f"{self.prefix}.retries.{lane_token(lane)}.{delivery_id}"

    @property
    def retry_subjects(self) -> str:
        return f"{self.prefix}.retries.*.*"

    @property
    def pending_subjects(self) -> str:
        """Every subject of the deliveries stream: due or leased deliveries, and retries."""
        return f"{self.prefix}.>"

    def dead_subject(self, delivery_id: int) -> str:
        return f"{self.prefix}.dead.{delivery_id}"

    @property
    def dead_subjects(self) -> str:
        return f"{self.prefix}.dead.*"

    def log_subject(self, group: str) -> str:
        return f"{self.prefix}.logs.{_b64(group)}"

    @property
    def log_subjects(self) -> str:
        return f"{self.prefix}.logs.*"

    @property
    def archives(self) -> str:
        return f"{self.prefix}-archives"

    def archive_subject(self, archive: str, bucket: int) -> str:
        """Where an archive keeps its events of one hour of event time (*bucket*: hours
        since the epoch), so that a replay reads only the hours of its range."""
        return f"{self.prefix}.archive.{_b64(archive)}.{bucket}"

    def archive_subjects(self, archive: str) -> str:
        return f"{self.prefix}.archive.{_b64(archive)}.*"

    @property
    def all_archive_subjects(self) -> str:
        return f"{self.prefix}.archive.*.*"


def lane_token(lane: str) -> str:
    """A subject token (and consumer name part) for a lane: a hash of its target ARN, since
    an ARN holds characters a subject may not (``.``, ``*``, ``>``)."""
    return hashlib.blake2b(lane.encode(), digest_size=12).hexdigest()


def consumer_of(lane: str) -> str:
    """The durable consumer of a lane's deliveries."""
    return f"lane-{lane_token(lane)}"


def resource_key(kind: str, key: str) -> str:
    """A resource's key in the bucket: ``<kind>.<key, base64url>`` (KV keys allow few characters)."""
    if not kind or not _KIND.issuperset(kind):
        raise ValueError(f"a resource kind must be letters, digits, '-' or '_', got {kind!r}")
    return f"{kind}.{_b64(key)}"


def parse_resource_key(token: str) -> tuple[str, str] | None:
    """(kind, key) of a bucket key made by :func:`resource_key` (None for anything else)."""
    kind, _, encoded = token.partition(".")
    if not encoded:
        return None
    try:
        return kind, _unb64(encoded)
    except (ValueError, UnicodeDecodeError):
        return None


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).rstrip(b"=").decode() or "="


def _unb64(token: str) -> str:
    if token == "=":
        return ""
    return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()


def rfc3339(epoch: float) -> str:
    """A UTC time as JetStream's schedules want it (``2025-01-01T00:00:00.123Z``)."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# -- events --------------------------------------------------------------------------


def encode_event(event: NewEvent) -> bytes:
    meta: dict[str, Any] = {"i": event.event_id, "b": event.bus, "t": event.time, "a": event.ingested_at}
    if event.trace_header is not None:
        meta["th"] = event.trace_header
    if event.hops:
        meta["h"] = event.hops
    if event.budget is not None:
        meta["bg"] = event.budget
    if event.rules is not None:
        meta["r"] = event.rules
    if event.direct:
        meta["dr"] = 1
    return orjson.dumps(meta) + b"\n" + event.envelope


def decode_event(seq: int, data: bytes) -> StoredEvent:
    head, _, envelope = data.partition(b"\n")
    meta = orjson.loads(head)
    return StoredEvent(
        seq=seq,
        event_id=meta["i"],
        bus=meta["b"],
        envelope=envelope,
        time=meta["t"],
        ingested_at=meta["a"],
        trace_header=meta.get("th"),
        hops=meta.get("h", 0),
        budget=meta.get("bg"),
        rules=tuple(meta["r"]) if "r" in meta else None,
        direct=bool(meta.get("dr")),
    )


# -- deliveries ----------------------------------------------------------------------


def encode_delivery(
    delivery: NewDelivery | StoredDelivery,
    *,
    delivery_id: int | None = None,
    attempts: int = 0,
    due_at: float = 0.0,
    error_code: str | None = None,
    error_message: str | None = None,
) -> bytes:
    """A delivery as a message; *delivery_id* None: its id becomes the stream sequence of
    this, its first, message (retries and redrives carry it on)."""
    meta: dict[str, Any] = {
        "e": delivery.event_id,
        "b": delivery.bus,
        "rn": delivery.rule_name,
        "ra": delivery.rule_arn,
        "t": delivery.target,
        "ia": delivery.ingested_at,
        "n": len(delivery.envelope),
    }
    if delivery_id is not None:
        meta["id"] = delivery_id
    if delivery.trace_header is not None:
        meta["th"] = delivery.trace_header
    if delivery.hops:
        meta["h"] = delivery.hops
    if attempts:
        meta["at"] = attempts
    if due_at:
        meta["d"] = due_at
    if error_code is not None:
        meta["ec"] = error_code
    if error_message is not None:
        meta["em"] = error_message
    if delivery.shaping_error is not None:
        meta["se"] = delivery.shaping_error
    if delivery.budget:
        meta["bg"] = delivery.budget
    if delivery.payload is None:
        return orjson.dumps(meta) + b"\n" + delivery.envelope
    meta["p"] = 1
    return orjson.dumps(meta) + b"\n" + delivery.envelope + delivery.payload


def decode_delivery(seq: int, data: bytes, state: str = "pending", stored_at: float = 0.0) -> StoredDelivery:
    """A delivery read from a message with stream sequence *seq* (its id unless it carries
    one); *stored_at* stands in for a due time it does not carry."""
    head, _, body = data.partition(b"\n")
    meta = orjson.loads(head)
    size = meta["n"]
    return StoredDelivery(
        id=meta.get("id", seq),
        event_id=meta["e"],
        bus=meta["b"],
        rule_name=meta["rn"],
        rule_arn=meta["ra"],
        target=meta["t"],
        envelope=body[:size],
        payload=body[size:] if meta.get("p") else None,
        trace_header=meta.get("th"),
        ingested_at=meta["ia"],
        hops=meta.get("h", 0),
        attempts=meta.get("at", 0),
        due_at=meta.get("d", stored_at),
        state=state,
        error_code=meta.get("ec"),
        error_message=meta.get("em"),
        shaping_error=meta.get("se"),
        budget=meta.get("bg", 0),
    )
