"""PutTargets' checks of a target's kind and of its AWS parameters.

botocore's model already checked every member's type, length and pattern (see
:mod:`busbar.server.validation`); what is checked here is what AWS checks on top,
in AWS's words where they are known:

* ``RoleArn is required for target <arn>.`` -- Kinesis streams, Firehose delivery
  streams, Step Functions state machines and event buses of another account or
  region;
* ``Parameter(s) SqsParameters must be specified for target: <id>.`` -- a FIFO
  queue (and, in busbar, a FIFO topic) needs a ``MessageGroupId``;
* ``Parameter(s) EcsParameters|BatchParameters|RedshiftDataParameters must be
  specified for target: <id>.`` -- for ECS clusters, Batch job queues and Redshift;
* each ``*Parameters`` member belongs to one kind of target.

An ``Arn`` that is not an ARN at all (nor a log group's, whose name is part of its
format) gets AWS's ``Parameter <arn> is not valid. Reason: Provided Arn is not in
correct format.``, checked first as AWS does.  Then busbar refuses, clearly, what it
cannot deliver: ARNs of no known kind, AWS
service ARNs without ``--aws-targets``, and the kinds not in scope yet (ECS,
Batch, Redshift, SageMaker, AppSync, Systems Manager, ...): a target is never
accepted and then never delivered.
"""

from __future__ import annotations

import re
from typing import Any

from busbar.model import arns
from busbar.model.arns import AWS_SERVICE_KINDS, TargetKind
from busbar.transform import PathSyntaxError, compile_path

SUPPORTED = "API destinations, event buses and CloudWatch log groups"
SUPPORTED_WITH_AWS = (
    "API destinations, event buses, CloudWatch Logs log groups, SQS queues, SNS topics, Lambda functions, "
    "Kinesis streams, Firehose delivery streams and Step Functions state machines"
)


class InvalidTarget(ValueError):
    """A target PutTargets must refuse; the message says why (AWS's words where known)."""


# Kinds AWS delivers to only as an IAM role the target names.
_ROLE_REQUIRED = frozenset({TargetKind.KINESIS, TargetKind.FIREHOSE, TargetKind.STEP_FUNCTIONS})

# AWS services EventBridge delivers to that busbar does not (yet), by ARN service.
_NOT_YET = {
    "ecs": "Amazon ECS tasks",
    "batch": "AWS Batch jobs",
    "redshift": "Amazon Redshift Data API statements",
    "redshift-serverless": "Amazon Redshift Data API statements",
    "sagemaker": "SageMaker pipelines",
    "appsync": "AWS AppSync GraphQL operations",
    "ssm": "Systems Manager (Run Command, Automation, OpsItems)",
    "ssm-incidents": "Incident Manager response plans",
    "execute-api": "API Gateway endpoints",
    "codebuild": "CodeBuild projects",
    "codepipeline": "CodePipeline pipelines",
    "ec2": "EC2 API calls",
    "inspector": "Inspector assessment templates",
    "imagebuilder": "EC2 Image Builder pipelines",
    "glue": "Glue workflows",
}

# Each parameter member and the ARN services it applies to.
_PARAMETER_SERVICES = {
    "SqsParameters": ("sqs", "sns"),
    "KinesisParameters": ("kinesis",),
    "EcsParameters": ("ecs",),
    "BatchParameters": ("batch",),
    "RedshiftDataParameters": ("redshift", "redshift-serverless"),
    "SageMakerPipelineParameters": ("sagemaker",),
    "AppSyncParameters": ("appsync",),
    "RunCommandParameters": ("ssm", "ec2"),
}
PARAMETERS = tuple(_PARAMETER_SERVICES)

# ARNs whose targets AWS refuses without their parameters.
_REQUIRED_PARAMETERS = (
    (re.compile(r"arn:aws[\w-]*:ecs:[\w-]+:\d{12}:cluster/.+"), "EcsParameters"),
    (re.compile(r"arn:aws[\w-]*:batch:[\w-]+:\d{12}:job-queue/.+"), "BatchParameters"),
    (re.compile(r"arn:aws[\w-]*:redshift(-serverless)?:.+"), "RedshiftDataParameters"),
)
_ROLE_ARN = re.compile(r"arn:aws[\w-]*:iam::\d{12}:role/[\w+=,.@/-]+")


