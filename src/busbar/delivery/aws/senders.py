"""The senders of AWS service targets, built for a server."""

from __future__ import annotations

import logging

from busbar.config import Settings
from busbar.delivery.aws.clients import AwsClients
from busbar.delivery.aws.eventbus import BusTargets, RemoteBusSender
from busbar.delivery.aws.firehose import FirehoseSender
from busbar.delivery.aws.functions import LambdaSender
from busbar.delivery.aws.kinesis import KinesisSender
from busbar.delivery.aws.logs import LogsSender
from busbar.delivery.aws.sns import SnsSender
from busbar.delivery.aws.sqs import SqsSender
from busbar.delivery.aws.stepfunctions import StepFunctionsSender
from busbar.delivery.base import Sender
from busbar.model.arns import TargetKind

log = logging.getLogger("busbar.delivery")


def build_aws_senders(settings: Settings, local_buses: Sender) -> dict[TargetKind, Sender]:
    """The senders of every AWS kind, log groups (CloudWatch Logs) and event buses
    (*local_buses* for busbar's own account and region, EventBridge for the others)."""
    clients = AwsClients(assume_roles=settings.assume_target_roles)
    log.info("delivering to AWS service targets", extra={"assume_target_roles": settings.assume_target_roles})
    return {
        TargetKind.SQS: SqsSender(clients),
        TargetKind.SNS: SnsSender(clients),
        TargetKind.LAMBDA: LambdaSender(clients),
        TargetKind.KINESIS: KinesisSender(clients),
        TargetKind.FIREHOSE: FirehoseSender(clients),
        TargetKind.STEP_FUNCTIONS: StepFunctionsSender(clients),
        TargetKind.LOG_GROUP: LogsSender(clients),
        TargetKind.EVENT_BUS: BusTargets(
            local_buses, RemoteBusSender(clients), account=settings.account_id, region=settings.region
        ),
    }
