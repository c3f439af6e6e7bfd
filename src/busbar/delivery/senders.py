"""One sender per kind of target, built for a server."""

from __future__ import annotations

from busbar.config import Settings
from busbar.delivery.archive import ArchiveSender
from busbar.delivery.base import Delivery, Outcome, Sender
from busbar.delivery.bus import BusSender
from busbar.delivery.http import HttpSender
from busbar.delivery.loggroup import LogGroupSender
from busbar.model.arns import AWS_SERVICE_KINDS, TargetKind
from busbar.resources.secretbox import SecretBox
from busbar.store.base import Store


def build_senders(store: Store, settings: Settings, secrets: SecretBox) -> dict[TargetKind, Sender]:
    senders: dict[TargetKind, Sender] = {
        TargetKind.API_DESTINATION: HttpSender(store, settings, secrets=secrets),
        TargetKind.EVENT_BUS: BusSender(store),
        TargetKind.LOG_GROUP: LogGroupSender(store),
        TargetKind.ARCHIVE: ArchiveSender(store),
    }
    if settings.aws_targets:
        from busbar.delivery.aws.senders import build_aws_senders

        senders.update(build_aws_senders(settings, senders[TargetKind.EVENT_BUS]))
    else:
        senders.update(dict.fromkeys(AWS_SERVICE_KINDS, _AwsTargetsOff()))
    return senders


class _AwsTargetsOff:
    """AWS targets stored by a server that ran with --aws-targets, now running without
    it: their deliveries wait (retried with their RetryPolicy) instead of being dropped."""

    async def send(self, delivery: Delivery) -> Outcome:
        return Outcome.retry(
            "AwsTargetsOff", f"busbar runs without --aws-targets: it does not call AWS for {delivery.target['Arn']}."
        )

    async def close(self) -> None:
        pass
