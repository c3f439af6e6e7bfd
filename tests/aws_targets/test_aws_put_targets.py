"""PutTargets accepts AWS service targets with --aws-targets, checks them as AWS does
(RoleArn, SqsParameters, the other *Parameters), refuses clearly what busbar does
not deliver to, and keeps refusing AWS service ARNs without --aws-targets."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from aws_support import AWS_ACCOUNT, arn
from support import ACCOUNT, error_of, unique

ROLE = f"arn:aws:iam::{AWS_ACCOUNT}:role/events"


def put_targets(events: Any, *targets: dict[str, Any]) -> str:
    name = unique("rule")
    events.put_rule(Name=name, EventPattern=json.dumps({"source": ["x"]}))
    events.put_targets(Rule=name, Targets=list(targets))
    return name


def refusal(events: Any, *targets: dict[str, Any]) -> tuple[str, str]:
    with pytest.raises(ClientError) as raised:
        put_targets(events, *targets)
    return error_of(raised)


def test_supported_targets_are_accepted_and_listed_with_their_parameters(events):
    targets = [
        {"Id": "sqs", "Arn": arn("sqs", "orders")},
        {"Id": "fifo", "Arn": arn("sqs", "orders.fifo"), "SqsParameters": {"MessageGroupId": "g"}},
        {"Id": "sns", "Arn": arn("sns", "topic")},
        {"Id": "fn", "Arn": arn("lambda", "function:f:live")},
        {
            "Id": "kinesis",
            "Arn": arn("kinesis", "stream/s"),
            "RoleArn": ROLE,
            "KinesisParameters": {"PartitionKeyPath": "$.detail.customer"},
        },
    ]
    name = put_targets(events, *targets)
    name2 = put_targets(
        events,
        {"Id": "hose", "Arn": arn("firehose", "deliverystream/h"), "RoleArn": ROLE},
        {"Id": "sfn", "Arn": arn("states", "stateMachine:m"), "RoleArn": ROLE},
        {"Id": "logs", "Arn": arn("logs", "log-group:/aws/events/x")},
        {"Id": "bus", "Arn": f"arn:aws:events:eu-west-1:{AWS_ACCOUNT}:event-bus/b", "RoleArn": ROLE},
    )
    listed = events.list_targets_by_rule(Rule=name)["Targets"]
    assert sorted(listed, key=lambda t: t["Id"]) == sorted(targets, key=lambda t: t["Id"])
    assert len(events.list_targets_by_rule(Rule=name2)["Targets"]) == 4


def test_fifo_queue_without_message_group_is_refused_with_aws_words(events):
    code, message = refusal(events, {"Id": "q", "Arn": arn("sqs", "orders.fifo")})
    assert (code, message) == ("ValidationException", "Parameter(s) SqsParameters must be specified for target: q.")


@pytest.mark.parametrize(
    "resource",
    ["kinesis:stream/s", "firehose:deliverystream/h", "states:stateMachine:m"],
    ids=lambda r: r.split(":")[0],
)
def test_role_is_required_where_aws_requires_it(events, resource):
    service, rest = resource.split(":", 1)
    target_arn = arn(service, rest)
    assert refusal(events, {"Id": "t", "Arn": target_arn}) == (
        "ValidationException",
        f"RoleArn is required for target {target_arn}.",
    )


def test_role_must_be_an_iam_role(events):
    code, message = refusal(events, {"Id": "t", "Arn": arn("sqs", "q"), "RoleArn": "not-a-role"})
    assert code == "ValidationException" and "RoleArn" in message and "not-a-role" in message


def test_parameters_belong_to_their_kind(events):
    code, message = refusal(
        events, {"Id": "t", "Arn": arn("sqs", "q"), "KinesisParameters": {"PartitionKeyPath": "$.id"}}
    )
    assert code == "ValidationException"
    assert message.startswith("Parameter(s) KinesisParameters not valid for target: t.")


def test_partition_key_path_must_be_a_json_path(events):
    code, message = refusal(
        events,
        {
            "Id": "t",
            "Arn": arn("kinesis", "stream/s"),
            "RoleArn": ROLE,
            "KinesisParameters": {"PartitionKeyPath": "id"},
        },
    )
    assert code == "ValidationException" and message.startswith(
        "Parameter PartitionKeyPath is not valid for target: t."
    )


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        (
            {"Id": "ecs", "Arn": arn("ecs", "cluster/c")},
            "Parameter(s) EcsParameters must be specified for target: ecs.",
        ),
        (
            {"Id": "batch", "Arn": arn("batch", "job-queue/q")},
            "Parameter(s) BatchParameters must be specified for target: batch.",
        ),
        (
            {
                "Id": "ecs",
                "Arn": arn("ecs", "cluster/c"),
                "RoleArn": ROLE,
                "EcsParameters": {"TaskDefinitionArn": arn("ecs", "task-definition/t:1")},
            },
            "Target ecs: busbar does not deliver to Amazon ECS tasks yet",
        ),
        (
            {
                "Id": "batch",
                "Arn": arn("batch", "job-queue/q"),
                "RoleArn": ROLE,
                "BatchParameters": {"JobDefinition": "d", "JobName": "n"},
            },
            "Target batch: busbar does not deliver to AWS Batch jobs yet",
        ),
        (
            {
                "Id": "redshift",
                "Arn": arn("redshift", "cluster:c"),
                "RoleArn": ROLE,
                "RedshiftDataParameters": {"Database": "db", "Sql": "select 1"},
            },
            "Target redshift: busbar does not deliver to Amazon Redshift Data API statements yet",
        ),
        (
            {
                "Id": "sm",
                "Arn": arn("sagemaker", "pipeline/p"),
                "RoleArn": ROLE,
                "SageMakerPipelineParameters": {"PipelineParameterList": [{"Name": "a", "Value": "b"}]},
            },
            "Target sm: busbar does not deliver to SageMaker pipelines yet",
        ),
        (
            {
                "Id": "gql",
                "Arn": arn("appsync", "endpoints/graphql-api/x"),
                "RoleArn": ROLE,
                "AppSyncParameters": {"GraphQLOperation": "mutation { a }"},
            },
            "Target gql: busbar does not deliver to AWS AppSync GraphQL operations yet",
        ),
        (
            {
                "Id": "run",
                "Arn": arn("ssm", "document/AWS-RunShellScript"),
                "RoleArn": ROLE,
                "RunCommandParameters": {"RunCommandTargets": [{"Key": "InstanceIds", "Values": ["i-1"]}]},
            },
            "Target run: busbar does not deliver to Systems Manager",
        ),
        (
            {
                "Id": "redshift",
                "Arn": arn("redshift", "cluster:c"),
                "RedshiftDataParameters": {"Database": "db"},
            },
            "Exactly one of Sql or Sqls must be provided in RedshiftDataParameters for target redshift.",
        ),
    ],
    ids=["ecs-params", "batch-params", "ecs", "batch", "redshift", "sagemaker", "appsync", "run-command", "sql"],
)
def test_kinds_out_of_scope_are_validated_then_refused(events, target, expected):
    code, message = refusal(events, target)
    assert code == "ValidationException" and message.startswith(expected), message


def test_a_refused_request_changes_nothing(events):
    name = put_targets(events, {"Id": "ok", "Arn": arn("sqs", "q")})
    refusal_targets = [{"Id": "new", "Arn": arn("sqs", "q2")}, {"Id": "bad", "Arn": arn("sqs", "q.fifo")}]
    with pytest.raises(ClientError):
        events.put_targets(Rule=name, Targets=refusal_targets)
    assert [t["Id"] for t in events.list_targets_by_rule(Rule=name)["Targets"]] == ["ok"]


def test_without_aws_targets_aws_services_are_still_refused(server):
    """The shared server runs without --aws-targets: today's message, with the flag to use."""
    events = server.client()
    target_arn = f"arn:aws:sqs:us-east-1:{AWS_ACCOUNT}:queue"
    code, message = refusal(events, {"Id": "q", "Arn": target_arn})
    assert code == "ValidationException"
    assert message.startswith(f"Target q: busbar cannot deliver to {target_arn}. It delivers to API destinations")
    assert "--aws-targets" in message


