"""What an event costs: CPU seconds per 10,000 events, PutEvents to delivery.

    .venv/bin/python benchmarks/cost.py [--events 20000] [--rate 1000] [--repeat 3]

Starts busbar (its embedded store) and a local HTTP sink; one rule sends every event
to an API destination at the sink.  Events are put at a steady rate well below what
the machine can do, and the CPU time the busbar process used (user + system, from
/proc) is read before the first PutEvents and after the last delivery arrived.

On a shared, noisy machine wall-clock throughput moves with whatever else runs; the
CPU an event costs moves far less, so it is the figure to compare between versions
(and, with several nodes, the figure to plan capacity with).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from deliver import configure, paced, start_sink  # noqa: E402

from _harness import start_busbar  # noqa: E402


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds the process has used (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def one_run(events: int, rate: int) -> tuple[float, float]:
    """(CPU seconds per 10,000 events, wall seconds) of one run."""
    sink_proc, sink = start_sink()
    server = start_busbar()
    try:
        configure(server, sink)
        httpx.post(sink + "/reset", timeout=5)
        before, started = cpu_seconds(server.proc.pid), time.monotonic()
        sent, _ = paced(server.port, rate, events / rate)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            received = httpx.get(sink + "/stats", timeout=30).json()["received"]
            if len(received) >= len(sent):
                break
            time.sleep(0.1)
        else:
            raise RuntimeError(f"only {len(received)} of {len(sent)} events arrived")
        used = cpu_seconds(server.proc.pid) - before
        return used / len(sent) * 10_000, time.monotonic() - started
    finally:
        server.stop()
        sink_proc.terminate()
        sink_proc.wait(10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=20_000, help="events per run")
    parser.add_argument("--rate", type=int, default=1_000, help="events put per second")
    parser.add_argument("--repeat", type=int, default=3, help="runs (the median is reported)")
    args = parser.parse_args()
    costs = []
    for run in range(1, args.repeat + 1):
        cost, wall = one_run(args.events, args.rate)
        costs.append(cost)
        print(f"run {run}/{args.repeat}: {cost:.2f} CPU s per 10,000 events ({wall:.1f} s)", file=sys.stderr)
    print(
        f"busbar (embedded store), {args.events:,} events at {args.rate:,}/s to one API destination: "
        f"median {statistics.median(costs):.2f} CPU s per 10,000 events (runs: {', '.join(f'{c:.2f}' for c in costs)})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
