"""Which kinds of target busbar can deliver to, told from the target's ARN.

busbar's own kinds: API destinations (HTTP endpoints with a connection's auth),
event buses of the same account and region, and log groups (JSON lines under the
data directory).  With ``--aws-targets`` it also delivers to AWS services through
their APIs: SQS queues, SNS topics, Lambda functions, Kinesis streams, Firehose
delivery streams, Step Functions state machines, CloudWatch Logs log groups and
event buses of other accounts or regions.  Any other ARN is refused at PutTargets,
so no event is ever accepted for a target that would silently drop it.
"""

from __future__ import annotations

import re
from enum import StrEnum


class TargetKind(StrEnum):
    API_DESTINATION = "api-destination"
    EVENT_BUS = "event-bus"
    LOG_GROUP = "log-group"
    # AWS services, delivered to only with --aws-targets.
    SQS_QUEUE = "sqs"
    SNS_TOPIC = "sns"
    LAMBDA_FUNCTION = "lambda"
    KINESIS_STREAM = "kinesis"
    FIREHOSE_STREAM = "firehose"
    STATE_MACHINE = "states"


# Kinds that only exist as AWS services (log groups and event buses are both: busbar's
# own, or CloudWatch Logs / another account's EventBridge with --aws-targets).
AWS_KINDS = frozenset(
    {
        TargetKind.SQS_QUEUE,
        TargetKind.SNS_TOPIC,
        TargetKind.LAMBDA_FUNCTION,
        TargetKind.KINESIS_STREAM,
        TargetKind.FIREHOSE_STREAM,
        TargetKind.STATE_MACHINE,
    }
)

_ARN = r"arn:aws[\w-]*:{service}:([\w-]+):(\d{{12}}):{resource}"
_PATTERNS = {
    TargetKind.API_DESTINATION: re.compile(_ARN.format(service="events", resource=r"api-destination/([^/]+)/[^/]+")),
    TargetKind.EVENT_BUS: re.compile(_ARN.format(service="events", resource=r"event-bus/(.+)")),
    TargetKind.LOG_GROUP: re.compile(_ARN.format(service="logs", resource=r"log-group:([\.\-_/#A-Za-z0-9]+?)(?::\*)?")),
    TargetKind.SQS_QUEUE: re.compile(_ARN.format(service="sqs", resource=r"([\w-]{1,80}(?:\.fifo)?)")),
    TargetKind.SNS_TOPIC: re.compile(_ARN.format(service="sns", resource=r"([\w-]{1,256}(?:\.fifo)?)")),
    # A function by name, or a version or alias of it (name:qualifier).
    TargetKind.LAMBDA_FUNCTION: re.compile(
        _ARN.format(service="lambda", resource=r"function:([\w-]{1,140}(?::(?:\$LATEST|[\w-]{1,128}))?)")
    ),
    TargetKind.KINESIS_STREAM: re.compile(_ARN.format(service="kinesis", resource=r"stream/([\w.-]{1,128})")),
    TargetKind.FIREHOSE_STREAM: re.compile(_ARN.format(service="firehose", resource=r"deliverystream/([\w.-]{1,64})")),
    TargetKind.STATE_MACHINE: re.compile(_ARN.format(service="states", resource=r"stateMachine:([\w-]{1,80})")),
}

SUPPORTED = "API destinations, event buses and CloudWatch log groups"
SUPPORTED_WITH_AWS = (
    "API destinations, event buses, CloudWatch Logs log groups, SQS queues, SNS topics, Lambda functions, "
    "Kinesis streams, Firehose delivery streams and Step Functions state machines"
)


def target_kind(arn: str) -> tuple[TargetKind, str, str, str] | None:
    """(kind, region, account, resource name) of a target ARN busbar can deliver to, else None."""
    for kind, pattern in _PATTERNS.items():
        match = pattern.fullmatch(arn)
        if match:
            return kind, match.group(1), match.group(2), match.group(3)
    return None
