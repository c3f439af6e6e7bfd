"""Helpers of the console's browser tests (tests/console)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def screenshot(page: Any, name: str) -> None:
    """Save a screenshot for the README when ``BUSBAR_SCREENSHOTS`` names a directory
    (``docs/images`` holds the ones the README shows)."""
    folder = os.environ.get("BUSBAR_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)
