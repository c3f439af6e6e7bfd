"""Fixtures for AWS service targets: moto's server (SQS, SNS, Kinesis, Firehose, Step
Functions, CloudWatch Logs, EventBridge, STS) and a Lambda Invoke stub as real
local servers, and a busbar started with ``--aws-targets`` pointed at them through
the standard SDK settings (``AWS_ENDPOINT_URL``, ``AWS_ENDPOINT_URL_LAMBDA``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from aws_support import MotoServer, aws_environment
from lambdastub import LambdaStub
from support import BusbarProcess


@pytest.fixture(scope="session")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    server = MotoServer(tmp_path_factory.mktemp("moto"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def lambda_stub() -> Iterator[LambdaStub]:
    stub = LambdaStub().start()
    yield stub
    stub.stop()


@pytest.fixture(scope="session")
def aws_env(tmp_path_factory: pytest.TempPathFactory, moto: MotoServer, lambda_stub: LambdaStub) -> dict[str, str]:
    return aws_environment(tmp_path_factory.mktemp("aws-env"), moto.url, lambda_stub.url)


@pytest.fixture(scope="session")
def aws_busbar(tmp_path_factory: pytest.TempPathFactory, aws_env: dict[str, str]) -> Iterator[BusbarProcess]:
    """busbar with --aws-targets and fast retries, shared by the AWS target tests."""
    process = BusbarProcess(
        tmp_path_factory.mktemp("aws-busbar") / "data",
        env=aws_env,
        args=["--aws-targets", "--retry-base-delay", "0.2", "--retry-max-delay", "0.5"],
    ).start()
    yield process
    process.stop()


@pytest.fixture
def events(aws_busbar: BusbarProcess) -> Any:
    """An EventBridge client of the busbar under test."""
    return aws_busbar.client()


@pytest.fixture(scope="session")
def aws(moto: MotoServer) -> Any:
    """``aws("sqs")``: a boto3 client of moto's server."""
    return moto.client
