"""Fixtures for global endpoints: moto's server as Route 53 (its health checks are the
endpoints' health checks), and a busbar that reads them through the standard SDK setting
``AWS_ENDPOINT_URL_ROUTE_53``, every 0.2 s."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from aws_support import MotoServer
from endpoint_support import HEALTH_INTERVAL, Pair, make_pair, route53_environment
from support import BusbarProcess


@pytest.fixture(scope="session")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    server = MotoServer(tmp_path_factory.mktemp("moto-route53"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def route53_env(tmp_path_factory: pytest.TempPathFactory, moto: MotoServer) -> dict[str, str]:
    return route53_environment(tmp_path_factory.mktemp("route53-env"), moto.url)


@pytest.fixture(scope="session")
def endpoint_busbar(tmp_path_factory: pytest.TempPathFactory, route53_env: dict[str, str]) -> Iterator[BusbarProcess]:
    """busbar reading Route 53 health checks from moto every 0.2 s, shared by the tests."""
    process = BusbarProcess(
        tmp_path_factory.mktemp("endpoints") / "data",
        env=route53_env,
        args=["--endpoint-health-interval", HEALTH_INTERVAL],
    ).start()
    yield process
    process.stop()


@pytest.fixture
def route53(moto: MotoServer):  # noqa: ANN201 - a boto3 client
    """A Route 53 client of moto's server."""
    return moto.client("route53")


@pytest.fixture
def pair(endpoint_busbar: BusbarProcess, route53) -> Pair:  # noqa: ANN001
    """Two buses named alike in us-east-1 and us-west-2, with rules, and a health check."""
    return make_pair(endpoint_busbar, route53)