def check_target(target: dict[str, Any], *, aws_targets: bool, account: str, region: str) -> TargetKind:
    """The kind of *target*, or InvalidTarget when PutTargets must refuse it."""
    target_id, arn = target["Id"], target["Arn"]
    generic = arns.parse(arn)
    if generic is None:
        raise InvalidTarget(f"Parameter {arn} is not valid. Reason: Provided Arn is not in correct format.")
    _check_parameters(target, generic.service)
    parsed = arns.parse_target(arn)
    if parsed is not None and parsed.kind is TargetKind.ARCHIVE:
        parsed = None  # only an archive's own managed rule delivers to it
    if parsed is None or parsed.kind.value in _NOT_YET:
        if generic.service == "logs":  # a log group's name is part of its ARN's format
            raise InvalidTarget(f"Parameter {arn} is not valid. Reason: Provided Arn is not in correct format.")
        supported = SUPPORTED_WITH_AWS if aws_targets else SUPPORTED
        if generic.service in _NOT_YET:
            raise InvalidTarget(
                f"Target {target_id}: busbar does not deliver to {_NOT_YET[generic.service]} yet ({arn}). "
                f"It delivers to {supported}."
            )
        raise InvalidTarget(f"Target {target_id}: busbar cannot deliver to {arn}. It delivers to {supported}.")
    kind = parsed.kind
    home = (parsed.region, parsed.account) == (region, account)
    if kind in AWS_SERVICE_KINDS and not aws_targets:
        raise InvalidTarget(
            f"Target {target_id}: busbar cannot deliver to {arn}. It delivers to {SUPPORTED} "
            "(start busbar with --aws-targets to deliver to AWS services)."
        )
    # busbar's own resources live in its account and region; with --aws-targets, log
    # groups are CloudWatch Logs' and buses elsewhere are EventBridge's.
    local = kind is TargetKind.API_DESTINATION or (
        kind in (TargetKind.LOG_GROUP, TargetKind.EVENT_BUS) and not aws_targets
    )
    if local and not home:
        raise InvalidTarget(f"Target {target_id}: {arn} is not in this busbar's account {account} and region {region}.")
    role = target.get("RoleArn")
    if role is not None and not _ROLE_ARN.fullmatch(role):
        raise InvalidTarget(f"Parameter RoleArn is not valid for target {target_id}: {role} is not an IAM role ARN.")
    if role is None and (kind in _ROLE_REQUIRED or (kind is TargetKind.EVENT_BUS and not home)):
        raise InvalidTarget(f"RoleArn is required for target {arn}.")
    if kind in (TargetKind.SQS, TargetKind.SNS) and parsed.name.endswith(".fifo"):
        if not (target.get("SqsParameters") or {}).get("MessageGroupId"):
            raise InvalidTarget(f"Parameter(s) SqsParameters must be specified for target: {target_id}.")
    return kind


def _check_parameters(target: dict[str, Any], service: str) -> None:
    """The *Parameters members: present where AWS requires them, each on its kind of
    target, and with the values AWS accepts."""
    target_id, arn = target["Id"], target["Arn"]
    for pattern, member in _REQUIRED_PARAMETERS:
        if pattern.fullmatch(arn) and target.get(member) is None:
            raise InvalidTarget(f"Parameter(s) {member} must be specified for target: {target_id}.")
    for member, services in _PARAMETER_SERVICES.items():
        if target.get(member) is not None and service not in services:
            raise InvalidTarget(
                f"Parameter(s) {member} not valid for target: {target_id}. They apply to {_applies_to(member)} only."
            )
    path = (target.get("KinesisParameters") or {}).get("PartitionKeyPath")
    if path is not None:
        try:
            compile_path(path)
        except PathSyntaxError as error:
            raise InvalidTarget(f"Parameter PartitionKeyPath is not valid for target: {target_id}. {error}") from None
    redshift = target.get("RedshiftDataParameters")
    if redshift is not None and (redshift.get("Sql") is None) == (not redshift.get("Sqls")):
        raise InvalidTarget(
            f"Exactly one of Sql or Sqls must be provided in RedshiftDataParameters for target {target_id}."
        )
    ecs = target.get("EcsParameters")
    if ecs is not None and ecs.get("LaunchType") and ecs.get("CapacityProviderStrategy"):
        raise InvalidTarget(
            f"LaunchType and CapacityProviderStrategy cannot both be specified in EcsParameters for target {target_id}."
        )


def _applies_to(member: str) -> str:
    return {
        "SqsParameters": "SQS queues (and SNS FIFO topics)",
        "KinesisParameters": "Kinesis streams",
        "EcsParameters": "ECS clusters",
        "BatchParameters": "Batch job queues",
        "RedshiftDataParameters": "Redshift clusters and workgroups",
        "SageMakerPipelineParameters": "SageMaker pipelines",
        "AppSyncParameters": "AppSync GraphQL APIs",
        "RunCommandParameters": "Systems Manager Run Command",
    }[member]
