"""Optional request authentication: AWS Signature Version 4, checked against the
access keys busbar was given (``--auth-keys-file``).

Off by default — like the emulators, busbar then accepts any signature.  On, every
API call must be signed (as every AWS SDK and the AWS CLI do) with one of the
configured keys; the signature is recomputed with botocore's own SigV4 code and
compared in constant time.  Failures are answered as AWS answers them.
"""

from __future__ import annotations

import datetime as dt
import hmac
from pathlib import Path
from urllib.parse import quote

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from busbar.api.errors import AwsError

ALGORITHM = "AWS4-HMAC-SHA256"
MAX_SKEW = dt.timedelta(minutes=15)
_STAMP = "%Y%m%dT%H%M%SZ"


class MissingAuthenticationTokenException(AwsError):
    code = "MissingAuthenticationTokenException"
    status = 403


class UnrecognizedClientException(AwsError):
    code = "UnrecognizedClientException"


class InvalidSignatureException(AwsError):
    code = "InvalidSignatureException"


class IncompleteSignatureException(AwsError):
    code = "IncompleteSignatureException"


def load_keys(path: Path) -> dict[str, str]:
    """``ACCESS_KEY_ID SECRET_ACCESS_KEY`` per line; blank lines and ``#`` comments ignored."""
    keys: dict[str, str] = {}
    for number, line in enumerate(Path(path).read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) != 2:
            raise ValueError(f"{path}:{number}: expected 'ACCESS_KEY_ID SECRET_ACCESS_KEY'")
        keys[parts[0]] = parts[1]
    if not keys:
        raise ValueError(f"{path} holds no access key")
    return keys


class SigV4Verifier:
    """Checks the SigV4 signature of a request against known access keys."""

    def __init__(self, keys: dict[str, str]) -> None:
        self._keys = dict(keys)

    def verify(
        self, method: str, path: str, query: str, headers: dict[str, str], body: bytes, now: dt.datetime | None = None
    ) -> str:
        """Return the caller's access key id, or raise the AWS error that says why not.
        *headers* has lower-case names."""
        authorization = headers.get("authorization")
        if not authorization:
            raise MissingAuthenticationTokenException("Missing Authentication Token")
        fields = _parse(authorization)
        try:
            key_id, date, region, service, _ = fields["Credential"].split("/")
            signed = fields["SignedHeaders"].split(";")
            provided = fields["Signature"]
        except (KeyError, ValueError):
            raise IncompleteSignatureException(
                "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' "
                f"parameters with the {ALGORITHM} algorithm."
            ) from None
        secret = self._keys.get(key_id)
        if secret is None:
            raise UnrecognizedClientException("The security token included in the request is invalid.")
        stamp = headers.get("x-amz-date", "")
        try:
            when = dt.datetime.strptime(stamp, _STAMP).replace(tzinfo=dt.UTC)
        except ValueError:
            raise IncompleteSignatureException(f"Date must be in ISO-8601 'basic format'. Got '{stamp}'.") from None
        now = now or dt.datetime.now(dt.UTC)
        if abs(now - when) > MAX_SKEW:
            raise InvalidSignatureException(
                f"Signature expired: {stamp} is now earlier than {(now - MAX_SKEW).strftime(_STAMP)} "
                f"({now.strftime(_STAMP)} - 15 min.)"
            )
        request = AWSRequest(
            method=method,
            url=f"http://{headers.get('host', '')}{quote(path)}" + (f"?{query}" if query else ""),
            data=body,
            headers={name: headers.get(name, "") for name in signed},
        )
        request.context["timestamp"] = stamp
        signer = SigV4Auth(Credentials(key_id, secret), service, region)
        expected = signer.signature(signer.string_to_sign(request, signer.canonical_request(request)), request)
        if date != stamp[:8] or not hmac.compare_digest(expected, provided):
            raise InvalidSignatureException(
                "The request signature we calculated does not match the signature you provided. Check your "
                "AWS Secret Access Key and signing method. Consult the service documentation for details."
            )
        return key_id


def _parse(authorization: str) -> dict[str, str]:
    algorithm, _, rest = authorization.partition(" ")
    if algorithm != ALGORITHM:
        raise IncompleteSignatureException(
            f"Unsupported signing algorithm {algorithm!r}: busbar checks "
            f"{ALGORITHM} (SigV4a is not supported with authentication on)."
        )
    fields: dict[str, str] = {}
    for part in rest.split(","):
        name, _, value = part.strip().partition("=")
        fields[name] = value
    return fields
