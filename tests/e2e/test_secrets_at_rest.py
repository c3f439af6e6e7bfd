"""Connection secrets at rest: never plain in the store's files, gone for good from them
after DeauthorizeConnection and DeleteConnection, sealed with a key kept apart (made
0600 on first start, or given), refused when the key does not fit, and rotated."""

from __future__ import annotations

import base64
import json
import os
import sqlite3
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from httptarget import HttpTarget
from support import ACCOUNT, REGION, sqlite_only

PASSWORD = "MARKER-password-0f3a"
API_KEY = "MARKER-apikey-77c1"
CLIENT_SECRET = "MARKER-client-5e2d"
HEADER = "MARKER-header-9b40"
QUERY = "MARKER-query-1d8e"
BODY = "MARKER-body-c6a7"
NEW_PASSWORD = "MARKER-newpass-2a9f"
MARKERS = (PASSWORD, API_KEY, CLIENT_SECRET, HEADER, QUERY, BODY, NEW_PASSWORD)
STORE_FILES = ("busbar.db", "busbar.db-wal", "busbar.db-shm")


@pytest.fixture(scope="module")
def target() -> Iterator[HttpTarget]:
    server = HttpTarget().start()
    yield server
    server.stop()


def busbar(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "busbar", *args], capture_output=True, text=True, timeout=60)


def raw_store(data_dir: Path) -> bytes:
    """The bytes of the store's files as they are on disk."""
    return b"".join((data_dir / name).read_bytes() for name in STORE_FILES if (data_dir / name).exists())


def assert_no_plain_secret(data_dir: Path) -> None:
    raw = raw_store(data_dir)
    for marker in MARKERS:
        assert marker.encode() not in raw, f"{marker} is readable in the store's files"


def sealed_values(data_dir: Path, name: str) -> list[str]:
    """The sealed secret values of connection *name*, as stored now."""
    conn = sqlite3.connect(f"file:{data_dir / 'busbar.db'}?mode=ro", uri=True)
    try:
        row = conn.execute(
            "SELECT value FROM resources WHERE kind = 'connection' AND key = ?", (f"{ACCOUNT}/{REGION}/{name}",)
        ).fetchone()
    finally:
        conn.close()
    found: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
        elif isinstance(node, str) and node.startswith("busbar-sealed:"):
            found.append(node)

    walk(json.loads(row[0]))
    return found


def assert_gone(data_dir: Path, sealed: list[str]) -> None:
    """No piece of these sealed values is left in the store's files (pieces of 24 characters:
    a value split across two pages must not hide)."""
    raw = raw_store(data_dir)
    for value in sealed:
        token = value.removeprefix("busbar-sealed:")
        for start in range(0, len(token) - 24, 24):
            assert token[start : start + 24].encode() not in raw, "an old sealed secret is still in the store's files"


def all_secrets_connection(client, name: str) -> None:
    secret_params = {
        "HeaderParameters": [{"Key": "X-Token", "Value": HEADER, "IsValueSecret": True}],
        "QueryStringParameters": [{"Key": "sig", "Value": QUERY, "IsValueSecret": True}],
        "BodyParameters": [{"Key": "extra", "Value": BODY, "IsValueSecret": True}],
    }
    client.create_connection(
        Name=name,
        AuthorizationType="OAUTH_CLIENT_CREDENTIALS",
        AuthParameters={
            "OAuthParameters": {
                "ClientParameters": {"ClientID": "id", "ClientSecret": CLIENT_SECRET},
                "AuthorizationEndpoint": "http://127.0.0.1:9/token",
                "HttpMethod": "POST",
                "OAuthHttpParameters": secret_params,
            },
            "InvocationHttpParameters": secret_params,
        },
    )


