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
    assert bad.stderr.strip() == 'Event pattern is not valid. Reason: "source" must be an object or an array'


def test_bad_settings_are_refused(tmp_path):
    done = busbar("serve", "--account-id", "12", "--data-dir", str(tmp_path))
    assert done.returncode == 2
    assert "account id must be 12 digits" in done.stderr


def test_events_on_missing_store(tmp_path):
    done = busbar("events", "--data-dir", str(tmp_path / "nothing"))
    assert done.returncode == 2 and "no store" in done.stderr


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
