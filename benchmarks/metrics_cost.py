"""What counting the metrics costs, in instructions: busbar under valgrind's callgrind,
with ``--metrics off`` and ``--metrics on``, doing the same work.

    .venv/bin/python benchmarks/metrics_cost.py [--events 2000] [--rounds 1]

Throughput and CPU time swing from run to run on a shared machine; the number of
instructions the server executes for a fixed piece of work hardly does (it does not
depend on what else runs).  Instrumentation starts once the server is up and
configured, and covers exactly: PutEvents of ``--events`` events (batches of 10, on
one connection), their routing, and their delivery to a local HTTP sink through an
API destination; then the counts are dumped.  Prints instructions per event for
each setting and the ratio.  Needs valgrind (Debian's package); slow: the server runs
about 50 times slower under callgrind.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import httpx  # noqa: E402

from _harness import progress, start_busbar  # noqa: E402
from deliver import SOURCE, client_of, configure, start_sink  # noqa: E402

TOTALS = re.compile(rb"^totals:\s*(\d+)", re.MULTILINE)


def measure(metrics: str, events: int, sink: str, keep: Path | None = None) -> float:
    """Instructions the server executed per event (put, routed, delivered)."""
    out = Path(tempfile.mkdtemp(prefix="busbar-callgrind-"))
    valgrind = ("valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}/callgrind.out")
    server = start_busbar("--metrics", metrics, wrapper=valgrind, timeout=600)
    pid = str(server.proc.pid)
    try:
        configure(server, sink)
        client = client_of(server.url)
        client.put_events(Entries=[{"Source": SOURCE, "DetailType": "warm-up", "Detail": "{}"}])  # warm the paths
        wait_for_sink(sink, 1)
        httpx.post(sink + "/reset")
        subprocess.run(["callgrind_control", "--instr=on", pid], check=True, capture_output=True)
        entries = [{"Source": SOURCE, "DetailType": "measured", "Detail": json.dumps({"n": n})} for n in range(10)]
        for _ in range(events // 10):
            answer = client.put_events(Entries=entries)
            assert answer["FailedEntryCount"] == 0, answer
        wait_for_sink(sink, events)
        subprocess.run(["callgrind_control", "--dump", pid], check=True, capture_output=True)
        subprocess.run(["callgrind_control", "--instr=off", pid], check=True, capture_output=True)
        dumps = list(out.glob("callgrind.out*"))
        total = sum(int(match.group(1)) for path in dumps for match in TOTALS.finditer(path.read_bytes()))
        if keep is not None:
            keep.mkdir(parents=True, exist_ok=True)
            for path in dumps:
                shutil.copy(path, keep / f"{metrics}-{path.name}")
        return total / events
    finally:
        server.stop()
        shutil.rmtree(out, ignore_errors=True)


def wait_for_sink(sink: str, count: int) -> None:
    deadline = time.monotonic() + 600
    while len(httpx.get(sink + "/stats", timeout=30).json()["received"]) < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the sink did not receive {count} events")
        time.sleep(0.5)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=2000, help="events put and delivered while measuring")
    parser.add_argument("--rounds", type=int, default=1, help="measurements of each setting, in turn")
    parser.add_argument(
        "--keep", type=Path, default=None, help="copy callgrind's output files here (callgrind_annotate)"
    )
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        print("metrics_cost.py needs valgrind (apt-get install valgrind)", file=sys.stderr)
        return 2
    sink_proc, sink = start_sink()
    results: dict[str, list[float]] = {"off": [], "on": []}
    try:
        for round_number in range(args.rounds):
            for metrics in ("off", "on"):
                progress(f"round {round_number + 1}: busbar --metrics {metrics} under callgrind ...")
                httpx.post(sink + "/reset")
                results[metrics].append(measure(metrics, args.events, sink, args.keep))
                progress(f"  {results[metrics][-1]:,.0f} instructions per event")
    finally:
        sink_proc.terminate()
        sink_proc.wait(10)
    print(f"\nInstructions the server executed per event (put, routed, delivered), {args.events} events\n")
    print("| metrics | per run | ")
    print("|---|---|")
    for metrics, values in results.items():
        print(f"| {metrics} | {', '.join(f'{v:,.0f}' for v in values)} |")
    on, off = min(results["on"]), min(results["off"])
    print(f"\non / off: {on / off:.4f} (+{(on - off):,.0f} instructions per event)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
