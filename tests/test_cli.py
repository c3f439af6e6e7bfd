"""The command line explains itself and its offline commands work."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


def busbar(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "busbar", *args], capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        ((), ["serve", "test-pattern", "events", "dead-letters"]),
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
            ],
        ),
        (("test-pattern",), ["PATTERN", "EVENT", "exit 0"]),
        (("events",), ["--data-dir", "--bus", "--limit"]),
        (("dead-letters",), ["list", "redrive"]),
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
    assert bad.stderr.strip() == (
        'Event pattern is not valid. Reason: "source" must be an object or an array\n'
        ' at [Source: (String)"{"source": "shop"}"; line: 1, column: 13]'
    )


def test_bad_settings_are_refused(tmp_path):
    done = busbar("serve", "--account-id", "12", "--data-dir", str(tmp_path))
    assert done.returncode == 2
    assert "account id must be 12 digits" in done.stderr


def test_events_on_missing_store(tmp_path):
    done = busbar("events", "--data-dir", str(tmp_path / "nothing"))
    assert done.returncode == 2 and "no store" in done.stderr
