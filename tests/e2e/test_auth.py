"""Optional SigV4 authentication (--auth-keys-file): signed requests with a known key
pass; anything else is refused in AWS's words."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

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
    return server.client(REGION, key, secret)


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


# -- signed requests built by hand, for what boto3 will not send ------------------------


def signed(
    server: BusbarProcess,
    target: str,
    body: bytes,
    *,
    region: str = REGION,
    service: str = "events",
    key: str = KEY,
    secret: str = SECRET,
    headers: dict[str, str] | None = None,
) -> list[tuple[str, str]]:
    """The headers of a correctly signed request (Host included, as the client sends it)."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    request = AWSRequest(
        method="POST",
        url=server.endpoint_url + "/",
        data=body,
        headers={"X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.1", **(headers or {})},
    )
    SigV4Auth(Credentials(key, secret), service, region).add_auth(request)
    return [("Host", f"127.0.0.1:{server.port}"), *request.headers.items()]


def raw_post(server: BusbarProcess, headers: list[tuple[str, str]], body: bytes) -> tuple[int, dict]:
    """POST / with exactly these headers (repeats kept, in order) over a plain socket."""
    import socket

    head = "POST / HTTP/1.1\r\n" + "".join(f"{name}: {value}\r\n" for name, value in headers)
    head += f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(head.encode("latin-1") + body)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    status_line, _, rest = answer.partition(b"\r\n")
    payload = rest.partition(b"\r\n\r\n")[2]
    return int(status_line.split()[1]), json.loads(payload) if payload else {}


def test_signed_raw_request_passes(secured):
    status, answer = raw_post(secured, signed(secured, "AWSEvents.ListEventBuses", b"{}"), b"{}")
    assert status == 200 and answer["EventBuses"]


def test_an_unsigned_extra_target_header_is_refused_and_nothing_runs(secured):
    events = client(secured)
    rule = "victim-rule"
    events.put_rule(Name=rule, EventPattern='{"source": ["x"]}')
    body = json.dumps({"Name": rule}).encode()
    headers = signed(secured, "AWSEvents.DescribeRule", body)
    # The captured request, resent with DeleteRule placed before the signed target.
    status, answer = raw_post(secured, [("X-Amz-Target", "AWSEvents.DeleteRule"), *headers], body)
    assert status == 400
    assert answer["__type"] == "ValidationException"
    assert "X-Amz-Target" in answer["message"]
    assert events.describe_rule(Name=rule)["Name"] == rule


@pytest.mark.parametrize(
    "name", ["X-Amz-Target", "Content-Type", "Host", "X-Amz-Date", "Authorization", "X-Amz-Content-SHA256"]
)
def test_a_repeated_header_is_refused(secured, name):
    body = b"{}"
    headers = signed(
        secured, "AWSEvents.ListEventBuses", body, headers={"X-Amz-Content-SHA256": hashlib.sha256(body).hexdigest()}
    )
    value = next(value for header, value in headers if header.lower() == name.lower())
    status, answer = raw_post(secured, [*headers, (name, value)], body)
    assert status == 400
    assert answer == {
        "__type": "ValidationException",
        "message": f"The request has more than one {name} header; send it once.",
    }


def test_repeated_target_is_refused_without_auth_too(server):
    body = b"{}"
    headers = [
        ("Host", f"127.0.0.1:{server.port}"),
        ("X-Amz-Target", "AWSEvents.ListEventBuses"),
        ("X-Amz-Target", "AWSEvents.ListRules"),
        ("Content-Type", "application/x-amz-json-1.1"),
    ]
    status, answer = raw_post(server, headers, body)
    assert (status, answer["__type"]) == (400, "ValidationException")


def test_a_body_swapped_under_a_signed_content_hash_is_refused(secured):
    body = b'{"NamePrefix": "a"}'
    headers = signed(
        secured, "AWSEvents.ListEventBuses", body, headers={"X-Amz-Content-SHA256": hashlib.sha256(body).hexdigest()}
    )
    assert raw_post(secured, headers, body)[0] == 200
    status, answer = raw_post(secured, headers, b'{"NamePrefix": "b"}')
    assert status == 400
    assert answer["__type"] == "InvalidSignatureException"


def test_the_credential_scope_must_name_events(secured):
    status, answer = raw_post(secured, signed(secured, "AWSEvents.ListEventBuses", b"{}", service="sqs"), b"{}")
    assert (status, answer) == (
        400,
        {
            "__type": "InvalidSignatureException",
            "message": "Credential should be scoped to correct service: 'events'. ",
        },
    )


@pytest.mark.parametrize("region", ["mars-central-1", "local", "us-east-1;x", "aws-global", ""])
def test_the_credential_scope_must_name_a_region(secured, region):
    status, answer = raw_post(secured, signed(secured, "AWSEvents.ListEventBuses", b"{}", region=region), b"{}")
    assert (status, answer) == (
        400,
        {
            "__type": "InvalidSignatureException",
            "message": f"Credential should be scoped to a valid region, not '{region}'. ",
        },
    )


@pytest.mark.parametrize("region", ["eu-west-1", "ap-southeast-2", "us-gov-west-1", "cn-north-1"])
def test_any_valid_region_is_accepted(secured, region):
    # One busbar serves every region (issue #11): the scope's region is the caller's.
    status, _ = raw_post(secured, signed(secured, "AWSEvents.ListEventBuses", b"{}", region=region), b"{}")
    assert status == 200


def test_keys_may_name_their_account(tmp_path):
    keys = tmp_path / "keys"
    keys.write_text(f"{KEY} {SECRET} 123456789012\nAKIDDEFAULT other\n")
    process = BusbarProcess(tmp_path / "data", args=["--auth-keys-file", str(keys)]).start()
    try:
        assert client(process).list_event_buses()["EventBuses"]
        assert client(process, "AKIDDEFAULT", "other").list_event_buses()["EventBuses"]
    finally:
        process.stop()


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (f"{KEY} {SECRET} 12345", "keys:1: the account of an access key must be 12 digits, got '12345'"),
        (f"{KEY} {SECRET} 123456789012 extra", "keys:1: expected 'ACCESS_KEY_ID SECRET_ACCESS_KEY [ACCOUNT_ID]'"),
        (f"{KEY}", "keys:1: expected 'ACCESS_KEY_ID SECRET_ACCESS_KEY [ACCOUNT_ID]'"),
        (f"{KEY} {SECRET}\n{KEY} other", f"keys:2: access key {KEY} is listed twice"),
    ],
)
def test_bad_key_lines_are_refused_clearly(tmp_path, line, message):
    keys = tmp_path / "keys"
    keys.write_text(line + "\n")
    done = subprocess.run(
        [sys.executable, "-m", "busbar", "serve", "--auth-keys-file", str(keys), "--data-dir", str(tmp_path / "d")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert message in done.stderr
    assert SECRET not in done.stderr
