"""End-to-end delivery: PutEvents -> rule -> API destination -> a local HTTP target.

    .venv/bin/python benchmarks/deliver.py [--seconds 10] [--steps 1000 2000 4000 ...]
        [--store embedded cluster cluster-2-nodes] [--no-moto]

Runs busbar and moto's server (with MOTO_EVENTS_INVOKE_HTTP, so it really calls
API destinations) side by side on this machine, each with one rule whose target
is an API destination pointing at a fast local HTTP sink (a separate process).

1. Latency: events are put at a steady 1,000 events/s (batches of 10); for each
   event, the time from the start of its PutEvents call to its arrival at the
   sink; p50/p99/max.
2. Throughput: offered rates step up; a step is sustained when every event of it
   has arrived within 1 s after the step ends (no backlog growth).  The highest
   sustained step is reported.

busbar commits every event and every delivery durably before it acknowledges
or sends; moto keeps everything in memory and calls the target inside PutEvents,
without the event (its request has no body) and without auth or retries.  So
for moto an event counts as delivered by the number of requests the sink got,
and its latency is bounded by the PutEvents call that made the request.

``--store`` measures busbar on its embedded store (the default), as one node on a
3-server NATS JetStream cluster (``cluster``), or as two nodes on it (``cluster-2-nodes``:
PutEvents spread over both, deliveries made by both), side by side in one run.

3. SQS (``--aws-targets``): busbar delivers to a queue of moto's server through
   aiobotocore (``AWS_ENDPOINT_URL``).  Latency at a steady ``--sqs-rate`` events/s,
   from the start of the PutEvents call to the message's receipt by two receivers
   polling the queue (an upper bound: it includes the polling); then throughput
   steps, a step being sustained when the queue holds every event of it within
   1 s after the step ends.  moto's SQS is the other end of every call, so these
   figures measure busbar and moto together.  ``--skip-api-destinations`` runs
   only this part.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import boto3  # noqa: E402
import httpx  # noqa: E402
from botocore.config import Config  # noqa: E402

from _harness import (  # noqa: E402
    STORES,
    Deployment,
    ServerProcess,
    cpu_seconds,
    free_port,
    progress,
    read_response,
    request_bytes,
    start_busbar,
    start_moto,
    start_store,
)

SOURCE = "bench.deliver"


@dataclass
class Step:
    offered: int
    sent: int
    delivered_in_time: int
    sustained: bool
    delivered_per_second: float  # events that arrived in time, per second of the step


def start_sink() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, os.path.join(os.path.dirname(__file__), "_sink.py"), str(port)])
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            httpx.post(url + "/reset", timeout=1)
            return proc, url
        except httpx.HTTPError:
            time.sleep(0.05)
    raise RuntimeError("sink did not start")


def client_of(url: str, service: str = "events", **config: Any) -> Any:
    """A boto3 client of a local server (busbar, moto)."""
    return boto3.client(
        service,
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(**{"retries": {"total_max_attempts": 1}, **config}),
    )


def configure(server: ServerProcess | Deployment, sink: str) -> None:
    """One rule on the default bus, targeting an API destination at the sink."""
    client = client_of(server.url)
    connection = client.create_connection(
        Name="bench",
        AuthorizationType="API_KEY",
        AuthParameters={"ApiKeyAuthParameters": {"ApiKeyName": "x-api-key", "ApiKeyValue": "k"}},
    )["ConnectionArn"]
    destination = client.create_api_destination(
        Name="sink",
        ConnectionArn=connection,
        InvocationEndpoint=sink + "/events",
        HttpMethod="POST",
        InvocationRateLimitPerSecond=100_000,
    )["ApiDestinationArn"]
    client.put_rule(Name="to-sink", EventPattern=json.dumps({"source": [SOURCE]}))
    client.put_targets(Rule="to-sink", Targets=[{"Id": "sink", "Arn": destination}])


def body(batch: int) -> bytes:
    entries = [
        {
            "Source": SOURCE,
            "DetailType": "Tick",
            "Detail": json.dumps({"batch": batch, "n": n, "payload": {"customer": batch % 97, "total": 9.5}}),
        }
        for n in range(10)
    ]
    return json.dumps({"Entries": entries}).encode()


async def _paced(
    ports: list[int], rate: int, seconds: float, connections: int = 32
) -> tuple[dict[str, float], dict[str, float]]:
    """Send batches of 10 at *rate* events/s, the connections spread over *ports*; return
    {event id: send start} and {event id: time its PutEvents call was answered}."""
    requests = [request_bytes(ports[0], "AWSEvents.PutEvents", body(i)) for i in range(256)]
    interval = 10 / rate
    total = int(rate * seconds / 10)
    queue: asyncio.Queue[int | None] = asyncio.Queue()
    sent: dict[str, float] = {}
    answered: dict[str, float] = {}

    async def connection(port: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        while True:
            index = await queue.get()
            if index is None:
                writer.close()
                return
            started = time.time()
            writer.write(requests[index % len(requests)])
            _, raw, close = await read_response(reader)
            answer = json.loads(raw)
            done = time.time()
            for entry in answer.get("Entries", []):
                if "EventId" in entry:
                    sent[entry["EventId"]] = started
                    answered[entry["EventId"]] = done
            if close:
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)

    workers = [asyncio.create_task(connection(ports[n % len(ports)])) for n in range(connections)]
    start = time.perf_counter()
    for i in range(total):
        delay = start + i * interval - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        queue.put_nowait(i)
    for _ in workers:
        queue.put_nowait(None)
    await asyncio.gather(*workers)
    return sent, answered


def paced(port: int | list[int], rate: int, seconds: float) -> tuple[dict[str, float], dict[str, float]]:
    # Few connections at low rates: a connection idle for longer than the server's
    # keep-alive timeout (5 s) would be closed under the load generator.
    ports = port if isinstance(port, list) else [port]
    connections = min(32, max(len(ports), rate // 25))
    return asyncio.run(_paced(ports, rate, seconds, connections=connections))


def arrivals(sink: str, sent: dict[str, float], answered: dict[str, float]) -> dict[str, float]:
    """{event id: arrival time at the sink}.  Requests without an event (moto's)
    are matched to the sent events in the order their PutEvents calls were answered."""
    received = httpx.get(sink + "/stats", timeout=30).json()["received"]
    got = {event_id: at for event_id, at in received if event_id}
    anonymous = sorted(at for event_id, at in received if not event_id)
    if anonymous:
        for event_id, _ in zip(sorted(answered, key=answered.__getitem__), anonymous, strict=False):
            got[event_id] = answered[event_id]  # delivered at the latest when its call returned
    return got


def wait_for(sink: str, sent: dict[str, float], answered: dict[str, float], deadline: float) -> dict[str, float]:
    got = arrivals(sink, sent, answered)
    while time.time() < deadline and not sent.keys() <= got.keys():
        time.sleep(0.1)
        got = arrivals(sink, sent, answered)
    return got


def latency_run(server: ServerProcess | Deployment, sink: str, seconds: float) -> tuple[list[float], int, int]:
    httpx.post(sink + "/reset")
    sent, answered = paced(ports_of(server), 1000, seconds)
    got = wait_for(sink, sent, answered, time.time() + 30)
    latencies = sorted((got[i] - t) * 1000 for i, t in sent.items() if i in got)
    return latencies, len(sent), len(latencies)


class Arrivals(Protocol):
    """Where a throughput step counts the events that arrived."""

    def begin(self) -> None:
        """Forget (or set aside) what earlier steps delivered."""

    def in_time(self, sent: dict[str, float], answered: dict[str, float], ended: float) -> int:
        """How many of *sent* arrived by 1 s after *ended* (waiting until then at most)."""

    def drain(self, sent: dict[str, float], answered: dict[str, float]) -> None:
        """Let the tail of a step arrive before the next one."""


class SinkArrivals:
    """Events that reached the HTTP sink."""

    def __init__(self, sink: str) -> None:
        self.sink = sink

    def begin(self) -> None:
        httpx.post(self.sink + "/reset")

    def in_time(self, sent: dict[str, float], answered: dict[str, float], ended: float) -> int:
        got = wait_for(self.sink, sent, answered, ended + 1.0)
        return sum(1 for i in sent if i in got and got[i] <= ended + 1.0)

    def drain(self, sent: dict[str, float], answered: dict[str, float]) -> None:
        wait_for(self.sink, sent, answered, time.time() + 10)


def ports_of(server: ServerProcess | Deployment) -> list[int]:
    return server.ports if isinstance(server, Deployment) else [server.port]


def throughput_run(port: int | list[int], arrivals: Arrivals, steps: list[int], seconds: float) -> list[Step]:
    """Offer each rate for *seconds*; stop at the first step not sustained."""
    results = []
    for rate in steps:
        arrivals.begin()
        progress(f"    offering {rate:,} events/s for {seconds:g} s ...")
        begun = time.time()
        sent, answered = paced(port, rate, seconds)
        ended = time.time()
        in_time = arrivals.in_time(sent, answered, ended)
        achieved = len(sent) / max(ended - begun, 1e-9)
        sustained = in_time == len(sent) and achieved >= rate * 0.9
        results.append(Step(rate, len(sent), in_time, sustained, in_time / max(ended - begun, 1e-9)))
        progress(
            f"    sent {len(sent):,} ({achieved:,.0f}/s), delivered in time {in_time:,}: "
            f"{'sustained' if sustained else 'NOT sustained'}"
        )
        if not sustained:
            break
        arrivals.drain(sent, answered)
    return results


def pct(values: list[float], p: float) -> float:
    return values[min(len(values) - 1, int(len(values) * p / 100))] if values else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds of the latency run and of each step")
    parser.add_argument(
        "--steps",
        type=int,
        nargs="+",
        default=[1000, 2000, 3000, 4000, 5000, 6000, 8000, 10000],
        help="offered rates (events/s) of the throughput run",
    )
    parser.add_argument("--sqs-rate", type=int, default=50, help="events/s of the SQS latency run")
    parser.add_argument(
        "--sqs-steps",
        type=int,
        nargs="+",
        default=[25, 50, 75, 100, 150, 200, 300],
        help="offered rates (events/s) of the SQS throughput run",
    )
    parser.add_argument(
        "--store", nargs="+", choices=list(STORES), default=["embedded"], help="busbar deployments to measure, in turn"
    )
    parser.add_argument("--no-moto", action="store_true", help="measure busbar only")
    parser.add_argument("--skip-api-destinations", action="store_true", help="run only the SQS part")
    parser.add_argument("--skip-sqs", action="store_true", help="run only the API destination part")
    parser.add_argument(
        "--metrics-compare",
        type=int,
        default=0,
        metavar="ROUNDS",
        help="instead of the rest: the API destination runs of busbar alone with --metrics off, then on, ROUNDS "
        "times in turn; prints every run and the medians (what counting the metrics costs)",
    )
    args = parser.parse_args()
    if args.metrics_compare:
        metrics_compare(args)
        return 0
    if not args.skip_api_destinations:
        api_destinations(args)
    if not args.skip_sqs:
        sqs_run(args)
    return 0


def api_destinations(args: argparse.Namespace) -> None:
    sink_proc, sink = start_sink()
    starters: list[tuple[str, Callable[[], ServerProcess | Deployment]]] = [
        (f"busbar ({store})", lambda store=store: start_store(store)) for store in args.store
    ]
    if not args.no_moto:
        starters.append(("moto_server", start_moto))
    rows = []
    try:
        for name, start in starters:
            if name == "moto_server":
                os.environ["MOTO_EVENTS_INVOKE_HTTP"] = "true"
            progress(f"starting {name} ...")
            server = start()
            try:
                configure(server, sink)
                progress(f"  {name}: latency at 1,000 events/s for {args.seconds:g} s ...")
                latencies, sent, delivered = latency_run(server, sink, args.seconds)
                progress(f"  {name}: throughput steps ...")
                steps = throughput_run(ports_of(server), SinkArrivals(sink), args.steps, args.seconds / 2)
                best = max((s.offered for s in steps if s.sustained), default=0)
                peak = max((s.delivered_per_second for s in steps), default=0.0)
                rows.append(
                    (
                        name,
                        sent,
                        delivered,
                        pct(latencies, 50),
                        pct(latencies, 99),
                        latencies[-1] if latencies else float("nan"),
                        best,
                        peak,
                    )
                )
            finally:
                server.stop()
    finally:
        sink_proc.terminate()
        sink_proc.wait(10)

    print(
        f"\nEnd-to-end delivery to a local HTTP API destination, {os.cpu_count()} CPUs shared by server, sink "
        f"and load generator; latency at a steady 1,000 events/s for {args.seconds:g} s\n"
    )
    print("| server | events put | delivered | p50 ms | p99 ms | max ms | highest sustained step | peak delivered/s |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, sent, delivered, p50, p99, worst, best, peak in rows:
        print(f"| {name} | {sent:,} | {delivered:,} | {p50:.1f} | {p99:.1f} | {worst:.1f} | {best:,} | {peak:,.0f} |")
    busbar_peak = next((row[7] for row in rows if row[0].startswith("busbar")), 0.0)
    moto_peak = next((row[7] for row in rows if row[0] == "moto_server"), 0.0)
    if busbar_peak and moto_peak:
        print(f"\nbusbar ({args.store[0]}) / moto, peak deliveries per second: {busbar_peak / moto_peak:.0f}x")


def metrics_compare(args: argparse.Namespace) -> None:
    """busbar with metrics off and on, in turn: latency at 1,000 events/s, the server's CPU per
    event then, and peak deliveries."""
    sink_proc, sink = start_sink()
    rows: list[tuple[str, float, float, float, float]] = []  # metrics, p50, p99, peak/s, CPU µs per event
    try:
        for round_number in range(args.metrics_compare):
            for metrics in ("off", "on"):
                progress(f"round {round_number + 1}: busbar --metrics {metrics} ...")
                server = start_busbar("--metrics", metrics)
                try:
                    configure(server, sink)
                    cpu = cpu_seconds(server.proc)
                    latencies, _, delivered = latency_run(server, sink, args.seconds)
                    per_event = (cpu_seconds(server.proc) - cpu) / max(delivered, 1) * 1e6
                    steps = throughput_run(server.port, SinkArrivals(sink), args.steps, args.seconds / 2)
                    peak = max((s.delivered_per_second for s in steps), default=0.0)
                    rows.append((metrics, pct(latencies, 50), pct(latencies, 99), peak, per_event))
                    progress(f"  p50 {pct(latencies, 50):.1f} ms, {per_event:.0f} CPU us/event, peak {peak:,.0f}/s")
                finally:
                    server.stop()
    finally:
        sink_proc.terminate()
        sink_proc.wait(10)
    print(f"\nDelivery to a local API destination, busbar --metrics off vs on, {args.metrics_compare} rounds in turn")
    print("(CPU: the server's, per event put and delivered, during the latency run at 1,000 events/s)\n")
    print("| metrics | p50 ms per run | p99 ms per run | CPU µs per event, per run | peak delivered/s per run |")
    print("|---|---|---|---|---|")
    for metrics in ("off", "on"):
        mine = [row for row in rows if row[0] == metrics]
        p50s = ", ".join(f"{row[1]:.1f}" for row in mine)
        p99s = ", ".join(f"{row[2]:.1f}" for row in mine)
        costs = ", ".join(f"{row[4]:.0f}" for row in mine)
        peaks = ", ".join(f"{row[3]:,.0f}" for row in mine)
        print(f"| {metrics} | {p50s} | {p99s} | {costs} | {peaks} |")
    for column, title in ((1, "p50 latency"), (4, "CPU per event"), (3, "peak deliveries/s")):
        on = statistics.median(row[column] for row in rows if row[0] == "on")
        off = statistics.median(row[column] for row in rows if row[0] == "off")
        print(f"{title}, on / off (medians): {on / off:.3f}")


def configure_sqs(server: ServerProcess, queue_arn: str) -> None:
    """One rule on the default bus, targeting the SQS queue."""
    client = client_of(server.url)
    client.put_rule(Name="to-sqs", EventPattern=json.dumps({"source": [SOURCE]}))
    client.put_targets(Rule="to-sqs", Targets=[{"Id": "queue", "Arn": queue_arn}])


class Receiver:
    """Receives (and deletes) messages from a queue on threads; records when each
    event id arrived."""

    def __init__(self, sqs: Any, url: str, threads: int = 2) -> None:
        self.arrived: dict[str, float] = {}
        self._sqs, self._url = sqs, url
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]
        for thread in self._threads:
            thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            got = self._sqs.receive_message(QueueUrl=self._url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
            messages = got.get("Messages", [])
            now = time.time()
            for message in messages:
                self.arrived.setdefault(json.loads(message["Body"])["id"], now)
            if messages:
                self._sqs.delete_message_batch(
                    QueueUrl=self._url,
                    Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
                )

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(5)


class QueueArrivals:
    """Messages added to the queue (moto allows one PurgeQueue a minute, so each step
    counts from what the queue held before it)."""

    def __init__(self, sqs: Any, url: str) -> None:
        self.sqs, self.url = sqs, url
        self.before = 0

    def queued(self) -> int:
        attributes = self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["ApproximateNumberOfMessages"])
        return int(attributes["Attributes"]["ApproximateNumberOfMessages"]) - self.before

    def begin(self) -> None:
        self.before = 0
        self.before = self.queued()

    def in_time(self, sent: dict[str, float], answered: dict[str, float], ended: float) -> int:
        while time.time() < ended + 1.0 and self.queued() < len(sent):
            time.sleep(0.05)
        return min(self.queued(), len(sent))

    def drain(self, sent: dict[str, float], answered: dict[str, float]) -> None:
        until = time.time() + 30
        while time.time() < until and self.queued() < len(sent):
            time.sleep(0.2)


def direct_ceiling(sqs: Any, url: str, seconds: float, threads: int = 8) -> float:
    """SendMessage calls per second moto's server takes from boto3 itself (*threads*
    threads, no busbar): the ceiling of any sender to this SQS."""
    body = json.dumps({"n": 0, "payload": "x" * 300})
    sent = [0] * threads
    until = time.time() + seconds

    def send(index: int) -> None:
        while time.time() < until:
            sqs.send_message(QueueUrl=url, MessageBody=body)
            sent[index] += 1

    workers = [threading.Thread(target=send, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    sqs.purge_queue(QueueUrl=url)
    return sum(sent) / seconds


def sqs_run(args: argparse.Namespace) -> None:
    progress("starting moto_server (SQS) ...")
    moto = start_moto()
    sqs = client_of(moto.url, "sqs", retries={"total_max_attempts": 3}, max_pool_connections=16)
    url = sqs.create_queue(QueueName="bench")["QueueUrl"]
    progress("  moto's own ceiling: boto3 SendMessage from 8 threads ...")
    ceiling = direct_ceiling(sqs, url, args.seconds / 2)
    queue_arn = "arn:aws:sqs:us-east-1:123456789012:bench"
    workdir = moto.workdir
    env = {
        "AWS_ENDPOINT_URL": moto.url,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_CONFIG_FILE": str(workdir / "no-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(workdir / "no-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    progress("starting busbar --aws-targets ...")
    server = start_busbar("--aws-targets", env=env)
    try:
        configure_sqs(server, queue_arn)
        progress(f"  latency at {args.sqs_rate:,} events/s for {args.seconds:g} s ...")
        receiver = Receiver(sqs, url)
        sent, _ = paced(server.port, args.sqs_rate, args.seconds)
        deadline = time.time() + 60
        while time.time() < deadline and not sent.keys() <= receiver.arrived.keys():
            time.sleep(0.2)
        receiver.stop()
        latencies = sorted((receiver.arrived[i] - t) * 1000 for i, t in sent.items() if i in receiver.arrived)
        steps = throughput_run(server.port, QueueArrivals(sqs, url), args.sqs_steps, args.seconds / 2)
    finally:
        server.stop()
        moto.stop()
    best = max((s.offered for s in steps if s.sustained), default=0)
    peak = max((s.delivered_per_second for s in steps), default=0.0)
    print(
        f"\nbusbar --aws-targets -> moto_server's SQS (SendMessage), {os.cpu_count()} CPUs shared by busbar, moto, "
        f"receivers and load generator; latency at a steady {args.sqs_rate:,} events/s for {args.seconds:g} s\n"
    )
    print(
        "| events put | received | p50 ms | p99 ms | max ms | highest sustained step | peak delivered/s "
        "| moto's ceiling (boto3, 8 threads) |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    print(
        f"| {len(sent):,} | {len(latencies):,} | {pct(latencies, 50):.1f} | {pct(latencies, 99):.1f} | "
        f"{latencies[-1] if latencies else float('nan'):.1f} | {best:,} | {peak:,.0f} | {ceiling:,.0f}/s |"
    )


if __name__ == "__main__":
    raise SystemExit(main())
