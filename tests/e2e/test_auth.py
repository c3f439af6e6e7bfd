"""Optional SigV4 authentication (--auth-keys-file): signed requests with a known key
pass; anything else is refused in AWS's words."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import httpx
import pytest
from botocore.config import Config

from support import REGION, BusbarProcess

KEY, SECRET = "AKIDBUSBARTEST", "s3cret/with+chars"


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BusbarProcess]:
    directory = tmp_path_factory.mktemp("auth")
    keys = directory / "keys"
    keys.write_text(f"# access keys\n{KEY} {SECRET}\nAKIDOTHER other\n")
    process = BusbarProcess(directory / "data", args=["--auth-keys-file", str(keys)]).start()
    yield process
    process.stop()


def client(server: BusbarProcess, key: str = KEY, secret: str = SECRET):  # noqa: ANN201
    return boto3.client(
        "events",
        endpoint_url=server.endpoint_url,
        region_name=REGION,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        config=Config(retries={"total_max_attempts": 1}),
    )


def test_signed_requests_pass(secured):
    events = client(secured)
    answer = events.put_events(Entries=[{"Source": "s", "DetailType": "d", "Detail": "{}"}])
    assert answer["FailedEntryCount"] == 0
    assert client(secured, "AKIDOTHER", "other").list_event_buses()["EventBuses"]


def test_wrong_secret(secured):
    with pytest.raises(Exception) as raised:
        client(secured, KEY, "wrong").list_event_buses()
    error = raised.value.response["Error"]
    assert error["Code"] == "InvalidSignatureException"
    assert error["Message"].startswith("The request signature we calculated does not match")


def test_unknown_key(secured):
    with pytest.raises(Exception) as raised:
        client(secured, "AKIDNOBODY", SECRET).list_event_buses()
    assert raised.value.response["Error"] == {
        "Code": "UnrecognizedClientException",
        "Message": "The security token included in the request is invalid.",
    }


def test_unsigned_and_tampered_requests(secured):
    missing = secured.post("AWSEvents.ListEventBuses", b"{}")
    assert missing.status_code == 403
    assert missing.json() == {
        "__type": "MissingAuthenticationTokenException",
        "message": "Missing Authentication Token",
    }
    # A correctly signed request whose body is changed on the way no longer verifies.
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    request = AWSRequest(
        method="POST",
        url=secured.endpoint_url + "/",
        data=b"{}",
        headers={"X-Amz-Target": "AWSEvents.ListEventBuses", "Content-Type": "application/x-amz-json-1.1"},
    )
    SigV4Auth(Credentials(KEY, SECRET), "events", REGION).add_auth(request)
    headers = dict(request.headers.items())
    assert httpx.post(secured.endpoint_url + "/", content=b"{}", headers=headers).status_code == 200
    tampered = httpx.post(secured.endpoint_url + "/", content=b'{"Limit": 1}', headers=headers)
    assert tampered.json()["__type"] == "InvalidSignatureException"


def test_expired_signature(secured):
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    request = AWSRequest(
        method="POST",
        url=secured.endpoint_url + "/",
        data=b"{}",
        headers={"X-Amz-Target": "AWSEvents.ListEventBuses", "Content-Type": "application/x-amz-json-1.1"},
    )
    signer = SigV4Auth(Credentials(KEY, SECRET), "events", REGION)
    old = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=20)).strftime("%Y%m%dT%H%M%SZ")
    request.headers["X-Amz-Date"] = old
    request.context["timestamp"] = old
    signature = signer.signature(signer.string_to_sign(request, signer.canonical_request(request)), request)
    request.headers["Authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={KEY}/{old[:8]}/{REGION}/events/aws4_request, "
        f"SignedHeaders={signer.signed_headers(signer.headers_to_sign(request))}, "
        f"Signature={signature}"
    )
    answer = httpx.post(secured.endpoint_url + "/", content=b"{}", headers=dict(request.headers.items()))
    assert answer.json()["__type"] == "InvalidSignatureException"
    assert answer.json()["message"].startswith(f"Signature expired: {old} is now earlier than")


def test_health_stays_open_and_cli_signs_admin_calls(secured):
    assert httpx.get(secured.endpoint_url + "/health").status_code == 200
    env = {**os.environ, "AWS_ACCESS_KEY_ID": KEY, "AWS_SECRET_ACCESS_KEY": SECRET, "AWS_DEFAULT_REGION": REGION}
    done = subprocess.run(
        [sys.executable, "-m", "busbar", "dead-letters", "redrive", "--endpoint-url", secured.endpoint_url],
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0 and "redriven 0" in done.stdout
    env["AWS_SECRET_ACCESS_KEY"] = "wrong"
    refused = subprocess.run(
        [sys.executable, "-m", "busbar", "dead-letters", "redrive", "--endpoint-url", secured.endpoint_url],
        env=env,
        capture_output=True,
        text=True,
    )
    assert refused.returncode == 2 and "InvalidSignatureException" in refused.stderr


def test_aws_cli_with_keys(secured):
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_PAGER": "",
    }
    aws = str(Path(sys.executable).with_name("aws"))
    done = subprocess.run(
        [
            aws,
            "events",
            "put-events",
            "--endpoint-url",
            secured.endpoint_url,
            "--entries",
            json.dumps([{"Source": "cli", "DetailType": "d", "Detail": "{}"}]),
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr


def test_bad_keys_file_is_refused(tmp_path):
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "busbar",
            "serve",
            "--auth-keys-file",
            str(tmp_path / "none"),
            "--data-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2 and "does not exist" in done.stderr
