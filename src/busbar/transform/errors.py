"""The two ways input shaping can fail: at ``PutTargets`` time, and at delivery time."""

from __future__ import annotations


class InvalidTargetInput(ValueError):
    """A target's ``Input``, ``InputPath`` or ``InputTransformer`` is refused at ``PutTargets``.

    ``message`` is the text to return to the client (a ``ValidationException``); where AWS's
    wording is known it is AWS's wording.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InputRenderError(ValueError):
    """This event cannot be shaped as the target asks (for example ``InputPath`` selects
    nothing, or a value would break the JSON of an ``InputTemplate``).

    AWS drops such deliveries silently (or sends invalid JSON); busbar raises instead so that
    the delivery layer can dead-letter the event with ``message`` as the reason.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
