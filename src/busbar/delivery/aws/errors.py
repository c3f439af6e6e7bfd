"""What a failed call to an AWS service means for the delivery: retry, or give up.

EventBridge retries a target on throttling, on the service's own failures (HTTP
5xx) and on network trouble, and sends everything else -- a queue that does not
exist, a permission that is missing, a parameter the service refuses -- to the
dead-letter queue at once, because retrying cannot succeed until someone acts.
:func:`classify` makes that decision for any exception an aiobotocore call
raises.

The outcome's code is one of the ``ERROR_CODE`` values of AWS's dead-letter
messages (``NO_RESOURCE``, ``NO_PERMISSIONS``, ``THROTTLING``, ...; the same
vocabulary as API destinations); its message keeps the service's own words,
``"<service error code>: <service message>"``, e.g.
``"AWS.SimpleQueueService.NonExistentQueue: The specified queue does not exist."``.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    CredentialRetrievalError,
    NoCredentialsError,
    ParamValidationError,
    PartialCredentialsError,
    ReadTimeoutError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError

from busbar.delivery.base import Outcome

# AWS's dead-letter ERROR_CODE values.
THROTTLING = "THROTTLING"
TIMEOUT = "TIMEOUT"
NO_RESOURCE = "NO_RESOURCE"
NO_PERMISSIONS = "NO_PERMISSIONS"
INVALID_PARAMETER = "INVALID_PARAMETER"
ERROR_FROM_TARGET = "ERROR_FROM_TARGET"
SDK_CLIENT_ERROR = "SDK_CLIENT_ERROR"
FAILED_TO_ASSUME_ROLE = "FAILED_TO_ASSUME_ROLE"
TRANSIENT_ASSUME_ROLE = "TRANSIENT_ASSUME_ROLE"

# Service error codes that mean "slow down" whatever their HTTP status (several
# services answer throttling with 400).
_THROTTLED = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "RequestThrottledException",
        "ProvisionedThroughputExceededException",
        "SlowDown",
        "EC2ThrottledException",
        "KMSThrottlingException",
        "KmsThrottled",
        "KMS.ThrottlingException",
        "AWS.SimpleQueueService.RequestThrottled",
        "ServiceUnavailableException",
        "ServiceUnavailable",
    }
)
# Client errors that pass by themselves: the resource is being changed or the
# credentials need refreshing.  Retried like throttling.
_TRANSIENT = frozenset(
    {
        "ResourceConflictException",  # Lambda: the function is being updated
        "ResourceNotReadyException",  # Lambda: the function is not active yet
        "ExpiredToken",
        "ExpiredTokenException",
        "RequestExpired",
        "RequestTimeTooSkewed",
        "InternalFailure",
        "InternalError",
        "InternalServerError",
        "ServiceException",
    }
)
_NOT_FOUND = frozenset(
    {
        "ResourceNotFoundException",
        "ResourceNotFound",
        "NotFound",
        "NotFoundException",
        "QueueDoesNotExist",
        "AWS.SimpleQueueService.NonExistentQueue",
        "StateMachineDoesNotExist",
        "StateMachineDeleting",
    }
)
_DENIED = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "AuthorizationError",
        "NotAuthorized",
        "UnauthorizedOperation",
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "InvalidSignatureException",
        "SignatureDoesNotMatch",
        "KMSAccessDeniedException",
        "KMS.AccessDeniedException",
        "KmsAccessDenied",
        "AWS.SimpleQueueService.KmsAccessDenied",
    }
)


class Refused(Exception):
    """The service answered the call but refused what it carried (a failed PutEvents
    entry, a rejected log event); ``outcome`` says whether to retry."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.error_message)
        self.outcome = outcome


def classify(error: BaseException) -> Outcome:
    """The outcome of a call to an AWS service that raised *error*."""
    if isinstance(error, Refused):
        return error.outcome
    if isinstance(error, ClientError):
        return _client_error(error)
    if isinstance(error, (ReadTimeoutError, asyncio.TimeoutError, aiohttp.ServerTimeoutError)):
        return Outcome.retry(TIMEOUT, f"The service did not answer in time: {error}")
    if isinstance(error, (BotoConnectionError, aiohttp.ClientError, OSError)):
        return Outcome.retry(SDK_CLIENT_ERROR, f"The service cannot be reached: {error}")
    if isinstance(error, (NoCredentialsError, PartialCredentialsError, CredentialRetrievalError)):
        # busbar's own configuration is missing: keep the event until it is fixed.
        return Outcome.retry(
            SDK_CLIENT_ERROR,
            f"{error} (busbar looks for AWS credentials as every AWS SDK does: environment, shared "
            "credentials and config files, container and instance roles).",
        )
    if isinstance(error, ParamValidationError):
        return Outcome.fail(INVALID_PARAMETER, str(error))
    if isinstance(error, BotoCoreError):
        return Outcome.retry(SDK_CLIENT_ERROR, str(error))
    return Outcome.retry(SDK_CLIENT_ERROR, f"{type(error).__name__}: {error}")


def _client_error(error: ClientError) -> Outcome:
    details: dict[str, Any] = error.response.get("Error") or {}
    metadata: dict[str, Any] = error.response.get("ResponseMetadata") or {}
    code = str(details.get("Code") or "")
    status = int(metadata.get("HTTPStatusCode") or 0)
    message = f"{code}: {details.get('Message') or ''}".rstrip(": ")
    if error.operation_name == "AssumeRole":
        # The target's RoleArn (with --assume-target-roles) could not be assumed.
        message = f"Could not assume the target's role: {message}"
        if code in _THROTTLED or status >= 500:
            return Outcome.retry(TRANSIENT_ASSUME_ROLE, message)
        return Outcome.fail(FAILED_TO_ASSUME_ROLE, message)
    if code in _THROTTLED or status == 429:
        return Outcome.retry(THROTTLING, message, _retry_after(metadata))
    if code in _TRANSIENT or status >= 500 or status == 0:
        return Outcome.retry(ERROR_FROM_TARGET, message, _retry_after(metadata))
    if code in _NOT_FOUND or status == 404:
        return Outcome.fail(NO_RESOURCE, message)
    if code in _DENIED or status in (401, 403):
        return Outcome.fail(NO_PERMISSIONS, message)
    if "Invalid" in code or "Validation" in code or code in ("MalformedInput", "InvalidParameterValue"):
        return Outcome.fail(INVALID_PARAMETER, message)
    return Outcome.fail(ERROR_FROM_TARGET, message)


def _retry_after(metadata: dict[str, Any]) -> float | None:
    """Seconds the service asked to wait (``Retry-After``, as Lambda sends on 429)."""
    value = (metadata.get("HTTPHeaders") or {}).get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None
