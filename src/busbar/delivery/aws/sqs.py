"""SQS queue targets: ``SendMessage`` to the queue the ARN names.

The queue URL is resolved once with ``GetQueueUrl`` (``QueueOwnerAWSAccountId`` =
the ARN's account) and cached; a queue that turns out not to exist is looked up
again next time.  The body is the event, or what the target's input shaping made
of it.  The target's ``SqsParameters.MessageGroupId`` becomes the message's group
(FIFO queues require one; fair standard queues use it), and a FIFO queue
(``.fifo``) gets ``MessageDeduplicationId`` = the event id, so a retry within
SQS's five-minute window is not queued twice.  An X-Ray trace header
travels as the ``AWSTraceHeader`` system attribute.  A dead letter (the queue is a
target's ``DeadLetterConfig``) carries EventBridge's dead-letter message attributes.
"""

from __future__ import annotations

from botocore.exceptions import ClientError

from busbar.delivery.aws.clients import AwsClients, Client, located, xray_trace_header
from busbar.delivery.base import Delivery, Outcome
from busbar.delivery.deadletter import ATTRIBUTES

_MISSING_QUEUE = ("AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist")


class SqsSender:
    """Sends each delivery as one SQS message."""

    def __init__(self, clients: AwsClients) -> None:
        self._clients = clients
        self._urls: dict[tuple[str, str, str], str] = {}

    async def send(self, delivery: Delivery) -> Outcome:
        region, account, name = located(delivery)
        key = (region, account, name)

        async def send_message(client: Client) -> None:
            url = self._urls.get(key)
            if url is None:
                answer = await client.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)
                url = self._urls[key] = answer["QueueUrl"]
            params: dict[str, object] = {"QueueUrl": url, "MessageBody": delivery.payload.decode("utf-8")}
            group = (delivery.target.get("SqsParameters") or {}).get("MessageGroupId")
            if group:
                params["MessageGroupId"] = group
            if name.endswith(".fifo"):
                params["MessageDeduplicationId"] = delivery.event_id
            dead = delivery.target.get(ATTRIBUTES)
            if dead:  # a dead letter: the attributes EventBridge gives one
                params["MessageAttributes"] = _attributes(dead)
            trace = xray_trace_header(delivery)
            if trace is not None:
                params["MessageSystemAttributes"] = {"AWSTraceHeader": {"DataType": "String", "StringValue": trace}}
            try:
                await client.send_message(**params)
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") in _MISSING_QUEUE:
                    self._urls.pop(key, None)  # it may be created again, maybe under a new URL
                raise

        return await self._clients.call(delivery, "sqs", region, send_message)

    async def close(self) -> None:
        await self._clients.close()


def _attributes(dead: dict[str, object]) -> dict[str, dict[str, str]]:
    """SQS message attributes of a dead letter: RETRY_ATTEMPTS a number, the rest strings."""
    return {
        name: {"DataType": "Number" if isinstance(value, int) else "String", "StringValue": str(value)}
        for name, value in dead.items()
        if value is not None and value != ""
    }
