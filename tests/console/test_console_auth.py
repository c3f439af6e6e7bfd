"""With --auth-keys-file the console asks for an access key pair: nothing is shown and
nothing done without signing in, and the session cookie cannot be read by scripts or
sent by other sites."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from console_support import screenshot
from support import BusbarProcess

KEY_ID, SECRET = "AKIDCONSOLE", "console-secret-key"
PAGES = [
    "/console/",
    "/console/connections",
    "/console/tail",
    "/console/sandbox",
    "/console/deliveries",
    "/console/metrics",
    "/console/logs",
    "/console/buses/000000000000/us-east-1/default",
]


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BusbarProcess]:
    folder: Path = tmp_path_factory.mktemp("console-auth")
    keys = folder / "keys"
    keys.write_text(f"{KEY_ID} {SECRET}\n")
    server = BusbarProcess(folder / "data", args=["--auth-keys-file", str(keys)]).start()
    yield server
    server.stop()


@pytest.mark.parametrize("path", PAGES)
def test_pages_send_strangers_to_sign_in(guarded, path):
    response = httpx.get(guarded.endpoint_url + path, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/console/signin?next=")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/console/tail/stream"),
        ("POST", "/console/deliveries/redrive"),
        ("POST", "/console/sandbox/send"),
        ("POST", "/console/sandbox/test"),
        ("POST", "/console/signout"),
    ],
)
def test_endpoints_refuse_strangers(guarded, method, path):
    response = httpx.request(
        method, guarded.endpoint_url + path, data={"csrf": "t"}, cookies={"busbar_csrf": "t"}, follow_redirects=False
    )
    assert response.status_code == 401


def test_a_forged_or_expired_session_is_no_session(guarded):
    response = httpx.get(
        guarded.endpoint_url + "/console/deliveries", cookies={"busbar_session": "made-up"}, follow_redirects=False
    )
    assert response.status_code == 303


def test_signing_in_in_the_browser(page, guarded):
    page.goto(guarded.endpoint_url + "/console/deliveries")
    assert page.url.startswith(guarded.endpoint_url + "/console/signin")
    page.fill('input[name="access_key_id"]', KEY_ID)
    page.fill('input[name="secret_access_key"]', "wrong")
    page.click('button[type="submit"]')
    assert "not right" in page.inner_text("p.error")
    screenshot(page, "console-signin")
    page.fill('input[name="access_key_id"]', KEY_ID)
    page.fill('input[name="secret_access_key"]', SECRET)
    page.click('button[type="submit"]')
    assert page.url == guarded.endpoint_url + "/console/deliveries"  # back where they were going
    assert page.locator("h1").first.inner_text() == "Deliveries"
    [cookie] = [c for c in page.context.cookies() if c["name"] == "busbar_session"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/console"
    assert cookie["expires"] > 0  # expires; not a cookie for ever
    assert SECRET not in cookie["value"]
    # Signed in, the console's own forms work (they carry the token).
    page.goto(guarded.endpoint_url + "/console/sandbox")
    page.click("#sandbox-test")
    assert page.inner_text("#sandbox-result") == "Match"
    # A session does not open the endpoints to a form without the token.
    session = {"busbar_session": cookie["value"]}
    response = httpx.post(guarded.endpoint_url + "/console/deliveries/redrive", data={"all": "1"}, cookies=session)
    assert response.status_code == 403
    page.click("header form.signout button")
    assert page.url.startswith(guarded.endpoint_url + "/console/signin")
    response = httpx.get(guarded.endpoint_url + "/console/", cookies=session, follow_redirects=False)
    assert response.status_code == 303  # signed out: the old cookie opens nothing


def test_signing_in_goes_back_only_to_console_pages(page, guarded):
    page.goto(guarded.endpoint_url + "/console/signin?next=https://evil.example/")
    page.fill('input[name="access_key_id"]', KEY_ID)
    page.fill('input[name="secret_access_key"]', SECRET)
    page.click('button[type="submit"]')
    assert page.url == guarded.endpoint_url + "/console/"
