"""The data directory has one owner, and its failures are seen: a second server on
it stops at once, a database deleted, replaced or damaged under a running server
stops PutEvents from acknowledging and turns /health red, a damaged file is refused
at start, any directory name works, and only busbar's user can read it."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from support import BusbarProcess, free_port, sqlite_only

ENTRY = {"Source": "shop", "DetailType": "OrderPlaced", "Detail": json.dumps({"n": 1})}


def busbar(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "busbar", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


def health(server: BusbarProcess) -> httpx.Response:
    return httpx.get(f"{server.endpoint_url}/health", timeout=10)


def fill(client, requests: int, detail_bytes: int) -> None:
    """Store *requests* x 10 events of about *detail_bytes* each."""
    detail = json.dumps({"pad": "x" * detail_bytes})
    for _ in range(requests):
        entries = [{"Source": "fill", "DetailType": "Pad", "Detail": detail}] * 10
        assert client.put_events(Entries=entries)["FailedEntryCount"] == 0


def route_to_log_group(client, group: str) -> Path:
    """A rule sending source ``shop`` to log group *group*; answers the group's file, relative to the data dir."""
    client.put_rule(Name=f"to-{group}", EventPattern=json.dumps({"source": ["shop"]}))
    client.put_targets(
        Rule=f"to-{group}", Targets=[{"Id": "log", "Arn": f"arn:aws:logs:us-east-1:000000000000:log-group:{group}"}]
    )
    return Path("log-groups") / f"{group}.jsonl"


def wait_for_file(path: Path) -> None:
    deadline = time.monotonic() + 30
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert path.exists(), f"{path} never appeared"


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


# -- one owner -------------------------------------------------------------------------------


