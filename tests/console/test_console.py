"""The console in a real browser (Debian's chromium, driven by Playwright) against a real
busbar server: every page loads and shows what the store holds, the live tail follows
events as they are put, the sandbox answers as TestEventPattern does, a dead delivery
is redriven from the page."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pytest

from console_support import screenshot
from delivery_support import api_destination, bus_arn, put
from httptarget import HttpTarget, Reply
from support import ACCOUNT, REGION, BusbarProcess, unique

FAST_RETRIES = {"BUSBAR_RETRY_BASE_DELAY": "0.05", "BUSBAR_RETRY_MAX_DELAY": "0.2"}
SECRET = "console-must-never-show-this"
PATTERN = {"source": ["shop.orders"], "detail": {"total": [{"numeric": [">", 100]}]}}


@dataclass
class World:
    """What the console is shown: a bus with logging, a rule with a retry policy and a
    DLQ, a connection with a secret, a scheduled rule."""

    server: BusbarProcess
    target: HttpTarget
    client: Any
    bus: str
    bus_key: str
    rule: str
    schedule_rule: str
    connection: str
    destination: str

    def url(self, path: str) -> str:
        return self.server.endpoint_url + path


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    server = BusbarProcess(tmp_path_factory.mktemp("console") / "data", env=FAST_RETRIES).start()
    target = HttpTarget().start()
    client = server.client()
    bus = unique("orders")
    client.create_event_bus(Name=bus, Description="Orders of the shop", LogConfig={"Level": "TRACE"})
    client.create_event_bus(Name=bus + "-dlq")
    connection = unique("conn")
    connection_arn = client.create_connection(
        Name=connection,
        AuthorizationType="API_KEY",
        AuthParameters={"ApiKeyAuthParameters": {"ApiKeyName": "x-api-key", "ApiKeyValue": SECRET}},
    )["ConnectionArn"]
    destination = unique("dest")
    dest_arn = client.create_api_destination(
        Name=destination,
        ConnectionArn=connection_arn,
        InvocationEndpoint=f"{target.url}/orders",
        HttpMethod="POST",
        InvocationRateLimitPerSecond=50,
    )["ApiDestinationArn"]
    rule = unique("big-orders")
    client.put_rule(Name=rule, EventBusName=bus, EventPattern=json.dumps(PATTERN), Description="Orders over 100")
    client.put_targets(
        Rule=rule,
        EventBusName=bus,
        Targets=[
            {
                "Id": "orders-api",
                "Arn": dest_arn,
                "RetryPolicy": {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 600},
                "DeadLetterConfig": {"Arn": bus_arn(bus + "-dlq")},
            }
        ],
    )
    schedule_rule = unique("nightly")
    client.put_rule(Name=schedule_rule, ScheduleExpression="cron(0 3 * * ? *)", State="DISABLED")
    yield World(
        server,
        target,
        client,
        bus,
        f"{ACCOUNT}/{REGION}/{bus}",
        rule,
        schedule_rule,
        connection,
        destination,
    )
    server.stop()
    target.stop()


def test_the_bus_list_and_a_bus(page, world):
    put(world.client, {"total": 250}, bus=world.bus)
    world.target.wait_for(1, "/orders")
    page.goto(world.url("/console/"))
    assert page.locator("h1").first.inner_text() == "Event buses"
    row = page.locator(f'#buses tr[data-bus="{world.bus}"]')
    assert "TRACE" in row.inner_text() and "Orders of the shop" in row.inner_text()
    assert page.locator("svg.chart").count() == 4
    screenshot(page, "console-buses")
    row.locator("a").click()
    assert page.locator("h1").inner_text() == world.bus
    assert f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/{world.bus}" in page.inner_text("dl.facts")
    rule_row = page.locator(f'#rules tr[data-rule="{world.rule}"]')
    assert "ENABLED" in rule_row.inner_text() and '"numeric"' in rule_row.inner_text()


def test_a_rule_with_its_pattern_and_targets(page, world):
    page.goto(world.url(f"/console/rules/{world.bus_key}/{world.rule}"))
    assert page.locator("h1").inner_text() == world.rule
    assert json.loads(page.inner_text("#rule-pattern")) == PATTERN
    assert "\n" in page.inner_text("#rule-pattern")  # pretty-printed
    row = page.locator('#targets tr[data-target="orders-api"]')
    assert "3 retries, events up to 600 s old" in row.inner_text()
    assert bus_arn(world.bus + "-dlq") in row.inner_text()
    screenshot(page, "console-rule")
    page.goto(world.url(f"/console/rules/{ACCOUNT}/{REGION}/default/{world.schedule_rule}"))
    assert page.inner_text("#rule-schedule") == "cron(0 3 * * ? *)"
    assert page.inner_text("#rule-state") == "DISABLED"
    page.goto(world.url(f"/console/rules/{ACCOUNT}/{REGION}/default/nope"))
    assert "does not exist" in page.inner_text("main")


def test_connections_and_api_destinations_never_show_a_secret(page, world):
    page.goto(world.url("/console/connections"))
    row = page.locator(f'#connections tr[data-connection="{world.connection}"]')
    assert "API_KEY" in row.inner_text() and "x-api-key" in row.inner_text() and "AUTHORIZED" in row.inner_text()
    assert "50/s" in page.locator(f'#destinations tr[data-destination="{world.destination}"]').inner_text()
    assert SECRET not in page.content()


def test_the_live_tail_follows_matching_events_as_they_are_put(page, world):
    pattern = json.dumps({"detail": {"total": [{"numeric": [">", 100]}]}})
    page.goto(world.url(f"/console/tail?bus={quote(world.bus_key)}&pattern={quote(pattern)}"))
    page.wait_for_selector('#tail-status[data-state="open"]')
    put(world.client, {"total": 5}, bus=world.bus)  # does not match the pattern
    put(world.client, {"total": 500}, bus=world.bus + "-dlq")  # another bus
    wanted = [put(world.client, {"total": 101 + n}, bus=world.bus) for n in range(3)]
    page.locator("#tail tbody tr").nth(2).wait_for()
    page.wait_for_timeout(500)  # nothing else arrives
    shown = page.locator("#tail tbody tr").evaluate_all("rows => rows.map(r => r.dataset.eventId)")
    assert shown == wanted[::-1]  # newest first
    assert "shop.orders" in page.inner_text("#tail tbody")
    screenshot(page, "console-tail")


def test_the_live_tail_refuses_an_invalid_pattern_with_awss_message(page, world):
    invalid = quote(json.dumps({"source": "x"}))
    page.goto(world.url(f"/console/tail?pattern={invalid}"))
    assert page.inner_text("#tail-error").startswith("Event pattern is not valid")


def test_the_sandbox_tests_patterns_and_sends_events(page, world):
    page.goto(world.url("/console/sandbox"))
    page.click("#sandbox-test")  # the example event and pattern match
    assert page.inner_text("#sandbox-result") == "Match"
    screenshot(page, "console-sandbox")
    page.fill("#sandbox-pattern", json.dumps({"detail": {"total": [{"numeric": ["<", 100]}]}}))
    page.click("#sandbox-test")
    assert page.inner_text("#sandbox-result") == "No match"
    page.fill("#sandbox-pattern", '{"source": [{"prefix": 5}]}')
    page.click("#sandbox-test")
    result = page.inner_text("#sandbox-result")
    assert result.startswith("InvalidEventPatternException: Event pattern is not valid. Reason:"), result
    page.fill("#sandbox-event", '{"source": "x"}')
    page.fill("#sandbox-pattern", '{"source": ["x"]}')
    page.click("#sandbox-test")
    assert page.inner_text("#sandbox-result") == "ValidationException: Parameter Event is not valid."
    # Send a test event: the bus's rule delivers it like any other.
    before = len(world.target.requests_to("/orders"))
    page.select_option("#send-bus", world.bus_key)
    page.fill("#send-detail", json.dumps({"total": 777}))
    page.click("#send-event")
    event_id = re.fullmatch(r"Sent: event (\S+)", page.inner_text("#send-result"))
    assert event_id is not None
    arrived = world.target.wait_for(before + 1, "/orders")
    assert arrived[-1].json()["id"] == event_id.group(1)
    page.fill("#send-detail", "not json")
    page.click("#send-event")
    assert page.inner_text("#send-result") == "MalformedDetail: Detail is malformed."


def event_to(world: World, name: str, *replies: Reply) -> str:
    """Put an event that a rule of its own sends to the target's path /<name>, which answers
    *replies*; answer the event's id."""
    client = world.client
    world.target.script(f"/{name}", *replies)
    source = unique(name)
    rule = unique(name)
    client.put_rule(Name=rule, EventPattern=json.dumps({"source": [source]}))
    client.put_targets(Rule=rule, Targets=[{"Id": name, "Arn": api_destination(client, f"{world.target.url}/{name}")}])
    return put(client, {"n": 1}, source=source)


