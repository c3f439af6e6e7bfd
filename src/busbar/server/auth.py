"""Who a request comes from, and (with ``--auth-keys-file``) proof of it: AWS
Signature Version 4 checked against the access keys busbar was given.

Off by default: like the emulators, busbar then accepts any signature, and a request
acts in the server's account and in the region its ``Authorization`` header is scoped
to (else ``--region``).  On, every API call must be signed (as every AWS SDK and the
AWS CLI do) with one of the configured keys; the signature is recomputed with
botocore's own SigV4 code and compared in constant time, and the request acts in the
account of its key and the region of its credential scope.  Failures are answered in
AWS's words.

SigV4a (``AWS4-ECDSA-P256-SHA256``, what the SDKs sign PutEvents to a global endpoint
with) is accepted too: its canonical request is botocore's, its ECDSA signature is checked
against the access key's derived public key (:mod:`busbar.server.sigv4a`), and the
request acts in the one Region its ``X-Amz-Region-Set`` names, else in ``--region``.

What a signature covers is exactly what busbar acts on: the headers busbar reads
(``X-Amz-Target``, ``Host``, ...) may appear once only (see :func:`request_headers`),
the operation header must be signed, and the body is hashed here rather than taken
from ``X-Amz-Content-SHA256``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey

from busbar.api.errors import AwsError, ValidationException
from busbar.model.arns import is_account, is_region
from busbar.model.caller import Caller
from busbar.server import sigv4a

ALGORITHM = "AWS4-HMAC-SHA256"
ALGORITHMS = (ALGORITHM, sigv4a.ALGORITHM)
SERVICE = "events"
TERMINATOR = "aws4_request"
MAX_SKEW = dt.timedelta(minutes=15)
_STAMP = "%Y%m%dT%H%M%SZ"
# Headers busbar acts on or that a signature binds; a repeat would let one copy be
# checked and another be used, so a request may carry each of them once only.
SINGLE_HEADERS = (
    "x-amz-target",
    "content-type",
    "host",
    "x-amz-date",
    "authorization",
    "x-amz-content-sha256",
    "x-amz-region-set",
)
_SINGLE = frozenset(SINGLE_HEADERS)
_DISPLAY = {
    "x-amz-target": "X-Amz-Target",
    "content-type": "Content-Type",
    "host": "Host",
    "x-amz-date": "X-Amz-Date",
    "authorization": "Authorization",
    "x-amz-content-sha256": "X-Amz-Content-SHA256",
    "x-amz-region-set": "X-Amz-Region-Set",
}


class MissingAuthenticationTokenException(AwsError):
    code = "MissingAuthenticationTokenException"
    status = 403


class UnrecognizedClientException(AwsError):
    code = "UnrecognizedClientException"


class InvalidSignatureException(AwsError):
    code = "InvalidSignatureException"


class IncompleteSignatureException(AwsError):
    code = "IncompleteSignatureException"


@dataclass(frozen=True)
class AccessKey:
    """One line of the keys file: the secret of an access key and the account it acts in."""

    secret: str = ""
    account: str = ""

    def __repr__(self) -> str:  # never show the secret, not even in a traceback
        return f"AccessKey(account={self.account!r})"


def load_keys(path: Path, default_account: str) -> dict[str, AccessKey]:
    """``ACCESS_KEY_ID SECRET_ACCESS_KEY [ACCOUNT_ID]`` per line (the account defaults to
    *default_account*); blank lines and ``#`` comments ignored.  Raises ValueError naming
    the line (never the secret) when a line is malformed."""
    keys: dict[str, AccessKey] = {}
    for number, line in enumerate(Path(path).read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        where = f"{path}:{number}"
        if len(parts) not in (2, 3):
            raise ValueError(f"{where}: expected 'ACCESS_KEY_ID SECRET_ACCESS_KEY [ACCOUNT_ID]'")
        account = parts[2] if len(parts) == 3 else default_account
        if not is_account(account):
            raise ValueError(f"{where}: the account of an access key must be 12 digits, got {account!r}")
        if parts[0] in keys:
            raise ValueError(f"{where}: access key {parts[0]} is listed twice")
        keys[parts[0]] = AccessKey(parts[1], account)
    if not keys:
        raise ValueError(f"{path} holds no access key")
    return keys


def request_headers(raw: Iterable[tuple[bytes, bytes]]) -> dict[str, str]:
    """The request's headers by lower-case name.  A header that may appear once
    (:data:`SINGLE_HEADERS`) and appears again is refused; other repeats are joined
    with commas, as HTTP and SigV4's canonical form read them."""
    headers: dict[str, str] = {}
    for raw_name, raw_value in raw:
        name = raw_name.decode("latin-1").lower()
        value = raw_value.decode("latin-1")
        if name in headers:
            if name in _SINGLE:
                raise ValidationException(f"The request has more than one {_DISPLAY[name]} header; send it once.")
            value = f"{headers[name]},{value}"
        headers[name] = value
    return headers


