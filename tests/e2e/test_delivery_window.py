"""A backlog far larger than the delivery window: real server, real boto3, a real
local HTTP target that refuses for a while and then recovers."""

from __future__ import annotations

import json
import time
from collections import Counter

from delivery_support import api_destination, rule_with_targets, unique
from httptarget import HttpTarget, Reply
from support import BusbarProcess

FAST_RETRIES = {"BUSBAR_RETRY_BASE_DELAY": "0.05", "BUSBAR_RETRY_MAX_DELAY": "0.2"}


def test_every_event_arrives_through_a_small_window(fresh_server: BusbarProcess, target: HttpTarget):
    failures, count = 150, 300
    fresh_server.env = FAST_RETRIES
    fresh_server.args = ["--delivery-window", "10"]
    client = fresh_server.start().client()
    source = unique("src")
    target.script("/window", *[Reply(503)] * failures)
    dest = api_destination(client, f"{target.url}/window", rate=1000)
    rule_with_targets(client, {"source": [source]}, [{"Id": "t", "Arn": dest}])
    ids: list[str] = []
    for batch in range(count // 10):
        answer = client.put_events(
            Entries=[{"Source": source, "DetailType": "d", "Detail": json.dumps({"b": batch})} for _ in range(10)]
        )
        assert answer["FailedEntryCount"] == 0
        ids.extend(entry["EventId"] for entry in answer["Entries"])
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        answered_ok = target.requests_to("/window")[failures:]  # 503 first, then 200
        if len(answered_ok) >= count:
            break
        time.sleep(0.05)
    delivered = Counter(request.json()["id"] for request in answered_ok)
    assert set(delivered) == set(ids), f"{len(set(ids) - set(delivered))} events were never delivered"
    assert max(delivered.values()) == 1  # none sent again after it succeeded
