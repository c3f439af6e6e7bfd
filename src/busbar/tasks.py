"""Stopping asyncio tasks for good.

Python 3.11's ``asyncio.wait_for`` may swallow a cancellation that arrives just as the
awaited thing finishes, and some libraries' calls (nats-py's requests among them) wait
through it; a task told once to stop can then run on, and a shutdown that waits for it
hangs.  :func:`cancel_and_wait` tells such tasks again until they are done."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

log = logging.getLogger("busbar")

# How often tasks still running are told again to stop.
AGAIN_EVERY = 0.5


async def cancel_and_wait(tasks: Iterable[asyncio.Task[Any]], give_up_after: float = 20.0) -> None:
    """Cancel *tasks* and wait until each has ended, cancelling again those that run on;
    after *give_up_after* seconds, log the ones still running and return."""
    pending = {task for task in tasks if not task.done()}
    waited = 0.0
    while pending:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=AGAIN_EVERY)
        waited += AGAIN_EVERY
        if pending and waited >= give_up_after:
            log.warning("tasks did not stop", extra={"tasks": sorted(task.get_name() for task in pending)})
            return