def basic_destination(client, target: HttpTarget, name: str, password: str) -> None:
    """A BASIC connection, an API destination to *target* and a rule sending source *name* to it."""
    connection = client.create_connection(
        Name=name,
        AuthorizationType="BASIC",
        AuthParameters={"BasicAuthParameters": {"Username": "ann", "Password": password}},
    )
    destination = client.create_api_destination(
        Name=name,
        ConnectionArn=connection["ConnectionArn"],
        InvocationEndpoint=f"{target.url}/{name}",
        HttpMethod="POST",
    )
    client.put_rule(Name=name, EventPattern=json.dumps({"source": [name]}))
    client.put_targets(
        Rule=name,
        Targets=[
            {
                "Id": "hook",
                "Arn": destination["ApiDestinationArn"],
                "RoleArn": "arn:aws:iam::000000000000:role/x",
            }
        ],
    )


def delivered_password(client, target: HttpTarget, name: str) -> str:
    """Send one event to the rule *name*; answer the password its delivery carried."""
    before = len(target.requests_to(f"/{name}"))
    assert client.put_events(Entries=[{"Source": name, "DetailType": "d", "Detail": "{}"}])["FailedEntryCount"] == 0
    request = target.wait_for(before + 1, f"/{name}")[-1]
    user_password = base64.b64decode(request.headers["authorization"].removeprefix("Basic ")).decode()
    return user_password.split(":", 1)[1]


@sqlite_only
def test_secrets_never_reach_the_store_in_plain_and_old_ones_are_erased(fresh_server, target):
    client = fresh_server.start().client()
    data_dir = fresh_server.data_dir
    all_secrets_connection(client, "every-secret")
    basic_destination(client, target, "hook", PASSWORD)
    client.create_connection(
        Name="api-key",
        AuthorizationType="API_KEY",
        AuthParameters={"ApiKeyAuthParameters": {"ApiKeyName": "x-api-key", "ApiKeyValue": API_KEY}},
    )
    assert_no_plain_secret(data_dir)
    # Sealed at rest, opened for the request.
    assert delivered_password(client, target, "hook") == PASSWORD

    old = sealed_values(data_dir, "hook")
    client.update_connection(
        Name="hook", AuthParameters={"BasicAuthParameters": {"Username": "ann", "Password": NEW_PASSWORD}}
    )
    assert_no_plain_secret(data_dir)
    assert_gone(data_dir, old)
    assert delivered_password(client, target, "hook") == NEW_PASSWORD

    old = set(sealed_values(data_dir, "hook") + sealed_values(data_dir, "every-secret"))
    client.deauthorize_connection(Name="hook")
    client.deauthorize_connection(Name="every-secret")
    kept = set(sealed_values(data_dir, "hook") + sealed_values(data_dir, "every-secret"))
    assert sealed_values(data_dir, "hook") == [] and len(kept) == 6  # the HTTP parameters stay
    assert_no_plain_secret(data_dir)
    assert_gone(data_dir, sorted(old - kept))  # what deauthorizing removed (it keeps the HTTP parameters)

    old = sealed_values(data_dir, "api-key") + sealed_values(data_dir, "every-secret")
    client.delete_connection(Name="api-key")
    client.delete_connection(Name="every-secret")
    assert_no_plain_secret(data_dir)
    assert_gone(data_dir, old)

    assert fresh_server.stop() == 0
    assert_no_plain_secret(data_dir)
    assert_gone(data_dir, old)


def test_the_key_is_made_private_on_first_start_and_must_fit(fresh_server, target, tmp_path):
    client = fresh_server.start().client()
    basic_destination(client, target, "keyed", PASSWORD)
    key_file = fresh_server.data_dir / "secrets.key"
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    assert fresh_server.stop() == 0

    # Without its key the server refuses to start (and makes no new key that fits nothing).
    kept = tmp_path / "kept.key"
    os.replace(key_file, kept)
    with pytest.raises(RuntimeError):
        fresh_server.start()
    assert f"no key file at {key_file}" in fresh_server.log()
    assert not key_file.exists()

    # Another key does not open them either.
    other = tmp_path / "other.key"
    assert busbar("secrets", "rotate", "--secrets-key-file", str(other)).returncode == 0
    fresh_server.args = ["--secrets-key-file", str(other)]
    with pytest.raises(RuntimeError):
        fresh_server.start()
    assert "do not open with the keys in" in fresh_server.log()

    # The right key, kept apart from the data directory, given by flag.
    fresh_server.args = ["--secrets-key-file", str(kept)]
    client = fresh_server.start().client()
    assert delivered_password(client, target, "keyed") == PASSWORD
    assert not key_file.exists()
    assert fresh_server.stop() == 0


