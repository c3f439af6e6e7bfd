"""Kinesis stream targets: ``PutRecord`` with the event (or the shaped input) as
the record's data.

The partition key is the value at the target's ``KinesisParameters.PartitionKeyPath``,
a JSON path into the event (a string as it is, any other JSON value as its JSON
text); when the target has no such path, or the event has nothing (or null, or
"") there, the key is the event id.
"""

from __future__ import annotations

from typing import Any

import orjson

from busbar.delivery.aws.clients import AwsClients, Client, located
from busbar.delivery.base import Delivery, Outcome
from busbar.transform import MISSING, JsonPath, compile_path


def partition_key(delivery: Delivery, path: JsonPath | None) -> str:
    """The record's partition key for *delivery*."""
    if path is None:
        return delivery.event_id
    value: Any = path.select(orjson.loads(delivery.envelope))
    if value is MISSING or value is None or value == "":
        return delivery.event_id
    return value if isinstance(value, str) else orjson.dumps(value).decode()


class KinesisSender:
    """Puts each delivery as one Kinesis record."""

    def __init__(self, clients: AwsClients) -> None:
        self._clients = clients
        self._paths: dict[str, JsonPath] = {}  # compiled once per PartitionKeyPath

    async def send(self, delivery: Delivery) -> Outcome:
        region, _, name = located(delivery)
        text = (delivery.target.get("KinesisParameters") or {}).get("PartitionKeyPath")
        path = None
        if text:
            path = self._paths.get(text)
            if path is None:
                path = self._paths[text] = compile_path(text)  # PutTargets checked it compiles
        key = partition_key(delivery, path)

        async def put_record(client: Client) -> None:
            await client.put_record(StreamName=name, Data=delivery.payload, PartitionKey=key)

        return await self._clients.call(delivery, "kinesis", region, put_record)

    async def close(self) -> None:
        await self._clients.close()
