"""busbar.model.arns: every ARN busbar hands out parses back to what it was built from,
for every region form busbar accepts, and target ARNs parse into their kinds."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from busbar.config import Settings
from busbar.model import arns
from busbar.model.arns import TargetKind

# AWS's region names in every partition busbar may be told to serve.
REGIONS = [
    "us-east-1",
    "eu-central-2",
    "ap-southeast-4",
    "us-gov-west-1",
    "cn-northwest-1",
    "il-central-1",
    "us-isob-east-1",
    "ca-west-1",
]
ACCOUNT = "123456789012"
names = st.from_regex(r"[\.\-_A-Za-z0-9]{1,64}", fullmatch=True)


@pytest.mark.parametrize("region", REGIONS)
def test_regions_of_aws_form(region):
    assert arns.is_region(region)
    Settings(region=region).check()


@pytest.mark.parametrize("region", ["local", "us-east", "US-EAST-1", "us_east_1", "useast1", "us-east-1a", ""])
def test_other_regions_are_refused(region):
    assert not arns.is_region(region)
    with pytest.raises(ValueError, match="region must be an AWS region name"):
        Settings(region=region).check()


@given(region=st.sampled_from(REGIONS), name=names)
def test_bus_arns_round_trip(region, name):
    parsed = arns.parse_events(arns.bus_arn(region, ACCOUNT, name), "event-bus")
    assert parsed is not None and (parsed.region, parsed.account, parsed.name) == (region, ACCOUNT, name)
    target = arns.parse_target(arns.bus_arn(region, ACCOUNT, name))
    assert target is not None and (target.kind, target.name) == (TargetKind.EVENT_BUS, name)


@given(region=st.sampled_from(REGIONS), bus=names, name=names)
def test_rule_arns_round_trip(region, bus, name):
    parsed = arns.parse_events(arns.rule_arn(region, ACCOUNT, bus, name), "rule")
    assert parsed is not None and (parsed.region, parsed.bus, parsed.name) == (region, bus, name)


@given(region=st.sampled_from(REGIONS), name=names, unique=st.uuids())
def test_named_arns_round_trip(region, name, unique):
    for build, kind in ((arns.connection_arn, "connection"), (arns.api_destination_arn, "api-destination")):
        parsed = arns.parse_events(build(region, ACCOUNT, name, str(unique)), kind)
        assert parsed is not None and (parsed.name, parsed.unique) == (name, str(unique))
        assert arns.parse_events(build(region, ACCOUNT, name, str(unique)), "event-bus") is None


@pytest.mark.parametrize(
    ("arn", "kind", "name", "qualifier"),
    [
        ("arn:aws:logs:us-east-1:123456789012:log-group:/aws/events/x", TargetKind.LOG_GROUP, "/aws/events/x", ""),
        ("arn:aws:logs:us-east-1:123456789012:log-group:app#1:*", TargetKind.LOG_GROUP, "app#1", ""),
        ("arn:aws:sqs:eu-west-1:123456789012:orders.fifo", TargetKind.SQS, "orders.fifo", ""),
        ("arn:aws:sns:us-east-1:123456789012:alerts", TargetKind.SNS, "alerts", ""),
        ("arn:aws:lambda:us-east-1:123456789012:function:fn", TargetKind.LAMBDA, "fn", ""),
        ("arn:aws:lambda:us-east-1:123456789012:function:fn:live", TargetKind.LAMBDA, "fn", "live"),
        ("arn:aws:kinesis:us-east-1:123456789012:stream/clicks", TargetKind.KINESIS, "clicks", ""),
        ("arn:aws:firehose:us-east-1:123456789012:deliverystream/s3", TargetKind.FIREHOSE, "s3", ""),
        ("arn:aws:states:us-east-1:123456789012:stateMachine:flow", TargetKind.STEP_FUNCTIONS, "flow", ""),
        ("arn:aws-us-gov:sqs:us-gov-west-1:123456789012:q", TargetKind.SQS, "q", ""),
        (
            "arn:aws:events:us-east-1:123456789012:api-destination/d/0f1e2d3c-aaaa-bbbb-cccc-123456789abc",
            TargetKind.API_DESTINATION,
            "d",
            "",
        ),
    ],
)
def test_target_arns(arn, kind, name, qualifier):
    target = arns.parse_target(arn)
    assert target is not None and (target.kind, target.name, target.qualifier) == (kind, name, qualifier)


@pytest.mark.parametrize(
    "arn",
    [
        "not-an-arn",
        "arn:aws:logs:us-east-1:123456789012:log-group:has space",  # AWS: [\.\-_/#A-Za-z0-9]+ only
        "arn:aws:logs:us-east-1:123456789012:log-group:" + "x" * 513,  # AWS: at most 512 characters
        "arn:aws:sqs:local:123456789012:q",  # not a region of AWS's form
        "arn:aws:sqs:us-east-1:12345:q",  # not a 12-digit account
        "arn:aws:events:us-east-1:123456789012:rule/r",  # rules are not targets
        "arn:aws:s3:::bucket",
    ],
)
def test_arns_that_are_not_targets(arn):
    assert arns.parse_target(arn) is None
