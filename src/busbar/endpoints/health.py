"""Reading the Route 53 health checks of global endpoints, and failing over.

Every ``--endpoint-health-interval`` seconds (10 by default) busbar reads the health check
of each endpoint's primary from Route 53, through the standard AWS SDK configuration
(:mod:`busbar.delivery.aws.clients`: the credential chain, ``AWS_ENDPOINT_URL`` and
``AWS_ENDPOINT_URL_ROUTE_53``, profiles), so it works against AWS and against local
stand-ins such as moto's server or LocalStack.  It decides as Route 53 documents:

* a health check that monitors an endpoint or a CloudWatch alarm is healthy when more than
  18% of the Route 53 health checkers report success (``GetHealthCheckStatus``);
* a ``CALCULATED`` one is healthy when at least ``HealthThreshold`` of its children are;
* a ``Disabled`` one is always healthy; an ``Inverted`` one is unhealthy when it would
  otherwise be healthy and the other way round (``GetHealthCheck``).

When the answer differs from the one stored, it is stored (:mod:`busbar.resources.endpoints`:
PutEvents through the endpoint goes to the secondary Region while the primary is
unhealthy, and back to the primary once it is healthy again) and the switch is logged for
each endpoint using that health check.  When Route 53 cannot be read (no credentials, no
such health check, the service unreachable), the endpoints keep their route and a warning
says why, once, until it can be read again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from busbar.model import arns
from busbar.resources.endpoints import DELETING, health_check_of, legs
from busbar.resources.kinds import ENDPOINT, ENDPOINT_HEALTH
from busbar.store.base import Store
from busbar.tasks import cancel_and_wait

if TYPE_CHECKING:  # the AWS SDK is loaded when an endpoint first needs Route 53
    from busbar.delivery.aws.clients import AwsClients, Client

log = logging.getLogger("busbar.endpoints")

# Route 53 considers an endpoint healthy when more than this share of its checkers say so.
HEALTHY_SHARE = 0.18
# The Region Route 53's API is called in, by partition (Route 53 is a global service).
_ROUTE53_REGION = {"aws": "us-east-1", "aws-cn": "cn-northwest-1", "aws-us-gov": "us-gov-west-1"}


@dataclass(frozen=True, slots=True)
class Health:
    """A health check's status as Route 53 decides it, and why."""

    healthy: bool
    reason: str


def observed_health(observations: Sequence[dict[str, Any]]) -> Health | None:
    """The status the checkers' observations (``GetHealthCheckStatus``) add up to, or None
    when there are none yet."""
    if not observations:
        return None
    succeeded = sum(1 for seen in observations if str(seen["StatusReport"]["Status"]).startswith("Success"))
    return Health(
        succeeded > HEALTHY_SHARE * len(observations),
        f"{succeeded} of {len(observations)} Route 53 health checkers report success",
    )


def decided_health(config: dict[str, Any], observed: Health | None) -> Health | None:
    """The status Route 53 gives a health check of *config* (``HealthCheckConfig``) whose
    checks came to *observed*: a disabled one is healthy, an inverted one the opposite."""
    if config.get("Disabled"):
        observed = Health(True, "the health check is disabled (Route 53 considers it healthy)")
    if observed is None:
        return None
    if config.get("Inverted"):
        return Health(not observed.healthy, observed.reason + "; the health check is inverted")
    return observed


async def read_health(client: Client, health_check_id: str, calculated_depth: int = 0) -> Health | None:
    """The status of one health check, read from Route 53 with *client* (None: not known yet)."""
    config = (await client.get_health_check(HealthCheckId=health_check_id))["HealthCheck"]["HealthCheckConfig"]
    if config.get("Disabled"):
        return decided_health(config, None)
    if config.get("Type") == "CALCULATED":
        children = config.get("ChildHealthChecks") or []
        if calculated_depth > 0:
            return None  # Route 53 does not nest calculated health checks
        statuses = [await read_health(client, child, calculated_depth + 1) for child in children]
        if any(status is None for status in statuses):
            return None
        healthy = sum(1 for status in statuses if status is not None and status.healthy)
        threshold = config.get("HealthThreshold", len(children))
        observed: Health | None = Health(
            healthy >= threshold,
            f"{healthy} of {len(children)} child health checks are healthy (threshold {threshold})",
        )
    else:
        status = await client.get_health_check_status(HealthCheckId=health_check_id)
        observed = observed_health(status.get("HealthCheckObservations") or [])
    return decided_health(config, observed)


