"""Stream facts: de-duplication by Nats-Msg-Id, PubAck fields, concurrent publishing from nats-py,
and what a publish does when an R3 stream has lost its quorum."""

from __future__ import annotations

import asyncio

import nats
import pytest
from nats.js.api import StreamConfig
from nats.js.errors import APIError, NoStreamResponseError

from natsserver import NatsCluster, NatsServer, until_available


def test_msg_id_deduplicates_within_the_window(nats_server: NatsServer) -> None:
    async def scenario() -> None:
        nc = await nats.connect(nats_server.url)
        js = nc.jetstream()
        await js.add_stream(StreamConfig(name="DEDUP", subjects=["dedup.>"], duplicate_window=1.0))
        first = await js.publish("dedup.a", b"event", headers={"Nats-Msg-Id": "evt-1"})
        # PubAck: stream, seq; duplicate is None (absent), not False, on a first publish.
        assert (first.stream, first.seq, first.duplicate) == ("DEDUP", 1, None)
        again = await js.publish("dedup.a", b"event, sent again", headers={"Nats-Msg-Id": "evt-1"})
        # The duplicate is acknowledged with the ORIGINAL sequence and duplicate=True; not stored.
        assert (again.seq, again.duplicate) == (1, True)
        # The id is per stream, not per subject.
        other_subject = await js.publish("dedup.b", b"x", headers={"Nats-Msg-Id": "evt-1"})
        assert (other_subject.seq, other_subject.duplicate) == (1, True)
        assert (await js.stream_info("DEDUP")).state.messages == 1
        # After the window the same id is a new message.
        await asyncio.sleep(2.5)
        late = await js.publish("dedup.a", b"late", headers={"Nats-Msg-Id": "evt-1"})
        assert (late.seq, late.duplicate) == (2, None)
        await nc.close()

    asyncio.run(scenario())


def test_default_duplicate_window_is_two_minutes(nats_server: NatsServer) -> None:
    async def scenario() -> float:
        nc = await nats.connect(nats_server.url)
        info = await nc.jetstream().add_stream(StreamConfig(name="DEFAULTS", subjects=["defaults"]))
        await nc.close()
        return info.config.duplicate_window

    assert asyncio.run(scenario()) == 120.0


def test_concurrent_publishes_each_get_their_own_sequence(nats_server: NatsServer) -> None:
    """asyncio.gather over js.publish and js.publish_async (2.16 has it: a future per message,
    at most publish_async_max_pending=4000 in flight) both pipeline over one connection."""

    async def scenario() -> None:
        nc = await nats.connect(nats_server.url)
        js = nc.jetstream()
        await js.add_stream(StreamConfig(name="PIPE", subjects=["pipe"]))
        gathered = await asyncio.gather(*(js.publish("pipe", str(i).encode()) for i in range(300)))
        futures = [await js.publish_async("pipe", str(i).encode()) for i in range(300)]
        await js.publish_async_completed()
        acks = gathered + [future.result() for future in futures]
        assert sorted(ack.seq for ack in acks) == list(range(1, 601))
        # publish_async keeps the order of the calls: sequences follow it.
        assert [f.result().seq for f in futures] == list(range(301, 601))
        await nc.close()

    asyncio.run(scenario())


def test_r3_publish_without_quorum_fails_and_recovers(nats_cluster_factory) -> None:  # noqa: ANN001
    cluster: NatsCluster = nats_cluster_factory()
    survivor, victims = cluster[2], [cluster[0], cluster[1]]

    async def scenario() -> None:
        # Connected to the survivor only, so that the failures seen are the stream's, not the socket's.
        nc = await nats.connect(survivor.url, dont_randomize=True, max_reconnect_attempts=-1)
        js = nc.jetstream()
        await js.add_stream(StreamConfig(name="QUORUM", subjects=["quorum"], num_replicas=3))
        await js.publish("quorum", b"1", headers={"Nats-Msg-Id": "m1"})
        for victim in victims:
            victim.kill()
        failures = []
        for _ in range(5):
            with pytest.raises((NoStreamResponseError, nats.errors.TimeoutError, APIError)) as raised:
                await js.publish("quorum", b"2", timeout=2, headers={"Nats-Msg-Id": "m2"})
            failures.append(raised.value)
            await asyncio.sleep(0.2)
        # Three outcomes, depending on what the survivor believes at the moment: a request timeout
        # (it still leads, or routes to a leader that is gone, and cannot commit), "no responders"
        # answered at once (nats-py: NoStreamResponseError) when no member serves the stream, and,
        # for a retry with the same Nats-Msg-Id while the first is stuck in the survivor's log,
        # 409 err_code 10158 "duplicate message id is in process".
        for failure in failures:
            assert not isinstance(failure, APIError) or failure.err_code == 10158, failure
        # (stream_info is not asserted: it timed out in some runs and was answered by the survivor,
        # still believing it leads the stream, in others.)
        # Bring the members back.  (With only one back, publishing resumed within 1-3 s in most
        # runs, but in about 1 run of 25 the stream found no leader for over a minute: see
        # docs/nats-notes.md.  This test asserts the recovery that must always happen.)
        for victim in victims:
            victim.restart(wait=False)
        ack = await until_available(
            lambda: js.publish("quorum", b"2", timeout=1, headers={"Nats-Msg-Id": "m2"}), attempts=600
        )
        # Stored once, whether an attempt made during the outage got committed later or not.
        assert ack.seq == 2
        # The de-duplication window survived the kills and the new election: m1 is still known.
        again = await js.publish("quorum", b"1", headers={"Nats-Msg-Id": "m1"})
        assert (again.seq, again.duplicate) == (1, True)
        await nc.close()

    asyncio.run(scenario())
