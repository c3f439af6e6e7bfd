"""End-to-end delivery: PutEvents -> rule -> API destination -> a local HTTP target.

    .venv/bin/python benchmarks/deliver.py [--seconds 10] [--steps 1000 2000 4000 ...]

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
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import boto3  # noqa: E402
import httpx  # noqa: E402
from botocore.config import Config  # noqa: E402

from _harness import (  # noqa: E402
    ServerProcess,
    free_port,
    progress,
    read_response,
    request_bytes,
    start_busbar,
    start_moto,
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


def configure(server: ServerProcess, sink: str) -> None:
    """One rule on the default bus, targeting an API destination at the sink."""
    client = boto3.client(
        "events",
        endpoint_url=server.url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"total_max_attempts": 1}),
    )
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
    port: int, rate: int, seconds: float, connections: int = 32
) -> tuple[dict[str, float], dict[str, float]]:
    """Send batches of 10 at *rate* events/s; return {event id: send start} and
    {event id: time its PutEvents call was answered}."""
    requests = [request_bytes(port, "AWSEvents.PutEvents", body(i)) for i in range(256)]
    interval = 10 / rate
    total = int(rate * seconds / 10)
    queue: asyncio.Queue[int | None] = asyncio.Queue()
    sent: dict[str, float] = {}
    answered: dict[str, float] = {}

    async def connection() -> None:
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

    workers = [asyncio.create_task(connection()) for _ in range(connections)]
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


def paced(port: int, rate: int, seconds: float) -> tuple[dict[str, float], dict[str, float]]:
    return asyncio.run(_paced(port, rate, seconds))


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


def latency_run(server: ServerProcess, sink: str, seconds: float) -> tuple[list[float], int, int]:
    httpx.post(sink + "/reset")
    sent, answered = paced(server.port, 1000, seconds)
    got = wait_for(sink, sent, answered, time.time() + 30)
    latencies = sorted((got[i] - t) * 1000 for i, t in sent.items() if i in got)
    return latencies, len(sent), len(latencies)


def throughput_run(server: ServerProcess, sink: str, steps: list[int], seconds: float) -> list[Step]:
    results = []
    for rate in steps:
        httpx.post(sink + "/reset")
        progress(f"    offering {rate:,} events/s for {seconds:g} s ...")
        begun = time.time()
        sent, answered = paced(server.port, rate, seconds)
        ended = time.time()
        got = wait_for(sink, sent, answered, ended + 1.0)
        in_time = sum(1 for i in sent if i in got and got[i] <= ended + 1.0)
        achieved = len(sent) / max(ended - begun, 1e-9)
        sustained = in_time == len(sent) and achieved >= rate * 0.9
        results.append(Step(rate, len(sent), in_time, sustained, in_time / max(ended - begun, 1e-9)))
        progress(
            f"    sent {len(sent):,} ({achieved:,.0f}/s), delivered in time {in_time:,}: "
            f"{'sustained' if sustained else 'NOT sustained'}"
        )
        if not sustained:
            break
        # Let any tail drain before the next step.
        wait_for(sink, sent, answered, time.time() + 10)
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
    args = parser.parse_args()

    sink_proc, sink = start_sink()
    starters: list[tuple[str, Callable[[], ServerProcess]]] = [("busbar", start_busbar), ("moto_server", start_moto)]
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
                steps = throughput_run(server, sink, args.steps, args.seconds / 2)
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
    busbar_peak = next((row[7] for row in rows if row[0] == "busbar"), 0.0)
    moto_peak = next((row[7] for row in rows if row[0] == "moto_server"), 0.0)
    if busbar_peak and moto_peak:
        print(f"\nbusbar / moto, peak deliveries per second: {busbar_peak / moto_peak:.0f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
