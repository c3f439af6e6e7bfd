"""busbar.resources.secretbox: which values of a connection are sealed, that sealing and opening
round-trip under a keyring, and the key file."""

from __future__ import annotations

import os
import stat

import pytest

from busbar.resources.secretbox import SEALED_PREFIX, SecretBox, SecretsKeyError, read_key_file, rotate_key_file

AUTH = {
    "BasicAuthParameters": {"Username": "ann", "Password": "pw"},
    "ApiKeyAuthParameters": {"ApiKeyName": "x-key", "ApiKeyValue": "key"},
    "OAuthParameters": {
        "ClientParameters": {"ClientID": "id", "ClientSecret": "client"},
        "AuthorizationEndpoint": "https://auth.example.com/token",
        "HttpMethod": "POST",
        "OAuthHttpParameters": {
            "HeaderParameters": [{"Key": "h", "Value": "oauth-header", "IsValueSecret": True}],
            "BodyParameters": [{"Key": "b", "Value": "shown", "IsValueSecret": False}],
        },
    },
    "InvocationHttpParameters": {
        "QueryStringParameters": [
            {"Key": "q", "Value": "query", "IsValueSecret": True},
            {"Key": "p", "Value": "public"},
        ],
    },
}
SECRET = {"pw", "key", "client", "oauth-header", "query"}
PUBLIC = {"ann", "x-key", "id", "https://auth.example.com/token", "POST", "h", "b", "shown", "q", "p", "public"}


def strings(node: object) -> set[str]:
    if isinstance(node, dict):
        return set().union(*(strings(v) for v in node.values())) if node else set()
    if isinstance(node, list):
        return set().union(*(strings(v) for v in node)) if node else set()
    return {node} if isinstance(node, str) else set()


def test_exactly_the_secret_values_are_sealed_and_they_open_again():
    box = SecretBox.ephemeral()
    sealed = box.seal_auth(AUTH)
    values = strings(sealed)
    assert not SECRET & values
    assert PUBLIC <= values
    assert len([v for v in values if v.startswith(SEALED_PREFIX)]) == len(SECRET)
    assert box.open_auth(sealed) == AUTH
    assert AUTH["BasicAuthParameters"]["Password"] == "pw"  # the given document is left alone


def test_a_keyring_opens_with_old_keys_and_seals_with_the_first(tmp_path):
    key_file = tmp_path / "secrets.key"
    assert rotate_key_file(key_file) == 1
    sealed = SecretBox(read_key_file(key_file)).seal("s3cret")
    assert rotate_key_file(key_file) == 2  # a new key in front of the old one
    box = SecretBox(read_key_file(key_file))
    assert box.open(sealed) == "s3cret"
    assert not box.is_current(sealed)
    assert box.is_current(box.seal("s3cret"))
    with pytest.raises(SecretsKeyError):
        SecretBox.ephemeral().open(sealed)


def test_a_value_stored_plain_by_an_older_busbar_opens_as_it_is():
    box = SecretBox.ephemeral()
    assert box.open("plain") == "plain"
    assert not box.is_current("plain")


def test_the_key_file_is_private_and_must_hold_keys(tmp_path):
    key_file = tmp_path / "k"
    rotate_key_file(key_file)
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    assert len(read_key_file(key_file)) == 1
    empty = tmp_path / "empty"
    empty.write_text("# nothing\n")
    with pytest.raises(SecretsKeyError, match="holds no key"):
        read_key_file(empty)
    bad = tmp_path / "bad"
    bad.write_text("not-a-key\n")
    with pytest.raises(SecretsKeyError, match="not a Fernet key"):
        SecretBox(read_key_file(bad))


def test_an_opened_connection_is_cached_per_stored_document():
    box = SecretBox.ephemeral()
    stored = {"ConnectionArn": "arn:c", "AuthParameters": box.seal_auth(AUTH)}
    first = box.opened(stored)
    assert first["AuthParameters"] == AUTH
    assert box.opened(stored) is first
    changed = {**stored, "AuthParameters": box.seal_auth({"BasicAuthParameters": {"Username": "u", "Password": "n"}})}
    assert box.opened(changed)["AuthParameters"]["BasicAuthParameters"]["Password"] == "n"
