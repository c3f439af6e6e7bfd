"""The sandbox: paste an event and a pattern and see whether they match, with AWS's
message when the pattern or the event is not valid (the API's own TestEventPattern);
and send a test event to a bus (the API's own PutEvents: what the bus's rules do
with it is what they do with any event)."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from busbar.api.errors import AwsError
from busbar.api.events import put_events
from busbar.api.patterns import test_event_pattern
from busbar.model.entries import format_time, new_event_ids
from busbar.resources.kinds import BUS
from busbar.resources.scope import name_of_key, scope_of_key

if TYPE_CHECKING:
    from busbar.console.app import Console

EXAMPLE_PATTERN = {"source": ["shop.orders"], "detail": {"total": [{"numeric": [">", 100]}]}}


def routes(console: Console) -> list[BaseRoute]:
    sandbox = Sandbox(console)
    guard = console.guard
    return [
        Route("/sandbox", guard(sandbox.page), methods=["GET"]),
        Route("/sandbox/test", guard(sandbox.test), methods=["POST"]),
        Route("/sandbox/send", guard(sandbox.send), methods=["POST"]),
    ]


class Sandbox:
    def __init__(self, console: Console) -> None:
        self.console = console

    def _example_event(self) -> str:
        settings = self.console.settings
        event = {
            "version": "0",
            "id": new_event_ids(1)[0],
            "detail-type": "OrderPlaced",
            "source": "shop.orders",
            "account": settings.account_id,
            "time": format_time(time.time()),
            "region": settings.region,
            "resources": [],
            "detail": {"orderId": "o-1", "total": 250},
        }
        return json.dumps(event, indent=2)

    def _render(self, request: Request, *, status: int = 200, **values: Any) -> Response:
        defaults: dict[str, Any] = {
            "event": self._example_event(),
            "pattern": json.dumps(EXAMPLE_PATTERN, indent=2),
            "test": None,
            "buses": [(key, name_of_key(key)) for key, _ in self.console.store.list_resources(BUS)],
            "send": None,
            "send_bus": "",
            "source": "shop.orders",
            "detail_type": "OrderPlaced",
            "detail": json.dumps({"orderId": "o-1", "total": 250}),
        }
        defaults.update(values)
        return self.console.render(request, "sandbox.html", "sandbox", status=status, **defaults)

    async def page(self, request: Request) -> Response:
        return self._render(request)

    async def test(self, request: Request) -> Response:
        form = await self.console.form(request)
        event, pattern = form.get("event", ""), form.get("pattern", "")
        test: dict[str, Any]
        try:
            answer = await test_event_pattern(self.console.ctx, {"Event": event, "EventPattern": pattern})
            test = {"ok": True, "matched": bool(answer["Result"])}
        except AwsError as error:
            test = {"ok": False, "code": error.code, "message": error.message}
        return self._render(request, event=event, pattern=pattern, test=test)

    async def send(self, request: Request) -> Response:
        form = await self.console.form(request)
        key = form.get("bus", "")
        values: dict[str, Any] = {
            "send_bus": key,
            "source": form.get("source", ""),
            "detail_type": form.get("detail_type", ""),
            "detail": form.get("detail", ""),
        }
        send: dict[str, Any]
        if self.console.store.get_resource(BUS, key) is None:
            send = {"ok": False, "code": "ResourceNotFoundException", "message": f"Event bus {key} does not exist."}
            return self._render(request, status=400, send=send, **values)
        entry = {
            "Source": values["source"],
            "DetailType": values["detail_type"],
            "Detail": values["detail"],
            "EventBusName": name_of_key(key),
        }
        ctx = self.console.ctx.in_scope(scope_of_key(key))
        try:
            answer = await put_events(ctx, {"Entries": [entry]})
        except AwsError as error:
            send = {"ok": False, "code": error.code, "message": error.message}
        else:
            result = answer["Entries"][0]
            if "EventId" in result:
                send = {"ok": True, "event_id": result["EventId"]}
            else:
                send = {"ok": False, "code": result["ErrorCode"], "message": result["ErrorMessage"]}
        return self._render(request, send=send, **values)
