"""Test support: start the real busbar server as a separate process and talk to it
with real boto3.  Nothing of busbar's is mocked.

``BUSBAR_TEST_STORE`` chooses what every busbar started here stores in:

* ``sqlite`` (the default): the embedded store in its data directory;
* ``nats``: one nats-server (replicas 1), started for the session (tests/conftest.py);
* ``cluster``: a 3-server JetStream cluster (replicas 3), and every "server" is two busbar
  nodes on it: :meth:`BusbarProcess.client` alternates its calls between them.

With NATS each server (its data directory) gets a prefix of its own (``--nats-prefix``), so
tests sharing the cluster never see each other's resources, and a server restarted on
the same data directory finds its state again.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from botocore.config import Config

from busbar.store.base import Store

REGION = "us-east-1"
ACCOUNT = "000000000000"

# "sqlite", "nats" (one nats-server) or "cluster" (3 nats-servers, two busbar nodes per server).
TEST_STORE = os.environ.get("BUSBAR_TEST_STORE", "sqlite")
if TEST_STORE not in ("sqlite", "nats", "cluster"):
    raise RuntimeError(f"BUSBAR_TEST_STORE must be sqlite, nats or cluster, not {TEST_STORE!r}")


# Tests of what only the embedded store has (its database file, WAL, backups): skipped on NATS.
sqlite_only = pytest.mark.skipif(TEST_STORE != "sqlite", reason="about the embedded store's files")


@dataclass
class NatsDeployment:
    """The NATS servers of the session (set by tests/conftest.py when TEST_STORE is not sqlite)."""

    urls: list[str]
    replicas: int


NATS: NatsDeployment | None = None
_PREFIXES: dict[Path, str] = {}


def nats_prefix(data_dir: Path) -> str:
    """The --nats-prefix of the server on *data_dir* (the same for a restart on it)."""
    key = Path(data_dir).resolve()
    if key not in _PREFIXES:
        _PREFIXES[key] = f"e{uuid.uuid4().hex[:12]}"
    return _PREFIXES[key]


def unique(prefix: str) -> str:
    """A fresh resource name, so tests sharing a server never collide."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def error_of(raised: Any) -> tuple[str, str]:
    """(code, message) of a botocore ClientError caught by ``pytest.raises``."""
    error = raised.value.response["Error"]
    return error["Code"], error["Message"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class BusbarProcess:
    """One ``busbar serve`` process on a free port and its own data directory (with
    ``BUSBAR_TEST_STORE=cluster``: two, the second one a node of the same deployment)."""

    def __init__(
        self,
        data_dir: Path,
        port: int | None = None,
        env: dict[str, str] | None = None,
        args: list[str] | None = None,
        preexec_fn: Callable[[], None] | None = None,
        partner: bool = True,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.preexec_fn = preexec_fn  # run in the child before busbar starts (e.g. to set rlimits)
        self.port = port or free_port()
        self.env = env or {}
        self.args = args or []
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = self.data_dir.parent / f"{self.data_dir.name}-server.log"
        self.prefix = nats_prefix(self.data_dir) if NATS is not None else None
        # Set by a test that runs the server on NATS servers of its own (with --store in args).
        self.nats_deployment: NatsDeployment | None = None
        self._readers: list[Any] = []  # stores opened by store(), closed by discard()
        # The second node of a two-node deployment: same prefix, same secrets key, its own data directory.
        self.partner: BusbarProcess | None = None
        if TEST_STORE == "cluster" and partner:
            self.partner = BusbarProcess(
                self.data_dir.parent / f"{self.data_dir.name}-node2", preexec_fn=preexec_fn, partner=False
            )
            self.partner.prefix = self.prefix

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def key_file(self) -> Path:
        return self.data_dir / "secrets.key"

    @property
    def nats(self) -> NatsDeployment | None:
        """The NATS servers this server stores in (None: its data directory)."""
        return self.nats_deployment or NATS

    def store_args(self) -> list[str]:
        """The options that name this server's store, for busbar's reading commands."""
        args = ["--data-dir", str(self.data_dir)]
        if self.nats is not None:
            assert self.prefix is not None
            args += ["--store", ",".join(self.nats.urls), "--nats-prefix", self.prefix]
        return args

    def store(self) -> Store:
        """The server's store, to read with (not started: its reads need no start)."""
        if self.nats is not None:
            from busbar.store.nats import NatsOptions, NatsStore

            assert self.prefix is not None
            store = NatsStore(
                NatsOptions(servers=tuple(self.nats.urls), replicas=self.nats.replicas, prefix=self.prefix)
            )
            self._readers.append(store)
            return store
        from busbar.store.sqlite import SqliteStore

        return SqliteStore(self.data_dir, home=(ACCOUNT, REGION))

    def start(self, timeout: float = 30.0) -> BusbarProcess:
        env = {**os.environ, **self.env}
        log = open(self.log_path, "ab")
        store: list[str] = []
        if NATS is not None:
            assert self.prefix is not None
            store = [
                "--store",
                ",".join(NATS.urls),
                "--nats-replicas",
                str(NATS.replicas),
                "--nats-prefix",
                self.prefix,
            ]
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "busbar",
                "serve",
                "--port",
                str(self.port),
                "--data-dir",
                str(self.data_dir),
                *store,
                *self.args,
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=self.preexec_fn,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"busbar exited with {self.proc.returncode}: {self.log()}")
            try:
                if httpx.get(f"{self.endpoint_url}/health", timeout=1).status_code == 200:
                    if self.partner is not None:  # after the first node: it made the secrets key
                        self.partner.env = self.env  # the test may have changed them since
                        self.partner.args = (
                            self.args
                            if _has_key_file(self.args)
                            else [*self.args, "--secrets-key-file", str(self.key_file)]
                        )
                        self.partner.start(timeout)
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"busbar did not start in {timeout}s: {self.log()}")

    def log(self) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return text + (self.partner.log() if self.partner is not None else "")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM, then wait; returns the exit code."""
        if self.partner is not None and self.partner.proc is not None:
            self.partner.stop(timeout)
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()  # the test fails, but leaves no server behind
            self.proc.wait(10)
            raise

    def kill(self) -> None:
        """kill -9: no chance to finish anything."""
        if self.partner is not None and self.partner.alive():
            self.partner.kill()
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(10)

    def discard(self) -> None:
        """Stop the server if it runs, and delete what it kept in NATS (the test is over)."""
        if self.alive() or (self.partner is not None and self.partner.alive()):
            self.kill()
        for reader in self._readers:
            reader.close_reads()
        self._readers = []
        if self.nats is not None and self.prefix is not None:
            drop_prefix(self.nats.urls, self.prefix)

    def client(self, region: str = REGION, key: str = "test", secret: str = "test", **config: Any) -> Any:
        """A boto3 EventBridge client of this server, signing for *region* with *key* (of a
        two-node deployment: alternating between the nodes)."""
        if self.partner is not None:
            return Alternating(
                [self._client(region, key, secret, **config), self.partner._client(region, key, secret, **config)]
            )
        return self._client(region, key, secret, **config)

    def _client(self, region: str, key: str, secret: str, **config: Any) -> Any:
        return boto3.client(
            "events",
            endpoint_url=self.endpoint_url,
            region_name=region,
            aws_access_key_id=key,
            aws_secret_access_key=secret,
            config=Config(retries={"total_max_attempts": 1}, **config),
        )

    def post(self, target: str | None, body: bytes | str, headers: dict[str, str] | None = None) -> httpx.Response:
        """A raw AWS JSON 1.1 request, for what boto3 will not send."""
        all_headers = {"Content-Type": "application/x-amz-json-1.1"}
        if target is not None:
            all_headers["X-Amz-Target"] = target
        all_headers.update(headers or {})
        return httpx.post(self.endpoint_url + "/", content=body, headers=all_headers, timeout=30)


def _has_key_file(args: list[str]) -> bool:
    return any(arg == "--secrets-key-file" or arg.startswith("--secrets-key-file=") for arg in args)


class Alternating:
    """A boto3 client of a two-node deployment: each call goes to the next node in turn, so a
    test's calls alternate between the nodes.  What is not a call (``exceptions``, ``meta``,
    paginators) is the first node's client's."""

    _NOT_CALLS = frozenset({"exceptions", "meta", "get_paginator", "can_paginate", "get_waiter", "waiter_names"})

    def __init__(self, clients: list[Any]) -> None:
        self._clients = clients
        self._turn = 0
        # One botocore session makes both, so both raise the same exception classes.
        assert clients[0].exceptions.ResourceNotFoundException is clients[1].exceptions.ResourceNotFoundException

    @property
    def clients(self) -> list[Any]:
        """Each node's client (to register an event hook on every one)."""
        return list(self._clients)

    def __getattr__(self, name: str) -> Any:
        first = getattr(self._clients[0], name)
        if name in self._NOT_CALLS or name.startswith("_") or not callable(first):
            return first

        def call(*args: Any, **kwargs: Any) -> Any:
            client = self._clients[self._turn % len(self._clients)]
            self._turn += 1
            return getattr(client, name)(*args, **kwargs)

        return call


def drop_prefix(urls: list[str], prefix: str) -> None:
    """Delete the streams and buckets of a deployment's prefix."""
    import asyncio

    import nats

    async def drop() -> None:
        nc = await nats.connect(urls)
        js = nc.jetstream()
        for info in await js.streams_info():
            name = info.config.name or ""
            if name.startswith((f"{prefix}-", f"KV_{prefix}-")):
                try:
                    await js.delete_stream(name)
                except Exception:  # noqa: BLE001 - best effort: the session's servers go away anyway
                    pass
        await nc.close()

    asyncio.run(drop())
