"""The one exception of busbar.policies, carrying the AWS error it stands for."""

from __future__ import annotations

VALIDATION = "ValidationException"
NOT_FOUND = "ResourceNotFoundException"
TOO_LONG = "PolicyLengthExceededException"


class PolicyError(ValueError):
    """A request that EventBridge refuses: ``code`` is AWS's error code (``ValidationException``,
    ``ResourceNotFoundException`` or ``PolicyLengthExceededException``; all HTTP 400) and
    ``message`` the text to answer with. The API layer turns it into its ``AwsError`` of that
    code."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        self.message = message
        super().__init__(message)
