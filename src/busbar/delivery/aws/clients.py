"""The one place busbar talks to AWS from: an aiobotocore session, its clients and
the credentials they sign with.

Configuration is the standard AWS SDK one and nothing busbar-specific: the default
credential chain (environment, shared credentials and config files and profiles,
container and instance roles), the region of each target's ARN, and botocore's
endpoint settings (``AWS_ENDPOINT_URL``, ``AWS_ENDPOINT_URL_<SERVICE>``,
``endpoint_url`` in a profile).  So the same busbar talks to AWS, LocalStack,
ElasticMQ, ``sam local start-lambda`` or moto's server.

* One client per (service, region, role) lives as long as busbar, so connections
  are reused; botocore's own retries are off, since the dispatcher retries with
  the target's ``RetryPolicy``.
* Each target has at most ``max_in_flight`` calls in flight, so one busy target
  cannot take every connection of a service's pool.
* With ``--assume-target-roles`` a target's ``RoleArn`` is assumed with STS
  ``AssumeRole`` (session name ``busbar``); botocore's refreshable credentials
  cache the role's credentials and renew them 15 minutes before they expire.
  Without it, every call is made with busbar's own credentials.
* The event's trace header travels to services that carry one: Lambda ``Invoke``
  and SNS ``Publish`` get the ``X-Amzn-Trace-Id`` header (see :func:`call`).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from aiobotocore.config import AioConfig
from aiobotocore.credentials import (
    AioAssumeRoleCredentialFetcher,
    AioCredentialResolver,
    AioDeferredRefreshableCredentials,
)
from aiobotocore.session import AioSession, get_session
from botocore.exceptions import NoCredentialsError

from busbar.delivery.aws.errors import classify
from busbar.delivery.base import Delivery, Outcome
from busbar.observe.shapes import delivery_fields

log = logging.getLogger(__name__)

ROLE_SESSION_NAME = "busbar"
# Operations whose request carries the event's trace header as X-Amzn-Trace-Id.
_TRACED = ("before-sign.lambda.Invoke", "before-sign.sns.Publish")
_trace_header: contextvars.ContextVar[str | None] = contextvars.ContextVar("busbar_trace_header", default=None)

Client = Any  # an aiobotocore client: its operations are generated from the service model


class AwsClients:
    """Clients for every AWS service target, shared by the AWS senders."""

    def __init__(
        self,
        *,
        assume_roles: bool = False,
        max_in_flight: int = 64,
        connect_timeout: float = 5.0,
        read_timeout: float = 10.0,
    ) -> None:
        self._session = get_session()
        self._assume_roles = assume_roles
        self._max_in_flight = max_in_flight
        self._config = AioConfig(
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            max_pool_connections=max_in_flight,
            retries={"mode": "standard", "total_max_attempts": 1},
            user_agent_extra="busbar",
            warm_up_loader_caches=True,  # read the service model in a thread, not on the loop
        )
        self._clients: dict[tuple[str, str, str | None], Client] = {}
        self._role_sessions: dict[str, AioSession] = {}
        self._creating = asyncio.Lock()
        self._stack = contextlib.AsyncExitStack()
        self._in_flight: dict[str, asyncio.Semaphore] = {}
        self._closed = False

    async def call(
        self, delivery: Delivery, service: str, region: str, action: Callable[[Client], Awaitable[Any]]
    ) -> Outcome:
        """Run ``action(client)`` for *delivery* with the client of *service* in
        *region* (as the target's role, when roles are assumed); never raises for
        a failure of the service, answers an Outcome."""
        role = delivery.target.get("RoleArn") if self._assume_roles else None
        _trace_header.set(delivery.trace_header)
        arn = delivery.target["Arn"]
        limit = self._in_flight.get(arn)
        if limit is None:
            limit = self._in_flight[arn] = asyncio.Semaphore(self._max_in_flight)
        try:
            async with limit:
                client = await self.client(service, region, role)
                await action(client)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # noqa: BLE001 - every failure of the call becomes an outcome
            outcome = classify(error)
            fields = {**delivery_fields(delivery), "error_code": outcome.error_code, "retry": outcome.retryable}
            log.debug("AWS call failed", extra=fields)
            return outcome
        return Outcome.success()

    async def client(self, service: str, region: str, role: str | None = None) -> Client:
        """The client of *service* in *region*, signing as *role* (None: busbar's own credentials)."""
        key = (service, region, role)
        client = self._clients.get(key)
        if client is not None:
            return client
        async with self._creating:
            client = self._clients.get(key)
            if client is None:
                session = self._session if role is None else self._role_session(role)
                created: Client = await self._stack.enter_async_context(
                    session.create_client(service, region_name=region, config=self._config)
                )
                for event in _TRACED:
                    created.meta.events.register(event, _add_trace_header)
                client = self._clients[key] = created
        return client

    def _role_session(self, role: str) -> AioSession:
        """A session whose credentials are *role*'s, assumed from busbar's own
        credentials on first use and renewed before they expire."""
        session = self._role_sessions.get(role)
        if session is not None:
            return session
        fetcher = AioAssumeRoleCredentialFetcher(
            client_creator=self._session.create_client,
            source_credentials=_SourceCredentials(self._session),
            role_arn=role,
            extra_args={"RoleSessionName": ROLE_SESSION_NAME},
        )
        credentials = AioDeferredRefreshableCredentials(refresh_using=fetcher.fetch_credentials, method="assume-role")
        session = AioSession()
        session.register_component("credential_provider", AioCredentialResolver([_Provider(credentials)]))
        self._role_sessions[role] = session
        return session

    async def close(self) -> None:
        """Close every client (and its connections); later calls to close do nothing."""
        if self._closed:
            return
        self._closed = True
        await self._stack.aclose()
        self._clients.clear()


class _Provider:
    """A credential provider that always answers the same (refreshable) credentials."""

    METHOD = "assume-role"

    def __init__(self, credentials: Any) -> None:
        self._credentials = credentials

    async def load(self) -> Any:
        return self._credentials


class _SourceCredentials:
    """busbar's own credentials, looked up when a role is first assumed (not at start-up)."""

    def __init__(self, session: AioSession) -> None:
        self._session = session

    async def get_frozen_credentials(self) -> Any:
        credentials = await self._session.get_credentials()
        if credentials is None:
            raise NoCredentialsError()
        return await credentials.get_frozen_credentials()


def _add_trace_header(request: Any, **_: Any) -> None:
    trace = _trace_header.get()
    if trace:
        request.headers["X-Amzn-Trace-Id"] = trace


def located(delivery: Delivery) -> tuple[str, str, str]:
    """(region, account, resource name) of the delivery's target, from its ARN, parsed
    once (PutTargets only stores ARNs that parse)."""
    to = delivery.to
    assert to is not None, "PutTargets stores only targets of a known kind"
    return to.region, to.account, to.name


_XRAY = re.compile(r"Root=1-[0-9a-fA-F]{8}-[0-9a-fA-F]{24}(;[\w=.-]+)*")


def xray_trace_header(delivery: Delivery) -> str | None:
    """The event's trace header when it is an X-Ray one (``Root=1-...``): services that
    store it as a typed attribute (SQS ``AWSTraceHeader``) refuse anything else."""
    trace = delivery.trace_header
    return trace if trace and _XRAY.fullmatch(trace.replace(" ", "")) else None
