"""Connections: CreateConnection, DescribeConnection, ListConnections,
UpdateConnection, DeleteConnection, DeauthorizeConnection.

A connection holds the credentials an API destination calls its endpoint with:
``BASIC`` (user name and password), ``API_KEY`` (a header name and value) or
``OAUTH_CLIENT_CREDENTIALS`` (a client id and secret that busbar exchanges for a
bearer token at the authorization endpoint), plus ``InvocationHttpParameters``
(headers, query-string and body parameters added to every invocation).

Secrets
    AWS keeps the credentials in a Secrets Manager secret and answers only its
    ARN.  busbar has no Secrets Manager: the credentials live in the connection's
    document in the store, sealed with the server's secrets key
    (:mod:`busbar.resources.secretbox`; only the HTTP sender opens them), and ``SecretArn``
    is a name in AWS's format that points nowhere.  Password, API key value, client secret
    and the values of parameters marked ``IsValueSecret`` are never answered by
    Describe/List (answers are built from a whitelist, see :func:`public_auth`)
    and never logged.

States
    ``BASIC`` and ``API_KEY`` connections are ``AUTHORIZED`` once created.
    ``OAUTH_CLIENT_CREDENTIALS`` connections start ``AUTHORIZING``; busbar fetches
    the first token when the first invocation goes through the connection (the
    HTTP sender in :mod:`busbar.delivery.http` does it, the API layer makes no
    outbound calls).  The sender then records ``AUTHORIZED`` (with
    ``LastAuthorizedTime``) or, when the authorization endpoint refuses the client
    with a 4xx, ``DEAUTHORIZED`` with a ``StateReason``.  As AWS documents, a
    ``BASIC``/``API_KEY`` connection is also deauthorized when its endpoint
    answers 401 or 407.  ``DeauthorizeConnection`` drops the stored secrets and
    answers ``DEAUTHORIZING``; the connection is ``DEAUTHORIZED`` at once and every
    invocation through it fails without retry until ``UpdateConnection`` supplies
    credentials again.

Updates merge as AWS does: members of ``AuthParameters`` that are given replace
the stored ones, the others are kept; a list of ``InvocationHttpParameters`` or
``OAuthHttpParameters`` (headers, query strings, body) that is given replaces
that list.  Changing ``AuthorizationType`` needs the new type's parameters in
full.  Any change of credentials re-authorizes the connection and drops a cached
OAuth token (``Generation`` counts these changes for the sender).

Deleting a connection that API destinations use succeeds, as in AWS; those
destinations then answer ``INACTIVE`` and their invocations fail without retry.
"""

from __future__ import annotations

import secrets
import string
import time
import uuid
from typing import Any

from busbar.api.context import Context
from busbar.api.errors import (
    LimitExceededException,
    ResourceAlreadyExistsException,
    ResourceNotFoundException,
    ValidationException,
)
from busbar.api.paging import listing
from busbar.model.arns import connection_arn, connection_secret_arn, parse_events
from busbar.resources import quotas
from busbar.resources.connections import (
    API_KEY,
    AUTHORIZED,
    AUTHORIZING,
    BASIC,
    DEAUTHORIZED,
    DEAUTHORIZING,
    DELETING,
    OAUTH,
    SECRET_MEMBERS,
)
from busbar.resources.kinds import CONNECTION
from busbar.resources.lookup import find_connection
from busbar.store.base import AlreadyExists

# The AuthParameters member each authorization type needs, and its required members.
_AUTH_MEMBER = {BASIC: "BasicAuthParameters", API_KEY: "ApiKeyAuthParameters", OAUTH: "OAuthParameters"}
_REQUIRED = {
    "BasicAuthParameters": ("Username", "Password"),
    "ApiKeyAuthParameters": ("ApiKeyName", "ApiKeyValue"),
    "OAuthParameters": ("ClientParameters", "AuthorizationEndpoint", "HttpMethod"),
}
_HTTP_LISTS = ("HeaderParameters", "QueryStringParameters", "BodyParameters")


def not_found(name: str) -> ResourceNotFoundException:
    return ResourceNotFoundException(f"Failed to describe the connection(s). Connection '{name}' does not exist.")


def get_connection(ctx: Context, name: str) -> dict[str, Any]:
    """The stored connection (with its secrets), or ResourceNotFoundException."""
    connection = ctx.store.get_resource(CONNECTION, ctx.scope.key(name))
    if connection is None:
        raise not_found(name)
    return connection


async def change_connection(ctx: Context, name: str, change: Any) -> dict[str, Any]:
    """Apply *change* (stored connection -> new one) atomically."""

    def apply(connection: dict[str, Any] | None) -> dict[str, Any]:
        if connection is None:
            raise not_found(name)
        new: dict[str, Any] = change(dict(connection))
        return new

    changed = await ctx.store.modify(CONNECTION, ctx.scope.key(name), apply)
    assert changed is not None
    return changed


