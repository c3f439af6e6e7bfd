"""Each state of the Matcher's machine, compiled into one small Python function.

A state's ``fields`` say what to test: per field path, ``(slot, code, a, b, c)`` with ``code`` one
of the index's inline forms (``index.FAST_*``). Walking those tuples in a general loop costs a
chain of code comparisons and a tuple unpacking per field, and a queue for the states reached;
in a large rule set most states test two to five fields, so that overhead (and the separate
objects it reads, each a likely cache miss when thousands of states take turns) was most of the
cost of matching. Here every state becomes a function written for its exact sequence of codes:
its tests are straight-line code, its constants sit in the function's defaults (one tuple,
copied into local variables by the call), and a hit calls the next state's function directly.

``run(get, out, seen, ctx)``: ``get`` reads an event's values at a slot (``dict.get`` of the
gathered values), ``out`` collects the names of matched rules, ``seen`` holds the states and
alternatives already taken through hit lists read from tables (where one state can come up twice),
and ``ctx`` is None unless an alternative may need the same-array-element check (then
``confirm`` does it).

The source is generated once per *shape* (the codes and what their fixed hit lists hold) and
cached, so thousands of states share a few code objects; a state with many fields gets one small
function per field instead (cached per field), so that changing one of them costs one field's
function and not a whole new shape.
"""
from __future__ import annotations

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

Run = Callable[[Any, dict[Any, None], set[Any], Any], None]
Field = tuple[Any, int, Any, Any, Any]

_TWO53 = 2 ** 53
_NEG_INF = float("-inf")
MAX_INLINE_FIELDS = 8     # more fields: one function per field, called in turn
_MAX_STATIC_HITS = 3      # a fixed hit list of up to this many targets is written out
_MAX_UNROLLED_PREFIXES = 6  # prefix lengths probed in straight-line code
_MAX_SHAPES = 4096        # generated sources kept; past that, new shapes go field by field


def noop(get: Any, out: dict[Any, None], seen: set[Any], ctx: Any) -> None:
    """``run`` of a state that tests nothing (yet)."""


