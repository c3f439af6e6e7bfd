"""The AWS CLI works against busbar unchanged but for --endpoint-url."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

AWS = str(Path(sys.executable).with_name("aws"))


def aws(server, *args: str) -> dict:
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_PAGER": "",
    }
    done = subprocess.run(
        [AWS, "events", *args, "--endpoint-url", server.endpoint_url, "--output", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout) if done.stdout.strip() else {}


def test_put_events_with_the_cli(server):
    entries = json.dumps([{"Source": "cli.test", "DetailType": "Hello", "Detail": json.dumps({"from": "cli"})}])
    answer = aws(server, "put-events", "--entries", entries)
    assert answer["FailedEntryCount"] == 0
    assert len(answer["Entries"][0]["EventId"]) == 36


def test_bus_commands_with_the_cli(server):
    created = aws(server, "create-event-bus", "--name", "cli-bus")
    assert created["EventBusArn"].endswith(":event-bus/cli-bus")
    names = [bus["Name"] for bus in aws(server, "list-event-buses")["EventBuses"]]
    assert "cli-bus" in names and "default" in names
    aws(server, "delete-event-bus", "--name", "cli-bus")