def connection_by_arn(ctx: Context, arn: str) -> dict[str, Any]:
    """The connection *arn* names in this account and region, or ResourceNotFoundException."""
    connection = find_connection(ctx.store, arn)
    if connection is None:
        parts = parse_events(arn, CONNECTION)
        raise not_found(parts.name if parts else arn)
    return connection


# -- answers: built from whitelists so that a secret can never slip through -------------


def _public_http(params: dict[str, Any]) -> dict[str, Any]:
    """InvocationHttpParameters / OAuthHttpParameters without the values marked secret."""
    answer: dict[str, Any] = {}
    for kind in _HTTP_LISTS:
        if kind not in params:
            continue
        items = []
        for item in params[kind]:
            shown: dict[str, Any] = {"Key": item.get("Key")} if "Key" in item else {}
            secret = bool(item.get("IsValueSecret"))
            if not secret and "Value" in item:
                shown["Value"] = item["Value"]
            shown["IsValueSecret"] = secret
            items.append(shown)
        answer[kind] = items
    return answer


def public_auth(auth: dict[str, Any]) -> dict[str, Any]:
    """AuthParameters as Describe answers them: names and endpoints, no credentials."""
    answer: dict[str, Any] = {}
    if "BasicAuthParameters" in auth:
        answer["BasicAuthParameters"] = {"Username": auth["BasicAuthParameters"].get("Username")}
    if "ApiKeyAuthParameters" in auth:
        answer["ApiKeyAuthParameters"] = {"ApiKeyName": auth["ApiKeyAuthParameters"].get("ApiKeyName")}
    if "OAuthParameters" in auth:
        oauth = auth["OAuthParameters"]
        shown: dict[str, Any] = {
            "ClientParameters": {"ClientID": oauth.get("ClientParameters", {}).get("ClientID")},
            "AuthorizationEndpoint": oauth.get("AuthorizationEndpoint"),
            "HttpMethod": oauth.get("HttpMethod"),
        }
        if "OAuthHttpParameters" in oauth:
            shown["OAuthHttpParameters"] = _public_http(oauth["OAuthHttpParameters"])
        answer["OAuthParameters"] = shown
    if "InvocationHttpParameters" in auth:
        answer["InvocationHttpParameters"] = _public_http(auth["InvocationHttpParameters"])
    return answer


_TIMES = ("CreationTime", "LastModifiedTime", "LastAuthorizedTime")
_SUFFIX = string.ascii_letters + string.digits


def _summary(connection: dict[str, Any], state: str | None = None) -> dict[str, Any]:
    """What Create/Update/Delete/Deauthorize answer."""
    answer = {"ConnectionArn": connection["ConnectionArn"], "ConnectionState": state or connection["ConnectionState"]}
    answer.update({key: connection[key] for key in _TIMES if key in connection})
    return answer


def _listed(connection: dict[str, Any]) -> dict[str, Any]:
    keys = ("ConnectionArn", "Name", "ConnectionState", "StateReason", "AuthorizationType", *_TIMES)
    return {key: connection[key] for key in keys if key in connection}


def _described(connection: dict[str, Any]) -> dict[str, Any]:
    keys = (
        "ConnectionArn",
        "Name",
        "Description",
        "ConnectionState",
        "StateReason",
        "AuthorizationType",
        "SecretArn",
        "KmsKeyIdentifier",
        *_TIMES,
    )
    answer = {key: connection[key] for key in keys if key in connection}
    answer["AuthParameters"] = public_auth(connection.get("AuthParameters", {}))
    return answer


# -- checks -----------------------------------------------------------------------------


def _check_auth(auth_type: str, auth: dict[str, Any]) -> None:
    """The parameters of *auth_type* are present and complete, and no other type's are."""
    member = _AUTH_MEMBER[auth_type]
    others = [name for name in _AUTH_MEMBER.values() if name != member and name in auth]
    if others:
        raise ValidationException(
            f"{others[0]} cannot be specified for authorization type {auth_type}; specify only {member}."
        )
    params = auth.get(member)
    if params is None:
        raise ValidationException(f"{member} must be specified for authorization type {auth_type}.")
    missing = [key for key in _REQUIRED[member] if params.get(key) is None]
    if auth_type == OAUTH and not missing:
        client = params["ClientParameters"]
        missing = [f"ClientParameters.{key}" for key in ("ClientID", "ClientSecret") if client.get(key) is None]
    if missing:
        raise ValidationException(f"{member}.{missing[0]} must be specified for authorization type {auth_type}.")
    # An OAuth AuthorizationEndpoint is checked only by the model here, as AWS checks it
    # at create time; one that cannot be called deauthorizes the connection when busbar
    # first asks it for a token (busbar.delivery.http).


