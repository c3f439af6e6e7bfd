"""One bad target never holds up the others (issue #8): a real server, real boto3, real
local HTTP targets and a log group.  The assertions are about order, never about
wall time: the healthy targets have everything before the bad one's first timeout,
or before the dead one's backlog was even tried once."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from delivery_support import api_destination, log_group_arn, read_log_group, rule_with_targets, unique
from httptarget import HttpTarget, Reply
from support import BusbarProcess

SEND_TIMEOUT = 5.0  # busbar's timeout for an API destination (AWS's)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[BusbarProcess]:
    # A window far smaller than the dead target's backlog, as in production with a target down for hours.
    process = BusbarProcess(tmp_path / "data", args=["--delivery-concurrency", "32", "--delivery-window", "500"])
    yield process.start()
    process.stop()


def put_many(client, source: str, count: int) -> None:  # noqa: ANN001
    for start in range(0, count, 10):
        entries = [
            {"Source": source, "DetailType": "t", "Detail": f'{{"n": {n}}}'}
            for n in range(start, min(start + 10, count))
        ]
        assert client.put_events(Entries=entries)["FailedEntryCount"] == 0


def log_group_complete_at(server: BusbarProcess, name: str, count: int) -> float:
    """When (monotonic clock) the log group first held *count* lines."""
    read_log_group(server, name, count, timeout=30)
    return time.monotonic()


def test_a_hanging_target_does_not_delay_healthy_ones(server, target: HttpTarget):
    client = server.client()
    source = unique("src")
    hanging, healthy, group = "/hang", "/ok", unique("group")
    target.script(hanging, *[Reply(delay=SEND_TIMEOUT + 3)] * 200)
    rule_with_targets(
        client,
        {"source": [source]},
        [
            {"Id": "hang", "Arn": api_destination(client, target.url + hanging)},
            {"Id": "ok", "Arn": api_destination(client, target.url + healthy)},
            {"Id": "log", "Arn": log_group_arn(group)},
        ],
    )
    put_many(client, source, 80)
    target.wait_for(80, healthy, timeout=30)
    logged = log_group_complete_at(server, group, 80)
    first_timeout = min(r.at for r in target.requests_to(hanging)) + SEND_TIMEOUT
    assert max(r.at for r in target.requests_to(healthy)) < first_timeout
    assert logged < first_timeout


def test_a_dead_target_with_a_backlog_does_not_delay_healthy_ones(server, target: HttpTarget):
    """3,000 deliveries to a target that fails slowly are pending; then a log group's
    deliveries arrive, and all of them are written before the dead target's backlog
    has been tried once."""
    client = server.client()
    dead_source, healthy_source = unique("dead"), unique("healthy")
    dead, group, backlog = "/dead", unique("group"), 3000
    target.script(dead, *[Reply(503, delay=0.2)] * 20_000)
    rule_with_targets(
        client, {"source": [dead_source]}, [{"Id": "dead", "Arn": api_destination(client, target.url + dead)}]
    )
    rule_with_targets(client, {"source": [healthy_source]}, [{"Id": "log", "Arn": log_group_arn(group)}])
    put_many(client, dead_source, backlog)
    target.wait_for(20, dead)  # the dead target's backlog is being worked on
    put_many(client, healthy_source, 300)
    log_group_complete_at(server, group, 300)
    assert len(target.requests_to(dead)) < backlog
