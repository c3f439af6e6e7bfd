"""Step Functions state machine targets: ``StartExecution`` with the event (or the
shaped input) as the execution's input, for standard and express workflows alike.

The execution name is derived from the delivery (a UUID of the rule, the target,
the event and busbar's delivery id), so a delivery sent again after a crash does
not start a second standard execution: Step Functions answers the same name with
the running execution, or with ``ExecutionAlreadyExists`` once it has finished,
which busbar counts as delivered.  A replay or another rule makes new deliveries,
hence new executions.  An X-Ray trace header travels as ``traceHeader``.
"""

from __future__ import annotations

import uuid

from botocore.exceptions import ClientError

from busbar.delivery.aws.clients import AwsClients, Client, located, xray_trace_header
from busbar.delivery.base import Delivery, Outcome


def execution_name(delivery: Delivery) -> str:
    """The name of the execution *delivery* starts (the same for every attempt)."""
    key = f"{delivery.rule_arn}\n{delivery.target['Id']}\n{delivery.event_id}\n{delivery.id}"
    return str(uuid.uuid5(uuid.NAMESPACE_URL, key))


class StepFunctionsSender:
    """Starts one execution per delivery."""

    def __init__(self, clients: AwsClients) -> None:
        self._clients = clients

    async def send(self, delivery: Delivery) -> Outcome:
        region, _, _ = located(delivery)
        params = {
            "stateMachineArn": delivery.target["Arn"],
            "name": execution_name(delivery),
            "input": delivery.payload.decode("utf-8"),
        }
        trace = xray_trace_header(delivery)
        if trace is not None:
            params["traceHeader"] = trace

        async def start_execution(client: Client) -> None:
            try:
                await client.start_execution(**params)
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") != "ExecutionAlreadyExists":
                    raise
                # An earlier attempt of this very delivery started it (the name is this delivery's).

        return await self._clients.call(delivery, "stepfunctions", region, start_execution)

    async def close(self) -> None:
        await self._clients.close()