def check_endpoint(url: str, member: str) -> None:
    """An endpoint busbar can call: http:// or https:// and a host.  (AWS calls only
    https endpoints; busbar also allows http for targets on the local network.)"""
    lowered = url.lower()
    for scheme in ("https://", "http://"):
        if lowered.startswith(scheme) and len(url) > len(scheme) and url[len(scheme)] not in "/?#":
            return
    raise ValidationException(
        f"Parameter {member} is not valid. Reason: {url} is not an http:// or https:// URL with a host."
    )


def _check_connectivity(body: dict[str, Any]) -> None:
    if body.get("InvocationConnectivityParameters") is not None:
        raise ValidationException(
            "InvocationConnectivityParameters is not supported by busbar: endpoints are called directly "
            "from the busbar server, not through a VPC Lattice resource configuration."
        )


def initial_state(auth_type: str) -> str:
    """AUTHORIZING until busbar holds an OAuth token; AUTHORIZED for credentials it sends as they are."""
    return AUTHORIZING if auth_type == OAUTH else AUTHORIZED


# -- operations -------------------------------------------------------------------------


async def create_connection(ctx: Context, body: dict[str, Any]) -> dict[str, Any]:
    name: str = body["Name"]
    auth_type: str = body["AuthorizationType"]
    auth: dict[str, Any] = body["AuthParameters"]
    _check_connectivity(body)
    _check_auth(auth_type, auth)
    store, stored_key = ctx.store, ctx.scope.key(name)
    if store.get_resource(CONNECTION, stored_key) is not None:
        raise ResourceAlreadyExistsException(f"Connection {name} already exists.")
    try:
        await quotas.reserve(
            store,
            CONNECTION,
            ctx.scope.prefix,
            name,
            ctx.settings.limits.max_connections,
            lambda kept: store.get_resource(CONNECTION, ctx.scope.key(kept)) is not None,
        )
    except quotas.QuotaExceeded:
        raise LimitExceededException("The requested resource exceeds the maximum number allowed.") from None
    now = time.time()
    unique = str(uuid.uuid4())
    # AWS's secret is named by an id of its own and Secrets Manager's six-character suffix.
    secret = f"{uuid.uuid4()}-{''.join(secrets.choice(_SUFFIX) for _ in range(6))}"
    state = initial_state(auth_type)
    connection: dict[str, Any] = {
        "Name": name,
        "ConnectionArn": connection_arn(ctx.region, ctx.account, name, unique),
        "AuthorizationType": auth_type,
        "ConnectionState": state,
        "SecretArn": connection_secret_arn(ctx.region, ctx.account, name, secret),
        "AuthParameters": ctx.secrets.seal_auth(auth),  # secretbox hook: only sealed secrets are stored
        "CreationTime": now,
        "LastModifiedTime": now,
        "Generation": 1,
        # AWS answers it from the start, for an OAuth connection still AUTHORIZING too.
        "LastAuthorizedTime": now,
    }
    for key in ("Description", "KmsKeyIdentifier"):
        if body.get(key) is not None:
            connection[key] = body[key]
    try:
        await store.create_resource(CONNECTION, stored_key, connection)
    except AlreadyExists:
        raise ResourceAlreadyExistsException(f"Connection {name} already exists.") from None
    # CreateConnection's answer is the one without LastAuthorizedTime (AWS's recorded answers).
    return {key: value for key, value in _summary(connection).items() if key != "LastAuthorizedTime"}


async def describe_connection(ctx: Context, body: dict[str, Any]) -> dict[str, Any]:
    return _described(get_connection(ctx, body["Name"]))


async def list_connections(ctx: Context, body: dict[str, Any]) -> dict[str, Any]:
    prefix = body.get("NamePrefix") or ""
    state = body.get("ConnectionState")
    scope_prefix = ctx.scope.prefix
    found = [
        (key[len(scope_prefix) :], _listed(connection))
        for key, connection in ctx.store.list_resources(CONNECTION, scope_prefix + prefix)
        if state is None or connection["ConnectionState"] == state
    ]
    return listing("Connections", found, body)


def _merge_http(stored: dict[str, Any] | None, given: dict[str, Any]) -> dict[str, Any]:
    merged = dict(stored or {})
    merged.update({kind: given[kind] for kind in _HTTP_LISTS if kind in given})
    return merged


