"""Each state of the Matcher's machine, compiled: one shared function per shape, one tuple per state.

A state's ``fields`` say what to test: per field path, ``(slot, code, a, b, c)`` with ``code`` one
of the index's inline forms (``index.FAST_*``). Walking those tuples in a general loop costs a
chain of code comparisons and a tuple unpacking per field, a queue for the states reached, and a
read of several separate objects per state. With thousands of rules the states take turns, so
each of those objects is a likely cache miss, and that was most of the cost of matching.

Here a state becomes its *code*: the tuple ``(run, state, constants...)``. ``run`` is written
for the exact sequence of the state's tests (their inline forms, in path order), generated once
per such *shape* and shared by every state of that shape; the constants (slots, tables, strings,
bounds, hit lists) sit in the one tuple, and ``run`` reads each where it uses it. Hit lists hold
the codes of the next states, so a hit is a call ``code[0](get, out, seen, ctx, code)``, reading
one tuple and a hot function. (A code changes when its state does; the Matcher then puts the new
one where the parent's tables held the old.)

``run(get, out, seen, ctx, code)``: ``get`` reads an event's values at a slot (``dict.get`` of the
gathered values), ``out`` collects the names of matched rules, ``seen`` holds the ids of states
and the alternatives already taken through hit lists read from tables (where one state can come
up twice), and ``ctx`` is None unless an alternative may need the same-array-element check
(``confirm`` does it). Any tuple in a hit list is a code: the Matcher never puts a rule name
that is a tuple there.

A state with many fields gets one code per field instead (kept while the field is unchanged), so
that changing one of them costs that field's code and not a whole new shape.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from .conditions import comparable
from .index import (
    FAST_AB_STR,
    FAST_ABSENT,
    FAST_EQ_IC,
    FAST_EXACT,
    FAST_LOOKUP,
    FAST_ONE,
    FAST_PAIR,
    FAST_PREFIX,
    FAST_PREFIXES,
    FAST_RANGE,
    FAST_RANGES,
    FAST_SUFFIX,
)

Code = tuple[Any, ...]  # (run, state, constants...)
Field = tuple[Any, int, Any, Any, Any]
Constant = tuple[int, Callable[[Field], Any]]  # (which field, what of it)

_TWO53 = 2**53
_NEG_INF = float("-inf")
MAX_INLINE_FIELDS = 8  # more fields: one function per field, called in turn
_MAX_UNROLLED_PREFIXES = 6  # prefix lengths probed in straight-line code
_MAX_SHAPES = 4096  # generated sources kept; past that, new shapes go field by field


def noop(get: Any, out: dict[Any, None], seen: set[Any], ctx: Any, code: Code) -> None:
    """``run`` of a state that tests nothing (yet)."""


def _chain(get: Any, out: dict[Any, None], seen: set[Any], ctx: Any, code: Code) -> None:
    """``run`` of a state with many fields: ``code[2]`` holds one code per field."""
    for c in code[2]:
        c[0](get, out, seen, ctx, c)


class Compiler:
    """Writes and caches the shared functions. ``sub_type`` is the Matcher's class of
    alternatives to confirm (besides codes, anything else in a hit list is a rule name);
    ``confirm(sub, out, seen, ctx)`` checks one with the same-array-element rule."""

    def __init__(self, sub_type: type, confirm: Callable[..., None]) -> None:
        self._globals = {
            "Sub": sub_type,
            "confirm": confirm,
            "NEG_INF": _NEG_INF,
            "TWO53": _TWO53,
            "comparable": comparable,
        }
        self._sub_type = sub_type
        self._runs: dict[tuple[Any, ...], Callable[..., None]] = {}

    # -- shapes --------------------------------------------------------------------------------
    def _shape(self, field: Field) -> tuple[Any, ...]:
        _, code, a, b, _ = field
        if code == FAST_PREFIXES:
            return code, b is not None, len(a) if len(a) <= _MAX_UNROLLED_PREFIXES else -1
        if code in (FAST_EQ_IC, FAST_PAIR):
            return code, b is not None
        if code == FAST_RANGES:
            return code, len(a)
        return (code,)

    # -- building ------------------------------------------------------------------------------
    def build(self, state: Any, fields: tuple[Field, ...], cache: dict[Any, Any]) -> Code:
        """The code of ``state`` with ``fields``. ``cache`` is the state's own store of
        per-field codes (rebuilt here with only the fields still present)."""
        if not fields:
            cache.clear()
            return (noop, state)
        if len(fields) <= MAX_INLINE_FIELDS:
            shapes = tuple(self._shape(f) for f in fields)
            found = self._runs.get(shapes)
            # (a field alone always gets its function: those shapes are few)
            if found is None and (len(self._runs) < _MAX_SHAPES or len(fields) == 1):
                found = self._runs[shapes] = self._generate(shapes)
            if found is not None:
                cache.clear()
                run, constants = found
                return (run, state, *[take(fields[i]) for i, take in constants])
        # Many fields: one code per field, each reused while its field is unchanged. The cache
        # keeps each field's objects alive beside its code, so that their ids identify it.
        fresh: dict[Any, tuple[Field, Code]] = {}
        for f in fields:
            key = (f[1], id(f[0]), id(f[2]), id(f[3]), id(f[4]))
            fresh[key] = cache.get(key) or (f, self.build(None, (f,), {}))
        cache.clear()
        cache.update(fresh)
        return (_chain, state, tuple(code for _, code in fresh.values()))

    def _generate(self, shapes: tuple[Any, ...]) -> tuple[Callable[..., None], tuple[Constant, ...]]:
        """The function for ``shapes``, and where each constant it reads comes from: ``(i,
        take)``, ``take(fields[i])`` giving the constant."""
        params: dict[str, Constant] = {}
        body: list[str] = []
        for i, shape in enumerate(shapes):
            _field_source(i, shape, params, body)
        # Each constant is read from the code where it is used, not unpacked up front: taking an
        # object into a variable writes its reference count, which for a state's hit lists and
        # next states (used only on a hit, and cold in a large machine) would be a cache miss.
        where = {name: f"code[{k}]" for k, name in enumerate(params, 2)}
        body = [_CONSTANT.sub(lambda m: where[m.group(0)], line) for line in body]
        src = "\n".join(["def run(get, out, seen, ctx, code):", *body])
        namespace = dict(self._globals)
        exec(compile(src, f"<busbar state {len(self._runs)}>", "exec"), namespace)  # noqa: S102
        return namespace["run"], tuple(params.values())


# A constant's name in the generated source: letters and a number (local variables have no digits).
_CONSTANT = re.compile(r"\b[a-z]+[0-9]+(?:_[0-9]+)?\b")


# -- source of one field ---------------------------------------------------------------------------
# Each writer adds the constants it reads to ``params`` (name in the source -> where it comes from
# in the field, ``(i, take)``) and the lines of the test, indented for the body of ``run``.


def _take(i: int, *where: int) -> Constant:
    """Field ``i``'s item at ``where`` (indexes, outermost first)."""

    def take(field: Field) -> Any:
        item: Any = field
        for k in where:
            item = item[k]
        return item

    return i, take


