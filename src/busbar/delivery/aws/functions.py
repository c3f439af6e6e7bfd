"""Lambda function targets: ``Invoke`` with ``InvocationType=Event`` (asynchronous,
as EventBridge invokes), the payload being the event or what the target's input
shaping made of it.  The ARN may name a version or alias (``function:name:qualifier``);
it is passed whole as ``FunctionName``.  The trace header travels as
``X-Amzn-Trace-Id``.  Lambda's ``TooManyRequestsException`` (429) is retried,
after its ``Retry-After`` when it gives one.
"""

from __future__ import annotations

from busbar.delivery.aws.clients import AwsClients, Client, located
from busbar.delivery.base import Delivery, Outcome


class LambdaSender:
    """Invokes a function once per delivery."""

    def __init__(self, clients: AwsClients) -> None:
        self._clients = clients

    async def send(self, delivery: Delivery) -> Outcome:
        region, _, _ = located(delivery)

        async def invoke(client: Client) -> None:
            await client.invoke(FunctionName=delivery.target["Arn"], InvocationType="Event", Payload=delivery.payload)

        return await self._clients.call(delivery, "lambda", region, invoke)

    async def close(self) -> None:
        await self._clients.close()
