"""Events and helpers shared by the input-shaping tests (examples from AWS's documentation)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from busbar.transform import compile_target_input

RULE_ARN = "arn:aws:events:us-east-2:123456789012:rule/example"
RULE_NAME = "example"
INGESTION_TIME = "2015-11-11T21:29:55Z"


@pytest.fixture
def ec2_event() -> dict[str, Any]:
    """The EC2 state-change event of AWS's "Input transform examples"."""
    return {
        "version": "0",
        "id": "7bf73129-1428-4cd3-a780-95db273d1602",
        "detail-type": "EC2 Instance State-change Notification",
        "source": "aws.ec2",
        "account": "123456789012",
        "time": "2015-11-11T21:29:54Z",
        "region": "us-east-1",
        "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111"],
        "detail": {"instance-id": "i-0123456789", "state": "RUNNING"},
    }


@pytest.fixture
def account_event() -> dict[str, Any]:
    """The event LocalStack's AWS-recorded input-transformer tests send (lists, objects, booleans)."""
    return {
        "version": "0",
        "id": "e1",
        "detail-type": "core.update-account-command",
        "source": "core.update-account-command",
        "account": "111111111111",
        "time": "2024-05-13T12:27:07Z",
        "region": "us-east-1",
        "resources": [],
        "detail": {
            "command": "update-account",
            "payload": {"acc_id": "0a787ecb-4015", "sf_id": "baz"},
            "listsingle": ["HIGH"],
            "listmulti": ["ACTIVE", "INACTIVE"],
            "valid": True,
            "count": 3,
            "ratio": 0.5,
            "nothing": None,
        },
    }


def render(target: dict[str, Any], event: dict[str, Any], **kwargs: Any) -> bytes:
    """Compile ``target`` and render it for ``event`` with this module's rule and time."""
    kwargs.setdefault("rule_arn", RULE_ARN)
    kwargs.setdefault("rule_name", RULE_NAME)
    kwargs.setdefault("ingestion_time", INGESTION_TIME)
    return compile_target_input({"Id": "t1", "Arn": "arn:aws:events:::x", **target}).render(event, **kwargs)


def transform(paths: dict[str, str], template: str, event: dict[str, Any]) -> bytes:
    """Render an InputTransformer with ``paths`` and ``template`` for ``event``."""
    return render({"InputTransformer": {"InputPathsMap": paths, "InputTemplate": template}}, event)


def loads(body: bytes) -> Any:
    """Parse a rendered JSON body (fails the test if it is not JSON)."""
    return orjson.loads(body)
