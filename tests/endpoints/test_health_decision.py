"""How busbar decides a Route 53 health check's status, as Route 53 documents it: more than
18% of the checkers reporting success is healthy; a disabled health check is healthy; an
inverted one is the opposite of what it would be."""

from __future__ import annotations

import pytest

from busbar.endpoints.health import Health, decided_health, observed_health


def observations(succeeded: int, failed: int) -> list[dict[str, object]]:
    success = {"StatusReport": {"Status": "Success: HTTP Status Code 200, OK"}}
    failure = {"StatusReport": {"Status": "Failure: Connection timed out."}}
    return [success] * succeeded + [failure] * failed


@pytest.mark.parametrize(
    ("succeeded", "failed", "healthy"),
    [(1, 0, True), (0, 1, False), (3, 13, True), (2, 14, False), (16, 0, True), (0, 16, False)],
)
def test_more_than_18_percent_of_checkers_is_healthy(succeeded, failed, healthy):
    health = observed_health(observations(succeeded, failed))
    assert health == Health(healthy, f"{succeeded} of {succeeded + failed} Route 53 health checkers report success")


def test_no_observations_is_not_known():
    assert observed_health([]) is None
    assert decided_health({}, None) is None


@pytest.mark.parametrize(
    ("disabled", "inverted", "observed", "healthy"),
    [
        (False, False, True, True),
        (False, False, False, False),
        (False, True, True, False),
        (False, True, False, True),
        (True, False, False, True),  # disabled: always healthy
        (True, True, False, False),  # ... unless inverted
    ],
)
def test_disabled_and_inverted(disabled, inverted, observed, healthy):
    config = {"Disabled": disabled, "Inverted": inverted}
    decided = decided_health(config, Health(observed, "checked"))
    assert decided is not None and decided.healthy is healthy
