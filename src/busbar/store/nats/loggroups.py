"""Log groups in the stream ``<prefix>-logs``: one message per line, on the subject
``<prefix>.logs.<log group, base64url>``; a line's position is its stream sequence.
Whichever node delivered a line, every node (and ``busbar log-groups tail``) reads the
same lines in the same order."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from nats.js import JetStreamContext

from busbar.store.base import LogLine, Unavailable
from busbar.store.nats.codec import Names
from busbar.store.nats.connection import Outgoing, Publisher, describe
from busbar.store.nats.log import read_range


async def append(publisher: Publisher, names: Names, group: str, lines: Sequence[bytes]) -> None:
    subject = names.log_subject(group)
    results = await publisher.publish([Outgoing(subject, line, {"Nats-Msg-Id": uuid.uuid4().hex}) for line in lines])
    failed = [r for r in results if isinstance(r, Exception)]
    if failed:
        raise Unavailable(f"JetStream did not store {len(failed)} log-group lines: {describe(failed[0])}")


async def read(js: JetStreamContext, names: Names, group: str, after: int, limit: int) -> list[LogLine]:
    found = await read_range(js, names.logs, after, limit, subject=names.log_subject(group))
    return [LogLine(msg.metadata.sequence.stream, msg.data) for msg in found]
