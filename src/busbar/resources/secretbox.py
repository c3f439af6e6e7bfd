"""Connection secrets sealed at rest, with a key kept apart from the store.

What is sealed
    The secret values of a connection's ``AuthParameters``: ``Password``,
    ``ApiKeyValue``, ``ClientParameters.ClientSecret`` and the ``Value`` of every
    ``InvocationHttpParameters``/``OAuthHttpParameters`` item marked
    ``IsValueSecret``.  The API layer seals them before the document reaches the
    store; the HTTP sender opens them only to build a request.  So the store — the
    SQLite file, its WAL, a backup, or later a NATS key-value bucket replicated to
    every node — only ever holds ciphertext.

How
    Fernet (AES-128-CBC + HMAC-SHA256, from the ``cryptography`` library) under a
    keyring, ``MultiFernet``: the first key seals, every key opens.  A sealed value
    is the text ``busbar-sealed:`` followed by the Fernet token.

The key file
    One Fernet key (urlsafe base64 of 32 bytes) per line, the newest first; blank
    lines and ``#`` comments are ignored.  By default ``<data-dir>/secrets.key``,
    created 0600 on the first start; ``--secrets-key-file`` (``BUSBAR_SECRETS_KEY_FILE``)
    puts it elsewhere — apart from the data and its backups, or shared by the nodes
    of a cluster.  A server refuses to start when the stored secrets do not open
    with the keys it was given (rather than failing every delivery later), and does
    not make a new key while sealed secrets are stored.

Rotation
    ``busbar secrets rotate`` puts a new key first in the key file.  At its next
    start the server opens every stored secret and seals again, under the new key,
    each one that is not sealed with it yet; once it has said so in its log, the old
    keys can be deleted from the file.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from busbar.resources.connections import SECRET_MEMBERS
from busbar.store.base import Store

log = logging.getLogger("busbar.secrets")

SEALED_PREFIX = "busbar-sealed:"
KEY_FILE_NAME = "secrets.key"
_HTTP_LISTS = ("HeaderParameters", "QueryStringParameters", "BodyParameters")


class SecretsKeyError(Exception):
    """The secrets key cannot be read, made, or does not open the stored secrets."""


class SecretBox:
    """Seals and opens connection secrets with a keyring (see the module docstring)."""

    def __init__(self, keys: Sequence[bytes] = ()) -> None:
        self._keys: list[Fernet] = []
        self._ring: MultiFernet | None = None
        # Opened connections, by ARN: the stored document it was opened from and the result
        # (opening costs ~20 microseconds a value; every delivery to an API destination needs it).
        self._opened: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
        if keys:
            self.use(keys)

    @classmethod
    def ephemeral(cls) -> SecretBox:
        """A box with a fresh key that lives in memory only (for a context without a data directory)."""
        return cls([Fernet.generate_key()])

    def use(self, keys: Sequence[bytes]) -> None:
        """Seal with ``keys[0]`` from now on; open with any of *keys*."""
        try:
            self._keys = [Fernet(key) for key in keys]
        except ValueError:
            raise SecretsKeyError("a secrets key is not a Fernet key (urlsafe base64 of 32 bytes)") from None
        self._ring = MultiFernet(self._keys)
        self._opened.clear()

    def _keyring(self) -> MultiFernet:
        if self._ring is None:
            raise RuntimeError("the secrets key is not loaded yet")
        return self._ring

    # -- one value ------------------------------------------------------------------
    def seal(self, value: str) -> str:
        return SEALED_PREFIX + self._keyring().encrypt(value.encode()).decode("ascii")

    def open(self, value: str) -> str:
        """The plain value of a sealed one.  A value without the prefix was stored by a
        busbar before sealing existed and is answered as it is."""
        if not value.startswith(SEALED_PREFIX):
            return value
        try:
            return self._keyring().decrypt(value[len(SEALED_PREFIX) :].encode("ascii")).decode()
        except (InvalidToken, UnicodeError):
            raise SecretsKeyError("a stored secret does not open with the secrets key") from None

    def is_current(self, value: str) -> bool:
        """Whether *value* is sealed, with the first key of the ring."""
        if not value.startswith(SEALED_PREFIX):
            return False
        try:
            self._keyring()  # loaded
            self._keys[0].decrypt(value[len(SEALED_PREFIX) :].encode("ascii"))
        except (InvalidToken, UnicodeError):
            return False
        return True

    # -- a connection's AuthParameters -----------------------------------------------
    def seal_auth(self, auth: dict[str, Any]) -> dict[str, Any]:
        """*auth* with every secret value sealed (given plain)."""
        return map_secrets(auth, self.seal)

    def open_auth(self, auth: dict[str, Any]) -> dict[str, Any]:
        """*auth* with every secret value opened."""
        return map_secrets(auth, self.open)

    def opened(self, connection: dict[str, Any]) -> dict[str, Any]:
        """A copy of the stored *connection* with its secrets opened, for building a request."""
        arn = connection.get("ConnectionArn", "")
        cached = self._opened.get(arn)
        if cached is not None and cached[0] is connection:
            return cached[1]
        opened = dict(connection)
        opened["AuthParameters"] = self.open_auth(connection.get("AuthParameters") or {})
        self._opened[arn] = (connection, opened)
        return opened


def map_secrets(auth: dict[str, Any], change: Callable[[str], str]) -> dict[str, Any]:
    """A copy of the AuthParameters *auth* with *change* applied to each secret value."""

    def http(params: dict[str, Any]) -> dict[str, Any]:
        changed = dict(params)
        for kind in _HTTP_LISTS:
            if isinstance(params.get(kind), list):
                changed[kind] = [
                    {**item, "Value": change(item["Value"])}
                    if item.get("IsValueSecret") and isinstance(item.get("Value"), str)
                    else item
                    for item in params[kind]
                ]
        return changed

    def members(params: dict[str, Any]) -> dict[str, Any]:
        changed = {
            key: change(value) if key in SECRET_MEMBERS and isinstance(value, str) else value
            for key, value in params.items()
        }
        if isinstance(params.get("ClientParameters"), dict):
            changed["ClientParameters"] = members(params["ClientParameters"])
        if isinstance(params.get("OAuthHttpParameters"), dict):
            changed["OAuthHttpParameters"] = http(params["OAuthHttpParameters"])
        return changed

    result: dict[str, Any] = {}
    for member, params in auth.items():
        if not isinstance(params, dict):
            result[member] = params
        elif member == "InvocationHttpParameters":
            result[member] = http(params)
        else:
            result[member] = members(params)
    return result


def _secret_values(auth: dict[str, Any]) -> list[str]:
    found: list[str] = []

    def collect(value: str) -> str:
        found.append(value)
        return value

    map_secrets(auth, collect)
    return found


# -- the key file ------------------------------------------------------------------------


def read_key_file(path: Path) -> list[bytes]:
    """The keys of a key file, newest first."""
    try:
        text = path.read_text(encoding="ascii")
    except OSError as error:
        raise SecretsKeyError(f"cannot read the secrets key file {path}: {error.strerror}") from None
    except UnicodeError:
        raise SecretsKeyError(f"the secrets key file {path} holds something else than Fernet keys") from None
    keys = [line.strip().encode() for line in text.splitlines() if line.strip() and not line.startswith("#")]
    if not keys:
        raise SecretsKeyError(f"the secrets key file {path} holds no key")
    if os.stat(path).st_mode & 0o077:
        log.warning("the secrets key file is readable by other users; chmod 600 it", extra={"path": str(path)})
    return keys


def write_key_file(path: Path, keys: Sequence[bytes]) -> None:
    """Write *keys* to *path* (0600), replacing it atomically."""
    temporary = path.with_name(path.name + ".new")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "wb") as file:
        file.write(b"# busbar secrets keys, newest first: the first seals, all of them open.\n")
        file.write(b"".join(key + b"\n" for key in keys))
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)


def rotate_key_file(path: Path) -> int:
    """Put a new key first in the key file at *path* (made if missing); answer how many keys it holds."""
    keys = read_key_file(path) if path.exists() else []
    write_key_file(path, [Fernet.generate_key(), *keys])
    return len(keys) + 1


async def unlock(box: SecretBox, key_file: Path, store: Store, kind: str) -> int:
    """Load *key_file* into *box* (made on first use), check that it opens every secret
    stored in the resources of *kind*, and seal again under the newest key those that are
    not (plain ones from an older busbar, or sealed with an older key).  Answers how many
    connections were sealed again."""
    stored = store.list_resources(kind)
    sealed = [name for name, doc in stored if any(v.startswith(SEALED_PREFIX) for v in _values(doc))]
    if not key_file.exists():
        if sealed:
            raise SecretsKeyError(
                f"the store holds connection secrets sealed with a key, but there is no key file at {key_file}; "
                "give the key they were sealed with (--secrets-key-file or BUSBAR_SECRETS_KEY_FILE)"
            )
        try:
            write_key_file(key_file, [Fernet.generate_key()])
        except OSError as error:
            raise SecretsKeyError(f"cannot make the secrets key file {key_file}: {error.strerror}") from None
        log.info("made a new secrets key", extra={"path": str(key_file)})
    box.use(read_key_file(key_file))
    resealed = 0
    for name, doc in stored:
        try:
            auth = box.open_auth(doc.get("AuthParameters") or {})
        except SecretsKeyError:
            raise SecretsKeyError(
                f"the secrets of connection {name} do not open with the keys in {key_file}; give the key "
                "they were sealed with (--secrets-key-file or BUSBAR_SECRETS_KEY_FILE)"
            ) from None
        if all(box.is_current(value) for value in _values(doc)):
            continue
        await store.put_resource(kind, name, {**doc, "AuthParameters": box.seal_auth(auth)})
        resealed += 1
    if resealed:
        await store.scrub()
        log.info("connection secrets sealed with the newest key", extra={"connections": resealed})
    return resealed


def _values(connection: dict[str, Any]) -> list[str]:
    return _secret_values(connection.get("AuthParameters") or {})
