"""``busbar events --follow`` and ``busbar deliveries list`` beside a running server."""

from __future__ import annotations

import contextlib
import json
import queue
import subprocess
import sys
import threading
import time
from typing import Any

from delivery_support import api_destination, put, rule_with_targets
from httptarget import Reply
from support import BusbarProcess, unique

FAST_RETRIES = {"BUSBAR_RETRY_BASE_DELAY": "0.05", "BUSBAR_RETRY_MAX_DELAY": "0.2"}


def busbar(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "busbar", *args], capture_output=True, text=True, timeout=60)


class Follower:
    """``busbar events --follow ...`` running; its lines arrive in a queue."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-u", "-m", "busbar", "events", "--follow", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[dict[str, Any]] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(json.loads(line))

    def take(self, count: int, timeout: float = 20.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        return [self.lines.get(timeout=max(0.1, deadline - time.monotonic())) for _ in range(count)]

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def test_events_follow_tails_new_events_of_a_bus_that_match_a_pattern(tmp_path):
    server = BusbarProcess(tmp_path / "data").start()
    try:
        client = server.client()
        bus, other = unique("bus"), unique("other")
        client.create_event_bus(Name=bus)
        client.create_event_bus(Name=other)
        before = put(client, {"total": 500}, bus=bus)  # stored before the tail starts: not shown
        pattern = json.dumps({"detail": {"total": [{"numeric": [">", 100]}]}})
        follower = Follower(*server.store_args(), "--bus", bus, "--pattern", pattern)
        try:
            # Matching markers until one shows: the tail has found the end of the log (however
            # long that took on a loaded machine), and everything put after it must come.
            while True:
                marker = put(client, {"total": 200}, bus=bus)
                with contextlib.suppress(queue.Empty):
                    if follower.take(1, timeout=1.0)[0]["event"]["id"] == marker:
                        break
            while not follower.lines.empty():  # markers put before the first one shown
                follower.lines.get()
            put(client, {"total": 5}, bus=bus)  # does not match
            put(client, {"total": 900}, bus=other)  # another bus
            wanted = [put(client, {"total": 101 + n}, bus=bus) for n in range(3)]
            lines = follower.take(3)
            assert [line["event"]["id"] for line in lines] == wanted
            assert {line["bus"] for line in lines} == {bus}
            assert before not in {line["event"]["id"] for line in lines}
            time.sleep(0.5)
            assert follower.lines.empty()
        finally:
            follower.stop()
    finally:
        server.stop()


def test_events_refuses_an_invalid_pattern_with_awss_message(tmp_path):
    done = busbar("events", "--data-dir", str(tmp_path), "--pattern", '{"source": "not-a-list"}')
    assert done.returncode == 2
    assert "Event pattern is not valid" in done.stderr


def test_deliveries_list_shows_pending_deliveries_with_their_last_error(tmp_path, target):
    server = BusbarProcess(tmp_path / "data", env=FAST_RETRIES).start()
    try:
        client = server.client()
        target.script("/down", *[Reply(status=503)] * 1000)
        dest = api_destination(client, f"{target.url}/down")
        rule = rule_with_targets(client, {"source": ["shop.orders"]}, [{"Id": "web", "Arn": dest}])
        event_id = put(client, {"n": 1})
        target.wait_for(2, "/down")
        deadline = time.monotonic() + 20
        while True:
            done = busbar("deliveries", "list", *server.store_args(), "--with-event")
            assert done.returncode == 0, done.stderr
            listed = [json.loads(line) for line in done.stdout.splitlines()]
            if listed and listed[0]["attempts"] >= 1 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        [pending] = listed
        assert pending["event_id"] == event_id and pending["event"]["id"] == event_id
        assert pending["rule_arn"].endswith(f"rule/{rule}") and pending["target_id"] == "web"
        assert pending["target_arn"] == dest
        assert pending["error_code"] == "ERROR_FROM_TARGET" and "503" in pending["error_message"]
        assert pending["next_attempt_at"].endswith("Z")
        assert busbar("dead-letters", "list", *server.store_args()).stdout == ""
    finally:
        server.stop()
