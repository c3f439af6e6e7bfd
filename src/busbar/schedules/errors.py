"""The one exception of busbar.schedules."""

from __future__ import annotations

MESSAGE = "Parameter ScheduleExpression is not valid."


class InvalidScheduleExpression(ValueError):
    """A ``ScheduleExpression`` that EventBridge would refuse.

    ``str(exc)`` and ``message`` are AWS's whole answer, ``"Parameter ScheduleExpression is not
    valid."`` (PutRule answers it as ``ValidationException``; AWS gives no reason). ``reason``
    says what was wrong, for logs and for the people reading busbar's tests; it is not part of
    AWS's answer.
    """

    def __init__(self, reason: str) -> None:
        self.reason = reason
        self.message = MESSAGE
        super().__init__(MESSAGE)
