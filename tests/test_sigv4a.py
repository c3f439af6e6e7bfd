"""SigV4a verification (busbar.server.sigv4a and the verifier): requests signed by botocore's
CRT signer (awscrt, what boto3 uses for global endpoints) verify, with the key pair busbar
derives from the access key; anything changed after signing does not."""

from __future__ import annotations

import datetime as dt
import secrets
import string

import pytest
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.crt.auth import CrtSigV4AsymAuth

from busbar.model.caller import Caller
from busbar.server import sigv4a
from busbar.server.auth import AccessKey as Key
from busbar.server.auth import (
    IncompleteSignatureException,
    InvalidSignatureException,
    SigV4Verifier,
    UnrecognizedClientException,
    request_headers,
    unsigned_caller,
)

BODY = b'{"EndpointId": "abcde.xyz", "Entries": [{"Source": "s", "DetailType": "d", "Detail": "{}"}]}'


def signed(key: str, secret: str, region_set: str = "*", body: bytes = BODY) -> dict[str, str]:
    """The headers of a PutEvents request signed with SigV4a by the CRT, as busbar reads them."""
    request = AWSRequest(
        method="POST",
        url="http://127.0.0.1:4010/",
        data=body,
        headers={"X-Amz-Target": "AWSEvents.PutEvents", "Content-Type": "application/x-amz-json-1.1"},
    )
    CrtSigV4AsymAuth(Credentials(key, secret), "events", region_set).add_auth(request)
    raw = [(b"host", b"127.0.0.1:4010")] + [
        (name.lower().encode(), value.encode()) for name, value in request.headers.items() if name.lower() != "host"
    ]
    return request_headers(raw)


def verifier(key: str = "AKIDEXAMPLE", secret: str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY") -> SigV4Verifier:
    return SigV4Verifier({key: Key(secret, "111111111111")}, default_region="eu-central-1")


def test_a_crt_signed_request_verifies_and_acts_in_the_servers_region():
    headers = signed("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    assert headers["authorization"].startswith("AWS4-ECDSA-P256-SHA256 Credential=AKIDEXAMPLE/")
    assert headers["x-amz-region-set"] == "*"
    assert verifier().verify("POST", "/", "", headers, BODY) == Caller("111111111111", "eu-central-1", "AKIDEXAMPLE")


def test_a_region_set_of_one_region_is_where_the_request_acts():
    headers = signed("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", region_set="ap-south-1")
    assert verifier().verify("POST", "/", "", headers, BODY).region == "ap-south-1"
    assert unsigned_caller(headers, "000000000000", "us-east-1") == Caller("000000000000", "ap-south-1")
    assert unsigned_caller(signed("a", "b"), "000000000000", "us-east-1") == Caller("000000000000", "us-east-1")


@pytest.mark.parametrize("region_set", ["*", "us-*", "us-east-1,us-west-2", "", None, "local"])
def test_other_region_sets_act_in_the_default_region(region_set):
    assert sigv4a.region_of(region_set, "eu-west-3") == "eu-west-3"


def test_many_access_keys_derive_the_crts_keys():
    # The derivation (KDF counter, scalar, curve) matches awscrt's for keys of every shape.
    alphabet = string.ascii_letters + string.digits + "/+"
    for _ in range(25):
        key = "AKIA" + "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(16))
        secret = "".join(secrets.choice(alphabet) for _ in range(40))
        assert verifier(key, secret).verify("POST", "/", "", signed(key, secret), BODY).access_key_id == key


def test_a_changed_body_or_header_fails():
    headers = signed("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    with pytest.raises(InvalidSignatureException, match="does not match the signature you provided"):
        verifier().verify("POST", "/", "", headers, BODY.replace(b"abcde", b"abcdf"))
    with pytest.raises(InvalidSignatureException, match="does not match the signature you provided"):
        verifier().verify("POST", "/", "", {**headers, "x-amz-target": "AWSEvents.DeleteEventBus"}, BODY)
    with pytest.raises(InvalidSignatureException, match="does not match the signature you provided"):
        verifier().verify("POST", "/", "", {**headers, "x-amz-region-set": "us-east-1"}, BODY)
    with pytest.raises(InvalidSignatureException, match="does not match the signature you provided"):
        verifier().verify("POST", "/other", "", headers, BODY)


def test_a_wrong_secret_or_a_forged_signature_fails():
    headers = signed("AKIDEXAMPLE", "not-the-secret")
    with pytest.raises(InvalidSignatureException):
        verifier().verify("POST", "/", "", headers, BODY)
    authorization = headers["authorization"]
    forged = authorization[: authorization.index("Signature=") + len("Signature=")] + "30" + "ab" * 30
    with pytest.raises(InvalidSignatureException):
        verifier().verify("POST", "/", "", {**headers, "authorization": forged}, BODY)
    not_hex = authorization[: authorization.index("Signature=") + len("Signature=")] + "zz"
    with pytest.raises(InvalidSignatureException):
        verifier().verify("POST", "/", "", {**headers, "authorization": not_hex}, BODY)


def test_an_unknown_key_an_unsigned_region_set_and_an_old_date_are_refused():
    headers = signed("AKIDOTHER", "x")
    with pytest.raises(UnrecognizedClientException):
        verifier().verify("POST", "/", "", headers, BODY)
    headers = signed("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    unsigned = headers["authorization"].replace(";x-amz-region-set", "")
    with pytest.raises(InvalidSignatureException, match="'X-Amz-Region-Set' must be a 'SignedHeader'"):
        verifier().verify("POST", "/", "", {**headers, "authorization": unsigned}, BODY)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=20)
    with pytest.raises(InvalidSignatureException, match="Signature expired"):
        verifier().verify("POST", "/", "", headers, BODY, now=later)


def test_a_malformed_sigv4a_credential_is_incomplete():
    headers = {"authorization": "AWS4-ECDSA-P256-SHA256 Credential=a/b, SignedHeaders=host, Signature=00"}
    with pytest.raises(IncompleteSignatureException, match="with the AWS4-ECDSA-P256-SHA256 algorithm"):
        verifier().verify("POST", "/", "", headers, BODY)
    with pytest.raises(IncompleteSignatureException, match="busbar checks AWS4-HMAC-SHA256 and AWS4-ECDSA-P256-SHA256"):
        verifier().verify("POST", "/", "", {"authorization": "AWS4-HMAC-SHA512 x"}, BODY)