def test_rotating_the_key(fresh_server, target):
    client = fresh_server.start().client()
    basic_destination(client, target, "rotated", PASSWORD)
    assert fresh_server.stop() == 0
    key_file = fresh_server.data_dir / "secrets.key"
    old_keys = [line for line in key_file.read_text().splitlines() if line and not line.startswith("#")]

    rotated = busbar("secrets", "rotate", "--data-dir", str(fresh_server.data_dir))
    assert rotated.returncode == 0, rotated.stderr
    keys = [line for line in key_file.read_text().splitlines() if line and not line.startswith("#")]
    assert keys[1:] == old_keys and len(keys) == 2
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600

    # The next start seals everything again with the new key ...
    client = fresh_server.start().client()
    assert "connection secrets sealed with the newest key" in fresh_server.log()
    assert delivered_password(client, target, "rotated") == PASSWORD
    assert fresh_server.stop() == 0
    # ... so the old key can go.
    key_file.write_text(keys[0] + "\n")
    client = fresh_server.start().client()
    assert delivered_password(client, target, "rotated") == PASSWORD
    assert fresh_server.stop() == 0


@sqlite_only
def test_plain_secrets_left_by_an_older_busbar_are_sealed_at_start(fresh_server, target):
    client = fresh_server.start().client()
    basic_destination(client, target, "older", "placeholder")
    assert fresh_server.stop() == 0
    # What a busbar before sealing stored: the password in plain in the connection's document.
    db = sqlite3.connect(fresh_server.data_dir / "busbar.db", isolation_level=None)
    key = f"{ACCOUNT}/{REGION}/older"
    (value,) = db.execute("SELECT value FROM resources WHERE kind = 'connection' AND key = ?", (key,)).fetchone()
    document = json.loads(value)
    document["AuthParameters"]["BasicAuthParameters"]["Password"] = PASSWORD
    db.execute(
        "UPDATE resources SET value = ? WHERE kind = 'connection' AND key = ?", (json.dumps(document).encode(), key)
    )
    db.close()
    assert PASSWORD.encode() in raw_store(fresh_server.data_dir)

    client = fresh_server.start().client()
    assert "connection secrets sealed with the newest key" in fresh_server.log()
    assert_no_plain_secret(fresh_server.data_dir)
    assert delivered_password(client, target, "older") == PASSWORD
    assert fresh_server.stop() == 0
    assert_no_plain_secret(fresh_server.data_dir)


@sqlite_only
def test_a_reader_on_an_old_snapshot_delays_the_erasure_but_does_not_prevent_it(fresh_server):
    client = fresh_server.start().client()
    data_dir = fresh_server.data_dir
    client.create_connection(
        Name="held",
        AuthorizationType="API_KEY",
        AuthParameters={"ApiKeyAuthParameters": {"ApiKeyName": "x-api-key", "ApiKeyValue": API_KEY}},
    )
    old = sealed_values(data_dir, "held")
    # A reader in the middle of a long read (what `busbar backup` does) pins the WAL.
    reader = sqlite3.connect(f"file:{data_dir / 'busbar.db'}?mode=ro", uri=True, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM resources").fetchone()
    client.delete_connection(Name="held")  # answers; the erasure waits for the reader
    assert client.put_events(Entries=[{"Source": "s", "DetailType": "d", "Detail": "{}"}])["FailedEntryCount"] == 0
    reader.execute("COMMIT")
    reader.close()
    deadline = time.monotonic() + 30
    while "the WAL file is emptied" not in fresh_server.log() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "the WAL file cannot be emptied yet" in fresh_server.log()
    assert_gone(data_dir, old)
    assert fresh_server.stop() == 0
