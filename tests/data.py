"""Where the suite's own data lives: everything a test reads is inside the repository."""

from __future__ import annotations

from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"
CONFORMANCE = DATA / "conformance"