def _longest(i: int, k: int | None = None) -> Constant:
    """Of field ``i``'s PrefixTables (longest first): the lengths, or length ``k``."""

    def take(field: Field) -> Any:
        lens = field[2].longest_first()[0]
        return lens if k is None else lens[k]

    return i, take


def _chains(i: int) -> Constant:
    """Field ``i``'s prefix chains (``PrefixTables.longest_first``)."""
    return i, lambda field: field[2].longest_first()[1]


def _dynamic(hits: str, ind: str) -> list[str]:
    """Take every target of a hit list that may hold a state already taken during this match
    (read from a table by one of several values or conditions): states are noted in ``seen``."""
    return [
        f"{ind}for tg in {hits}:",
        f"{ind}    k = type(tg)",
        f"{ind}    if k is str:  # a rule's name (the usual one), first",
        f"{ind}        out[tg] = None",
        f"{ind}    elif k is tuple:",
        f"{ind}        i = id(tg)",
        f"{ind}        if i not in seen:",
        f"{ind}            seen.add(i)",
        f"{ind}            tg[0](get, out, seen, ctx, tg)",
        *_names(ind),
    ]


def _once(hits: str, ind: str) -> list[str]:
    """Take every target of a hit list whose states can be reached only this once: a fixed hit
    list (its state's only parent is run once, and such tests stop at the first value that meets
    them), or the one table entry that a path's only value finds."""
    return [
        f"{ind}for tg in {hits}:",
        f"{ind}    k = type(tg)",
        f"{ind}    if k is str:  # a rule's name (the usual one), first",
        f"{ind}        out[tg] = None",
        f"{ind}    elif k is tuple:",
        f"{ind}        tg[0](get, out, seen, ctx, tg)",
        *_names(ind),
    ]


