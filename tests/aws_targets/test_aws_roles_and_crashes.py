"""Targets' RoleArn with --assume-target-roles, and at-least-once delivery to SQS
across kill -9."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from aws_support import AWS_ACCOUNT, MotoServer, arn, aws_environment, queue, receive
from delivery_support import dead_letters_of, put, rule_with_targets, unique
from httptarget import HttpTarget, Reply
from lambdastub import LambdaStub
from support import BusbarProcess, free_port

ROLE = f"arn:aws:iam::{AWS_ACCOUNT}:role/events-invoke"
FAST = ["--retry-base-delay", "0.1", "--retry-max-delay", "0.3"]


@pytest.fixture
def role_busbar(tmp_path: Path, aws_env: dict[str, str]) -> Iterator[BusbarProcess]:
    process = BusbarProcess(tmp_path / "data", env=aws_env, args=["--aws-targets", "--assume-target-roles", *FAST])
    yield process.start()
    process.stop()


def test_target_role_is_assumed_and_used(role_busbar: BusbarProcess, lambda_stub: LambdaStub):
    """moto's STS hands out the role's temporary keys; Lambda sees calls signed with them."""
    events = role_busbar.client()
    with_role, without = arn("lambda", f"function:{unique('fn')}"), arn("lambda", f"function:{unique('fn')}")
    source = unique("shop")
    rule_with_targets(
        events, {"source": [source]}, [{"Id": "role", "Arn": with_role, "RoleArn": ROLE}, {"Id": "own", "Arn": without}]
    )
    put(events, {"n": 1}, source=source)
    put(events, {"n": 2}, source=source)

    assumed = lambda_stub.wait_for(2, function=with_role)
    own = lambda_stub.wait_for(2, function=without)
    keys = {invocation.access_key for invocation in assumed}
    assert len(keys) == 1 and keys != {"test"}  # one set of role credentials, cached for both calls
    assert {invocation.access_key for invocation in own} == {"test"}


def test_a_role_that_cannot_be_assumed_dead_letters(tmp_path: Path, aws_env: dict[str, str]):
    sts = HttpTarget().start()
    denied = (
        b'<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>'
        b"<Code>AccessDenied</Code><Message>Not authorized to perform sts:AssumeRole</Message></Error>"
        b"<RequestId>r</RequestId></ErrorResponse>"
    )
    sts.script("/", *[Reply(403, {"Content-Type": "text/xml"}, denied)] * 5)
    env = dict(aws_env, AWS_ENDPOINT_URL_STS=sts.url)
    server = BusbarProcess(tmp_path / "data", env=env, args=["--aws-targets", "--assume-target-roles", *FAST]).start()
    try:
        events = server.client()
        source = unique("shop")
        rule_with_targets(
            events, {"source": [source]}, [{"Id": "fn", "Arn": arn("lambda", "function:f"), "RoleArn": ROLE}]
        )
        event_id = put(events, {"n": 1}, source=source)
        [dead] = dead_letters_of(server, event_id)
        assert dead["error_code"] == "FAILED_TO_ASSUME_ROLE" and dead["attempts"] == 1
        assert "AccessDenied" in dead["error_message"]
    finally:
        server.stop()
        sts.stop()


def test_assume_target_roles_needs_aws_targets(tmp_path: Path):
    with pytest.raises(RuntimeError, match="--assume-target-roles needs --aws-targets"):
        BusbarProcess(tmp_path / "data", args=["--assume-target-roles"]).start()


def test_every_event_reaches_the_queue_across_kill_9(tmp_path: Path):
    """Events are accepted while SQS is down (moto not started yet); busbar is killed
    with -9 with all their deliveries pending; after a restart with SQS up, every
    event is in the queue (at least once)."""
    port = free_port()
    env = aws_environment(tmp_path, f"http://127.0.0.1:{port}")
    server = BusbarProcess(tmp_path / "data", env=env, args=["--aws-targets", *FAST]).start()
    name = unique("durable")
    queue_arn = arn("sqs", name)
    events = server.client()
    source = unique("shop")
    rule_with_targets(events, {"source": [source]}, [{"Id": "q", "Arn": queue_arn}])
    ids = [put(events, {"n": n}, source=source) for n in range(50)]
    time.sleep(0.5)  # deliveries are being tried (and fail: nothing listens yet)
    server.kill()

    (tmp_path / "moto").mkdir()
    moto = MotoServer(tmp_path / "moto", port=port)
    try:
        sqs = moto.client("sqs")
        url, _ = queue(sqs, name)
        restarted = BusbarProcess(tmp_path / "data", port=server.port, env=env, args=["--aws-targets", *FAST]).start()
        try:
            # At least once: a delivery in flight at the kill may come twice, so wait for every
            # id, not for as many messages (on NATS what the killed process leased comes back
            # after the ack wait, 30 s).
            received: set[str] = set()
            deadline = time.monotonic() + 90
            while not set(ids) <= received and time.monotonic() < deadline:
                received |= {json.loads(m["Body"])["id"] for m in receive(sqs, url, len(ids), timeout=5)}
        finally:
            restarted.stop()
    finally:
        moto.stop()
    assert received == set(ids)