class Compiler:
    """Writes and caches state functions. ``state_type`` and ``sub_type`` are the Matcher's
    classes of hit-list targets (anything else in a hit list is a rule name); ``confirm(sub,
    out, seen, ctx)`` checks an alternative that needs the same-array-element rule."""

    def __init__(self, state_type: type, sub_type: type, confirm: Callable[..., None]) -> None:
        self._common = {"State": state_type, "Sub": sub_type, "confirm": confirm,
                        "NEG_INF": _NEG_INF, "TWO53": _TWO53, "comparable": comparable}
        self._state_type = state_type
        self._sub_type = sub_type
        self._factories: dict[tuple[Any, ...], Callable[..., Run]] = {}

    # -- shapes --------------------------------------------------------------------------------
    def _kinds(self, hits: tuple[Any, ...]) -> str:
        """What a fixed hit list holds, one letter per target (s: state, u: alternative to
        confirm, n: rule name), or ``*`` when it is long enough to loop over instead."""
        if len(hits) > _MAX_STATIC_HITS:
            return "*"
        return "".join("s" if type(t) is self._state_type else "u" if type(t) is self._sub_type else "n"
                       for t in hits)

    def _shape(self, field: Field) -> tuple[Any, ...]:
        _, code, a, b, _ = field
        if code == FAST_ABSENT:
            return code, self._kinds(a)
        if code in (FAST_ONE, FAST_RANGE, FAST_SUFFIX, FAST_PREFIX, FAST_AB_STR):
            return code, self._kinds(b)
        if code == FAST_PREFIXES:
            return code, b is not None, len(a) if len(a) <= _MAX_UNROLLED_PREFIXES else -1
        if code in (FAST_EQ_IC, FAST_PAIR):
            return code, b is not None
        return (code,)

    # -- building ------------------------------------------------------------------------------
    def build(self, fields: tuple[Field, ...], cache: dict[Any, Run]) -> Run:
        """The function for a state with ``fields``. ``cache`` is the state's own store of
        per-field functions (rebuilt here with only the fields still present)."""
        if not fields:
            cache.clear()
            return noop
        if len(fields) <= MAX_INLINE_FIELDS:
            shapes = tuple(self._shape(f) for f in fields)
            factory = self._factories.get(shapes)
            # (a field alone always gets its function: those shapes are few)
            if factory is None and (len(self._factories) < _MAX_SHAPES or len(fields) == 1):
                factory = self._factories[shapes] = self._factory(shapes)
            if factory is not None:
                cache.clear()
                return factory(*self._constants(fields, shapes))
        # Many fields: one function per field, each reused while its field is unchanged (the
        # objects a field names stay alive in its function, so their ids identify it).
        fresh: dict[Any, Run] = {}
        fns = []
        for f in fields:
            key = (f[1], id(f[0]), id(f[2]), id(f[3]), id(f[4]))
            fn = cache.get(key)
            if fn is None:
                fn = self.build((f,), {})
            fresh[key] = fn
            fns.append(fn)
        cache.clear()
        cache.update(fresh)
        return _chain(tuple(fns))

    def _constants(self, fields: tuple[Field, ...], shapes: tuple[Any, ...]) -> list[Any]:
        consts: list[Any] = []
        for (slot, code, a, b, c), shape in zip(fields, shapes, strict=True):
            consts.append(slot)
            if code == FAST_ABSENT:
                consts.extend(self._targets(a, shape[1]))
            elif code in (FAST_ONE, FAST_SUFFIX, FAST_PREFIX, FAST_AB_STR):
                consts.append(a)
                consts.extend(self._targets(b, shape[1]))
            elif code == FAST_RANGE:
                consts.extend(a)  # low, high
                consts.extend(self._targets(b, shape[1]))
            elif code == FAST_PREFIXES:
                consts.extend((b, c))
                if shape[2] >= 0:
                    for length, table in a:
                        consts.extend((length, table))
                else:
                    consts.append(a)
            elif code == FAST_PAIR:
                consts.extend((*a, b, c))  # merged, other, ic
            else:  # FAST_EXACT, FAST_LOOKUP, FAST_EQ_IC, FAST_RANGES
                consts.extend((a, b, c))
        return consts

    def _targets(self, hits: tuple[Any, ...], kinds: str) -> list[Any]:
        if kinds == "*":
            return [hits]
        out: list[Any] = []
        for t, k in zip(hits, kinds, strict=True):
            out.extend((t, t.name) if k == "u" else (t,))
        return out

    def _factory(self, shapes: tuple[Any, ...]) -> Callable[..., Run]:
        params: list[str] = []
        body: list[str] = []
        for i, shape in enumerate(shapes):
            _field_source(i, shape, params, body)
        defaults = ", ".join(f"{p}={p}" for p in (*self._common, *params))
        src = "\n".join([f"def make({', '.join(params)}):",
                         f"    def run(get, out, seen, ctx, {defaults}):",
                         *("    " + line for line in body),
                         "    return run"])
        namespace = dict(self._common)
        exec(compile(src, f"<busbar state {len(self._factories)}>", "exec"), namespace)  # noqa: S102
        return namespace["make"]  # type: ignore[no-any-return]


def _chain(fns: tuple[Run, ...]) -> Run:
    def run(get: Any, out: dict[Any, None], seen: set[Any], ctx: Any, fns: tuple[Run, ...] = fns) -> None:
        for fn in fns:
            fn(get, out, seen, ctx)
    return run


# -- source of one field ---------------------------------------------------------------------------
# Each writer appends the parameters its constants take (in ``Compiler._constants``'s order) and
# the lines of the test, indented for the body of ``run``.