def _names(ind: str) -> list[str]:
    """The rest of taking a target: a rule's name of another type, or an alternative to confirm."""
    return [
        f"{ind}    elif k is not Sub:",
        f"{ind}        out[tg] = None",
        f"{ind}    elif ctx is None:",
        f"{ind}        out[tg.name] = None",
        f"{ind}    else:",
        f"{ind}        confirm(tg, out, seen, ctx)",
    ]


def _static(i: int, params: dict[str, Constant], ind: str, hits: Constant) -> list[str]:
    """Take the targets of the fixed hit list ``h{i}`` (from ``hits``)."""
    params[f"h{i}"] = hits
    return _once(f"h{i}", ind)


def _number(ind: str) -> list[str]:
    """``x``: the value ``v`` as a comparable number, or None for other types (booleans
    included: they must not meet the number 1). NaN sorts first in boundary tables too."""
    return [
        f"{ind}k = type(v)",
        f"{ind}if k is int:",
        f"{ind}    x = v if -TWO53 <= v <= TWO53 else comparable(v)",
        f"{ind}elif k is float:",
        f"{ind}    x = v if v == v else NEG_INF",
        f"{ind}else:",
        f"{ind}    x = None",
    ]


def _one_or_many(ind: str, single: list[str], many: list[str]) -> list[str]:
    """Test the values found at a path: ``single`` (indented by four more) on ``v`` when there is
    one, the usual case, else ``many`` on ``vals``. Unpacking a one-item list is one step where
    ``len`` and an index are several, and a try costs nothing in Python 3.11 until it fails."""
    return [f"{ind}try:", f"{ind}    (v,) = vals", f"{ind}except ValueError:", *many, f"{ind}else:", *single]


