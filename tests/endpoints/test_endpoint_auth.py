"""SigV4a with ``--auth-keys-file``: PutEvents through a global endpoint is verified
(boto3 signs it with awscrt), a tampered SigV4a request is refused, and endpoints belong to
the account of the caller's key like every other resource."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.crt.auth import CrtSigV4AsymAuth
from botocore.exceptions import ClientError

from endpoint_support import HEALTH_INTERVAL, Pair, client_of, make_pair
from support import REGION, BusbarProcess, error_of

ALICE = ("AKIDALICE", "alice-secret", "111111111111")
BOB = ("AKIDBOB", "bob-secret", "222222222222")


@pytest.fixture(scope="module")
def signed_busbar(tmp_path_factory: pytest.TempPathFactory, route53_env: dict[str, str]) -> Iterator[BusbarProcess]:
    tmp = tmp_path_factory.mktemp("signed-endpoints")
    keys = tmp / "keys"
    keys.write_text("".join(f"{key} {secret} {account}\n" for key, secret, account in (ALICE, BOB)))
    process = BusbarProcess(
        tmp / "data",
        env=route53_env,
        args=["--auth-keys-file", str(keys), "--endpoint-health-interval", HEALTH_INTERVAL],
    ).start()
    yield process
    process.stop()


@pytest.fixture
def alices(signed_busbar: BusbarProcess, route53) -> Pair:  # noqa: ANN001
    pair = make_pair(signed_busbar, route53, *ALICE[:2])
    pair.create_endpoint()
    return pair


def test_a_sigv4a_signed_put_events_is_verified_and_routed(alices: Pair):
    sent: list[str] = []
    for client in getattr(alices.east, "clients", [alices.east]):  # of a cluster: each node's
        client.meta.events.register(
            "before-send.events.PutEvents", lambda request, **_: sent.append(request.headers["Authorization"].decode())
        )
    answer = alices.east.put_events(
        EndpointId=alices.endpoint_id,
        Entries=[{"Source": alices.source, "DetailType": "d", "Detail": "{}", "EventBusName": alices.bus}],
    )
    assert answer["FailedEntryCount"] == 0
    [authorization] = sent  # boto3 (with awscrt) signed it with SigV4a, and busbar verified it
    assert authorization.startswith(f"AWS4-ECDSA-P256-SHA256 Credential={ALICE[0]}/")
    assert alices.endpoint_arn.split(":")[4] == ALICE[2]


def test_a_wrong_secret_is_refused(alices: Pair):
    intruder = client_of(alices.server, REGION, ALICE[0], "not-alice-secret")
    with pytest.raises(ClientError) as raised:
        intruder.put_events(
            EndpointId=alices.endpoint_id,
            Entries=[{"Source": "s", "DetailType": "d", "Detail": "{}", "EventBusName": alices.bus}],
        )
    assert error_of(raised) == (
        "InvalidSignatureException",
        "The request signature we calculated does not match the signature you provided. Check your AWS Secret "
        "Access Key and signing method. Consult the service documentation for details.",
    )


def signed_request(server: BusbarProcess, body: dict[str, object], key: str, secret: str) -> httpx.Request:
    """A PutEvents request signed with SigV4a by botocore's CRT signer, as boto3 sends it."""
    request = AWSRequest(
        method="POST",
        url=server.endpoint_url + "/",
        data=json.dumps(body).encode(),
        headers={"X-Amz-Target": "AWSEvents.PutEvents", "Content-Type": "application/x-amz-json-1.1"},
    )
    CrtSigV4AsymAuth(Credentials(key, secret), "events", "*").add_auth(request)
    assert request.headers["Authorization"].startswith("AWS4-ECDSA-P256-SHA256 ")
    return httpx.Request("POST", request.url, headers=dict(request.headers.items()), content=request.body)


def test_a_tampered_sigv4a_request_is_refused(alices: Pair):
    body = {
        "EndpointId": alices.endpoint_id,
        "Entries": [
            {"Source": alices.source, "DetailType": "d", "Detail": '{"amount": 1}', "EventBusName": alices.bus}
        ],
    }
    with httpx.Client() as http:
        genuine = signed_request(alices.server, body, *ALICE[:2])
        assert http.send(genuine).json()["FailedEntryCount"] == 0

        tampered = signed_request(alices.server, body, *ALICE[:2])
        changed = tampered.content.replace(b'\\"amount\\": 1', b'\\"amount\\": 9')
        assert changed != tampered.content
        answer = http.post(tampered.url, headers=dict(tampered.headers), content=changed)
        assert (answer.status_code, answer.json()["__type"]) == (400, "InvalidSignatureException")

        retargeted = signed_request(alices.server, {"Name": "default"}, *ALICE[:2])
        headers = {**retargeted.headers, "x-amz-target": "AWSEvents.DeleteEventBus"}
        answer = http.post(retargeted.url, headers=headers, content=retargeted.content)
        assert (answer.status_code, answer.json()["__type"]) == (400, "InvalidSignatureException")

        unknown = signed_request(alices.server, body, "AKIDNOBODY", "whatever")
        answer = http.send(unknown)
        assert (answer.status_code, answer.json()["__type"]) == (400, "UnrecognizedClientException")


def test_endpoints_belong_to_the_callers_account(alices: Pair, signed_busbar: BusbarProcess):
    bob = client_of(signed_busbar, REGION, *BOB[:2])
    assert alices.name not in [e["Name"] for e in bob.list_endpoints()["Endpoints"]]
    with pytest.raises(ClientError) as raised:
        bob.describe_endpoint(Name=alices.name)
    assert error_of(raised)[0] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as raised:
        bob.put_events(
            EndpointId=alices.endpoint_id,
            Entries=[{"Source": "s", "DetailType": "d", "Detail": "{}", "EventBusName": alices.bus}],
        )
    assert error_of(raised) == ("ResourceNotFoundException", f"Endpoint {alices.endpoint_id} does not exist.")


def test_an_unsigned_request_is_refused(alices: Pair):
    answer = httpx.post(
        alices.server.endpoint_url + "/",
        headers={"X-Amz-Target": "AWSEvents.PutEvents", "Content-Type": "application/x-amz-json-1.1"},
        content=json.dumps({"EndpointId": alices.endpoint_id, "Entries": []}).encode(),
    )
    assert (answer.status_code, answer.json()["__type"]) == (403, "MissingAuthenticationTokenException")