@dataclass(frozen=True)
class CredentialScope:
    """The ``Credential=`` of an ``Authorization`` header, split (a SigV4a one names no
    region: ``region`` is empty)."""

    key_id: str
    date: str
    region: str
    service: str
    terminator: str
    algorithm: str = ALGORITHM


def parse_authorization(authorization: str) -> tuple[CredentialScope, list[str], str]:
    """(credential scope, signed header names, signature) of a SigV4 or SigV4a
    ``Authorization`` header, or IncompleteSignatureException."""
    algorithm, _, rest = authorization.partition(" ")
    if algorithm not in ALGORITHMS:
        raise IncompleteSignatureException(
            f"Unsupported signing algorithm {algorithm[:64]!r}: busbar checks {' and '.join(ALGORITHMS)}."
        )
    fields: dict[str, str] = {}
    for part in rest.split(","):
        name, _, value = part.strip().partition("=")
        fields[name] = value
    try:
        credential = fields["Credential"].split("/")
        if algorithm == ALGORITHM:
            key_id, date, region, service, terminator = credential
        else:
            (key_id, date, service, terminator), region = credential, ""
        signed = fields["SignedHeaders"].split(";")
        signature = fields["Signature"]
    except (KeyError, ValueError):
        raise IncompleteSignatureException(
            "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' "
            f"parameters with the {algorithm} algorithm."
        ) from None
    return CredentialScope(key_id, date, region, service, terminator, algorithm), signed, signature


def check_region(region: str) -> None:
    """Refuse a credential scope whose region is not a region, as AWS words it."""
    if not is_region(region):
        raise InvalidSignatureException(f"Credential should be scoped to a valid region, not '{region[:64]}'. ")


def unsigned_caller(headers: Mapping[str, str], account: str, region: str) -> Caller:
    """The caller of a request when authentication is off: the server's *account*, and
    the region the request's SigV4 ``Authorization`` header is scoped to (SigV4a: the one
    region of its ``X-Amz-Region-Set``; else *region*).  Nothing is verified, so no access
    key is named."""
    authorization = headers.get("authorization")
    if authorization is None:
        return Caller(account, region)
    if authorization.startswith(sigv4a.ALGORITHM + " "):
        return Caller(account, sigv4a.region_of(headers.get("x-amz-region-set"), region))
    if not authorization.startswith(ALGORITHM + " "):
        return Caller(account, region)
    try:
        scope, _, _ = parse_authorization(authorization)
    except IncompleteSignatureException:
        return Caller(account, region)
    check_region(scope.region)
    return Caller(account, scope.region)


