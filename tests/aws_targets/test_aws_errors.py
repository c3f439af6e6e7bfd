"""Which failures of AWS calls are retried: throttling, 5xx and network trouble are;
client errors (missing resources, permissions, bad parameters) are not."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError, ReadTimeoutError

from busbar.delivery.aws.errors import classify


def client_error(code: str, status: int, message: str = "text", operation: str = "SendMessage", **headers: str):
    response = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status, "HTTPHeaders": headers},
    }
    return ClientError(response, operation)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("error", "retry", "code"),
    [
        (client_error("TooManyRequestsException", 429), True, "THROTTLING"),
        (client_error("ThrottlingException", 400), True, "THROTTLING"),
        (client_error("ProvisionedThroughputExceededException", 400), True, "THROTTLING"),
        (client_error("ServiceException", 500), True, "ERROR_FROM_TARGET"),
        (client_error("InternalError", 503), True, "ERROR_FROM_TARGET"),
        (client_error("ResourceConflictException", 409), True, "ERROR_FROM_TARGET"),
        (client_error("AWS.SimpleQueueService.NonExistentQueue", 400), False, "NO_RESOURCE"),
        (client_error("ResourceNotFoundException", 404), False, "NO_RESOURCE"),
        (client_error("AccessDeniedException", 403), False, "NO_PERMISSIONS"),
        (client_error("AuthorizationError", 403), False, "NO_PERMISSIONS"),
        (client_error("InvalidParameterValue", 400), False, "INVALID_PARAMETER"),
        (client_error("KMSDisabledException", 400), False, "ERROR_FROM_TARGET"),
        (client_error("AccessDenied", 403, operation="AssumeRole"), False, "FAILED_TO_ASSUME_ROLE"),
        (client_error("Throttling", 400, operation="AssumeRole"), True, "TRANSIENT_ASSUME_ROLE"),
        (EndpointConnectionError(endpoint_url="http://127.0.0.1:1"), True, "SDK_CLIENT_ERROR"),
        (ReadTimeoutError(endpoint_url="http://127.0.0.1:1"), True, "TIMEOUT"),
        (NoCredentialsError(), True, "SDK_CLIENT_ERROR"),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_classification(error, retry, code):
    outcome = classify(error)
    assert (outcome.ok, outcome.retryable, outcome.error_code) == (False, retry, code)


def test_the_service_words_are_kept_and_retry_after_is_honoured():
    outcome = classify(client_error("TooManyRequestsException", 429, "Rate Exceeded.", **{"retry-after": "3"}))
    assert outcome.error_message == "TooManyRequestsException: Rate Exceeded."
    assert outcome.retry_after == 3.0
