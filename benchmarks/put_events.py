"""PutEvents throughput and latency: busbar against moto's server, in one run.

    .venv/bin/python benchmarks/put_events.py [--seconds 10] [--connections 8 32]
        [--store embedded cluster cluster-2-nodes] [--no-moto]

The servers run as real processes on this machine and receive the same requests:
batches of 10 entries over keep-alive connections, several in flight at once.
busbar commits every acknowledged event durably (``embedded``: SQLite WAL, fsync per
group commit; ``cluster``: one busbar node on a 3-server NATS JetStream cluster,
acknowledged by 3 replicas; ``cluster-2-nodes``: two nodes on it, the clients spread
over both); moto keeps events in memory.  Prints events/s, p50 and p99 request latency
for each, and busbar's ratio to moto.  Every process shares this machine's cores.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _harness import (  # noqa: E402
    STORES,
    cpu_seconds,
    progress,
    request_bytes,
    run_load,
    start_busbar,
    start_moto,
    start_store,
)

ENTRIES_PER_REQUEST = 10
ALL_ACCEPTED = re.compile(rb'"FailedEntryCount":\s*0\b')


def bodies(count: int = 200) -> list[bytes]:
    """Distinct PutEvents bodies of 10 realistic entries each."""
    result = []
    for r in range(count):
        entries = [
            {
                "Source": "shop.orders",
                "DetailType": "OrderPlaced",
                "Resources": [f"arn:aws:shop:us-east-1:000000000000:order/{r}-{n}"],
                "Detail": json.dumps(
                    {
                        "orderId": f"{r}-{n}",
                        "customer": {"id": r % 97, "tier": "gold"},
                        "items": [{"sku": f"SKU-{n}", "qty": n + 1, "price": 9.99}],
                        "total": 9.99 * (n + 1),
                    }
                ),
            }
            for n in range(ENTRIES_PER_REQUEST)
        ]
        result.append(json.dumps({"Entries": entries}).encode())
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per run (after 1 s warm-up)")
    parser.add_argument(
        "--connections",
        type=int,
        nargs="+",
        default=[8, 32],
        help="concurrent clients (keep-alive connections), one run each",
    )
    parser.add_argument("--sync", choices=["full", "normal"], default="full", help="busbar's --sync (embedded)")
    parser.add_argument(
        "--metrics-compare",
        type=int,
        default=0,
        metavar="ROUNDS",
        help="instead of the comparison with moto: busbar with --metrics off, then on, ROUNDS times in turn; "
        "prints every run and the median ratio on/off (what counting the metrics costs)",
    )
    parser.add_argument(
        "--store", nargs="+", choices=list(STORES), default=["embedded"], help="busbar deployments to measure, in turn"
    )
    parser.add_argument("--no-moto", action="store_true", help="measure busbar only")
    args = parser.parse_args()
    if args.metrics_compare:
        return metrics_compare(args)

    payloads = bodies()
    rows = []
    starters = [(store, lambda store=store: start_store(store, "--sync", args.sync)) for store in args.store]
    if not args.no_moto:
        starters.append(("moto_server", start_moto))
    for name, start in starters:
        progress(f"starting {name} ...")
        server = start()
        try:
            ports = server.ports if hasattr(server, "ports") else [server.port]
            requests = [request_bytes(ports[0], "AWSEvents.PutEvents", body) for body in payloads]
            for connections in args.connections:
                progress(f"  {name}: {connections} clients for {args.seconds:g} s ...")
                result = run_load(ports, requests, ALL_ACCEPTED, connections, args.seconds)
                events = result.requests * ENTRIES_PER_REQUEST / result.seconds
                rows.append((name, connections, events, result.p50_ms, result.percentile(99), result.failures))
                progress(f"  {name}: {events:,.0f} events/s")
        finally:
            server.stop()

    print(
        f"\nPutEvents, {ENTRIES_PER_REQUEST} entries per request, {args.seconds:g} s per run, "
        f"embedded: --sync {args.sync} (durable); cluster: acknowledged by 3 NATS replicas; "
        f"{os.cpu_count()} CPUs shared by every server and the load generator\n"
    )
    print("| server | clients | events/s | p50 ms | p99 ms | failed requests | busbar / moto |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    moto = {c: e for n, c, e, *_ in rows if n == "moto_server"}
    for name, connections, events, p50, p99, failures in rows:
        ratio = f"{events / moto[connections]:.1f}x" if name != "moto_server" and moto.get(connections) else ""
        label = name if name == "moto_server" else f"busbar ({name})"
        print(f"| {label} | {connections} | {events:,.0f} | {p50:.2f} | {p99:.2f} | {failures} | {ratio} |")
    return 0


def metrics_compare(args: argparse.Namespace) -> int:
    """busbar with metrics off and on, in turn, on the same load: the cost of counting, as
    throughput and as the server's CPU time per event."""
    payloads = bodies()
    runs: dict[tuple[str, int], list[tuple[float, float]]] = {}  # (events/s, server CPU µs per event)
    for round_number in range(args.metrics_compare):
        for metrics in ("off", "on"):
            progress(f"round {round_number + 1}: busbar --metrics {metrics} ...")
            server = start_busbar("--sync", args.sync, "--metrics", metrics)
            try:
                requests = [request_bytes(server.port, "AWSEvents.PutEvents", body) for body in payloads]
                for connections in args.connections:
                    cpu = cpu_seconds(server.proc)
                    result = run_load(server.port, requests, ALL_ACCEPTED, connections, args.seconds)
                    cpu = cpu_seconds(server.proc) - cpu
                    count = result.requests * ENTRIES_PER_REQUEST
                    events, per_event = count / result.seconds, cpu / max(count, 1) * 1e6
                    runs.setdefault((metrics, connections), []).append((events, per_event))
                    progress(f"  {connections} clients: {events:,.0f} events/s, {per_event:.1f} CPU us/event")
            finally:
                server.stop()
    print(
        f"\nPutEvents, busbar --metrics off vs on, {args.seconds:g} s per run, {args.metrics_compare} rounds in turn\n"
    )
    print("| clients | metrics | events/s per run | median | server CPU µs per event, per run | median |")
    print("|---:|---|---|---:|---|---:|")
    for connections in args.connections:
        for metrics in ("off", "on"):
            values = runs[(metrics, connections)]
            rates = ", ".join(f"{rate:,.0f}" for rate, _ in values)
            costs = ", ".join(f"{cost:.1f}" for _, cost in values)
            rate = statistics.median(rate for rate, _ in values)
            cost = statistics.median(cost for _, cost in values)
            print(f"| {connections} | {metrics} | {rates} | {rate:,.0f} | {costs} | {cost:.1f} |")
    for connections in args.connections:
        on, off = runs[("on", connections)], runs[("off", connections)]
        rate = statistics.median(r for r, _ in on) / statistics.median(r for r, _ in off)
        cost = statistics.median(c for _, c in on) / statistics.median(c for _, c in off)
        print(f"\n{connections} clients, on / off (medians): events/s {rate:.3f}, CPU per event {cost:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
