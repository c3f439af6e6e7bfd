"""CloudWatch Logs log group targets: ``PutLogEvents``, one log event per delivery.

Each (rule, target) writes to a log stream of its own, created with
``CreateLogStream`` the first time and named by :func:`log_stream_name` (a UUID
of the rule ARN and target id: stable across restarts, as AWS's stream names are
UUIDs).  The log event's message is the event's JSON (or the shaped input); its
timestamp is the event's ``time``.  A shaped input of the form AWS documents for
log groups, ``{"timestamp": ..., "message": ...}``, gives both itself (the
timestamp as epoch milliseconds or ISO 8601 text; a message that is not a string
is written as its JSON).
"""

from __future__ import annotations

import uuid
from typing import Any

import orjson
from botocore.exceptions import ClientError

from busbar.delivery.aws.clients import AwsClients, Client, located
from busbar.delivery.aws.errors import INVALID_PARAMETER, Refused
from busbar.delivery.base import Delivery, Outcome
from busbar.model.timestamps import parse_timestamp


def log_stream_name(rule_arn: str, target_id: str) -> str:
    """The log stream a rule's target writes to in its log group."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{rule_arn}\n{target_id}"))


def log_event(delivery: Delivery) -> dict[str, Any]:
    """The ``{"timestamp", "message"}`` log event for *delivery*."""
    event_time = parse_timestamp(orjson.loads(delivery.envelope).get("time"))
    timestamp = int(event_time.timestamp() * 1000) if event_time else 0
    try:
        shaped = orjson.loads(delivery.payload)
    except orjson.JSONDecodeError:
        shaped = None
    if isinstance(shaped, dict) and "message" in shaped and set(shaped) <= {"timestamp", "message"}:
        message = shaped["message"]
        text = message if isinstance(message, str) else orjson.dumps(message).decode()
        given = shaped.get("timestamp")
        if isinstance(given, (int, float)) and not isinstance(given, bool):
            timestamp = int(given)  # epoch milliseconds
        elif isinstance(given, str) and (parsed := parse_timestamp(given)) is not None:
            timestamp = int(parsed.timestamp() * 1000)
        return {"timestamp": timestamp, "message": text}
    return {"timestamp": timestamp, "message": delivery.payload.decode("utf-8")}


class LogsSender:
    """Writes each delivery as one log event of its rule target's log stream."""

    def __init__(self, clients: AwsClients) -> None:
        self._clients = clients
        self._streams: set[tuple[str, str, str, str]] = set()  # (region, account, group, stream) known to exist

    async def send(self, delivery: Delivery) -> Outcome:
        region, account, group = located(delivery)
        stream = log_stream_name(delivery.rule_arn, delivery.target["Id"])
        key = (region, account, group, stream)
        event = log_event(delivery)

        async def put_log_events(client: Client) -> None:
            if key not in self._streams:
                await self._create_stream(client, group, stream)
                self._streams.add(key)
            try:
                answer = await client.put_log_events(logGroupName=group, logStreamName=stream, logEvents=[event])
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                    raise
                # The stream was deleted since busbar created it: create it again, once.
                await self._create_stream(client, group, stream)
                answer = await client.put_log_events(logGroupName=group, logStreamName=stream, logEvents=[event])
            rejected = answer.get("rejectedLogEventsInfo")
            if rejected:
                # Too old or too new for the log group: retrying cannot change that.
                text = f"CloudWatch Logs rejected the log event: {orjson.dumps(rejected).decode()}"
                raise Refused(Outcome.fail(INVALID_PARAMETER, text))

        return await self._clients.call(delivery, "logs", region, put_log_events)

    @staticmethod
    async def _create_stream(client: Client, group: str, stream: str) -> None:
        try:
            await client.create_log_stream(logGroupName=group, logStreamName=stream)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ResourceAlreadyExistsException":
                raise

    async def close(self) -> None:
        await self._clients.close()
