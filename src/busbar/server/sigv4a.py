"""SigV4a (``AWS4-ECDSA-P256-SHA256``): the asymmetric signature AWS's SDKs put on requests
to a global endpoint (PutEvents with ``EndpointId``), checked with an access key's secret.

A SigV4a request is signed like a SigV4 one (same canonical request, here computed by
botocore's own SigV4 code), but with an ECDSA P-256 key instead of an HMAC chain, over
a string to sign whose credential scope names no Region (the ``X-Amz-Region-Set`` header
says where the request may act instead).  The key pair is derived from the access key,
as AWS specifies it and its Common Runtime (``awscrt``) implements it: NIST SP 800-108
counter-mode KDF with HMAC-SHA256 over ``"AWS4A" + secret``, label
``AWS4-ECDSA-P256-SHA256``, context ``access key id + counter byte``, the first output
below n - 1, plus one, as the private scalar.  The primitives (the KDF, the curve, ECDSA)
are the ``cryptography`` library's; tests check this against botocore's CRT signer.
"""

from __future__ import annotations

import hashlib

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.kdf.kbkdf import KBKDFHMAC, CounterLocation, Mode

from busbar.model.arns import is_region

ALGORITHM = "AWS4-ECDSA-P256-SHA256"
# The order of the P-256 group: derived scalars must lie below it.
_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
_LABEL = ALGORITHM.encode()


def public_key(access_key_id: str, secret_access_key: str) -> ec.EllipticCurvePublicKey:
    """The public half of the SigV4a key pair of an access key."""
    for counter in range(1, 255):
        kdf = KBKDFHMAC(
            algorithm=hashes.SHA256(),
            mode=Mode.CounterMode,
            length=32,
            rlen=4,
            llen=4,
            location=CounterLocation.BeforeFixed,
            label=_LABEL,
            context=access_key_id.encode() + bytes([counter]),
            fixed=None,
        )
        candidate = int.from_bytes(kdf.derive(b"AWS4A" + secret_access_key.encode()), "big")
        if candidate <= _ORDER - 2:
            return ec.derive_private_key(candidate + 1, ec.SECP256R1()).public_key()
    raise ValueError("no SigV4a key can be derived from this access key")  # 254 misses: about 2**-8000


def string_to_sign(stamp: str, date: str, service: str, canonical_request: str) -> bytes:
    """What a SigV4a signature signs: the algorithm, the request's time, its Region-less
    credential scope and the hash of its canonical request."""
    digest = hashlib.sha256(canonical_request.encode()).hexdigest()
    return f"{ALGORITHM}\n{stamp}\n{date}/{service}/aws4_request\n{digest}".encode()


def verify(key: ec.EllipticCurvePublicKey, signature_hex: str, signed: bytes) -> bool:
    """Whether *signature_hex* (a DER ECDSA signature in hex, as the ``Authorization``
    header carries it) is *key*'s signature of *signed*."""
    try:
        key.verify(bytes.fromhex(signature_hex), signed, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError):
        return False
    return True


def region_of(region_set: str | None, default: str) -> str:
    """The Region a SigV4a request acts in: the one Region its ``X-Amz-Region-Set`` names,
    else (``*`` as the SDKs send, a pattern, several Regions, none) *default*, busbar's
    ``--region``.  PutEvents through a global endpoint goes where the endpoint routes it,
    whatever this is."""
    regions = [part.strip() for part in (region_set or "").split(",")]
    return regions[0] if len(regions) == 1 and is_region(regions[0]) else default
