"""A publisher for Python programs: send any number of events through ``PutEvents``.

``PutEvents`` takes at most 10 entries per request, refuses a request whose entries
total the size limit or more, and may fail single entries with a retryable code
while accepting the others.  :class:`Publisher` hides all three: it packs the
caller's entries into as few requests as the limits allow, re-sends only the
entries that failed with a retryable code (with exponential backoff and full
jitter), and answers exactly one result per entry, in the caller's order::

    import boto3
    from busbar.client import Publisher, failed_count

    events = boto3.client("events", endpoint_url="http://127.0.0.1:4010")
    results = Publisher(events).publish([
        {"Source": "shop", "DetailType": "order", "Detail": '{"id": 1}'},
        ...
    ])
    if failed_count(results):
        ...

It uses nothing but ``put_events`` of a boto3 ``events`` client, so it works the
same against busbar and against Amazon EventBridge.  Entry sizes come from
:func:`busbar.model.size.entry_size`, the function the server itself uses.

Delivery is at-least-once: when a connection drops after the service received a
request, the publisher cannot know whether the entries were stored, and it sends
them again.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from botocore.exceptions import ClientError, ConnectionError, HTTPClientError, ParamValidationError

from busbar.model.size import DEFAULT_MAX_REQUEST_BYTES, entry_size

__all__ = [
    "CONNECTION_ERROR",
    "MAX_ENTRIES_PER_REQUEST",
    "RETRYABLE_ENTRY_CODES",
    "Publisher",
    "failed_count",
    "failures",
]

#: The most entries one ``PutEvents`` request may carry.
MAX_ENTRIES_PER_REQUEST = 10

#: Per-entry error codes that EventBridge documents as worth sending again.
RETRYABLE_ENTRY_CODES = frozenset({"InternalFailure", "ThrottlingException"})

#: Error codes of a whole request that mean "try again later", not "this is wrong".
_RETRYABLE_REQUEST_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "InternalException",
        "InternalFailure",
        "ServiceUnavailable",
        "ServiceUnavailableException",
    }
)

#: The ``ErrorCode`` reported for entries whose request never got an answer
#: (connection refused, reset or timed out) after the last attempt.
CONNECTION_ERROR = "ConnectionError"

Entry = Mapping[str, Any]
Result = dict[str, str]


class Publisher:
    """Sends PutEvents entries through a boto3 ``events`` client, packed and retried.

    *client*: a boto3 ``events`` client.  Its own retries add to the publisher's;
    configure it with ``retries={"total_max_attempts": 1}`` to leave retrying to the publisher.

    *max_request_bytes*: the size limit of one request; the entries of a request
    always total strictly less.  Match the service's limit (busbar's
    ``--max-put-events-request-bytes``; EventBridge's quota).

    *max_attempts*: how many times an entry is sent at most (1 = never re-sent).

    *base_delay*, *max_delay*: seconds; before retry *n* (1, 2, ...) the publisher
    sleeps a random time between 0 and ``min(max_delay, base_delay * 2 ** (n - 1))``.

    *sleep* and *rng*: how to wait and where the jitter comes from; tests pass their own.
    """

    def __init__(
        self,
        client: Any,
        *,
        max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES,
        max_entries: int = MAX_ENTRIES_PER_REQUEST,
        max_attempts: int = 8,
        base_delay: float = 0.05,
        max_delay: float = 5.0,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        if max_request_bytes < 1:
            raise ValueError(f"max_request_bytes must be positive, not {max_request_bytes}")
        if not 1 <= max_entries <= MAX_ENTRIES_PER_REQUEST:
            raise ValueError(f"max_entries must be between 1 and {MAX_ENTRIES_PER_REQUEST}, not {max_entries}")
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, not {max_attempts}")
        if base_delay < 0 or max_delay < base_delay:
            raise ValueError(f"need 0 <= base_delay <= max_delay, not {base_delay} and {max_delay}")
        self.client = client
        self.max_request_bytes = max_request_bytes
        self.max_entries = max_entries
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self._sleep = sleep
        self._rng = rng or random.Random()

    # -- public ----------------------------------------------------------------------
    def publish(self, entries: Iterable[Entry]) -> list[Result]:
        """Send *entries*; return one PutEvents result per entry, in the same order.

        A result is AWS's per-entry dict: ``{"EventId": ...}`` for an accepted entry,
        ``{"ErrorCode": ..., "ErrorMessage": ...}`` for a refused one.  Entries that
        still fail with a retryable code after *max_attempts* keep their last error.
        Never raises for what the service answers; raises only for programming errors.
        """
        entries = list(entries)
        sizes = [entry_size(entry) for entry in entries]
        results: list[Result | None] = [None] * len(entries)
        attempts = [0] * len(entries)
        pending: list[int] = []
        for index, size in enumerate(sizes):
            if size >= self.max_request_bytes:
                # No request could ever carry it; sending would only fail its neighbours.
                results[index] = {
                    "ErrorCode": "ValidationException",
                    "ErrorMessage": f"Entry size is {size} bytes; the entries of a request must "
                    f"total less than {self.max_request_bytes} bytes.",
                }
            else:
                pending.append(index)

        while pending:
            retry: list[int] = []
            for number, batch in enumerate(batches := self._pack(pending, sizes)):
                for index, result in zip(batch, self._send(entries, batch), strict=True):
                    attempts[index] += 1
                    results[index] = result
                    if _retryable(result) and attempts[index] < self.max_attempts:
                        retry.append(index)
                if retry:
                    # The service asked us to slow down (or failed for a moment): stop
                    # here rather than press on with later entries.  Re-sending the
                    # failed entries ahead of the rest keeps the caller's order when the
                    # service accepts a prefix of each request, as busbar's rate limit does.
                    retry.extend(i for later in batches[number + 1 :] for i in later)
                    self._sleep(self._backoff(max(attempts[i] for i in batch)))
                    break
            pending = retry
        return [result for result in results if result is not None]

    # -- packing -----------------------------------------------------------------------
    def _pack(self, indexes: Sequence[int], sizes: Sequence[int]) -> list[list[int]]:
        """Split *indexes* (in order) into requests under both limits."""
        batches: list[list[int]] = []
        current: list[int] = []
        total = 0
        for index in indexes:
            # Strictly below: the service refuses a request that totals the limit exactly.
            if current and (len(current) == self.max_entries or total + sizes[index] >= self.max_request_bytes):
                batches.append(current)
                current, total = [], 0
            current.append(index)
            total += sizes[index]
        if current:
            batches.append(current)
        return batches

    # -- sending -----------------------------------------------------------------------
    def _send(self, entries: Sequence[Entry], batch: Sequence[int]) -> list[Result]:
        """One PutEvents request for *batch*; one result per entry, even when it fails whole."""
        try:
            response = self.client.put_events(Entries=[entries[index] for index in batch])
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code = error.get("Code") or "ClientError"
            if code == "ValidationException" and len(batch) > 1:
                return self._send_alone(entries, batch)
            failure = {"ErrorCode": code, "ErrorMessage": error.get("Message") or str(exc)}
            if code not in _RETRYABLE_REQUEST_CODES and _status(exc) >= 500:
                # A 5xx without a code we know is still the service's trouble, not ours.
                failure["ErrorCode"] = "InternalFailure"
            return [dict(failure) for _ in batch]
        except ParamValidationError as exc:
            # botocore refused to build the request (a member of the wrong type).
            if len(batch) > 1:
                return self._send_alone(entries, batch)
            return [{"ErrorCode": "ValidationException", "ErrorMessage": str(exc)}]
        except (ConnectionError, HTTPClientError) as exc:
            return [{"ErrorCode": CONNECTION_ERROR, "ErrorMessage": str(exc)} for _ in batch]
        answered = response.get("Entries", [])
        if len(answered) != len(batch):
            message = f"PutEvents answered {len(answered)} results for {len(batch)} entries."
            return [{"ErrorCode": "InternalFailure", "ErrorMessage": message} for _ in batch]
        return [dict(result) for result in answered]

    def _send_alone(self, entries: Sequence[Entry], batch: Sequence[int]) -> list[Result]:
        # One invalid entry (a bad EventBusName, say) fails its whole request and
        # nothing of it is stored; sending each entry on its own pins the error on
        # the entry at fault and lets its neighbours through.
        return [result for index in batch for result in self._send(entries, [index])]

    def _backoff(self, attempt: int) -> float:
        """Seconds to wait before retry number *attempt* (full jitter)."""
        # Full jitter spreads the retries of many publishers evenly instead of in waves.
        ceiling = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return self._rng.uniform(0, ceiling)


def _retryable(result: Mapping[str, str]) -> bool:
    code = result.get("ErrorCode")
    return code is not None and (
        code in RETRYABLE_ENTRY_CODES or code in _RETRYABLE_REQUEST_CODES or code == CONNECTION_ERROR
    )


def _status(exc: ClientError) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)


# -- looking at results ------------------------------------------------------------------
def failures(results: Sequence[Mapping[str, str]]) -> list[tuple[int, Mapping[str, str]]]:
    """The failed results with their positions, for reporting or a second try."""
    return [(index, result) for index, result in enumerate(results) if "ErrorCode" in result]


def failed_count(results: Sequence[Mapping[str, str]]) -> int:
    """How many entries were not accepted (PutEvents' ``FailedEntryCount`` over all requests)."""
    return sum(1 for result in results if "ErrorCode" in result)
