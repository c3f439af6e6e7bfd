"""`busbar backup DEST`: a consistent copy of a running server's store, taken under
PutEvents load, that opens, passes SQLite's integrity check, holds every event
acknowledged before the backup started, and starts a server; the secrets key is
copied only when asked."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import subprocess
import sys
import threading
import time

from botocore.exceptions import BotoCoreError, ClientError

from support import BusbarProcess, sqlite_only

THREADS = 3


def busbar(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "busbar", *args], capture_output=True, text=True, timeout=300)


@sqlite_only
def test_an_online_backup_under_load_holds_every_acknowledged_event(fresh_server, tmp_path):
    fresh_server.start()
    acknowledged: set[str] = set()
    lock = threading.Lock()
    stop = threading.Event()

    def publish() -> None:
        client = fresh_server.client()
        detail = json.dumps({"pad": "x" * 2000})
        while not stop.is_set():
            try:
                answer = client.put_events(Entries=[{"Source": "load", "DetailType": "d", "Detail": detail}] * 10)
            except (BotoCoreError, ClientError):
                return
            with lock:
                acknowledged.update(e["EventId"] for e in answer["Entries"] if "EventId" in e)

    workers = [threading.Thread(target=publish) for _ in range(THREADS)]
    for worker in workers:
        worker.start()
    try:
        while len(acknowledged) < 3000:
            time.sleep(0.05)
        with lock:
            before = set(acknowledged)
        dest = tmp_path / "copy"
        done = busbar("backup", str(dest), "--data-dir", str(fresh_server.data_dir))
        with lock:
            during = len(acknowledged) - len(before)
    finally:
        stop.set()
        for worker in workers:
            worker.join(30)
    assert done.returncode == 0, done.stderr
    assert "pages" in done.stderr  # progress
    assert during > 0  # the server kept acknowledging while the copy was taken

    copy = dest / "busbar.db"
    assert stat.S_IMODE(os.stat(dest).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(copy).st_mode) == 0o600
    assert sorted(os.listdir(dest)) == ["busbar.db"]  # no key unless asked
    conn = sqlite3.connect(f"file:{copy}?mode=ro", uri=True)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        stored = {row[0] for row in conn.execute("SELECT event_id FROM events")}
    finally:
        conn.close()
    missing = before - stored
    assert not missing, f"{len(missing)} events acknowledged before the backup are not in it"
    assert fresh_server.stop() == 0


@sqlite_only
def test_a_backup_with_its_key_restores_a_working_server(fresh_server, tmp_path):
    client = fresh_server.start().client()
    client.create_connection(
        Name="kept",
        AuthorizationType="API_KEY",
        AuthParameters={"ApiKeyAuthParameters": {"ApiKeyName": "x-api-key", "ApiKeyValue": "v"}},
    )
    assert client.put_events(Entries=[{"Source": "s", "DetailType": "d", "Detail": "{}"}])["FailedEntryCount"] == 0
    dest = tmp_path / "copy"
    done = busbar("backup", str(dest), "--data-dir", str(fresh_server.data_dir), "--with-secrets-key")
    assert done.returncode == 0, done.stderr
    assert fresh_server.stop() == 0
    key = dest / "secrets.key"
    assert key.read_bytes() == (fresh_server.data_dir / "secrets.key").read_bytes()
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600

    # A backup goes to a new, empty directory only.
    again = busbar("backup", str(dest), "--data-dir", str(fresh_server.data_dir))
    assert again.returncode == 2 and "not empty" in again.stderr

    restored = BusbarProcess(dest).start()
    try:
        client = restored.client()
        assert client.describe_connection(Name="kept")["ConnectionState"] == "AUTHORIZED"
        listed = busbar("events", "--data-dir", str(dest))
        assert [json.loads(line)["event"]["source"] for line in listed.stdout.splitlines()] == ["s"]
    finally:
        assert restored.stop() == 0
