"""Event-bus targets in another account or region: ``PutEvents`` to that bus.

The event is forwarded whole, as busbar forwards between its own buses: its
source, detail-type, detail, resources and time (the receiving bus gives it a new
id, as any PutEvents does), and its trace header.  A failed entry is retried when
EventBridge says it may be (``ThrottlingException``, ``InternalFailure``), and
dead-lettered otherwise.  :class:`BusTargets` sends buses of busbar's own account
and region to busbar's own bus sender and the others here.
"""

from __future__ import annotations

from typing import Any

import orjson

from busbar.delivery.aws.clients import AwsClients, Client, located
from busbar.delivery.aws.errors import ERROR_FROM_TARGET, THROTTLING, Refused
from busbar.delivery.base import Delivery, Outcome, Sender
from busbar.model.timestamps import parse_timestamp

_RETRYABLE_ENTRY_ERRORS = {"ThrottlingException": THROTTLING, "InternalFailure": ERROR_FROM_TARGET}


def forwarded_entry(delivery: Delivery) -> dict[str, Any]:
    """The PutEvents entry that carries the delivery's event to the target bus."""
    event = orjson.loads(delivery.envelope)
    entry: dict[str, Any] = {
        "EventBusName": delivery.target["Arn"],
        "Source": event["source"],
        "DetailType": event["detail-type"],
        "Detail": orjson.dumps(event.get("detail", {})).decode(),
        "Resources": event.get("resources") or [],
    }
    time = parse_timestamp(event.get("time"))
    if time is not None:
        entry["Time"] = time
    if delivery.trace_header:
        entry["TraceHeader"] = delivery.trace_header
    return entry


class RemoteBusSender:
    """Puts each delivery's event on an EventBridge bus of another account or region."""

    def __init__(self, clients: AwsClients) -> None:
        self._clients = clients

    async def send(self, delivery: Delivery) -> Outcome:
        region, _, _ = located(delivery)
        entry = forwarded_entry(delivery)

        async def put_events(client: Client) -> None:
            answer = await client.put_events(Entries=[entry])
            if answer.get("FailedEntryCount"):
                result = answer["Entries"][0]
                code, text = result.get("ErrorCode", ""), f"{result.get('ErrorCode')}: {result.get('ErrorMessage')}"
                retry_as = _RETRYABLE_ENTRY_ERRORS.get(code)
                raise Refused(Outcome.retry(retry_as, text) if retry_as else Outcome.fail(ERROR_FROM_TARGET, text))

        return await self._clients.call(delivery, "events", region, put_events)

    async def close(self) -> None:
        await self._clients.close()


class BusTargets:
    """Event-bus targets: busbar's own buses (this account and region) locally, the
    others through EventBridge."""

    def __init__(self, local: Sender, remote: Sender, *, account: str, region: str) -> None:
        self._local, self._remote = local, remote
        self._home = (region, account)

    async def send(self, delivery: Delivery) -> Outcome:
        region, account, _ = located(delivery)
        sender = self._local if (region, account) == self._home else self._remote
        return await sender.send(delivery)

    async def close(self) -> None:
        await self._local.close()
        await self._remote.close()
