"""Shared pieces of the server benchmarks: start busbar (on its embedded store, or as
one or two nodes on a 3-server NATS JetStream cluster) and moto's server as real
processes, and drive them with a lean keep-alive HTTP/1.1 load generator (asyncio
streams; boto3 itself would be the bottleneck on a 2-core machine)."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from natsserver import NatsCluster  # noqa: E402 - the NATS servers the tests start too

# --store of the benchmarks: busbar's embedded store, or busbar nodes on a 3-server cluster.
STORES = {"embedded": 0, "cluster": 1, "cluster-2-nodes": 2}

# Servers check nothing of the signature, but moto reads the region from its scope.
AUTH = (
    "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/events/aws4_request, "
    "SignedHeaders=host;x-amz-date;x-amz-target, Signature=0"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class ServerProcess:
    """A server under test: its name, URL and process."""

    name: str
    port: int
    proc: subprocess.Popen[bytes]
    workdir: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        shutil.rmtree(self.workdir, ignore_errors=True)


def _wait_ready(server: ServerProcess, path: str, timeout: float = 60) -> ServerProcess:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise RuntimeError(f"{server.name} exited with {server.proc.returncode}")
        try:
            httpx.get(server.url + path, timeout=1)
            return server
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{server.name} did not start")


@dataclass
class Deployment:
    """busbar as one process on its embedded store, or as nodes on a NATS cluster."""

    name: str
    nodes: list[ServerProcess]
    cluster: NatsCluster | None = None
    workdir: Path | None = None

    @property
    def url(self) -> str:
        return self.nodes[0].url

    @property
    def ports(self) -> list[int]:
        return [node.port for node in self.nodes]

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()
        if self.cluster is not None:
            self.cluster.stop()
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)


def start_store(store: str, *extra: str, env: dict[str, str] | None = None) -> Deployment:
    """busbar for ``--store`` *store*: ``embedded``, ``cluster`` (one node on 3 NATS servers)
    or ``cluster-2-nodes`` (two nodes on them, sharing one secrets key)."""
    nodes = STORES[store]
    if nodes == 0:
        return Deployment(store, [start_busbar(*extra, env=env)])
    workdir = Path(tempfile.mkdtemp(prefix="busbar-bench-nats-"))
    cluster = NatsCluster(workdir / "nats").start()
    common = [
        "--store",
        ",".join(cluster.urls),
        "--nats-replicas",
        "3",
        "--secrets-key-file",
        str(workdir / "secrets.key"),
    ]
    started: list[ServerProcess] = []
    try:
        for _ in range(nodes):  # one after the other: the first makes the secrets key
            started.append(start_busbar(*common, *extra, env=env))
    except BaseException:
        for node in started:
            node.stop()
        cluster.stop()
        raise
    return Deployment(store, started, cluster, workdir)


def start_busbar(
    *extra: str, env: dict[str, str] | None = None, wrapper: tuple[str, ...] = (), timeout: float = 60
) -> ServerProcess:
    """busbar on a free port and a fresh data directory; *wrapper* runs it (valgrind ...).
    With ``BENCH_BUSBAR_SRC=DIR`` (a checkout's root), the busbar of that checkout runs: the
    same benchmark then measures an older version on the same machine (before/after)."""
    workdir = Path(tempfile.mkdtemp(prefix="busbar-bench-"))
    other = os.environ.get("BENCH_BUSBAR_SRC")
    if other:
        env = {**(env or {}), "PYTHONPATH": str(Path(other).resolve() / "src")}
    port = free_port()
    proc = subprocess.Popen(
        [
            *wrapper,
            sys.executable,
            "-m",
            "busbar",
            "serve",
            "--port",
            str(port),
            "--data-dir",
            str(workdir / "data"),
            "--log-level",
            "warning",
            *extra,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
    )
    return _wait_ready(ServerProcess("busbar", port, proc, workdir), "/health", timeout)


def cpu_seconds(proc: subprocess.Popen[bytes]) -> float:
    """CPU time (user + system, every thread) a process has used so far, from /proc (Linux):
    the work a server did, which other processes on a shared machine disturb far less than
    its throughput."""
    fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_moto() -> ServerProcess:
    workdir = Path(tempfile.mkdtemp(prefix="moto-bench-"))
    port = free_port()
    moto = shutil.which("moto_server", path=os.path.dirname(sys.executable)) or "moto_server"
    proc = subprocess.Popen(
        [moto, "-H", "127.0.0.1", "-p", str(port)], cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    return _wait_ready(ServerProcess("moto_server", port, proc, workdir), "/moto-api/")


def request_bytes(port: int, target: str, body: bytes) -> bytes:
    """One complete HTTP/1.1 keep-alive request."""
    head = (
        f"POST / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/x-amz-json-1.1\r\nX-Amz-Target: {target}\r\n"
        f"X-Amz-Date: 20260101T000000Z\r\nAuthorization: {AUTH}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


@dataclass
class LoadResult:
    """What one load run measured."""

    requests: int = 0
    failures: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)

    def percentile(self, p: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))] * 1000

    @property
    def p50_ms(self) -> float:
        return statistics.median(self.latencies) * 1000 if self.latencies else float("nan")


async def read_response(reader: asyncio.StreamReader) -> tuple[bytes, bytes, bool]:
    """(status line and headers, body, whether the server closes the connection)."""
    head = await reader.readuntil(b"\r\n\r\n")
    length, close = 0, False
    for line in head.split(b"\r\n"):
        lowered = line.lower()
        if lowered.startswith(b"content-length:"):
            length = int(line[15:])
        elif lowered.startswith(b"connection:") and b"close" in lowered:
            close = True
    return head, await reader.readexactly(length), close


async def _connection(
    port: int, requests: list[bytes], ok: re.Pattern[bytes], until: float, warmup_end: float, result: LoadResult
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    index = 0
    try:
        while True:
            now = time.perf_counter()
            if now >= until:
                return
            writer.write(requests[index % len(requests)])
            index += 1
            head, body, close = await read_response(reader)
            if close:
                # Servers without keep-alive (moto's Werkzeug) pay for a new connection
                # per request, as their real clients do; the time counts in the latency.
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            done = time.perf_counter()
            if now >= warmup_end:
                result.requests += 1
                result.latencies.append(done - now)
                if not head.startswith(b"HTTP/1.1 200") or ok.search(body) is None:
                    result.failures += 1
    finally:
        writer.close()


async def _run_load(
    ports: list[int], requests: list[bytes], ok: re.Pattern[bytes], connections: int, seconds: float, warmup: float
) -> LoadResult:
    result = LoadResult()
    start = time.perf_counter()
    warmup_end = start + warmup
    until = warmup_end + seconds
    await asyncio.gather(
        *(_connection(ports[n % len(ports)], requests, ok, until, warmup_end, result) for n in range(connections))
    )
    result.seconds = seconds
    return result


def run_load(
    port: int | list[int],
    requests: list[bytes],
    ok: re.Pattern[bytes],
    connections: int,
    seconds: float,
    warmup: float = 1.0,
) -> LoadResult:
    """Keep *connections* requests in flight for *seconds* (after *warmup*), spread over
    the servers on *port* (one or several: the nodes of a cluster); a response counts as
    failed unless it is a 200 whose body matches *ok*."""
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover - uvloop comes with uvicorn[standard]
        pass
    ports = port if isinstance(port, list) else [port]
    return asyncio.run(_run_load(ports, requests, ok, connections, seconds, warmup))


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