def _dynamic(hits: str, ind: str) -> list[str]:
    """Take every target of a hit list known only when matching (read from a table)."""
    return [f"{ind}for tg in {hits}:",
            f"{ind}    k = type(tg)",
            f"{ind}    if k is State:",
            f"{ind}        if tg not in seen:",
            f"{ind}            seen.add(tg)",
            f"{ind}            tg.run(get, out, seen, ctx)",
            f"{ind}    elif k is not Sub:",
            f"{ind}        out[tg] = None",
            f"{ind}    elif ctx is None:",
            f"{ind}        out[tg.name] = None",
            f"{ind}    else:",
            f"{ind}        confirm(tg, out, seen, ctx)"]


def _static(i: int, kinds: str, params: list[str], ind: str) -> list[str]:
    """Take the targets of a fixed hit list. A state reached this way is reached once: its
    only parent is run once, and tests with fixed hit lists stop at the first value that meets
    them."""
    if kinds == "*":
        params.append(f"h{i}")
        return _dynamic(f"h{i}", ind)
    lines = []
    for j, k in enumerate(kinds):
        t = f"t{i}_{j}"
        params.append(t)
        if k == "s":
            lines.append(f"{ind}{t}.run(get, out, seen, ctx)")
        elif k == "n":
            lines.append(f"{ind}out[{t}] = None")
        else:
            params.append(f"n{i}_{j}")
            lines += [f"{ind}if ctx is None:", f"{ind}    out[n{i}_{j}] = None", f"{ind}else:",
                      f"{ind}    confirm({t}, out, seen, ctx)"]
    return lines


def _number(ind: str, skip: str) -> list[str]:
    """``x``: the value ``v`` as a comparable number, or ``skip`` for other types (booleans
    included: they must not meet the number 1). NaN sorts first in boundary tables too."""
    return [f"{ind}k = type(v)",
            f"{ind}if k is float:",
            f"{ind}    x = v if v == v else NEG_INF",
            f"{ind}elif k is int:",
            f"{ind}    x = v if -TWO53 <= v <= TWO53 else comparable(v)",
            f"{ind}    if x is None:",
            f"{ind}        {skip}",
            f"{ind}else:",
            f"{ind}    {skip}"]


