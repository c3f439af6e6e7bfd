"""One hostile target must not slow the others: healthy targets' latency beside a target that hangs.

    .venv/bin/python benchmarks/isolation.py [--seconds 20] [--rate 60] [--busbar-src DIR ...]

One rule on the default bus has three targets: an API destination whose endpoint accepts
connections and never answers (every request hangs until busbar's timeout), an API
destination at a fast local HTTP sink (a separate process), and a log group.  Events are
put at a steady ``--rate`` events/s for ``--seconds``; for each event, the time from the
start of its PutEvents call to its arrival at the healthy sink gives p50/p99/max, and
the log group's lines are counted when the run ends (and again a few seconds later).

``--busbar-src`` runs busbar from other source trees (each a checkout's root: its
``src`` goes first on PYTHONPATH), one run each, so that an older busbar and this one are
measured side by side on the same machine in one run (e.g. a checkout of the commit
before the isolation work).  Without it, this checkout's busbar runs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import httpx  # noqa: E402

from _harness import ServerProcess, free_port, progress, start_busbar  # noqa: E402
from deliver import client_of, start_sink  # noqa: E402

SOURCE = "bench.isolation"
LOG_GROUP = "isolation"


class HangingServer:
    """Accepts HTTP connections, reads what comes and never answers (until stopped)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.connections = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> HangingServer:
        self._thread.start()
        self._ready.wait(10)
        return self

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)

        async def hang(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.connections += 1
            try:
                while await reader.read(65536):
                    pass
            except ConnectionError:
                pass
            finally:
                writer.close()

        async def main() -> None:
            server = await asyncio.start_server(hang, "127.0.0.1", self.port, backlog=4096)
            self._ready.set()
            async with server:
                await server.serve_forever()

        try:
            self._loop.run_until_complete(main())
        except RuntimeError:
            pass  # stopped

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)


def configure(server: ServerProcess, sink: str, hanging: str) -> None:
    client = client_of(server.url)
    connection = client.create_connection(
        Name="bench",
        AuthorizationType="API_KEY",
        AuthParameters={"ApiKeyAuthParameters": {"ApiKeyName": "x-api-key", "ApiKeyValue": "k"}},
    )["ConnectionArn"]
    targets = []
    for name, endpoint in (("hanging", hanging), ("healthy", sink)):
        arn = client.create_api_destination(
            Name=name,
            ConnectionArn=connection,
            InvocationEndpoint=endpoint + "/events",
            HttpMethod="POST",
            InvocationRateLimitPerSecond=300,
        )["ApiDestinationArn"]
        targets.append({"Id": name, "Arn": arn, "RoleArn": "arn:aws:iam::000000000000:role/bench"})
    targets.append({"Id": "log", "Arn": f"arn:aws:logs:us-east-1:000000000000:log-group:{LOG_GROUP}"})
    client.put_rule(Name="isolation", EventPattern=json.dumps({"source": [SOURCE]}))
    client.put_targets(Rule="isolation", Targets=targets)


def put_at_rate(server: ServerProcess, rate: float, seconds: float) -> dict[str, float]:
    """Put one event at a time at *rate* events/s; answer {event id: when its call began}."""
    client = client_of(server.url)
    sent: dict[str, float] = {}
    begin = time.monotonic()
    count = int(rate * seconds)
    for n in range(count):
        delay = begin + n / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        started = time.time()
        answer = client.put_events(Entries=[{"Source": SOURCE, "DetailType": "Tick", "Detail": json.dumps({"n": n})}])
        for entry in answer["Entries"]:
            if "EventId" in entry:
                sent[entry["EventId"]] = started
        if n % int(rate * 5) == 0:
            progress(f"    {n} of {count} events put")
    return sent


def arrivals(sink: str) -> dict[str, float]:
    return {event_id: at for event_id, at in httpx.get(sink + "/stats", timeout=30).json()["received"]}


def log_lines(server: ServerProcess) -> int:
    path = Path(server.workdir) / "data" / "log-groups" / f"{LOG_GROUP}.jsonl"
    try:
        return sum(1 for _ in path.open("rb"))
    except FileNotFoundError:
        return 0


def run(label: str, src: str | None, rate: float, seconds: float) -> dict[str, object]:
    progress(f"{label}: starting busbar ...")
    env = {"PYTHONPATH": str(Path(src) / "src")} if src else None
    server = start_busbar(env=env)
    sink_proc, sink = start_sink()
    hanging = HangingServer().start()
    try:
        configure(server, sink, f"http://127.0.0.1:{hanging.port}")
        progress(f"  {label}: {rate:g} events/s for {seconds:g} s, one target hanging ...")
        sent = put_at_rate(server, rate, seconds)
        ended = time.time()
        time.sleep(1.0)
        got = arrivals(sink)
        logged_at_end = log_lines(server)
        time.sleep(5.0)
        late = arrivals(sink)
        latencies = sorted((got[i] - t) * 1000 for i, t in sent.items() if i in got)
        return {
            "label": label,
            "sent": len(sent),
            "healthy_in_1s": len(latencies),
            "healthy_after_6s": sum(1 for i in sent if i in late),
            "p50": statistics.median(latencies) if latencies else float("nan"),
            "p99": latencies[int(len(latencies) * 0.99) - 1] if latencies else float("nan"),
            "max": latencies[-1] if latencies else float("nan"),
            "log_at_end": logged_at_end,
            "log_after_6s": log_lines(server),
            "hung_connections": hanging.connections,
            "ended": ended,
        }
    finally:
        server.stop()  # first: its connections to the hanging server close, and their handlers end
        time.sleep(0.5)
        hanging.stop()
        sink_proc.terminate()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=20.0, help="seconds of steady load")
    parser.add_argument("--rate", type=float, default=60.0, help="events per second (one per PutEvents call)")
    parser.add_argument(
        "--busbar-src",
        nargs="+",
        default=[],
        metavar="DIR",
        help="checkouts of busbar to measure (their src/ on PYTHONPATH), one run each, then this one",
    )
    args = parser.parse_args()
    rows = [run(f"busbar at {src}", src, args.rate, args.seconds) for src in args.busbar_src]
    rows.append(run("busbar (this checkout)", None, args.rate, args.seconds))
    print(
        f"\nHealthy targets beside a hanging API destination: {args.rate:g} events/s for {args.seconds:g} s, "
        "one rule with three targets (hanging API destination, healthy API destination, log group)\n"
    )
    print(
        "| busbar | events put | healthy: arrived within 1 s of the end | p50 ms | p99 ms | max ms "
        "| healthy after 6 s | log group at the end | log group after 6 s |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        print(
            f"| {row['label']} | {row['sent']} | {row['healthy_in_1s']} | {row['p50']:.1f} | {row['p99']:.1f} "
            f"| {row['max']:.1f} | {row['healthy_after_6s']} | {row['log_at_end']} | {row['log_after_6s']} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
