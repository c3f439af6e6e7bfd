"""Rules and targets through real boto3: the API, its errors and its limits."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from support import ACCOUNT, REGION, error_of, unique

PATTERN = json.dumps({"source": ["shop.orders"]})
LOG_ARN = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/busbar/tests"


def test_put_describe_list_rule(events):
    name = unique("rule")
    arn = events.put_rule(Name=name, EventPattern=PATTERN, Description="orders")["RuleArn"]
    assert arn == f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{name}"
    described = events.describe_rule(Name=name)
    assert described["Name"] == name and described["Arn"] == arn
    assert described["EventPattern"] == PATTERN and described["State"] == "ENABLED"
    assert described["EventBusName"] == "default" and described["Description"] == "orders"
    assert described["CreatedBy"] == ACCOUNT
    listed = events.list_rules(NamePrefix=name)["Rules"]
    assert [rule["Name"] for rule in listed] == [name]
    # PutRule again updates in place.
    events.put_rule(Name=name, EventPattern=PATTERN, State="DISABLED")
    assert events.describe_rule(Name=name)["State"] == "DISABLED"
    assert "Description" not in events.describe_rule(Name=name)


def test_rule_on_custom_bus(events):
    bus, name = unique("bus"), unique("rule")
    bus_arn = events.create_event_bus(Name=bus)["EventBusArn"]
    arn = events.put_rule(Name=name, EventPattern=PATTERN, EventBusName=bus)["RuleArn"]
    assert arn == f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{bus}/{name}"
    assert events.describe_rule(Name=name, EventBusName=bus_arn)["EventBusName"] == bus
    with pytest.raises(events.exceptions.ResourceNotFoundException) as raised:
        events.describe_rule(Name=name)
    assert error_of(raised) == ("ResourceNotFoundException", f"Rule {name} does not exist on EventBus default.")


def test_rule_errors(events):
    name = unique("rule")
    with pytest.raises(ClientError) as raised:
        events.put_rule(Name=name)
    assert error_of(raised) == (
        "ValidationException",
        "Parameter(s) EventPattern or ScheduleExpression must be specified.",
    )
    with pytest.raises(events.exceptions.InvalidEventPatternException) as raised:
        events.put_rule(Name=name, EventPattern='{"source": "x"}')
    assert error_of(raised) == (
        "InvalidEventPatternException",
        'Event pattern is not valid. Reason: "source" must be an object or an array\n'
        ' at [Source: (String)"{"source": "x"}"; line: 1, column: 13]',  # AWS's parser position
    )
    with pytest.raises(events.exceptions.ResourceNotFoundException) as raised:
        events.put_rule(Name=name, EventPattern=PATTERN, EventBusName="no-such-bus")
    assert error_of(raised) == ("ResourceNotFoundException", "Event bus no-such-bus does not exist.")
    with pytest.raises(ClientError) as raised:
        events.put_rule(Name="bad name", EventPattern=PATTERN)
    assert error_of(raised)[0] == "ValidationException"
    with pytest.raises(events.exceptions.ResourceNotFoundException) as raised:
        events.enable_rule(Name=unique("rule"))


def test_schedule_expressions(events):
    name = unique("rule")
    events.put_rule(Name=name, ScheduleExpression="rate(5 minutes)")
    assert events.describe_rule(Name=name)["ScheduleExpression"] == "rate(5 minutes)"
    events.put_rule(Name=unique("rule"), ScheduleExpression="cron(0 12 * * ? *)")
    for bad in ("rate(5 minute)", "rate(1 minutes)", "every day", "cron(0 12 * *)"):
        with pytest.raises(ClientError) as raised:
            events.put_rule(Name=unique("rule"), ScheduleExpression=bad)
        assert error_of(raised) == ("ValidationException", "Parameter ScheduleExpression is not valid.")
    bus = unique("bus")
    events.create_event_bus(Name=bus)
    with pytest.raises(ClientError) as raised:
        events.put_rule(Name=unique("rule"), ScheduleExpression="rate(5 minutes)", EventBusName=bus)
    assert error_of(raised) == ("ValidationException", "ScheduleExpression is supported only on the default event bus.")


def test_enable_disable(events):
    name = unique("rule")
    events.put_rule(Name=name, EventPattern=PATTERN)
    events.disable_rule(Name=name)
    assert events.describe_rule(Name=name)["State"] == "DISABLED"
    events.enable_rule(Name=name)
    assert events.describe_rule(Name=name)["State"] == "ENABLED"


def test_targets_lifecycle_and_delete_rule(events):
    name = unique("rule")
    events.put_rule(Name=name, EventPattern=PATTERN)
    answer = events.put_targets(
        Rule=name,
        Targets=[
            {"Id": "log", "Arn": LOG_ARN, "RetryPolicy": {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 60}},
            {"Id": "bus", "Arn": f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/default"},
        ],
    )
    assert answer["FailedEntryCount"] == 0 and answer["FailedEntries"] == []
    targets = events.list_targets_by_rule(Rule=name)["Targets"]
    assert [t["Id"] for t in targets] == ["bus", "log"]
    assert targets[1]["RetryPolicy"] == {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 60}
    assert name in events.list_rule_names_by_target(TargetArn=LOG_ARN)["RuleNames"]
    with pytest.raises(ClientError) as raised:
        events.delete_rule(Name=name)
    assert error_of(raised) == ("ValidationException", "Rule can't be deleted since it has targets.")
    events.remove_targets(Rule=name, Ids=["log", "bus"])
    assert events.list_targets_by_rule(Rule=name)["Targets"] == []
    events.delete_rule(Name=name)
    with pytest.raises(events.exceptions.ResourceNotFoundException):
        events.describe_rule(Name=name)
    events.delete_rule(Name=name)  # deleting again succeeds, as in AWS


def test_sixth_target_is_refused(events):
    name = unique("rule")
    events.put_rule(Name=name, EventPattern=PATTERN)
    events.put_targets(Rule=name, Targets=[{"Id": f"t{i}", "Arn": LOG_ARN} for i in range(5)])
    with pytest.raises(events.exceptions.LimitExceededException) as raised:
        events.put_targets(Rule=name, Targets=[{"Id": "t5", "Arn": LOG_ARN}])
    assert error_of(raised) == ("LimitExceededException", "The requested resource exceeds the maximum number allowed.")
    events.put_targets(Rule=name, Targets=[{"Id": "t0", "Arn": LOG_ARN, "Input": "{}"}])  # replacing is fine


def test_target_validation(events, server):
    name = unique("rule")
    events.put_rule(Name=name, EventPattern=PATTERN)
    with pytest.raises(ClientError) as raised:
        events.put_targets(Rule=name, Targets=[{"Id": "t", "Arn": LOG_ARN, "Input": "{}", "InputPath": "$.detail"}])
    assert error_of(raised) == (
        "ValidationException",
        "Only one of Input, InputPath, or InputTransformer must be provided for target t.",
    )
    with pytest.raises(ClientError) as raised:
        events.put_targets(
            Rule=name,
            Targets=[
                {
                    "Id": "t",
                    "Arn": LOG_ARN,
                    "InputTransformer": {"InputPathsMap": {"a": "$.detail.a"}, "InputTemplate": '{"x": <b>}'},
                }
            ],
        )
    assert error_of(raised) == ("ValidationException", "InputTemplate for target t contains invalid placeholder b.")
    with pytest.raises(ClientError) as raised:
        events.put_targets(Rule=name, Targets=[{"Id": "q", "Arn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:queue"}])
    code, message = error_of(raised)
    assert code == "ValidationException" and "busbar cannot deliver to arn:aws:sqs" in message
    # botocore checks minimums itself; a raw request shows the server's answer.
    response = server.post(
        "AWSEvents.PutTargets",
        json.dumps(
            {
                "Rule": name,
                "Targets": [
                    {
                        "Id": "t",
                        "Arn": LOG_ARN,
                        "RetryPolicy": {"MaximumEventAgeInSeconds": 59, "MaximumRetryAttempts": 186},
                    }
                ],
            }
        ),
    )
    assert response.json() == {
        "__type": "ValidationException",
        "message": (
            "2 validation errors detected: Value '186' at 'targets.1.member.retryPolicy.maximumRetryAttempts' failed "
            "to satisfy constraint: Member must have value less than or equal to 185; Value '59' at "
            "'targets.1.member.retryPolicy.maximumEventAgeInSeconds' failed to satisfy constraint: Member must have "
            "value greater than or equal to 60"
        ),
    }
    with pytest.raises(events.exceptions.ResourceNotFoundException):
        events.put_targets(Rule=unique("rule"), Targets=[{"Id": "t", "Arn": LOG_ARN}])
    assert events.list_targets_by_rule(Rule=name)["Targets"] == []


def test_rule_limit_per_bus(fresh_server):
    fresh_server.env = {"BUSBAR_MAX_RULES_PER_BUS": "3"}
    client = fresh_server.start().client()
    for i in range(3):
        client.put_rule(Name=f"r{i}", EventPattern=PATTERN)
    with pytest.raises(client.exceptions.LimitExceededException):
        client.put_rule(Name="r3", EventPattern=PATTERN)
    client.put_rule(Name="r0", EventPattern=PATTERN, Description="updating is fine")


def test_rule_tags(events):
    name = unique("rule")
    arn = events.put_rule(Name=name, EventPattern=PATTERN, Tags=[{"Key": "team", "Value": "shop"}])["RuleArn"]
    assert events.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "team", "Value": "shop"}]
    events.tag_resource(ResourceARN=arn, Tags=[{"Key": "env", "Value": "dev"}])
    assert len(events.list_tags_for_resource(ResourceARN=arn)["Tags"]) == 2


def test_rules_paginate(events):
    bus = unique("bus")
    events.create_event_bus(Name=bus)
    for i in range(5):
        events.put_rule(Name=f"p{i}", EventPattern=PATTERN, EventBusName=bus)
    first = events.list_rules(EventBusName=bus, Limit=2)
    assert [r["Name"] for r in first["Rules"]] == ["p0", "p1"]
    second = events.list_rules(EventBusName=bus, Limit=2, NextToken=first["NextToken"])
    assert [r["Name"] for r in second["Rules"]] == ["p2", "p3"]
