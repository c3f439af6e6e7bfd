"""The errors an operation can answer with, as EventBridge names them.

Every error busbar returns to a client is an :class:`AwsError`: a code (the
``__type`` of the JSON 1.1 error body), a message and an HTTP status.  The
server turns any other exception into ``InternalException`` (HTTP 500) and logs it.

Hierarchy::

    AwsError
    ├── ValidationException            request failed the model's constraints or AWS's checks
    ├── SerializationException         body is not a JSON object / a member has the wrong type
    ├── UnknownOperationException      X-Amz-Target names no operation
    ├── ResourceNotFoundException
    ├── ResourceAlreadyExistsException
    ├── LimitExceededException
    ├── InvalidEventPatternException
    ├── ConcurrentModificationException
    ├── IllegalStatusException
    ├── ManagedRuleException
    ├── OperationDisabledException
    ├── PolicyLengthExceededException  a bus policy over 10 KB
    └── InternalException              HTTP 500
"""

from __future__ import annotations


class AwsError(Exception):
    """An error answered to the client as ``{"__type": code, "message": message}``."""

    code: str = "InternalException"
    status: int = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ValidationException(AwsError):
    code = "ValidationException"


class SerializationException(AwsError):
    code = "SerializationException"


class UnknownOperationException(AwsError):
    code = "UnknownOperationException"


class ResourceNotFoundException(AwsError):
    code = "ResourceNotFoundException"


class ResourceAlreadyExistsException(AwsError):
    code = "ResourceAlreadyExistsException"


class LimitExceededException(AwsError):
    code = "LimitExceededException"


class InvalidEventPatternException(AwsError):
    code = "InvalidEventPatternException"


class ConcurrentModificationException(AwsError):
    code = "ConcurrentModificationException"


class IllegalStatusException(AwsError):
    code = "IllegalStatusException"


class ManagedRuleException(AwsError):
    code = "ManagedRuleException"


class OperationDisabledException(AwsError):
    code = "OperationDisabledException"


class PolicyLengthExceededException(AwsError):
    code = "PolicyLengthExceededException"


class InternalException(AwsError):
    code = "InternalException"
    status = 500
