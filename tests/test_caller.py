"""Who a request comes from: the verifier's answer with authentication on, and the
caller of an unsigned request with it off."""

from __future__ import annotations

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from busbar.model.caller import Caller
from busbar.server.auth import (
    AccessKey,
    InvalidSignatureException,
    SigV4Verifier,
    load_keys,
    request_headers,
    unsigned_caller,
)

URL = "http://127.0.0.1:4010/"


def headers_of(key: str, secret: str, region: str, body: bytes = b"{}") -> dict[str, str]:
    request = AWSRequest(
        method="POST",
        url=URL,
        data=body,
        headers={"X-Amz-Target": "AWSEvents.ListEventBuses", "Content-Type": "application/x-amz-json-1.1"},
    )
    SigV4Auth(Credentials(key, secret), "events", region).add_auth(request)
    raw = [(b"host", b"127.0.0.1:4010")] + [(k.lower().encode(), v.encode()) for k, v in request.headers.items()]
    return request_headers(raw)


def test_the_verifier_names_key_account_and_region(tmp_path):
    keys = tmp_path / "keys"
    keys.write_text("AKIDONE one 111111111111\nAKIDTWO two\n")
    verifier = SigV4Verifier(load_keys(keys, "000000000000"))
    assert verifier.verify("POST", "/", "", headers_of("AKIDONE", "one", "eu-west-1"), b"{}") == Caller(
        "111111111111", "eu-west-1", "AKIDONE"
    )
    assert verifier.verify("POST", "/", "", headers_of("AKIDTWO", "two", "us-east-2"), b"{}") == Caller(
        "000000000000", "us-east-2", "AKIDTWO"
    )


def test_keys_never_show_their_secret(tmp_path):
    keys = tmp_path / "keys"
    keys.write_text("AKIDONE sup3rsecret\n")
    loaded = load_keys(keys, "000000000000")
    assert loaded == {"AKIDONE": AccessKey("sup3rsecret", "000000000000")}
    assert "sup3rsecret" not in repr(loaded)


def test_unsigned_caller_takes_the_region_of_the_scope():
    signed = headers_of("anything", "whatever", "ap-southeast-2")
    assert unsigned_caller(signed, "000000000000", "us-east-1") == Caller("000000000000", "ap-southeast-2")


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer abc",
        "AWS4-HMAC-SHA256 garbage",
        "AWS4-ECDSA-P256-SHA256 Credential=a/20260101/events/aws4_request",
    ],
)
def test_unsigned_caller_without_a_scope_uses_the_server_region(authorization):
    headers = {} if authorization is None else {"authorization": authorization}
    assert unsigned_caller(headers, "123456789012", "eu-north-1") == Caller("123456789012", "eu-north-1")


def test_unsigned_caller_refuses_a_region_that_is_none():
    with pytest.raises(InvalidSignatureException, match="Credential should be scoped to a valid region, not 'local'"):
        unsigned_caller(headers_of("a", "b", "local"), "000000000000", "us-east-1")
