"""Test support: start the real busbar server as a separate process and talk to it
with real boto3.  Nothing of busbar's is mocked."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import httpx
from botocore.config import Config

REGION = "us-east-1"
ACCOUNT = "000000000000"


def unique(prefix: str) -> str:
    """A fresh resource name, so tests sharing a server never collide."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def error_of(raised: Any) -> tuple[str, str]:
    """(code, message) of a botocore ClientError caught by ``pytest.raises``."""
    error = raised.value.response["Error"]
    return error["Code"], error["Message"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class BusbarProcess:
    """One ``busbar serve`` process on a free port and its own data directory."""

    def __init__(
        self,
        data_dir: Path,
        port: int | None = None,
        env: dict[str, str] | None = None,
        args: list[str] | None = None,
        preexec_fn: Callable[[], None] | None = None,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.preexec_fn = preexec_fn  # run in the child before busbar starts (e.g. to set rlimits)
        self.port = port or free_port()
        self.env = env or {}
        self.args = args or []
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = self.data_dir.parent / f"{self.data_dir.name}-server.log"

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> BusbarProcess:
        env = {**os.environ, **self.env}
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "busbar",
                "serve",
                "--port",
                str(self.port),
                "--data-dir",
                str(self.data_dir),
                *self.args,
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=self.preexec_fn,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"busbar exited with {self.proc.returncode}: {self.log()}")
            try:
                if httpx.get(f"{self.endpoint_url}/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"busbar did not start in {timeout}s: {self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM, then wait; returns the exit code."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def kill(self) -> None:
        """kill -9: no chance to finish anything."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(10)

    def client(self, region: str = REGION, key: str = "test", secret: str = "test", **config: Any) -> Any:
        """A boto3 EventBridge client of this server, signing for *region* with *key*."""
        return boto3.client(
            "events",
            endpoint_url=self.endpoint_url,
            region_name=region,
            aws_access_key_id=key,
            aws_secret_access_key=secret,
            config=Config(retries={"total_max_attempts": 1}, **config),
        )

    def post(self, target: str | None, body: bytes | str, headers: dict[str, str] | None = None) -> httpx.Response:
        """A raw AWS JSON 1.1 request, for what boto3 will not send."""
        all_headers = {"Content-Type": "application/x-amz-json-1.1"}
        if target is not None:
            all_headers["X-Amz-Target"] = target
        all_headers.update(headers or {})
        return httpx.post(self.endpoint_url + "/", content=body, headers=all_headers, timeout=30)