def test_a_dead_letter_queue_is_a_standard_sqs_queue(events):
    bus = f"arn:aws:events:us-east-1:{AWS_ACCOUNT}:event-bus/default"
    name = put_targets(
        events,
        {"Id": "queue", "Arn": arn("sqs", "q"), "DeadLetterConfig": {"Arn": arn("sqs", "dlq")}},
        {"Id": "bus", "Arn": arn("sqs", "q"), "DeadLetterConfig": {"Arn": bus}},
    )
    listed = {t["Id"]: t["DeadLetterConfig"]["Arn"] for t in events.list_targets_by_rule(Rule=name)["Targets"]}
    assert listed == {"queue": arn("sqs", "dlq"), "bus": bus}
    fifo = {"Id": "q", "Arn": arn("sqs", "q"), "DeadLetterConfig": {"Arn": arn("sqs", "dlq.fifo")}}
    assert refusal(events, fifo) == ("ValidationException", "SQS FIFO is not supported by Dead Letter Queues.")
    topic = {"Id": "q", "Arn": arn("sqs", "q"), "DeadLetterConfig": {"Arn": arn("sns", "topic")}}
    code, message = refusal(events, topic)
    assert code == "ValidationException" and "must be an SQS queue ARN" in message


def test_without_aws_targets_a_dead_letter_queue_is_refused(server):
    events = server.client()
    bus = f"arn:aws:events:us-east-1:{ACCOUNT}:event-bus/default"
    dlq = f"arn:aws:sqs:us-east-1:{AWS_ACCOUNT}:dlq"
    code, message = refusal(events, {"Id": "b", "Arn": bus, "DeadLetterConfig": {"Arn": dlq}})
    assert code == "ValidationException" and "--aws-targets" in message
