"""Seeing inside busbar: Prometheus metrics with EventBridge's CloudWatch names, failed
deliveries in the log (rationed per target), event bus logs (LogConfig), and the last
hour of a few metrics for the console.

The hot path tells one :class:`Observer` what happened (one call per step, see
:mod:`busbar.observe.observer`); everything else is read when asked for.
"""

from busbar.observe.observer import Observer

__all__ = ["Observer"]