def test_a_second_server_on_the_same_data_dir_stops_at_once(fresh_server):
    first = fresh_server.start()
    assert first.client().put_events(Entries=[ENTRY])["FailedEntryCount"] == 0
    assert first.proc is not None
    second = subprocess.Popen(
        [sys.executable, "-m", "busbar", "serve", "--port", str(free_port()), "--data-dir", str(first.data_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _, err = second.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        second.kill()
        second.communicate()
        pytest.fail("a second server on the same data directory kept running")
    assert second.returncode != 0
    assert str(first.data_dir) in err
    assert f"pid {first.proc.pid}" in err
    # The first one keeps serving, and the read-only commands work beside it.
    assert health(first).status_code == 200
    listed = busbar("events", *first.store_args())
    assert listed.returncode == 0, listed.stderr
    assert [json.loads(line)["event"]["source"] for line in listed.stdout.splitlines()] == ["shop"]
    dead = busbar("dead-letters", "list", *first.store_args())
    assert (dead.returncode, dead.stdout) == (0, "")
    assert first.stop() == 0


def test_the_lock_goes_with_the_server(fresh_server):
    fresh_server.start()
    assert fresh_server.stop() == 0
    fresh_server.start()  # the same directory again, once the first server is gone
    assert fresh_server.stop() == 0
    fresh_server.start()
    fresh_server.kill()  # kill -9 leaves no stale lock behind either
    fresh_server.start()
    assert fresh_server.stop() == 0


# -- the store's file under a running server -------------------------------------------------


def _replace_with_another_database(db: Path) -> None:
    other = db.with_name("other.db")
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE unrelated (x)")
    conn.close()
    os.replace(other, db)


@sqlite_only
@pytest.mark.parametrize("how", ["deleted", "replaced"])
def test_a_database_deleted_or_replaced_while_running_stops_acknowledging(fresh_server, how):
    client = fresh_server.start().client()
    assert client.put_events(Entries=[ENTRY])["FailedEntryCount"] == 0
    db = fresh_server.data_dir / "busbar.db"
    if how == "deleted":
        db.unlink()
    else:
        _replace_with_another_database(db)

    answer = client.put_events(Entries=[ENTRY, ENTRY])
    assert answer["FailedEntryCount"] == 2
    assert {entry.get("ErrorCode") for entry in answer["Entries"]} == {"InternalFailure"}
    reply = health(fresh_server)
    assert reply.status_code == 503
    assert reply.json()["status"] != "ok"
    assert how in reply.json()["reason"] and str(db) in reply.json()["reason"]
    assert how in fresh_server.log() and "store lost" in fresh_server.log()
    # It stays refused: nothing is acknowledged into a file that a restart would not read.
    assert client.put_events(Entries=[ENTRY])["FailedEntryCount"] == 1
    assert health(fresh_server).status_code == 503


@sqlite_only
def test_a_database_damaged_while_running_turns_health_red(fresh_server):
    client = fresh_server.start().client()
    fill(client, requests=20, detail_bytes=2000)
    db = fresh_server.data_dir / "busbar.db"
    probe = sqlite3.connect(db, isolation_level=None)
    assert probe.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0] == 0
    page = probe.execute("PRAGMA page_size").fetchone()[0]
    with open(db, "r+b") as file:  # every page but the first (the schema) becomes garbage
        size = file.seek(0, os.SEEK_END)
        file.seek(page)
        file.write(b"\xab" * (size - page))
    probe.execute("PRAGMA user_version = 7")  # a commit by another connection: the writer drops its cache
    probe.close()

    answer = client.put_events(Entries=[ENTRY])
    assert answer["Entries"][0].get("ErrorCode") == "InternalFailure"
    reply = health(fresh_server)
    assert reply.status_code == 503
    assert "malformed" in reply.json()["reason"]


@sqlite_only
def test_a_damaged_database_is_refused_at_start(fresh_server):
    client = fresh_server.start().client()
    fill(client, requests=20, detail_bytes=20_000)
    assert fresh_server.stop() == 0
    db = fresh_server.data_dir / "busbar.db"
    size = db.stat().st_size
    with open(db, "r+b") as file:  # 64 KiB of garbage in the middle of the file
        file.seek(size // 2 // 4096 * 4096)
        file.write(b"\xab" * 65536)

    with pytest.raises(RuntimeError):
        fresh_server.start()
    assert fresh_server.proc is not None and fresh_server.proc.returncode == 2
    log = fresh_server.log()
    assert f"busbar serve: the database {db} is damaged (SQLite" in log
    assert "restore it from a backup" in log


# -- any directory name ----------------------------------------------------------------------


@sqlite_only
def test_a_data_dir_named_with_uri_characters_works(tmp_path):
    data_dir = tmp_path / "odd #1 ?x=y %41"
    server = BusbarProcess(data_dir).start()
    try:
        client = server.client()
        log_file = data_dir / route_to_log_group(client, "shop")
        assert client.put_events(Entries=[ENTRY])["FailedEntryCount"] == 0
        wait_for_file(log_file)
        assert json.loads(log_file.read_text())["source"] == "shop"
        listed = busbar("events", "--data-dir", str(data_dir))
        assert listed.returncode == 0, listed.stderr
        assert [json.loads(line)["event"]["source"] for line in listed.stdout.splitlines()] == ["shop"]
        assert "no such table" not in server.log()
    finally:
        assert server.stop() == 0


# -- only busbar's user reads it -------------------------------------------------------------


@sqlite_only
def test_the_data_dir_and_its_files_are_private(fresh_server):
    client = fresh_server.start().client()
    client.create_connection(
        Name="c",
        AuthorizationType="BASIC",
        AuthParameters={"BasicAuthParameters": {"Username": "u", "Password": "p"}},
    )
    wait_for = fresh_server.data_dir / route_to_log_group(client, "g")
    assert client.put_events(Entries=[ENTRY])["FailedEntryCount"] == 0
    wait_for_file(wait_for)
    _assert_private(fresh_server.data_dir, expect=["busbar.db", "busbar.db-wal", "log-groups/g.jsonl"])
    assert fresh_server.stop() == 0
    _assert_private(fresh_server.data_dir, expect=["busbar.db", "log-groups/g.jsonl"])


def test_a_data_dir_left_readable_by_an_older_busbar_is_tightened(tmp_path):
    data_dir = tmp_path / "data"
    (data_dir / "log-groups").mkdir(parents=True)
    with sqlite3.connect(data_dir / "busbar.db") as conn:
        conn.execute("PRAGMA journal_mode = WAL")
    conn.close()
    (data_dir / "log-groups" / "old.jsonl").write_text("{}\n")
    for path, wide in [(data_dir, 0o755), (data_dir / "log-groups", 0o755)]:
        path.chmod(wide)
    for path in [data_dir / "busbar.db", data_dir / "log-groups" / "old.jsonl"]:
        path.chmod(0o644)
    server = BusbarProcess(data_dir).start()
    try:
        _assert_private(data_dir, expect=["busbar.db", "log-groups/old.jsonl"])
    finally:
        assert server.stop() == 0


def _assert_private(data_dir: Path, expect: list[str]) -> None:
    assert mode(data_dir) == 0o700
    found = []
    for directory, _, files in os.walk(data_dir):
        assert mode(Path(directory)) == 0o700, directory
        for name in files:
            path = Path(directory) / name
            found.append(str(path.relative_to(data_dir)))
            assert mode(path) == 0o600, f"{path} is {oct(mode(path))}"
    assert set(expect) <= set(found)