def _field_source(i: int, shape: tuple[Any, ...], params: list[str], body: list[str]) -> None:
    code = shape[0]
    params.append(f"s{i}")
    if code == FAST_ABSENT:
        body.append(f"    if get(s{i}) is None:")
        body.extend(_static(i, shape[1], params, " " * 8))
        return
    body += [f"    vals = get(s{i})", "    if vals is not None:"]
    ind = " " * 8
    if code in (FAST_ONE, FAST_SUFFIX, FAST_PREFIX, FAST_AB_STR):
        params.append(f"a{i}")
        test = {FAST_ONE: f"v == a{i}",  # only a str equals a str
                FAST_SUFFIX: f"type(v) is str and v.endswith(a{i})",
                FAST_PREFIX: f"type(v) is str and v.startswith(a{i})",
                # values of other types are never refused
                FAST_AB_STR: f"type(v) is not str or v not in a{i}"}[code]
        body += [f"{ind}for v in vals:", f"{ind}    if {test}:",
                 *_static(i, shape[1], params, ind + " " * 8), f"{ind}        break"]
    elif code == FAST_RANGE:
        params += [f"lo{i}", f"hi{i}"]
        body += [f"{ind}for v in vals:", *_number(ind + "    ", "continue"),
                 f"{ind}    if lo{i} <= x <= hi{i}:", *_static(i, shape[1], params, ind + " " * 8),
                 f"{ind}        break"]
    elif code == FAST_EXACT:
        params += [f"a{i}", f"b{i}", f"c{i}"]
        body += [f"{ind}for v in vals:", f"{ind}    h = a{i}.get(v)", f"{ind}    if h is not None:",
                 *_dynamic("h", ind + " " * 8)]
    elif code == FAST_LOOKUP:
        params += [f"a{i}", f"b{i}", f"c{i}"]
        body += [f"{ind}found = []", f"{ind}a{i}(vals, found)", f"{ind}for h in found:",
                 *_dynamic("h", ind + "    ")]
    else:  # several conditions of one shape, inline for one value; ``c`` for several values
        one = ind + "    "
        if code == FAST_PREFIXES:
            exact, count = shape[1], shape[2]
            params += [f"b{i}", f"c{i}"]
            lines = [f"{one}if type(v) is str:"]
            inner = one + "    "
            if exact:
                lines += [f"{inner}h = b{i}.get(v)", f"{inner}if h is not None:", *_dynamic("h", inner + "    ")]
            lines.append(f"{inner}n = len(v)")
            if count >= 0:  # lengths ascend: stop at the first longer than the value
                deeper = inner
                for j in range(count):
                    params += [f"l{i}_{j}", f"p{i}_{j}"]
                    lines += [f"{deeper}if n >= l{i}_{j}:", f"{deeper}    h = p{i}_{j}.get(v[:l{i}_{j}])",
                              f"{deeper}    if h is not None:", *_dynamic("h", deeper + "        ")]
                    deeper += "    "
            else:
                params.append(f"a{i}")
                lines += [f"{inner}for length, table in a{i}:", f"{inner}    if length > n:",
                          f"{inner}        break", f"{inner}    h = table.get(v[:length])",
                          f"{inner}    if h is not None:", *_dynamic("h", inner + "        ")]
        elif code == FAST_EQ_IC:
            params += [f"a{i}", f"b{i}", f"c{i}"]
            lines = [f"{one}if type(v) is str:"]
            inner = one + "    "
            if shape[1]:
                lines += [f"{inner}h = b{i}.get(v)", f"{inner}if h is not None:", *_dynamic("h", inner + "    ")]
            lines += [f"{inner}h = a{i}.get(v.lower())", f"{inner}if h is not None:", *_dynamic("h", inner + "    ")]
        elif code == FAST_RANGES:
            params += [f"a{i}", f"b{i}", f"c{i}"]
            lines = [f"{one}while True:  # once; ``break`` leaves it", *_number(one + "    ", "break"),
                     f"{one}    for low, high, h in a{i}:", f"{one}        if low <= x <= high:",
                     *_dynamic("h", one + " " * 12), f"{one}    break"]
        elif code == FAST_PAIR:
            # ignore-case, then the prefixes of another path that the states after it test
            params += [f"m{i}", f"o{i}", f"ic{i}", f"b{i}", f"c{i}"]
            lines = [f"{one}if type(v) is str:"]
            inner = one + "    "
            if shape[1]:
                lines += [f"{inner}h = b{i}.get(v)", f"{inner}if h is not None:", *_dynamic("h", inner + "    ")]
            d = inner + "    "
            lines += [f"{inner}f = v.lower()",
                      f"{inner}pair = m{i}.get(f)",
                      f"{inner}if pair is not None:",
                      f"{d}w = get(o{i})",
                      f"{d}if w is not None:",
                      f"{d}    if len(w) != 1:  # the state after it tests them",
                      *_dynamic(f"ic{i}[f]", d + "        "),
                      f"{d}    elif type(w[0]) is str:",
                      f"{d}        w = w[0]",
                      f"{d}        n = len(w)",
                      f"{d}        lens, table = pair",
                      f"{d}        for length in lens:",
                      f"{d}            if length > n:",
                      f"{d}                break",
                      f"{d}            h = table.get(w[:length])",
                      f"{d}            if h is not None:",
                      *_dynamic("h", d + " " * 16)]
        else:
            raise AssertionError(f"unknown inline form {code}")
        body += [f"{ind}if len(vals) != 1:", f"{one}found = []", f"{one}c{i}(vals, found)",
                 f"{one}for h in found:", *_dynamic("h", one + "    "), f"{ind}else:", f"{one}v = vals[0]",
                 *lines]
