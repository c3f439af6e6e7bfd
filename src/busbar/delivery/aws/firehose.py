"""Firehose delivery stream targets: ``PutRecord`` with the event (or the shaped
input) as the record's data, byte for byte (no separator is added, as with
EventBridge)."""

from __future__ import annotations

from busbar.delivery.aws.clients import AwsClients, Client, located
from busbar.delivery.base import Delivery, Outcome


class FirehoseSender:
    """Puts each delivery as one Firehose record."""

    def __init__(self, clients: AwsClients) -> None:
        self._clients = clients

    async def send(self, delivery: Delivery) -> Outcome:
        region, _, name = located(delivery)

        async def put_record(client: Client) -> None:
            await client.put_record(DeliveryStreamName=name, Record={"Data": delivery.payload})

        return await self._clients.call(delivery, "firehose", region, put_record)

    async def close(self) -> None:
        await self._clients.close()