class HealthPoller:
    """Reads the endpoints' health checks every *interval* seconds (see the module docstring)."""

    def __init__(self, store: Store, interval: float, clients: AwsClients | None = None) -> None:
        self._store = store
        self._interval = interval
        self._clients = clients
        self._unreadable: set[str] = set()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="busbar-endpoint-health")

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait([self._task])
        if self._clients is not None:
            await self._clients.close()

    def _aws(self) -> AwsClients:
        if self._clients is None:
            from busbar.delivery.aws.clients import AwsClients

            self._clients = AwsClients(max_in_flight=8)
        return self._clients

    async def _run(self) -> None:
        while True:
            try:
                await self.poll()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - keep polling
                log.exception("reading the endpoints' health checks failed")
            await asyncio.sleep(self._interval)

    async def poll(self) -> None:
        """Read every health check an endpoint uses once; store and log what changed."""
        users: dict[str, list[dict[str, Any]]] = {}
        for _, endpoint in self._store.list_resources(ENDPOINT):
            if endpoint.get("State") != DELETING:
                users.setdefault(health_check_of(endpoint), []).append(endpoint)
        checks = sorted(users)
        read = await asyncio.gather(*(self._read(arn) for arn in checks))
        for arn, health in zip(checks, read, strict=True):
            if health is not None:
                await self.record(arn, health, users[arn])
        for arn, _ in self._store.list_resources(ENDPOINT_HEALTH):
            if arn not in users:  # no endpoint uses it any more
                await self._store.delete_resource(ENDPOINT_HEALTH, arn)

    async def _read(self, arn: str) -> Health | None:
        health_check_id = arns.health_check_id(arn)
        if health_check_id is None:  # the model's pattern for HealthCheck lets through nothing else
            return None
        region = _ROUTE53_REGION.get(arn.split(":")[1], "us-east-1")
        try:
            client = await self._aws().client("route53", region)
            health = await read_health(client, health_check_id)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # noqa: BLE001 - the endpoints keep their route; say why once
            if arn not in self._unreadable:
                self._unreadable.add(arn)
                log.warning(
                    "Route 53 health check cannot be read; its endpoints keep their route",
                    extra={"health_check": arn, "error": f"{type(error).__name__}: {error}"},
                )
            return None
        if arn in self._unreadable:
            self._unreadable.discard(arn)
            log.info("Route 53 health check can be read again", extra={"health_check": arn})
        return health

    async def record(self, arn: str, health: Health, endpoints: list[dict[str, Any]]) -> None:
        """Store the status of the health check *arn* read from Route 53, and log the switch of
        each of its *endpoints* when it changed whether they fail over."""
        stored = self._store.get_resource(ENDPOINT_HEALTH, arn)
        if stored is not None and stored.get("Healthy") == health.healthy:
            return
        switched = False

        def change(current: dict[str, Any] | None) -> dict[str, Any] | None:
            nonlocal switched
            if current is not None and current.get("Healthy") == health.healthy:
                raise _AlreadyStored  # by another node, which logged the switch
            # Unknown counts as healthy: an endpoint routes to its primary until told otherwise.
            switched = (current is None or bool(current.get("Healthy", True))) != health.healthy
            return {"Healthy": health.healthy, "Reason": health.reason, "CheckedTime": time.time()}

        try:
            await self._store.modify(ENDPOINT_HEALTH, arn, change)
        except _AlreadyStored:
            return
        if switched:
            for endpoint in endpoints:
                _log_switch(endpoint, arn, health)


class _AlreadyStored(Exception):
    """The status to store is stored already."""


def _log_switch(endpoint: dict[str, Any], health_check: str, health: Health) -> None:
    primary, secondary = legs(endpoint)
    to, away = (primary, secondary) if health.healthy else (secondary, primary)
    log.log(
        logging.INFO if health.healthy else logging.WARNING,
        "endpoint routes to its primary Region again" if health.healthy else "endpoint fails over",
        extra={
            "endpoint": endpoint["Arn"],
            "endpoint_id": endpoint.get("EndpointId"),
            "from_region": away.region,
            "to_region": to.region,
            "health_check": health_check,
            "healthy": health.healthy,
            "reason": health.reason,
        },
    )
