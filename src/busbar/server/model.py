"""botocore's service model for EventBridge: the specification of every operation.

busbar reads the model shipped with the installed botocore instead of re-typing
shapes and constraints, so a new botocore brings new members and limits with it.
"""

from __future__ import annotations

from functools import lru_cache

import botocore.session
from botocore.model import OperationModel, ServiceModel


@lru_cache(maxsize=1)
def service_model() -> ServiceModel:
    """The ``events`` service model (API version 2015-10-07)."""
    return botocore.session.get_session().get_service_model("events")


def operation(name: str) -> OperationModel | None:
    """The model of operation *name*, or None when EventBridge has no such operation."""
    model = service_model()
    if name not in model.operation_names:
        return None
    return model.operation_model(name)