def test_a_dead_delivery_is_redriven_from_the_page(page, world):
    event_id = event_to(world, "fragile", Reply(status=400))  # not retryable: dead at once
    world.target.wait_for(1, "/fragile")
    page.goto(world.url("/console/deliveries"))
    for _ in range(100):
        if page.locator(f'#dead tr[data-event="{event_id}"]').count():
            break
        page.wait_for_timeout(100)
        page.reload()
    row = page.locator(f'#dead tr[data-event="{event_id}"]')
    assert "ERROR_FROM_TARGET" in row.inner_text() and "400" in row.inner_text()
    screenshot(page, "console-deliveries")
    row.locator("button.redrive").click()
    assert page.inner_text("#redrive-result") == "Redriven: 1 deliveries."
    [_, again] = world.target.wait_for(2, "/fragile")
    assert again.json()["id"] == event_id
    page.goto(world.url("/console/deliveries"))
    assert page.locator(f'#dead tr[data-event="{event_id}"]').count() == 0


def test_pending_deliveries_show_their_last_error(page, world):
    event_id = event_to(world, "busy", *[Reply(status=503)] * 1000)
    world.target.wait_for(2, "/busy")
    page.goto(world.url("/console/deliveries"))
    row = page.locator(f'#pending tr[data-event="{event_id}"]')
    assert "ERROR_FROM_TARGET" in row.inner_text() and "busy" in row.inner_text()


