"""Replication loses no copy: busbar killed with kill -9 while events stream through a
replicating endpoint keeps, for every event it acknowledged, both the event and its
replica, and after the restart both Regions' rules deliver them."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError

from aws_support import eventually
from endpoint_support import HEALTH_INTERVAL, SECONDARY, client_of, make_pair, stored_buses
from support import ACCOUNT, REGION, BusbarProcess

THREADS = 4
WANTED = 1500


def test_kill_9_during_replication_loses_no_copy(tmp_path: Path, route53_env: dict[str, str], route53) -> None:  # noqa: ANN001
    server = BusbarProcess(tmp_path / "data", env=route53_env, args=["--endpoint-health-interval", HEALTH_INTERVAL])
    server.start()
    try:
        pair = make_pair(server, route53)
        pair.create_endpoint(replication="ENABLED")
        acknowledged: set[str] = set()
        lock = threading.Lock()
        stop = threading.Event()

        def publish(thread: int) -> None:
            own = client_of(server, REGION)  # one client per thread
            batch = 0
            while not stop.is_set():
                entries = [
                    {
                        "Source": pair.source,
                        "DetailType": "Tick",
                        "Detail": json.dumps({"thread": thread, "batch": batch, "n": n}),
                        "EventBusName": pair.bus,
                    }
                    for n in range(10)
                ]
                try:
                    answer = own.put_events(EndpointId=pair.endpoint_id, Entries=entries)
                except (BotoCoreError, ClientError):
                    return  # the server is gone
                with lock:
                    acknowledged.update(e["EventId"] for e in answer["Entries"] if "EventId" in e)
                batch += 1

        workers = [threading.Thread(target=publish, args=(t,)) for t in range(THREADS)]
        for worker in workers:
            worker.start()
        deadline = time.monotonic() + 60
        while len(acknowledged) < WANTED and time.monotonic() < deadline:
            time.sleep(0.05)
        server.kill()  # mid-stream: requests, commits and routing are in flight
        stop.set()
        for worker in workers:
            worker.join(30)
        assert len(acknowledged) >= WANTED

        # Every acknowledged event is stored twice: on the primary's bus as it was put, and on
        # the secondary's as its replica; and no event is stored without its replica.
        primary, secondary = f"{ACCOUNT}/{REGION}/{pair.bus}", f"{ACCOUNT}/{SECONDARY}/{pair.bus}"
        copies = stored_buses(server)
        ours = {event_id: found for event_id, found in copies.items() if found[0][1]["source"] == pair.source}
        assert acknowledged <= set(ours)
        for event_id, found in ours.items():
            assert sorted(bus for bus, _ in found) == [primary, secondary], event_id
            replica = next(envelope for bus, envelope in found if bus == secondary)
            assert replica["resources"] == [pair.endpoint_arn]

        # After a restart both Regions' rules deliver every one of them (at least once).  On
        # NATS what the killed process had leased comes back after the ack wait (30 s).
        server.start()
        for region in (REGION, SECONDARY):
            reached = eventually(
                lambda r=region: set(ours) <= {e["id"] for e in pair.delivered(r, len(ours), timeout=90)}, 60
            )
            assert reached, f"not every event reached the rule of {region}"
    finally:
        if server.alive():
            server.stop()
