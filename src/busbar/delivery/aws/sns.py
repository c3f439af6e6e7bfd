"""SNS topic targets: ``Publish`` with ``Message`` = the event, or what the target's
input shaping made of it; the trace header travels as ``X-Amzn-Trace-Id``.

A FIFO topic (``.fifo``) gets ``MessageGroupId`` from the target's
``SqsParameters`` and ``MessageDeduplicationId`` = the event id, as SQS FIFO
queues do.  (EventBridge itself does not deliver to FIFO topics; busbar does.)
"""

from __future__ import annotations

from busbar.delivery.aws.clients import AwsClients, Client, located
from busbar.delivery.base import Delivery, Outcome


class SnsSender:
    """Publishes each delivery as one SNS message."""

    def __init__(self, clients: AwsClients) -> None:
        self._clients = clients

    async def send(self, delivery: Delivery) -> Outcome:
        region, _, name = located(delivery)
        params: dict[str, object] = {"TopicArn": delivery.target["Arn"], "Message": delivery.payload.decode("utf-8")}
        if name.endswith(".fifo"):
            params["MessageGroupId"] = (delivery.target.get("SqsParameters") or {}).get("MessageGroupId", "")
            params["MessageDeduplicationId"] = delivery.event_id

        async def publish(client: Client) -> None:
            await client.publish(**params)

        return await self._clients.call(delivery, "sns", region, publish)

    async def close(self) -> None:
        await self._clients.close()
