"""busbar's pull from a JetStream consumer (busbar.store.nats.connection.Puller), on a real
nats-server: a message that comes while a pull waits is handed over then, not when the
pull's wait ends, and whatever the consumer holds — new messages and redeliveries alike —
comes in one pull."""

from __future__ import annotations

import asyncio
import uuid

import nats
from nats.js.api import AckPolicy, ConsumerConfig
from test_store_conformance import LANE, delivery

from busbar.store.nats import NatsOptions, NatsStore
from busbar.store.nats.codec import consumer_of
from busbar.store.nats.connection import Puller

from nats_support import drop_streams
from natsserver import NatsServer

# A pull waits this long for its first message; every answer below must come far sooner
# (a bound that only a pull waiting out its whole wait can break, not a timing claim).
WAIT = 60.0
BOUND = 30.0


def test_a_pull_hands_over_at_once_what_comes_and_what_is_there(nats_server: NatsServer) -> None:
    async def main() -> None:
        nc = await nats.connect(nats_server.url)
        js = nc.jetstream()
        stream = f"PULL{uuid.uuid4().hex[:8]}"
        await js.add_stream(name=stream, subjects=[f"{stream}.>"])
        await js.add_consumer(stream, ConsumerConfig(durable_name="c", ack_policy=AckPolicy.EXPLICIT, ack_wait=120))
        puller = await Puller(nc, stream, "c").start()
        try:
            # Nothing there: the pull waits, and a message published meanwhile ends the wait.
            waiting = asyncio.create_task(puller.pull(100, WAIT))
            await asyncio.sleep(0.2)
            await js.publish(f"{stream}.a", b"late")
            late = await asyncio.wait_for(waiting, BOUND)
            assert [m.data for m in late] == [b"late"]
            await late[0].ack()

            # Five there: one pull takes all of them.
            for n in range(5):
                await js.publish(f"{stream}.a", str(n).encode())
            five = await asyncio.wait_for(puller.pull(100, WAIT), BOUND)
            assert [m.data for m in five] == [b"0", b"1", b"2", b"3", b"4"]

            # Given back (as a node's leases are when it stops or its leases expire): the
            # five are redeliveries now, which the consumer does not count as pending, and one
            # pull takes all of them again.
            for msg in five:
                await msg.nak()
            again = await asyncio.wait_for(puller.pull(100, WAIT), BOUND)
            assert sorted(m.data for m in again) == [b"0", b"1", b"2", b"3", b"4"]
            assert all(m.metadata.num_delivered == 2 for m in again)

            # At most the limit; the rest comes with the next pull.
            for msg in again:
                await msg.nak()
            assert len(await asyncio.wait_for(puller.pull(2, WAIT), BOUND)) == 2
            assert len(await asyncio.wait_for(puller.pull(100, WAIT), BOUND)) == 3
        finally:
            await puller.unsubscribe()
            await js.delete_stream(stream)
            await nc.close()

    asyncio.run(main())


def test_a_lane_whose_consumer_was_deleted_is_taken_from_again(nats_server: NatsServer) -> None:
    """JetStream deletes a lane's consumer nobody pulled from for an hour (a target gone
    quiet); a delivery recorded for that target later must still be taken."""
    options = NatsOptions(servers=(nats_server.url,), replicas=1, prefix=f"p{uuid.uuid4().hex[:12]}")

    async def main() -> list[int]:
        store = NatsStore(options)
        await store.start()
        try:
            [first] = await store.record_deliveries([delivery(1)], [])
            await store.release([first])
            assert [d.id for d in await store.take(LANE, 10)] == [first]
            await store.finish_deliveries([first])
            nc = await nats.connect(nats_server.url)
            await nc.jetstream().delete_consumer(store.names.deliveries, consumer_of(LANE))
            await nc.close()
            [second] = await store.record_deliveries([delivery(2)], [])
            await store.release([second])
            found: list[int] = []
            for _ in range(3):  # the first take finds nobody answering, and lets the consumer go
                found += [d.id for d in await store.take(LANE, 10)]
                if found:
                    break
            assert found == [second]
            return found
        finally:
            await store.close()

    try:
        asyncio.run(main())
    finally:
        drop_streams(options)
