"""Declaring busbar's streams, buckets and consumers, and refusing to start when JetStream
cannot hold them.

Every node declares everything at start: declarations are idempotent (two nodes
starting together both succeed, docs/nats-notes.md §6); a stream whose configuration
changed (a newer busbar, another ``--nats-replicas``) is updated in place; consumers are
created or updated.  Right after a concurrent create a stream may answer "no
responders" for a moment: the calls are retried.

busbar refuses to start, saying what to change, when JetStream is off on the server
(``ServiceUnavailableError`` without a code: nats-py says nothing more) or when the
replicas cannot be placed (10074 on a single server, 10005 with too few servers).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DiscardPolicy,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.errors import APIError, ServiceUnavailableError

from busbar.store.base import CannotStart
from busbar.store.nats.codec import Names
from busbar.store.nats.connection import START_DEADLINE, NatsOptions, describe, retrying, transient
from busbar.store.nats.log import ROUTER
from busbar.store.nats.nodes import TTL

DUPLICATE_WINDOW = 120.0
STREAM_IN_USE = 10058  # "stream name already in use with a different configuration"
REPLICAS_NOT_CLUSTERED = 10074  # "replicas > 1 not supported in non-clustered mode"
NO_PEERS = 10005  # "no suitable peers for placement"
# The router's events leased at once, over every node.
ROUTER_WINDOW = 20_000
# Consumers of the deliveries stream (one per lane): JetStream's default is 1,000.
MAX_CONSUMERS = 100_000
# How long a server answering "JetStream unavailable" is given before busbar says it is off.
JETSTREAM_OFF_GRACE = 3.0
# How long a refusal to place the replicas is retried before busbar says so.
PLACEMENT_GRACE = 10.0


def streams(names: Names, replicas: int) -> list[StreamConfig]:
    """Every stream busbar keeps (its key-value buckets included)."""
    common: dict[str, Any] = {
        "num_replicas": replicas,
        "storage": StorageType.FILE,
        "allow_direct": True,
    }
    return [
        StreamConfig(
            name=names.events,
            subjects=[names.event_subject],
            retention=RetentionPolicy.LIMITS,
            duplicate_window=DUPLICATE_WINDOW,
            **common,
        ),
        StreamConfig(
            name=names.deliveries,
            subjects=[names.lane_subjects, names.retry_subjects],
            retention=RetentionPolicy.WORK_QUEUE,
            duplicate_window=DUPLICATE_WINDOW,
            allow_msg_schedules=True,
            max_consumers=MAX_CONSUMERS,
            **common,
        ),
        StreamConfig(
            name=names.dead,
            subjects=[names.dead_subjects],
            retention=RetentionPolicy.LIMITS,
            max_msgs_per_subject=1,
            duplicate_window=DUPLICATE_WINDOW,
            **common,
        ),
        StreamConfig(
            name=names.logs,
            subjects=[names.log_subjects],
            retention=RetentionPolicy.LIMITS,
            duplicate_window=DUPLICATE_WINDOW,
            **common,
        ),
        StreamConfig(
            name=names.archives,
            subjects=[names.all_archive_subjects],
            retention=RetentionPolicy.LIMITS,
            duplicate_window=DUPLICATE_WINDOW,
            **common,
        ),
        _bucket(names.resources, common),
        _bucket(names.nodes, common, max_age=TTL),
    ]


def _bucket(name: str, common: dict[str, Any], max_age: float | None = None) -> StreamConfig:
    """A key-value bucket's stream, as nats-py's ``create_key_value`` makes it (one value
    per key), declared like the other streams so that it is updated the same way."""
    return StreamConfig(
        name=f"KV_{name}",
        subjects=[f"$KV.{name}.>"],
        retention=RetentionPolicy.LIMITS,
        max_msgs_per_subject=1,
        discard=DiscardPolicy.NEW,
        allow_rollup_hdrs=True,
        deny_delete=True,
        max_age=max_age,
        duplicate_window=min(DUPLICATE_WINDOW, max_age) if max_age else DUPLICATE_WINDOW,
        **common,
    )


def router_consumer(ack_wait: float, replicas: int) -> ConsumerConfig:
    return ConsumerConfig(
        durable_name=ROUTER,
        ack_policy=AckPolicy.EXPLICIT,
        ack_wait=ack_wait,
        max_ack_pending=ROUTER_WINDOW,
        max_deliver=-1,
        num_replicas=replicas,
    )


async def declare(js: JetStreamContext, options: NatsOptions) -> None:
    """Create or update everything busbar needs; CannotStart when JetStream cannot."""
    names = Names(options.prefix)
    deadline = time.monotonic() + START_DEADLINE
    await _refusing(lambda: _account(js), options)
    for config in streams(names, options.replicas):
        await _refusing(partial(_stream, js, config, deadline), options)
    router = router_consumer(options.ack_wait, options.replicas)
    await _refusing(
        lambda: _placing(lambda: retrying(lambda: js.add_consumer(names.events, router), deadline)), options
    )


async def _account(js: JetStreamContext) -> None:
    """Ask for the account's JetStream usage: the first call, which fails when JetStream is
    off (a 503 without a code; allowed a few seconds, as a cluster just started answers so
    until it has a leader)."""
    grace = time.monotonic() + JETSTREAM_OFF_GRACE
    deadline = time.monotonic() + START_DEADLINE
    while True:
        try:
            await js.account_info()
            return
        except ServiceUnavailableError:
            if time.monotonic() > grace:
                raise
        except Exception as error:
            if not transient(error) or time.monotonic() > deadline:
                raise
        await asyncio.sleep(0.2)


async def _stream(js: JetStreamContext, config: StreamConfig, deadline: float) -> None:
    async def declare() -> None:
        try:
            await js.add_stream(config)
        except APIError as error:
            if error.err_code != STREAM_IN_USE:
                raise
            await js.update_stream(config)

    await _placing(lambda: retrying(declare, deadline))


async def _placing(call: Callable[[], Awaitable[Any]]) -> Any:
    """Run *call*, retrying a placement refusal for a few seconds: a cluster that just
    started may count a member offline a moment longer ("no suitable peers, peer offline")."""
    grace = time.monotonic() + PLACEMENT_GRACE
    while True:
        try:
            return await call()
        except APIError as error:
            if error.err_code != NO_PEERS or time.monotonic() > grace:
                raise
        await asyncio.sleep(0.25)


async def _refusing(call: Callable[[], Awaitable[Any]], options: NatsOptions) -> Any:
    """Run a declaration; turn JetStream's refusals into messages that say what to change."""
    try:
        return await call()
    except ServiceUnavailableError as error:
        if error.err_code is None:
            raise CannotStart(
                f"JetStream is not enabled on the NATS server at {options.shown}: start nats-server with "
                "-js (--jetstream), or enable JetStream in its configuration"
            ) from None
        raise CannotStart(f"JetStream refused busbar's setup: {describe(error)}") from None
    except APIError as error:
        if error.err_code in (REPLICAS_NOT_CLUSTERED, NO_PEERS):
            raise CannotStart(
                f"JetStream cannot keep {options.replicas} replicas ({error.description}): give "
                "--nats-replicas at most the number of JetStream servers in the cluster (1 for a single server)"
            ) from None
        raise CannotStart(f"JetStream refused busbar's setup: {describe(error)}") from None
    except TimeoutError as error:
        raise CannotStart(
            f"JetStream at {options.shown} did not answer busbar's setup ({describe(error)}): is a majority "
            "of the cluster up?"
        ) from None
