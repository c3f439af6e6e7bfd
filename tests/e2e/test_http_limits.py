"""HTTP limits: oversized headers get 431, slow and silent clients are cut off
(slowloris), and a crowd of idle connections never locks new clients out, even
under a low open-file limit.  Each test starts its own server; settings are given
as BUSBAR_* variables."""

from __future__ import annotations

import contextlib
import resource
import select
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from support import BusbarProcess


@pytest.fixture(autouse=True)
def _enough_files_for_the_test() -> None:
    """This process opens over a thousand sockets."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 4096 <= hard or (soft < 4096 and hard == resource.RLIM_INFINITY):
        resource.setrlimit(resource.RLIMIT_NOFILE, (4096, hard))
    if resource.getrlimit(resource.RLIMIT_NOFILE)[0] < 2500:
        pytest.skip("needs an open-file limit of 2,500 or more")


@contextlib.contextmanager
def serving(tmp_path: Path, env: dict[str, str], **options) -> Iterator[BusbarProcess]:
    process = BusbarProcess(tmp_path / "data", env=env, **options).start()
    try:
        yield process
    finally:
        if process.alive():
            process.stop()


def connect(server: BusbarProcess) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=30)


def request_head(server: BusbarProcess, target: str = "AWSEvents.ListEventBuses", length: int = 2) -> bytes:
    return (
        f"POST / HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nX-Amz-Target: {target}\r\n"
        f"Content-Type: application/x-amz-json-1.1\r\nContent-Length: {length}\r\n"
    ).encode()


def read_until_closed(sock: socket.socket) -> bytes:
    answer = b""
    with contextlib.suppress(ConnectionResetError):
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


def read_head(sock: socket.socket) -> bytes:
    """An answer's status line and headers (the connection may stay open: keep-alive)."""
    answer = b""
    while b"\r\n\r\n" not in answer and (chunk := sock.recv(65536)):
        answer += chunk
    return answer


def readable(sock: socket.socket) -> bool:
    """Whether *sock* has something to read now (poll: select cannot watch fds over 1,023)."""
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))


def is_closed(sock: socket.socket) -> bool:
    """Whether the server has closed *sock*, having said whatever it said last."""
    if not readable(sock):
        return False
    read_until_closed(sock)
    return True


def served(server: BusbarProcess) -> None:
    """A well-behaved client is answered."""
    answer = server.client().put_events(Entries=[{"Source": "s", "DetailType": "d", "Detail": "{}"}])
    assert answer["FailedEntryCount"] == 0
    assert httpx.get(server.endpoint_url + "/health", timeout=30).status_code == 200


# -- header size ---------------------------------------------------------------------------


def test_oversized_headers_are_answered_431(tmp_path):
    with serving(tmp_path, {}) as server:
        with connect(server) as sock:
            sock.sendall(request_head(server) + b"X-Big: " + b"a" * 100_000 + b"\r\n\r\n{}")
            answer = read_until_closed(sock)
        assert answer.startswith(b"HTTP/1.1 431 ")
        assert b'"__type":"RequestHeaderFieldsTooLarge"' in answer
        # Just under the limit is fine.
        with connect(server) as sock:
            sock.sendall(request_head(server) + b"X-Big: " + b"a" * 60_000 + b"\r\nConnection: close\r\n\r\n{}")
            assert read_until_closed(sock).startswith(b"HTTP/1.1 200 ")
        served(server)


def test_a_header_block_that_never_ends_is_cut_off(tmp_path):
    with serving(tmp_path, {"BUSBAR_HTTP_MAX_HEADER_BYTES": "16384"}) as server:
        with connect(server) as sock:
            sock.sendall(request_head(server))
            sent = 0
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                while sent < 10_000_000 and not is_closed(sock):
                    sock.sendall(b"X-More: " + b"b" * 1000 + b"\r\n")
                    sent += 1010
            # Cut off long before the 10 MB the loop would send (what was sent beyond the
            # 16 KiB limit sat in the sockets' buffers, which a loaded machine lets fill).
            assert sent < 8_000_000
            assert is_closed(sock)
        served(server)


# -- slow and silent clients ------------------------------------------------------------------


def test_slowloris_connections_are_closed_while_others_are_served(tmp_path):
    env = {"BUSBAR_HTTP_REQUEST_TIMEOUT": "2"}
    with serving(tmp_path, env) as server:
        slow = [connect(server) for _ in range(1000)]
        for sock in slow:
            sock.sendall(request_head(server))
        answers: dict[socket.socket, bytes] = {}
        deadline = time.monotonic() + 120
        try:
            while len(answers) < len(slow) and time.monotonic() < deadline:
                served(server)
                for sock in slow:
                    if sock in answers:
                        continue
                    if readable(sock):
                        answers[sock] = read_until_closed(sock)
                        continue
                    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                        sock.sendall(b"X-Slow: 1\r\n")  # one more header line, never the end
                time.sleep(0.5)
        finally:
            for sock in slow:
                sock.close()
        assert len(answers) == len(slow)
        assert all(answer.startswith(b"HTTP/1.1 408 ") for answer in answers.values())
        served(server)