def _field_source(i: int, shape: tuple[Any, ...], params: dict[str, Constant], body: list[str]) -> None:
    # A field is ``(slot, code, a, b, c)``: the path's slot, then its index's inline form.
    code = shape[0]
    params[f"s{i}"] = _take(i, 0)
    if code == FAST_ABSENT:  # a: the exists:false hit list
        body.append(f"    if get(s{i}) is None:")
        body.extend(_static(i, params, " " * 8, _take(i, 2)))
        return
    body += [f"    vals = get(s{i})", "    if vals is not None:"]
    ind = " " * 8
    one = ind + "    "
    if code in (FAST_ONE, FAST_SUFFIX, FAST_PREFIX, FAST_AB_STR, FAST_RANGE):
        if code == FAST_RANGE:  # a: (low, high)
            params[f"lo{i}"] = _take(i, 2, 0)
            params[f"hi{i}"] = _take(i, 2, 1)
            number = _number(one)
            test = f"x is not None and lo{i} <= x <= hi{i}"
        else:
            params[f"a{i}"] = _take(i, 2)
            number = []
            test = {
                FAST_ONE: f"v == a{i}",  # only a str equals a str
                FAST_SUFFIX: f"type(v) is str and v.endswith(a{i})",
                FAST_PREFIX: f"type(v) is str and v.startswith(a{i})",
                # values of other types are never refused
                FAST_AB_STR: f"type(v) is not str or v not in a{i}",
            }[code]
        # The fixed hit list (b) is taken once, at the first value that meets the test.
        params[f"h{i}"] = _take(i, 3)
        body += _one_or_many(
            ind,
            [*number, f"{one}if {test}:", *_once(f"h{i}", one + "    ")],
            [
                f"{one}for v in vals:",
                *["    " + line for line in number],
                f"{one}    if {test}:",
                *_once(f"h{i}", one + " " * 8),
                f"{one}        break",
            ],
        )
    elif code == FAST_EXACT:  # a: the table; b: the same with single codes bare (exact_code)
        params[f"a{i}"] = _take(i, 2)
        params[f"b{i}"] = _take(i, 3)
        body += _one_or_many(
            ind,
            [
                f"{one}h = b{i}.get(v)",
                f"{one}if h is not None:",
                f"{one}    if type(h) is tuple:",
                f"{one}        h[0](get, out, seen, ctx, h)",
                f"{one}    else:",
                *_once("h", one + "        "),
            ],
            [
                f"{one}for v in vals:",
                f"{one}    h = a{i}.get(v)",
                f"{one}    if h is not None:",
                *_dynamic("h", one + " " * 8),
            ],
        )
    elif code == FAST_LOOKUP:  # a: the lookup
        params[f"a{i}"] = _take(i, 2)
        body += [f"{ind}found = []", f"{ind}a{i}(vals, found)", f"{ind}for h in found:", *_dynamic("h", ind + "    ")]
    else:  # several conditions of one shape, inline for one value; c: the lookup for several
        params[f"c{i}"] = _take(i, 4)
        if code in (FAST_PREFIXES, FAST_EQ_IC, FAST_PAIR) and shape[1]:
            params[f"b{i}"] = _take(i, 3)  # exact strings beside them
        if code == FAST_PREFIXES:  # a: the PrefixTables
            exact, count = shape[1], shape[2]
            lines = [f"{one}if type(v) is str:"]
            inner = one + "    "
            if exact:
                lines += [f"{inner}h = b{i}.get(v)", f"{inner}if h is not None:", *_dynamic("h", inner + "    ")]
            # Longest first (PrefixTables.longest_first): the first prefix found brings the
            # shorter ones that begin it, and the value's own length needs no slice.
            params[f"p{i}"] = _chains(i)
            lines.append(f"{inner}n = len(v)")
            if count >= 0:
                for j in range(count):
                    params[f"l{i}_{j}"] = _longest(i, j)
                    lines.append(f"{inner}{'if' if j == 0 else 'if h is None and'} n >= l{i}_{j}:")
                    lines.append(f"{inner}    h = p{i}.get(v[:l{i}_{j}])")
                    if j == 0:
                        lines += [f"{inner}else:", f"{inner}    h = None"]
                lines += [f"{inner}if h is not None:", *_dynamic("h", inner + "    ")]
            else:
                params[f"a{i}"] = _longest(i)
                lines += [
                    f"{inner}for length in a{i}:",
                    f"{inner}    if length <= n:",
                    f"{inner}        h = p{i}.get(v[:length])",
                    f"{inner}        if h is not None:",
                    *_dynamic("h", inner + " " * 12),
                    f"{inner}            break",
                ]
        elif code == FAST_EQ_IC:  # a: lower-cased -> hits
            params[f"a{i}"] = _take(i, 2)
            lines = [f"{one}if type(v) is str:"]
            inner = one + "    "
            if shape[1]:
                lines += [f"{inner}h = b{i}.get(v)", f"{inner}if h is not None:", *_dynamic("h", inner + "    ")]
            lines += [f"{inner}h = a{i}.get(v.lower())", f"{inner}if h is not None:", *_dynamic("h", inner + "    ")]
        elif code == FAST_RANGES:  # a: a few ranges, written out: (low, high, hits) each
            lines = [*_number(one), f"{one}if x is not None:"]
            for j in range(shape[1]):
                params[f"lo{i}_{j}"] = _take(i, 2, j, 0)
                params[f"hi{i}_{j}"] = _take(i, 2, j, 1)
                params[f"h{i}_{j}"] = _take(i, 2, j, 2)
                lines += [f"{one}    if lo{i}_{j} <= x <= hi{i}_{j}:", *_dynamic(f"h{i}_{j}", one + " " * 8)]
        elif code == FAST_PAIR:
            # ignore-case, then the prefixes of another path that the states after it test;
            # a: (those prefix tables by lower-cased value, that path's slot, the ignore-case table)
            params[f"m{i}"] = _take(i, 2, 0)
            params[f"o{i}"] = _take(i, 2, 1)
            params[f"ic{i}"] = _take(i, 2, 2)
            lines = [f"{one}if type(v) is str:"]
            inner = one + "    "
            if shape[1]:
                lines += [f"{inner}h = b{i}.get(v)", f"{inner}if h is not None:", *_dynamic("h", inner + "    ")]
            d = inner + "    "
            lines += [
                f"{inner}f = v.lower()",
                f"{inner}pair = m{i}.get(f)",
                f"{inner}if pair is not None:",
                f"{d}w = get(o{i})",
                f"{d}if w is not None:",
                f"{d}    try:",
                f"{d}        (w,) = w",
                f"{d}    except ValueError:  # several values: the state after it tests them",
                *_dynamic(f"ic{i}[f]", d + "        "),
                f"{d}    else:",
                f"{d}        if type(w) is str:  # longest first, as for FAST_PREFIXES",
                f"{d}            n = len(w)",
                f"{d}            lens, table = pair",
                f"{d}            for length in lens:",
                f"{d}                if length <= n:",
                f"{d}                    h = table.get(w[:length])",
                f"{d}                    if h is not None:",
                *_dynamic("h", d + " " * 24),
                f"{d}                        break",
            ]
        else:
            raise AssertionError(f"unknown inline form {code}")
        body += _one_or_many(
            ind,
            lines,
            [f"{one}found = []", f"{one}c{i}(vals, found)", f"{one}for h in found:", *_dynamic("h", one + "    ")],
        )
