"""What an event costs: CPU seconds per 10,000 events, PutEvents to delivery.

    .venv/bin/python benchmarks/cost.py [--events 20000] [--rate 1000] [--repeat 3]
        [--store embedded cluster cluster-2-nodes]

Starts busbar (its embedded store, or one or two nodes on a 3-server NATS JetStream
cluster) and a local HTTP sink; one rule sends every event to an API destination at the
sink.  Events are put at a steady rate well below what the machine can do (spread over
the nodes), and the CPU time each busbar process and each nats-server used (user +
system, from /proc) is read before the first PutEvents and after the last delivery
arrived.

On a shared, noisy machine wall-clock throughput moves with whatever else runs; the
CPU an event costs moves far less, so it is the figure to compare between versions
(and, with several nodes, the figure to plan capacity with: a node on a machine of its
own delivers about as many events per second as one core gives it CPU seconds).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import STORES, start_store  # noqa: E402
from deliver import configure, paced, start_sink  # noqa: E402


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds the process has used (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Cost:
    """CPU seconds per 10,000 events: per busbar node and per nats-server, and the wall time."""

    nodes: list[float]
    servers: list[float]
    wall: float

    @property
    def total(self) -> float:
        return sum(self.nodes) + sum(self.servers)


def one_run(store: str, events: int, rate: int) -> Cost:
    sink_proc, sink = start_sink()
    deployment = start_store(store)
    try:
        configure(deployment, sink)
        httpx.post(sink + "/reset", timeout=5)
        node_pids = [node.proc.pid for node in deployment.nodes]
        servers = deployment.cluster.servers if deployment.cluster is not None else []
        node_before = [cpu_seconds(pid) for pid in node_pids]
        server_before = [server.cpu_seconds() for server in servers]
        started = time.monotonic()
        sent, _ = paced(deployment.ports, rate, events / rate)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            received = httpx.get(sink + "/stats", timeout=30).json()["received"]
            if len(received) >= len(sent):
                break
            time.sleep(0.1)
        else:
            raise RuntimeError(f"only {len(received)} of {len(sent)} events arrived")
        per = 10_000 / len(sent)
        return Cost(
            nodes=[(cpu_seconds(pid) - before) * per for pid, before in zip(node_pids, node_before, strict=True)],
            servers=[
                (server.cpu_seconds() - before) * per for server, before in zip(servers, server_before, strict=True)
            ],
            wall=time.monotonic() - started,
        )
    finally:
        deployment.stop()
        sink_proc.terminate()
        sink_proc.wait(10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=20_000, help="events per run")
    parser.add_argument("--rate", type=int, default=1_000, help="events put per second")
    parser.add_argument("--repeat", type=int, default=3, help="runs (the median is reported)")
    parser.add_argument(
        "--store", nargs="+", choices=list(STORES), default=["embedded"], help="busbar deployments to measure, in turn"
    )
    args = parser.parse_args()
    print(
        f"{args.events:,} events at {args.rate:,}/s to one API destination; CPU s per 10,000 events, median of runs\n"
    )
    print("| busbar | per busbar node | per nats-server | all processes |")
    print("|---|---|---|---:|")
    for store in args.store:
        costs = []
        for run in range(1, args.repeat + 1):
            cost = one_run(store, args.events, args.rate)
            costs.append(cost)
            print(
                f"{store} run {run}/{args.repeat}: nodes {', '.join(f'{c:.2f}' for c in cost.nodes)}; nats-servers "
                f"{', '.join(f'{c:.2f}' for c in cost.servers) or '-'} ({cost.wall:.1f} s)",
                file=sys.stderr,
                flush=True,
            )
        middle = sorted(costs, key=lambda cost: cost.total)[len(costs) // 2]
        nodes = ", ".join(f"{c:.2f}" for c in middle.nodes)
        servers = ", ".join(f"{c:.2f}" for c in middle.servers) or "-"
        print(f"| {store} | {nodes} | {servers} | {middle.total:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