def _merge_auth(stored: dict[str, Any], stored_type: str, auth_type: str, given: dict[str, Any]) -> dict[str, Any]:
    """The AuthParameters after an update (see the module docstring)."""
    member = _AUTH_MEMBER[auth_type]
    merged: dict[str, Any] = {}
    if "InvocationHttpParameters" in stored or "InvocationHttpParameters" in given:
        merged["InvocationHttpParameters"] = _merge_http(
            stored.get("InvocationHttpParameters"), given.get("InvocationHttpParameters", {})
        )
    # A change of type starts from nothing: the old type's credentials do not carry over.
    params = dict(stored.get(member, {})) if auth_type == stored_type else {}
    update = given.get(member) or {}
    for key, value in update.items():
        if key == "ClientParameters":
            params[key] = {**params.get(key, {}), **value}
        elif key == "OAuthHttpParameters":
            params[key] = _merge_http(params.get(key), value)
        else:
            params[key] = value
    merged[member] = params
    return merged


async def update_connection(ctx: Context, body: dict[str, Any]) -> dict[str, Any]:
    _check_connectivity(body)

    def change(connection: dict[str, Any]) -> dict[str, Any]:
        stored_type = connection["AuthorizationType"]
        auth_type = body.get("AuthorizationType") or stored_type
        given = body.get("AuthParameters") or {}
        foreign = [name for name in _AUTH_MEMBER.values() if name != _AUTH_MEMBER[auth_type] and name in given]
        if foreign:
            raise ValidationException(
                f"{foreign[0]} cannot be specified for authorization type {auth_type}; "
                f"specify only {_AUTH_MEMBER[auth_type]}."
            )
        credentials_changed = auth_type != stored_type or any(member in given for member in _AUTH_MEMBER.values())
        if given or auth_type != stored_type:
            stored_auth = ctx.secrets.open_auth(connection.get("AuthParameters", {}))  # secretbox hook
            auth = _merge_auth(stored_auth, stored_type, auth_type, given)
            if credentials_changed or connection["ConnectionState"] != DEAUTHORIZED:
                _check_auth(auth_type, auth)
            connection["AuthParameters"] = ctx.secrets.seal_auth(auth)  # secretbox hook
        connection["AuthorizationType"] = auth_type
        for key in ("Description", "KmsKeyIdentifier"):
            if body.get(key) is not None:
                connection[key] = body[key]
        now = time.time()
        connection["LastModifiedTime"] = now
        if credentials_changed:
            # New credentials are tried afresh: a cached OAuth token belongs to the old ones.
            connection["Generation"] = connection.get("Generation", 0) + 1
            connection["ConnectionState"] = initial_state(auth_type)
            connection.pop("StateReason", None)
            if connection["ConnectionState"] == AUTHORIZED:
                connection["LastAuthorizedTime"] = now
        return connection

    changed = await change_connection(ctx, body["Name"], change)
    if body.get("AuthParameters") or body.get("AuthorizationType"):
        await ctx.store.scrub()  # busbar.store.datadir hook: replaced secrets leave the store's files
    return _summary(changed)


async def delete_connection(ctx: Context, body: dict[str, Any]) -> dict[str, Any]:
    connection = get_connection(ctx, body["Name"])
    await ctx.store.delete_resource(CONNECTION, ctx.scope.key(connection["Name"]))
    await quotas.release(ctx.store, CONNECTION, ctx.scope.prefix, connection["Name"])
    await ctx.store.scrub()  # busbar.store.datadir hook: the secrets leave the store's files
    # AWS deletes asynchronously and answers DELETING; busbar's delete is done, the answer is AWS's.
    return _summary(connection, DELETING)


def strip_secrets(auth: dict[str, Any]) -> dict[str, Any]:
    """AuthParameters without the credentials (what a deauthorized connection keeps)."""
    stripped: dict[str, Any] = {}
    for member, params in auth.items():
        if member == "InvocationHttpParameters":
            stripped[member] = params
            continue
        kept = {key: value for key, value in params.items() if key not in SECRET_MEMBERS}
        if "ClientParameters" in kept:
            kept["ClientParameters"] = {
                key: value for key, value in kept["ClientParameters"].items() if key not in SECRET_MEMBERS
            }
        stripped[member] = kept
    return stripped


async def deauthorize_connection(ctx: Context, body: dict[str, Any]) -> dict[str, Any]:
    def change(connection: dict[str, Any]) -> dict[str, Any]:
        connection["AuthParameters"] = strip_secrets(connection.get("AuthParameters", {}))
        connection["ConnectionState"] = DEAUTHORIZED
        connection["StateReason"] = "Deauthorized by DeauthorizeConnection."
        connection["LastModifiedTime"] = time.time()
        connection["Generation"] = connection.get("Generation", 0) + 1
        return connection

    deauthorized = await change_connection(ctx, body["Name"], change)
    await ctx.store.scrub()  # busbar.store.datadir hook: the secrets leave the store's files
    # AWS answers DEAUTHORIZING while it removes the secret; here it is gone already.
    return _summary(deauthorized, DEAUTHORIZING)
