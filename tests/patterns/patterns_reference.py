"""A deliberately simple event-pattern matcher, used only to check the fast one.

It works on the pattern as a plain dict (already accepted by ``validate``) and the event as a
plain dict, with no indexing and no sharing with busbar.patterns: expand ``$or`` into
alternatives, flatten the whole event into (dotted path, leaf, array positions), and for every
alternative try every combination of leaves, one per field.
"""

from __future__ import annotations

import ipaddress
import itertools
import re
from typing import Any

Leaf = tuple[str, Any, tuple]  # dotted path, value, ((array id, index), ...)


def alternatives(pattern: dict, prefix: str = "") -> list[dict[str, list]]:
    """``pattern`` as a list of {dotted path: value list} maps, one per ``$or`` combination."""
    alts: list[dict[str, list]] = [{}]
    for key, value in pattern.items():
        if key == "$or":
            alts = [dict(a, **b) for a in alts for branch in value for b in alternatives(branch, prefix)]
        elif isinstance(value, dict):
            alts = [dict(a, **b) for a in alts for b in alternatives(value, prefix + key + ".")]
        else:
            alts = [dict(a, **{prefix + key: value}) for a in alts]
    return alts


def leaves(value: Any, path: str = "", where: tuple = ()) -> list[Leaf]:
    """Every leaf of the event with its dotted path and array positions."""
    if isinstance(value, dict):
        out: list[Leaf] = []
        for k, v in value.items():
            out += leaves(v, f"{path}.{k}" if path else k, where)
        return out
    if isinstance(value, list):
        out = []
        for i, v in enumerate(value):
            out += leaves(v, path, where + ((id(value), i),))
        return out
    return [(path, value, where)]


def is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def as_ip(v: Any) -> Any:
    try:
        return ipaddress.ip_address(v) if isinstance(v, str) else None
    except ValueError:
        return None


def wild(pattern: str, s: str) -> bool:
    """Recursive glob match with ``*``, ``\\*`` and ``\\\\``."""
    if not pattern:
        return not s
    if pattern[0] == "*":
        return any(wild(pattern[1:], s[i:]) for i in range(len(s) + 1))
    if pattern[0] == "\\":
        return bool(s) and s[0] == pattern[1] and wild(pattern[2:], s[1:])
    return bool(s) and s[0] == pattern[0] and wild(pattern[1:], s[1:])


def spellings(pattern: str) -> str:
    """A regular expression for event-ruler's equals-ignore-case: every character of the pattern
    spelled lower-cased or upper-cased (Java's toLowerCase/toUpperCase of that one character);
    the value is not case-folded."""
    return "".join("(?:" + "|".join(map(re.escape, {c.lower(), c.upper()})) + ")" for c in pattern)


def ic_equals(pattern: str, v: str) -> bool:
    return re.fullmatch(spellings(pattern), v, re.DOTALL) is not None


def ic_prefix(pattern: str, v: str) -> bool:
    return re.match(spellings(pattern), v, re.DOTALL) is not None


def ic_suffix(pattern: str, v: str) -> bool:
    return re.search(f"(?:{spellings(pattern)})\\Z", v, re.DOTALL) is not None


def value_ok(item: Any, v: Any) -> bool:
    """Does the leaf ``v`` satisfy one entry ``item`` of a pattern value list?"""
    if not isinstance(item, dict):
        if isinstance(item, str):
            return (isinstance(v, str) and v == item) or (
                as_ip(item) is not None and as_ip(v) is not None and as_ip(item) == as_ip(v)
            )
        if is_num(item):
            return is_num(v) and v == item
        return v is item  # true/false/null
    ((op, arg),) = item.items()
    if op == "exists":
        return arg
    if op == "numeric":
        if not is_num(v) or float(v) != v:
            return False
        ok = True
        for o, x in zip(arg[0::2], arg[1::2], strict=True):
            ok = ok and {"=": v == x, "<": v < x, "<=": v <= x, ">": v > x, ">=": v >= x}[o]
        return ok
    if op == "anything-but":
        if isinstance(arg, dict):
            ((sub, vals),) = arg.items()
            vals = vals if isinstance(vals, list) else [vals]
            if not isinstance(v, str):
                return True
            if sub == "prefix":
                return not any(v.startswith(p) for p in vals)
            if sub == "suffix":
                return not any(v.endswith(p) for p in vals)
            if sub == "equals-ignore-case":
                return not any(ic_equals(p, v) for p in vals)
            return not any(wild(p, v) for p in vals)
        vals = arg if isinstance(arg, list) else [arg]
        if is_num(vals[0]):
            return not (is_num(v) and v in vals)
        return not (isinstance(v, str) and v in vals)
    if not isinstance(v, str):
        return False
    if op == "exactly":
        return v == arg
    if op == "prefix":
        return ic_prefix(arg["equals-ignore-case"], v) if isinstance(arg, dict) else v.startswith(arg)
    if op == "suffix":
        return ic_suffix(arg["equals-ignore-case"], v) if isinstance(arg, dict) else v.endswith(arg)
    if op == "equals-ignore-case":
        return ic_equals(arg, v)
    if op == "wildcard":
        return wild(arg, v)
    if op == "cidr":
        ip = as_ip(v)
        return ip is not None and ip in ipaddress.ip_network(arg, strict=False)
    raise AssertionError(op)


def compatible(choice: tuple) -> bool:
    seen: dict = {}
    for where in choice:
        for arr, idx in where:
            if seen.setdefault(arr, idx) != idx:
                return False
    return True


def reference_matches(pattern: dict, event: dict) -> bool:
    """Does ``event`` match ``pattern``? Slow and obvious."""
    all_leaves = leaves(event)
    for alt in alternatives(pattern):
        options: list[list[tuple]] = []
        ok = True
        for path, items in alt.items():
            here = [(v, w) for p, v, w in all_leaves if p == path]
            hits = [w for v, w in here if any(value_ok(it, v) for it in items)]
            if not hits and not here and {"exists": False} in items:
                continue
            if not hits:
                ok = False
                break
            options.append(hits)
        if ok and any(compatible(choice) for choice in itertools.product(*options)):
            return True
    return False
