"""What only the embedded store does: its writer's group commit, a full disk."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from test_store_conformance import event

from busbar.api.buses import ensure_default_bus
from busbar.api.context import Context
from busbar.api.events import put_events
from busbar.config import Settings
from busbar.resources.scope import Scope
from busbar.ruleindex import RuleIndex
from busbar.store.sqlite import SqliteStore


def test_one_failing_write_fails_only_its_own_caller(tmp_path: Path):
    """Writes that share a group commit with a failing one are stored all the same."""

    async def main() -> None:
        store = SqliteStore(tmp_path, sync="normal")
        await store.start()
        answers = await asyncio.gather(
            store.append_events([event(1)]),
            store.redrive([2**63]),  # SQLite cannot bind this integer: the statement fails
            store.append_events([event(2)]),
            return_exceptions=True,
        )
        assert answers[0] is None and answers[2] is None
        assert isinstance(answers[1], OverflowError)
        assert [e.event_id for e in store.read_events(0)] == ["e1", "e2"]
        await store.close()

    asyncio.run(main())


def test_put_events_on_a_full_disk_answers_retryable_failures(tmp_path: Path):
    async def main() -> None:
        store = SqliteStore(tmp_path, sync="normal")
        await store.start()
        scope = Scope("000000000000", "us-east-1")
        ctx = Context(settings=Settings(data_dir=tmp_path), store=store, rules=RuleIndex(), scope=scope)
        await ensure_default_bus(store, scope, 100)
        # SQLite's own "disk is full": no page may be added to the file.
        await store._submit(lambda conn: conn.execute("PRAGMA max_page_count = 1"))  # noqa: SLF001
        big = json.dumps({"a": "x" * 100_000})
        answer = await put_events(
            ctx, {"Entries": [{"Source": "s", "DetailType": "d", "Detail": big}, {"Source": "s", "DetailType": "d"}]}
        )
        assert answer["FailedEntryCount"] == 2
        assert answer["Entries"][0]["ErrorCode"] == "InternalFailure"
        assert answer["Entries"][1]["ErrorCode"] == "InvalidArgument"
        assert store.last_seq() == 0
        await store.close()

    asyncio.run(main())


def test_a_store_of_the_previous_schema_is_upgraded_in_place(tmp_path: Path):
    import sqlite3

    path = tmp_path / "busbar.db"
    conn = sqlite3.connect(path)
    conn.executescript(
        """
        CREATE TABLE events (seq INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT NOT NULL, bus TEXT NOT NULL,
            time REAL NOT NULL, ingested_at REAL NOT NULL, trace_header TEXT, hops INTEGER NOT NULL DEFAULT 0,
            envelope BLOB NOT NULL);
        CREATE TABLE deliveries (id INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT NOT NULL, bus TEXT NOT NULL,
            rule_name TEXT NOT NULL, rule_arn TEXT NOT NULL, target BLOB NOT NULL, envelope BLOB NOT NULL,
            payload BLOB, trace_header TEXT, ingested_at REAL NOT NULL, hops INTEGER NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0, due_at REAL NOT NULL, state TEXT NOT NULL DEFAULT 'pending',
            error_code TEXT, error_message TEXT, shaping_error TEXT);
        CREATE TABLE resources (kind TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL,
            PRIMARY KEY (kind, key)) WITHOUT ROWID;
        CREATE TABLE consumers (name TEXT PRIMARY KEY, position INTEGER NOT NULL) WITHOUT ROWID;
        """
    )
    conn.execute(
        "INSERT INTO deliveries (event_id, bus, rule_name, rule_arn, target, envelope, ingested_at, hops, due_at)"
        " VALUES ('e1', 'default', 'r', 'arn:r', ?, '{}', 0, 0, 0)",
        (b'{"Id": "t", "Arn": "arn:aws:logs:us-east-1:000000000000:log-group:g"}',),
    )
    conn.execute("INSERT INTO resources VALUES ('k', 'a', '{}')")
    conn.commit()
    conn.close()

    async def main() -> None:
        store = SqliteStore(tmp_path)
        await store.start()
        assert store.get_versioned("k", "a").revision == 1  # type: ignore[union-attr]
        assert store.lanes_with_work() == {"arn:aws:logs:us-east-1:000000000000:log-group:g"}
        await store.close()

    asyncio.run(main())


@pytest.mark.parametrize("name", ["with#hash", "with?query", "with%25percent"])
def test_a_data_directory_with_uri_characters_in_its_path(tmp_path: Path, name: str):
    async def main() -> None:
        store = SqliteStore(tmp_path / name)
        await store.start()
        await store.append_events([event(1)])
        assert [e.event_id for e in store.read_events(0)] == ["e1"]
        await store.close()

    asyncio.run(main())
