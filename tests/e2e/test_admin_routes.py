"""busbar's own HTTP routes beside the API: ``POST /busbar/dead-letters/redrive``
checks its input at the edge and answers JSON, and a bad request never fails
anyone else's writes."""

from __future__ import annotations

import threading

import httpx
import pytest


def redrive(server, body: bytes) -> httpx.Response:
    return httpx.post(server.endpoint_url + "/busbar/dead-letters/redrive", content=body, timeout=30)


@pytest.mark.parametrize(
    ("body", "said"),
    [
        (b'{"ids": [9223372036854775808]}', "ids[0] is 9223372036854775808, not a delivery id"),
        (b'{"ids": [1, 0]}', "ids[1] is 0, not a delivery id"),
        (b'{"ids": [-5]}', "ids[0] is -5, not a delivery id"),
        (b'{"ids": [true]}', "ids[0] is true, not a delivery id"),
        (b'{"ids": ["7"]}', 'ids[0] is "7", not a delivery id'),
        (b'{"ids": [1.5]}', "ids[0] is 1.5, not a delivery id"),
        (b'{"ids": 3}', "ids is not a list"),
        (b"[1, 2]", "The request body is not a JSON object"),
        (b"{", "The request body is not valid JSON"),
        (b'{"ids": [18446744073709551616]}', "ids[0] is 1.8446744073709552e+19, not a delivery id"),
        (b'{"ids": [' + b",".join([b"1"] * 10_001) + b"]}", "ids holds 10001 ids"),
    ],
)
def test_bad_redrive_requests_are_refused_as_json(server, body, said):
    response = redrive(server, body)
    assert response.status_code == 400
    answer = response.json()
    assert answer["__type"] == "ValidationException"
    assert answer["message"].startswith(said)
    assert (
        'expected {"ids": [<delivery id>, ...]} with at most 10000 ids from 1 to 9223372036854775807'
        in (answer["message"])
    )


@pytest.mark.parametrize("body", [b"", b"{}", b'{"ids": null}', b'{"ids": []}', b'{"ids": [9223372036854775807]}'])
def test_good_redrive_requests(server, body):
    response = redrive(server, body)
    assert response.status_code == 200
    assert response.json() == {"redriven": []}


def test_a_bad_redrive_never_fails_other_clients_writes(server, events):
    stop = threading.Event()
    refused: list[int] = []

    def attack() -> None:
        while not stop.is_set():
            refused.append(redrive(server, b'{"ids": [9223372036854775808]}').status_code)

    attackers = [threading.Thread(target=attack) for _ in range(2)]
    for thread in attackers:
        thread.start()
    try:
        failed = 0
        for _ in range(100):
            answer = events.put_events(Entries=[{"Source": "s", "DetailType": "d", "Detail": "{}"}] * 10)
            failed += answer["FailedEntryCount"]
    finally:
        stop.set()
        for thread in attackers:
            thread.join()
    assert refused and set(refused) == {400}
    assert failed == 0
