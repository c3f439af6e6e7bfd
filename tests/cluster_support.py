"""Test support for busbar nodes on a NATS JetStream cluster: a deployment of the test's
own (its own prefix on a cluster), whatever BUSBAR_TEST_STORE says."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from natsserver import NatsCluster
from support import Alternating, BusbarProcess, NatsDeployment, drop_prefix

# Short leases: the work of a node killed with -9 is taken up by another after this long.
ACK_WAIT = "3"
FAST_RETRIES = {"BUSBAR_RETRY_BASE_DELAY": "0.2", "BUSBAR_RETRY_MAX_DELAY": "1"}


class Deployment:
    """Busbar nodes sharing one prefix of a JetStream cluster (and one secrets key)."""

    def __init__(
        self,
        cluster: NatsCluster,
        base: Path,
        nodes: int = 2,
        env: dict[str, str] | None = None,
        args: list[str] | None = None,
    ) -> None:
        self.cluster = cluster
        self.prefix = f"c{uuid.uuid4().hex[:12]}"
        self.key_file = base / "secrets.key"
        base.mkdir(parents=True, exist_ok=True)
        self.nodes = [
            BusbarProcess(
                base / f"node{n}",
                env={**FAST_RETRIES, **(env or {})},
                args=[*self.store_args(), "--nats-replicas", "3", "--nats-ack-wait", ACK_WAIT, *(args or [])],
                partner=False,
            )
            for n in range(nodes)
        ]
        for node in self.nodes:
            node.nats_deployment = NatsDeployment(cluster.urls, 3)
            node.prefix = self.prefix

    def store_args(self) -> list[str]:
        return [
            "--store",
            ",".join(self.cluster.urls),
            "--nats-prefix",
            self.prefix,
            "--secrets-key-file",
            str(self.key_file),
        ]

    def start(self) -> Deployment:
        for node in self.nodes:  # the first makes the secrets key the others read
            node.start()
        return self

    def client(self, node: int | None = None) -> Any:
        """A boto3 client of one node, or (None) one alternating between all of them."""
        if node is not None:
            return self.nodes[node].client()
        return Alternating([n.client() for n in self.nodes])

    def stop(self) -> None:
        for node in self.nodes:
            if node.alive():
                node.kill()
        if any(server.alive() for server in self.cluster.servers):
            drop_prefix(self.cluster.urls, self.prefix)
