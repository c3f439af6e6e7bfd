"""Support for AWS target tests: moto's server as a subprocess, the standard AWS SDK
settings that point clients at it, and readers of what the services received."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import httpx
from botocore.config import Config

from support import free_port

# The account moto's server keeps its resources in.
AWS_ACCOUNT = "123456789012"
AWS_REGION = "us-east-1"


class MotoServer:
    """``moto_server`` as a subprocess on a free port."""

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        moto = shutil.which("moto_server", path=os.path.dirname(sys.executable)) or "moto_server"
        self.log = open(workdir / "moto.log", "ab")
        self.proc = subprocess.Popen(
            [moto, "-H", "127.0.0.1", "-p", str(self.port)], cwd=workdir, stdout=self.log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"moto_server exited with {self.proc.returncode}")
            try:
                httpx.get(self.url + "/moto-api/", timeout=1)
                return
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise RuntimeError("moto_server did not start") from None
                time.sleep(0.1)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self, service: str, region: str = AWS_REGION) -> Any:
        """A boto3 client of this server."""
        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name=region,
            aws_access_key_id="test",
            aws_secret_access_key="test",
            config=Config(retries={"total_max_attempts": 1}),
        )

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)
        self.log.close()


def aws_environment(tmp: Path, moto_url: str, lambda_url: str | None = None) -> dict[str, str]:
    """The standard AWS SDK settings that point busbar (and the tests' own clients) at the
    local servers, with nothing read from the user's home (config files, instance roles)."""
    env = {
        "AWS_ENDPOINT_URL": moto_url,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": AWS_REGION,
        "AWS_CONFIG_FILE": str(tmp / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp / "no-aws-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    if lambda_url is not None:
        env["AWS_ENDPOINT_URL_LAMBDA"] = lambda_url
    return env


def arn(service: str, resource: str, region: str = AWS_REGION) -> str:
    """The ARN of a resource in moto's account."""
    return f"arn:aws:{service}:{region}:{AWS_ACCOUNT}:{resource}"


def eventually(read: Callable[[], Any], timeout: float = 20.0) -> Any:
    """Call *read* until it answers something truthy; return that (or the last answer)."""
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


def queue(sqs: Any, name: str, **attributes: str) -> tuple[str, str]:
    """Create a queue in moto; (its URL, its ARN)."""
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    return url, arn("sqs", name)


def receive(sqs: Any, url: str, count: int, timeout: float = 20.0) -> list[dict[str, Any]]:
    """Receive (and delete) messages until *count* arrived or *timeout* passed."""
    messages: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while len(messages) < count and time.monotonic() < deadline:
        got = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=1,
            AttributeNames=["All"],
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        for message in got:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        messages.extend(got)
    return messages
