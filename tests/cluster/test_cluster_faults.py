"""Faults under a bounded load: a busbar node killed with -9, a NATS server killed with -9,
a target down while a node restarts.  Every event PutEvents acknowledged is delivered (at
least once); PutEvents keeps answering, and an entry that could not be stored says so with
the retryable InternalFailure."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from botocore.exceptions import BotoCoreError, ClientError

from cluster_support import Deployment
from delivery_support import api_destination, rule_with_targets
from httptarget import HttpTarget
from natsserver import NatsCluster, NatsServer


@pytest.fixture
def target() -> Iterator[HttpTarget]:
    server = HttpTarget().start()
    yield server
    server.stop()


@dataclass
class Load:
    """Publishers, each on its own client, putting batches of 10 events until stopped."""

    clients: list[Any]
    source: str
    acknowledged: set[str] = field(default_factory=set)
    failed_codes: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)  # calls that got no answer
    calls: int = 0

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._publish, args=(n, client)) for n, client in enumerate(self.clients)
        ]

    def start(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def _publish(self, n: int, client: Any) -> None:
        batch = 0
        while not self._stop.is_set():
            entries = [
                {"Source": self.source, "DetailType": "d", "Detail": json.dumps({"p": n, "b": batch, "i": i})}
                for i in range(10)
            ]
            try:
                answer = client.put_events(Entries=entries)
            except (BotoCoreError, ClientError) as error:
                with self._lock:
                    self.errors.append(f"{type(error).__name__}: {error}")
                time.sleep(0.05)
                continue
            if "Entries" not in answer:  # the node died while it answered: no answer
                with self._lock:
                    self.errors.append(f"an answer without entries: {answer}")
                continue
            with self._lock:
                self.calls += 1
                for entry in answer["Entries"]:
                    if "EventId" in entry:
                        self.acknowledged.add(entry["EventId"])
                    else:
                        self.failed_codes[entry["ErrorCode"]] += 1
            batch += 1

    def wait_for(self, count: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while len(self.acknowledged) < count:
            assert time.monotonic() < deadline, f"only {len(self.acknowledged)} events acknowledged"
            time.sleep(0.05)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(60)


def delivered(target: HttpTarget, path: str, wanted: set[str], timeout: float = 90) -> set[str]:
    """The ids among *wanted* the target accepted, waiting (bounded) until it has them all."""
    deadline = time.monotonic() + timeout
    while True:
        got = {request.json()["id"] for request in target.requests_to(path) if request.ok}
        if wanted <= got or time.monotonic() > deadline:
            return got & wanted
        time.sleep(0.2)


def test_killing_one_of_two_busbar_nodes_under_load_loses_no_acknowledged_event(deployment, target: HttpTarget):
    nodes = deployment()
    setup = nodes.client(0)
    dest = api_destination(setup, f"{target.url}/survivor", rate=5000)
    rule_with_targets(setup, {"source": ["load"]}, [{"Id": "t", "Arn": dest}])
    on_survivor = Load([nodes.client(0), nodes.client(0)], "load").start()
    on_victim = Load([nodes.client(1), nodes.client(1)], "load").start()
    try:
        on_victim.wait_for(300)
        nodes.nodes[1].kill()  # mid-stream: requests, routing and deliveries in flight
        time.sleep(1.0)
    finally:
        on_victim.stop()
        on_survivor.stop()
    acknowledged = on_survivor.acknowledged | on_victim.acknowledged
    assert not on_survivor.errors and not on_survivor.failed_codes
    got = delivered(target, "/survivor", acknowledged)
    assert got == acknowledged, f"{len(acknowledged - got)} of {len(acknowledged)} acknowledged events never delivered"


def test_a_target_down_while_a_node_restarts_resumes_on_the_other_node(deployment, target: HttpTarget):
    nodes = deployment()
    client = nodes.client()
    dest = api_destination(client, f"{target.url}/down")
    rule_with_targets(client, {"source": ["down"]}, [{"Id": "t", "Arn": dest}])
    target.down.add("/down")
    ids = set()
    for start in range(0, 40, 10):
        answer = client.put_events(
            Entries=[
                {"Source": "down", "DetailType": "d", "Detail": json.dumps({"n": n})} for n in range(start, start + 10)
            ]
        )
        assert answer["FailedEntryCount"] == 0
        ids.update(entry["EventId"] for entry in answer["Entries"])
    target.wait_for(40, "/down")  # every delivery failed at least once: retries are pending
    nodes.nodes[0].kill()
    target.down.discard("/down")
    assert delivered(target, "/down", ids) == ids
    assert not nodes.nodes[0].alive()  # all of it through the other node
    nodes.nodes[0].start()


def stream_state(server: NatsServer, name: str) -> dict[str, Any] | None:
    """The state of stream *name* as *server* holds it (None when it holds none)."""
    try:
        jsz = server.monitor("jsz", accounts="true", streams="true")
    except (httpx.HTTPError, ValueError):
        return None
    for account in jsz.get("account_details") or []:
        for stream in account.get("stream_detail") or []:
            if stream.get("name") == name:
                return dict(stream)
    return None


def test_killing_one_of_three_nats_servers_under_load(nats_cluster_factory, tmp_path: Path, target: HttpTarget):
    """The stream leader of the event log dies: PutEvents keeps answering (an entry it could
    not store fails with the retryable InternalFailure), no acknowledged event is lost, and
    the server, restarted, catches up with the others."""
    cluster: NatsCluster = nats_cluster_factory()
    nodes = Deployment(cluster, tmp_path).start()
    try:
        setup = nodes.client(0)
        dest = api_destination(setup, f"{target.url}/quorum", rate=5000)
        rule_with_targets(setup, {"source": ["quorum"]}, [{"Id": "t", "Arn": dest}])
        load = Load([nodes.client(0), nodes.client(1), nodes.client(0), nodes.client(1)], "quorum").start()
        try:
            load.wait_for(300)
            events = f"{nodes.prefix}-events"
            states = {server.name: stream_state(server, events) for server in cluster.servers}
            leader_name = next(s["cluster"]["leader"] for s in states.values() if s and s.get("cluster"))
            leader = next(server for server in cluster.servers if server.name == leader_name)
            leader.kill()
            before = len(load.acknowledged)
            load.wait_for(before + 300, timeout=90)  # acknowledging again, through a new leader
            leader.restart()
            time.sleep(1.0)
        finally:
            load.stop()
        assert not load.errors, load.errors[:3]  # every call was answered
        assert set(load.failed_codes) <= {"InternalFailure"}, load.failed_codes
        got = delivered(target, "/quorum", load.acknowledged)
        assert got == load.acknowledged, f"{len(load.acknowledged - got)} acknowledged events never delivered"
        # The restarted server catches up: it holds the stream as far as the others do.
        deadline = time.monotonic() + 60
        while True:
            seqs = [(stream_state(server, events) or {}).get("state", {}).get("last_seq") for server in cluster.servers]
            if len(set(seqs)) == 1 and seqs[0]:
                break
            assert time.monotonic() < deadline, f"the restarted server did not catch up: {seqs}"
            time.sleep(0.2)
        print(f"\nPutEvents during the leader's loss: {load.calls} calls, failed entries {dict(load.failed_codes)}")
    finally:
        nodes.stop()