def test_silent_connections_are_closed(tmp_path):
    with serving(tmp_path, {"BUSBAR_HTTP_KEEP_ALIVE_TIMEOUT": "1"}) as server:
        silent = [connect(server) for _ in range(200)]
        deadline = time.monotonic() + 60
        try:
            while not all(is_closed(sock) for sock in silent) and time.monotonic() < deadline:
                served(server)
                time.sleep(0.5)
            assert all(is_closed(sock) for sock in silent)
        finally:
            for sock in silent:
                sock.close()


def test_a_body_that_never_arrives_is_not_acted_on(tmp_path):
    env = {"BUSBAR_HTTP_REQUEST_TIMEOUT": "2"}
    with serving(tmp_path, env) as server:
        body = b'{"Name": "half-bus"}'
        with connect(server) as sock:
            # The body is announced one byte longer than what is sent: it never completes.
            sock.sendall(request_head(server, "AWSEvents.CreateEventBus", len(body) + 1) + b"\r\n" + body)
            assert read_until_closed(sock) == b""
        names = [bus["Name"] for bus in server.client().list_event_buses()["EventBuses"]]
        assert "half-bus" not in names


def test_a_body_cut_off_by_the_client_is_not_acted_on(server):
    body = b'{"Name": "cut-bus"}'
    with connect(server) as sock:
        sock.sendall(request_head(server, "AWSEvents.CreateEventBus", len(body) + 1) + b"\r\n" + body)
        time.sleep(0.5)  # the server has read the partial body
    time.sleep(1)  # and had the chance to act on it
    names = [bus["Name"] for bus in server.client().list_event_buses()["EventBuses"]]
    assert "cut-bus" not in names


# -- connection cap ---------------------------------------------------------------------------


def test_at_the_cap_the_longest_idle_connection_makes_room(tmp_path):
    env = {"BUSBAR_HTTP_MAX_CONNECTIONS": "5", "BUSBAR_HTTP_KEEP_ALIVE_TIMEOUT": "600"}
    with serving(tmp_path, env) as server:
        idle = []
        for _ in range(5):
            idle.append(connect(server))
            time.sleep(0.05)  # accepted in this order
        with connect(server) as sock:
            sock.sendall(request_head(server) + b"Connection: close\r\n\r\n{}")
            assert read_until_closed(sock).startswith(b"HTTP/1.1 200 ")
        assert read_until_closed(idle[0]) == b""  # the oldest made room
        for sock in idle:
            sock.close()


def test_at_the_cap_with_every_connection_busy_a_new_one_gets_503(tmp_path):
    env = {"BUSBAR_HTTP_MAX_CONNECTIONS": "5", "BUSBAR_HTTP_REQUEST_TIMEOUT": "600"}
    with serving(tmp_path, env) as server:
        busy = [connect(server) for _ in range(5)]
        for sock in busy:
            sock.sendall(request_head(server) + b"\r\n{")  # headers done, body still coming
        time.sleep(0.5)  # let the server read them (an order, not a timing assertion)
        with connect(server) as sock:
            answer = read_until_closed(sock)
        assert answer.startswith(b"HTTP/1.1 503 ")
        assert b'"__type":"ServiceUnavailableException"' in answer
        for sock in busy:
            sock.sendall(b"}")
            assert read_head(sock).startswith(b"HTTP/1.1 200 ")
            sock.close()
        served(server)


@pytest.mark.parametrize("hard", [1024, 4096], ids=["hard-limit-1024", "soft-limit-1024"])
def test_1100_idle_connections_under_a_1024_file_limit(tmp_path, hard):
    def low_limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (1024, hard))

    env = {"BUSBAR_HTTP_KEEP_ALIVE_TIMEOUT": "600", "BUSBAR_HTTP_REQUEST_TIMEOUT": "600"}
    with serving(tmp_path, env, preexec_fn=low_limit) as server:
        idle = [connect(server) for _ in range(1100)]
        try:
            client = httpx.Client(timeout=30)
            answer = client.post(
                server.endpoint_url + "/",
                content=b"{}",
                headers={"X-Amz-Target": "AWSEvents.ListEventBuses", "Content-Type": "application/x-amz-json-1.1"},
            )
            assert answer.status_code == 200
            served(server)
            closed = sum(is_closed(sock) for sock in idle)
            if hard > 1100:
                assert closed == 0  # the soft limit was raised: every connection fits
            else:
                assert closed > 0  # the longest-idle made room
            assert server.alive()
        finally:
            for sock in idle:
                sock.close()
        served(server)
