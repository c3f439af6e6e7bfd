"""The command line explains itself and its offline commands work."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest


def busbar(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "busbar", *args], capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        ((), ["serve", "test-pattern", "events", "dead-letters", "backup", "secrets"]),
        (
            ("serve",),
            [
                "--host",
                "--port",
                "--data-dir",
                "--region",
                "--account-id",
                "BUSBAR_PORT",
                "--sync",
                "--put-events-per-second",
                "--retry-base-delay",
                "--event-retention-seconds",
                "[ACCOUNT_ID]",
                "--max-request-body-bytes",
                "--http-max-header-bytes",
                "BUSBAR_HTTP_MAX_HEADER_BYTES",
                "--http-request-timeout",
                "--http-keep-alive-timeout",
                "--http-max-connections",
            ],
        ),
        (("test-pattern",), ["PATTERN", "EVENT", "exit 0"]),
        (("events",), ["--data-dir", "--bus", "--limit"]),
        (("dead-letters",), ["list", "redrive"]),
        (("backup",), ["DEST", "--data-dir", "--with-secrets-key", "BUSBAR_DATA_DIR"]),
        (("secrets", "rotate"), ["--data-dir", "--secrets-key-file"]),
        (("serve",), ["--secrets-key-file", "BUSBAR_SECRETS_KEY_FILE"]),
    ],
)
def test_help(args, words):
    done = busbar(*args, "--help")
    assert done.returncode == 0
    for word in words:
        assert word in done.stdout


def test_version():
    assert busbar("--version").stdout.startswith("busbar ")


def test_test_pattern_exit_codes(tmp_path):
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"source": "shop", "detail": {"total": 250}}))
    pattern = '{"source": ["shop"], "detail": {"total": [{"numeric": [">", 100]}]}}'
    match = busbar("test-pattern", pattern, f"@{event}")
    assert (match.returncode, match.stdout.strip()) == (0, "true")
    miss = busbar("test-pattern", '{"source": ["other"]}', f"@{event}")
    assert (miss.returncode, miss.stdout.strip()) == (1, "false")
    bad = busbar("test-pattern", '{"source": "shop"}', f"@{event}")
    assert bad.returncode == 2
    # AWS's message, its parser position on the same line: a command's error is one line.
    assert bad.stderr.strip() == (
        'Event pattern is not valid. Reason: "source" must be an object or an array'
        ' at [Source: (String)"{"source": "shop"}"; line: 1, column: 13]'
    )


def test_bad_settings_are_refused(tmp_path):
    done = busbar("serve", "--account-id", "12", "--data-dir", str(tmp_path))
    assert done.returncode == 2
    assert "account id must be 12 digits" in done.stderr


def test_events_on_missing_store(tmp_path):
    done = busbar("events", "--data-dir", str(tmp_path / "nothing"))
    assert done.returncode == 2 and "no store" in done.stderr


@pytest.fixture(scope="module")
def stored_150(tmp_path_factory):
    """A data directory holding 150 events (bus default) and no server."""
    from support import BusbarProcess

    server = BusbarProcess(tmp_path_factory.mktemp("cli") / "data").start()
    client = server.client()
    for batch in range(15):
        entries = [{"Source": "cli", "DetailType": "n", "Detail": json.dumps({"n": batch * 10 + i})} for i in range(10)]
        assert client.put_events(Entries=entries)["FailedEntryCount"] == 0
    assert server.stop() == 0
    return server.data_dir


def test_events_prints_every_event_by_default(stored_150):
    done = busbar("events", "--data-dir", str(stored_150))
    assert done.returncode == 0
    numbers = [json.loads(line)["event"]["detail"]["n"] for line in done.stdout.splitlines()]
    assert numbers == list(range(150))
    assert done.stderr == ""


def test_events_says_when_it_stopped_at_the_limit(stored_150):
    done = busbar("events", "--data-dir", str(stored_150), "--limit", "100")
    assert len(done.stdout.splitlines()) == 100
    assert "stopped after 100 events (--limit 100); there are more" in done.stderr
    assert "print every event" in busbar("events", "--help").stdout


def test_reading_commands_honour_busbar_data_dir(stored_150, tmp_path):
    env = {**os.environ, "BUSBAR_DATA_DIR": str(stored_150)}
    listed = subprocess.run(
        [sys.executable, "-m", "busbar", "events"], capture_output=True, text=True, timeout=60, env=env, cwd=tmp_path
    )
    assert listed.returncode == 0, listed.stderr
    assert len(listed.stdout.splitlines()) == 150
    dead = subprocess.run(
        [sys.executable, "-m", "busbar", "dead-letters", "list"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=tmp_path,
    )
    assert (dead.returncode, dead.stdout, dead.stderr) == (0, "", "")
    assert "BUSBAR_DATA_DIR" in busbar("events", "--help").stdout


@pytest.mark.parametrize(
    ("pattern", "event", "said"),
    [
        ('{"source": ["shop"]}', '{"source":', "busbar test-pattern: the event is not valid JSON: "),
        ('{"source": ["shop"]}', "[1, 2]", "busbar test-pattern: the event must be a JSON object"),
        ('{"source": ["shop"]}', "@{missing}", "busbar test-pattern: cannot read {missing}: "),
        ("@{missing}", "{}", "busbar test-pattern: cannot read {missing}: "),
        ("@{directory}", "{}", "busbar test-pattern: cannot read {directory}: "),
        ('{"source": ["shop"]}', "@{binary}", "busbar test-pattern: cannot read {binary}: "),
        ('{"source": ["shop"]', "{}", "Event pattern is not valid. Reason: "),
    ],
)
def test_test_pattern_bad_input_is_one_line_and_exit_2(tmp_path, pattern, event, said):
    names = {"missing": tmp_path / "missing.json", "directory": tmp_path, "binary": tmp_path / "binary.json"}
    names["binary"].write_bytes(b"\xff\xfe\x00{")

    def fill(text: str) -> str:
        for name, path in names.items():
            text = text.replace("{" + name + "}", str(path))
        return text

    done = busbar("test-pattern", fill(pattern), fill(event))
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(fill(said))