def test_archives_and_replays_when_there_are_some(page, world):
    archive = unique("archive")
    world.client.create_archive(ArchiveName=archive, EventSourceArn=bus_arn(world.bus), RetentionDays=3)
    page.goto(world.url("/console/"))
    page.click("text=Archives and replays")
    assert page.locator("h2").first.inner_text() == "Archives"
    assert archive in page.inner_text("main")


def test_metrics_charts_and_bus_logs(page, world):
    page.goto(world.url("/console/metrics"))
    charts = page.locator("svg.chart")
    titles = charts.evaluate_all("svgs => svgs.map(s => s.getAttribute('aria-label'))")
    assert titles == ["Events in", "Invocations", "Failures", "Latency"]
    peaks = charts.evaluate_all("svgs => svgs.map(s => Number(s.dataset.max))")
    assert peaks[0] > 0 and peaks[1] > 0  # the events put by the tests above, and their invocations
    screenshot(page, "console-metrics")
    page.goto(world.url(f"/console/logs?bus={quote(world.bus_key)}"))
    steps = page.locator("#records tr").evaluate_all("rows => rows.map(r => r.dataset.step)")
    assert {"EVENT_RECEIPT", "RULE_MATCH", "INVOCATION_SUCCESS"} <= set(steps)


def test_forms_from_elsewhere_are_refused(world):
    import httpx

    # No token, or a token that does not match the browser's cookie: refused.
    refused = httpx.post(world.url("/console/deliveries/redrive"), data={"all": "1"})
    assert refused.status_code == 403
    forged = httpx.post(
        world.url("/console/deliveries/redrive"),
        data={"all": "1", "csrf": "guess"},
        cookies={"busbar_csrf": "other"},
    )
    assert forged.status_code == 403
    other_site = httpx.post(
        world.url("/console/deliveries/redrive"),
        data={"all": "1", "csrf": "same"},
        cookies={"busbar_csrf": "same"},
        headers={"Origin": "https://evil.example"},
    )
    assert other_site.status_code == 403
