"""Who is calling: the identity a request acts as.

One busbar serves every account and region it has keys for: a request acts in the
account its access key belongs to and in the region its signature is scoped to.
The server works this out once per request (:mod:`busbar.server.auth`) and hands it
to the operation.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Caller:
    """The identity of one request.

    ``access_key_id`` is set only when the request's signature was verified
    (``--auth-keys-file``); without authentication busbar knows no key, and the
    account is the server's ``--account-id``.
    """

    account: str
    region: str
    access_key_id: str | None = None
