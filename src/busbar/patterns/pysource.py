"""Python source written at run time, kept where Python's tools look for source.

Condition tests (``conditions``) and the Matcher's state functions (``codegen``) are compiled from
source text built at run time. Each text gets a file name of its own, ``<busbar.patterns: NAME>``,
and goes into ``linecache`` (as attrs and cattrs do for the methods they write), so that
tracebacks through it show its lines and ``inspect.getsource`` returns it.
"""

from __future__ import annotations

import linecache
from typing import Any

_SOURCES: dict[str, str] = {}  # file name -> source, for every text defined here


def define(source: str, name: str, namespace: dict[str, Any]) -> Any:
    """Run ``source`` (which defines ``name``) in ``namespace`` and return ``name``. The file name
    is ``<busbar.patterns: name>``; another text under the same name gets a number."""
    filename = f"<busbar.patterns: {name}>"
    n = 1
    while _SOURCES.get(filename, source) != source:
        n += 1
        filename = f"<busbar.patterns: {name} #{n}>"
    _SOURCES[filename] = source
    # mtime None: linecache.checkcache keeps entries that have no file on disk.
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    exec(compile(source, filename, "exec"), namespace)  # noqa: S102 - our own generated source
    return namespace[name]
