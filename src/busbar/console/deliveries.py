"""Deliveries: those pending (due now or waiting for a retry, with their last error)
and those dead (kept for redrive), and redrive from the page — the same store calls
as ``busbar deliveries list``, ``busbar dead-letters`` and their redrive."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from busbar.resources.scope import name_of_key
from busbar.store.base import StoredDelivery

if TYPE_CHECKING:
    from busbar.console.app import Console

# The most rows of each table a page shows (the oldest first; the CLI lists them all).
ROWS = 200


def routes(console: Console) -> list[BaseRoute]:
    deliveries = Deliveries(console)
    return [
        Route("/deliveries", console.guard(deliveries.page), methods=["GET"]),
        Route("/deliveries/redrive", console.guard(deliveries.redrive), methods=["POST"]),
    ]


class Deliveries:
    def __init__(self, console: Console) -> None:
        self.console = console
        self.store = console.store

    async def page(self, request: Request) -> Response:
        # Store reads block: off the event loop, which keeps routing and delivering meanwhile.
        pending = await asyncio.to_thread(self.store.pending_deliveries, 0, ROWS)
        dead = await asyncio.to_thread(self.store.dead_deliveries, 0, ROWS)
        pending_total = await asyncio.to_thread(self.store.pending_count)
        redriven = request.query_params.get("redriven")
        return self.console.render(
            request,
            "deliveries.html",
            "deliveries",
            pending=[row(d) for d in pending],
            dead=[row(d) for d in dead],
            pending_total=pending_total,
            rows=ROWS,
            redriven=redriven,
        )

    async def redrive(self, request: Request) -> Response:
        form = await self.console.form(request)
        ids: list[int] | None = None
        if form.get("all") != "1":
            ids = [int(part) for part in form.get("ids", "").split(",") if part.strip().isdigit()]
        redriven = await self.store.redrive(ids) if ids is None or ids else []
        return RedirectResponse(f"/console/deliveries?redriven={len(redriven)}", status_code=303)


def row(delivery: StoredDelivery) -> dict[str, Any]:
    """What the tables (and ``busbar deliveries list``) show of a delivery."""
    return {
        "id": delivery.id,
        "event_id": delivery.event_id,
        "bus": name_of_key(delivery.bus),
        "rule": delivery.rule_name,
        "rule_arn": delivery.rule_arn,
        "target_id": delivery.target.get("Id"),
        "target_arn": delivery.target.get("Arn"),
        "attempts": delivery.attempts,
        "due_at": delivery.due_at,
        "error_code": delivery.error_code,
        "error_message": delivery.error_message,
    }