class SigV4Verifier:
    """Checks the SigV4 (or SigV4a) signature of a request against known access keys.
    A SigV4a request whose region set names no single region acts in *default_region*."""

    def __init__(self, keys: Mapping[str, AccessKey], default_region: str = "us-east-1") -> None:
        self._keys = dict(keys)
        self._default_region = default_region
        # SigV4a public keys, derived once per access key (a KDF and a scalar multiplication).
        self._public_keys: dict[str, EllipticCurvePublicKey] = {}

    def verify(
        self,
        method: str,
        path: str,
        query: str,
        headers: Mapping[str, str],
        body: bytes,
        now: dt.datetime | None = None,
    ) -> Caller:
        """The caller a correctly signed request comes from, or the AWS error that says
        why not.  *headers* has lower-case names (see :func:`request_headers`)."""
        authorization = headers.get("authorization")
        if not authorization:
            raise MissingAuthenticationTokenException("Missing Authentication Token")
        scope, signed, provided = parse_authorization(authorization)
        if scope.terminator != TERMINATOR:
            raise InvalidSignatureException(
                f"Credential should be scoped with a valid terminator: '{TERMINATOR}', not '{scope.terminator[:64]}'. "
            )
        if scope.service != SERVICE:
            raise InvalidSignatureException(f"Credential should be scoped to correct service: '{SERVICE}'. ")
        if scope.algorithm == ALGORITHM:
            check_region(scope.region)
        key = self._keys.get(scope.key_id)
        if key is None:
            raise UnrecognizedClientException("The security token included in the request is invalid.")
        stamp = headers.get("x-amz-date", "")
        try:
            when = dt.datetime.strptime(stamp, _STAMP).replace(tzinfo=dt.UTC)
        except ValueError:
            raise IncompleteSignatureException(
                f"Date must be in ISO-8601 'basic format'. Got '{stamp[:64]}'."
            ) from None
        now = now or dt.datetime.now(dt.UTC)
        if abs(now - when) > MAX_SKEW:
            raise InvalidSignatureException(
                f"Signature expired: {stamp} is now earlier than {(now - MAX_SKEW).strftime(_STAMP)} "
                f"({now.strftime(_STAMP)} - 15 min.)"
            )
        if scope.date != stamp[:8]:
            raise InvalidSignatureException(
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
                f"'{scope.date[:64]}' != '{stamp[:8]}', from '{stamp}'."
            )
        if "host" not in signed:
            raise InvalidSignatureException("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")
        if "x-amz-target" in headers and "x-amz-target" not in signed:
            # Unsigned, the operation could be changed on a captured request.
            raise InvalidSignatureException("'X-Amz-Target' must be a 'SignedHeader' in the AWS Authorization.")
        if "x-amz-region-set" in headers and "x-amz-region-set" not in signed:
            # Unsigned, the region a SigV4a request acts in could be changed on a captured request.
            raise InvalidSignatureException("'X-Amz-Region-Set' must be a 'SignedHeader' in the AWS Authorization.")
        claimed = headers.get("x-amz-content-sha256")
        if claimed is not None and claimed != hashlib.sha256(body).hexdigest():
            # botocore's signer takes this header's word for the body; the body itself is what counts.
            raise InvalidSignatureException(
                "The provided 'x-amz-content-sha256' header does not match what was computed."
            )
        request = AWSRequest(
            method=method,
            url=f"http://{headers.get('host', '')}{quote(path)}" + (f"?{query}" if query else ""),
            data=body,
            headers={name: headers.get(name, "") for name in signed},
        )
        request.context["timestamp"] = stamp
        signer = SigV4Auth(Credentials(scope.key_id, key.secret), scope.service, scope.region or self._default_region)
        canonical = signer.canonical_request(request)
        if scope.algorithm == ALGORITHM:
            expected = signer.signature(signer.string_to_sign(request, canonical), request)
            valid, region = hmac.compare_digest(expected, provided), scope.region
        else:
            public = self._public_keys.get(scope.key_id)
            if public is None:
                public = self._public_keys[scope.key_id] = sigv4a.public_key(scope.key_id, key.secret)
            signed_text = sigv4a.string_to_sign(stamp, scope.date, scope.service, canonical)
            valid = sigv4a.verify(public, provided, signed_text)
            region = sigv4a.region_of(headers.get("x-amz-region-set"), self._default_region)
        if not valid:
            raise InvalidSignatureException(
                "The request signature we calculated does not match the signature you provided. Check your "
                "AWS Secret Access Key and signing method. Consult the service documentation for details."
            )
        return Caller(key.account, region, scope.key_id)
