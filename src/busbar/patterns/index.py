"""The per-field index: every condition that the steps leaving one state of the Matcher's machine
place on one field path, organised so that one event value finds the conditions it satisfies
without looking at the others.

A *hit list* is what a condition leads to: the next states, and the alternatives whose last step
it is. Conditions that compare for equality sit in dicts
(exact strings, numbers, literals, lower-cased strings); prefixes and suffixes sit in one dict
per distinct length, probed with the value's slice of that length; numeric ranges become a sorted
list of boundaries whose gaps and points each carry the hit lists of the ranges covering them
(one bisect per value). Only wildcards, CIDR blocks and anything-but, which no dict can answer,
are tested one by one, and then once per distinct condition on the field rather than per rule.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from math import nextafter
from types import MappingProxyType
from typing import Any

from .cidr import ip_to_int
from .conditions import (
    AB_IC,
    AB_NUM,
    AB_PREFIX,
    AB_STR,
    AB_SUFFIX,
    CIDR,
    EQ_IC,
    EXACT_LIT,
    EXACT_NUM,
    EXACT_STR,
    EXISTS,
    NUMERIC,
    PREFIX,
    PREFIX_IC,
    SUFFIX,
    SUFFIX_IC,
    WILDCARD,
    Cond,
    comparable,
    literal_key,
    value_test,
)

Hit = int
# ``PathIndex.fast`` codes: how the Matcher tests an index inline, as ``(code, a, b)``.
FAST_EXACT = 0  # only exact strings: a = their dict, b = the same with codes bare (``exact_code``)
FAST_ONE = 1  # one exact string: a = it, b = its hit list
FAST_LOOKUP = 2  # anything else: a = the lookup function
FAST_RANGE = 3  # one numeric range: a = (low, high), both inclusive; b = its hit list
FAST_SUFFIX = 4  # one suffix: a = it, b = its hit list
FAST_PREFIX = 5  # one prefix: a = it, b = its hit list
FAST_AB_STR = 6  # one anything-but over strings: a = the refused strings, b = its hit list
FAST_ABSENT = 7  # (used by the Matcher) a = the exists:false hit list, taken when no value
# Several conditions of one shape, tested inline when the path holds one value (the usual case);
# with more values the Matcher calls ``lookup``, kept as the third member ``c``: ``(code, a, b, c)``.
FAST_EQ_IC = 8  # ignore-case strings, maybe exact ones: a = lower-cased -> hits, b = exact -> hits or None
FAST_PREFIXES = 9  # prefixes, maybe exact strings: a = their PrefixTables, b = exact or None
FAST_RANGES = 10  # a few numeric ranges: a = ((low, high, hits), ...), both ends inclusive
# (made by the Matcher from FAST_EQ_IC) ignore-case strings whose matches lead only to states that
# test prefixes of one other path: a = ({lower-cased: ``chained`` prefix tables}, that path's
# slot, the FAST_EQ_IC table); b and c as for FAST_EQ_IC
FAST_PAIR = 11
HitList = tuple[Hit, ...]
_INF = float("inf")
_NONE: Mapping[Any, Any] = MappingProxyType({})  # the empty table indexes share until they need one
_NO_SLOTS: tuple[tuple[HitList, ...], ...] = ((),)
_FEW_RANGES = 3  # up to this many ranges alone on a path are tested one by one


class PrefixTables:
    """The prefixes on a path: ``lens``, one table per distinct length, shortest first (how
    lookups probe them), and ``longest_first()``, built on first use (a new object replaces
    this one whenever the prefixes change)."""

    __slots__ = ("lens", "_longest")

    def __init__(self, lens: tuple[tuple[int, dict[str, HitList]], ...]) -> None:
        self.lens = lens
        self._longest: tuple[tuple[int, ...], dict[str, HitList]] | None = None

    def __len__(self) -> int:
        return len(self.lens)

    def longest_first(self) -> tuple[tuple[int, ...], dict[str, HitList]]:
        """``(lengths, longest first; {prefix: its chain})`` (see ``chained``)."""
        if self._longest is None:
            self._longest = chained(dict(self.lens))
        return self._longest


def chained(by_length: dict[int, dict[str, HitList]]) -> tuple[tuple[int, ...], dict[str, HitList]]:
    """Prefix tables for probing longest first: one dict from each prefix to its *chain*, its own
    hit list followed by those of the shorter prefixes in the set that begin it. The first prefix
    of a value found, probing the value's slices longest first, then gives every prefix of the
    value in the set: each of them begins that one. One probe (and, at the value's own length,
    no slice) where the prefixes of a value are mostly the value itself."""
    lens = sorted(by_length)
    chains: dict[str, HitList] = {}
    for k, length in enumerate(lens):
        for prefix, hits in by_length[length].items():
            for shorter in reversed(lens[:k]):
                below = chains.get(prefix[:shorter])
                if below is not None:
                    hits = hits + below
                    break
            chains[prefix] = hits
    return tuple(reversed(lens)), chains


class Hits(tuple):  # type: ignore[type-arg]
    """A hit list kept in a table whose other entries are single states' codes, themselves
    tuples (see ``PathIndex.exact_code``)."""

    __slots__ = ()


def _bare(hits: HitList) -> Any:
    """``hits`` as ``exact_code`` holds it: the code itself when it is one state's code (a tuple:
    the Matcher keeps tuples out of hit lists otherwise), else a ``Hits``."""
    return hits[0] if len(hits) == 1 and type(hits[0]) is tuple else Hits(hits)


class PathIndex:
    """All conditions on one field path, across all rules of a Matcher."""

    __slots__ = (
        "path",
        "hits",
        "exact_str",
        "exact_code",
        "exact_num",
        "exact_lit",
        "eq_ic",
        "prefix",
        "prefix_ic",
        "suffix",
        "suffix_ic",
        "prefix_lens",
        "prefix_ic_lens",
        "suffix_lens",
        "suffix_ic_lens",
        "prefix_tables",
        "numeric",
        "num_points",
        "num_slots",
        "num_dirty",
        "residual",
        "exists_true",
        "exists_false",
        "has_ic",
        "users",
        "ab_str",
        "ab_num",
        "ab_ic",
        "ab_prefix",
        "ab_suffix",
        "lookup",
        "fast",
    )

    def __init__(self, path: tuple[str, ...]) -> None:
        self.path = path
        self.hits: dict[Cond, HitList] = {}  # every condition -> its hit list
        # Tables start as one shared empty mapping (most indexes hold one or two kinds of
        # condition) and become the index's own on first use (``_own``).
        self.exact_str: Mapping[str, HitList] = _NONE
        # ``exact_str`` with each hit list that is one state's code replaced by the code, the
        # usual entry in a large table (a value leading to the one state after it), so that a
        # match calls it without reading a hit list and looping over it
        self.exact_code: Mapping[str, Any] = _NONE
        self.exact_num: Mapping[Any, HitList] = _NONE
        self.exact_lit: Mapping[str, HitList] = _NONE
        self.eq_ic: Mapping[str, HitList] = _NONE
        self.prefix: Mapping[int, dict[str, HitList]] = _NONE
        self.prefix_ic: Mapping[int, dict[str, HitList]] = _NONE
        self.suffix: Mapping[int, dict[str, HitList]] = _NONE
        self.suffix_ic: Mapping[int, dict[str, HitList]] = _NONE
        self.prefix_lens: tuple[tuple[int, dict[str, HitList]], ...] = ()
        self.prefix_tables = PrefixTables(())
        self.prefix_ic_lens: tuple[tuple[int, dict[str, HitList]], ...] = ()
        self.suffix_lens: tuple[tuple[int, dict[str, HitList]], ...] = ()
        self.suffix_ic_lens: tuple[tuple[int, dict[str, HitList]], ...] = ()
        self.numeric: Mapping[tuple[float, bool, float, bool], HitList] = _NONE
        self.num_points: Sequence[float] = ()
        self.num_slots: Sequence[tuple[HitList, ...]] = _NO_SLOTS
        self.num_dirty = False
        # tested one by one: (condition, its hit list, a one-value test of it)
        self.residual: Sequence[tuple[Cond, HitList, Callable[[Any], bool]]] = ()
        # anything-but, by kind; each is refused only by a value of its own type that it lists
        self.ab_str: Sequence[tuple[Any, HitList]] = ()
        self.ab_num: Sequence[tuple[Any, HitList]] = ()
        self.ab_ic: Sequence[tuple[Any, HitList]] = ()
        self.ab_prefix: Sequence[tuple[Any, HitList]] = ()
        self.ab_suffix: Sequence[tuple[Any, HitList]] = ()
        self.exists_true: HitList | None = None
        self.exists_false: HitList | None = None
        self.has_ic = False
        self.users = 0  # alternatives with a field on this path (indexed or only verified)
        # ``lookup(values, out)``: the general method, or a shortcut for the common shapes,
        # chosen again whenever the set of conditions changes.
        self.lookup = self._lookup_general
        # ``fast``: how the Matcher's loop tests this index inline, ``(code, a, b)`` (see FAST_*).
        self.fast: tuple[int, Any, Any, Any] = (FAST_LOOKUP, self.lookup, None, None)

    def __len__(self) -> int:
        return len(self.hits)

    # -- maintenance -------------------------------------------------------------------------
    def add(self, cond: Cond, hit: Hit) -> None:
        """Record that alternative ``hit`` is a candidate when a value meets ``cond``."""
        hits = self.hits.get(cond)
        if hits is None:
            self.hits[cond] = (hit,)
            self._place(cond, (hit,))
        else:
            self._replace(cond, (*hits, hit))

    def replace(self, cond: Cond, old: Hit, new: Hit) -> None:
        """Put ``new`` where ``cond``'s hit list holds ``old``."""
        self._replace(cond, tuple(new if h is old else h for h in self.hits[cond]))

    def _replace(self, cond: Cond, hits: HitList) -> None:
        """Give ``cond`` the hit list ``hits`` everywhere the old one was referenced. (Hit lists
        are tuples: one allocation, read without a second indirection, shared by tables and the
        inline forms; a change places the condition again.)"""
        self.hits[cond] = hits
        self._unplace(cond, settle=False)
        self._place(cond, hits)

    def _choose_lookup(self) -> None:
        code, a, b = self._choose()
        if code == FAST_LOOKUP:
            a = self.lookup
        self.fast = (code, a, b, self.lookup)

    def _choose(self) -> tuple[int, Any, Any]:
        """Pick ``lookup`` for the conditions now held, and the inline form of it."""
        if len(self.hits) == 1:
            # One condition (the usual case past the first step of a large rule set): a direct
            # test of it, which stops at the first value that meets it.
            ((cond, hits),) = self.hits.items()
            kind, arg = cond
            if kind == EXACT_STR:
                self.lookup = self._lookup_exact_str
                return FAST_ONE, arg, hits
            one = single_lookup(cond, hits)
            if one is not None:
                self.lookup = one
                if kind == NUMERIC:
                    closed = closed_range(arg)
                    if closed is not None:
                        return FAST_RANGE, closed, hits
                elif kind == SUFFIX:
                    return FAST_SUFFIX, arg, hits
                elif kind == PREFIX:
                    return FAST_PREFIX, arg, hits
                elif kind == AB_STR:
                    return FAST_AB_STR, arg, hits
                return FAST_LOOKUP, one, None
        if len(self.residual) == len(self.hits) and all(c[0] == CIDR for c, _, _ in self.residual):
            # Only CIDR blocks (several rules' blocks on one address field): each value read
            # once for all of them (cidrs_lookup).
            self.lookup = cidrs_lookup(tuple((*cond[1], hits) for cond, hits, _ in self.residual))
            return FAST_LOOKUP, self.lookup, None
        negative = self.residual or self.ab_str or self.ab_ic or self.ab_prefix or self.ab_suffix
        others = self.exact_lit or self.ab_num or self.exists_true is not None
        strings = self.eq_ic or self.prefix or self.prefix_ic or self.suffix or self.suffix_ic
        numbers = self.numeric or self.exact_num
        if others or (numbers and (strings or self.exact_str or negative)):
            self.lookup = self._lookup_general
        elif negative:
            self.lookup = self._text_lookup()
        elif strings:
            affix = self._affix_lookup()
            self.lookup = affix or self._lookup_str
            if affix is not None:
                exact = self.exact_str or None
                if self.eq_ic:
                    return FAST_EQ_IC, self.eq_ic, exact
                return FAST_PREFIXES, self.prefix_tables, exact
        elif self.exact_str and not self.numeric:
            self.lookup = self._lookup_exact_str
            return FAST_EXACT, self.exact_str, self.exact_code
        elif self.numeric or self.exact_num:
            ranges = self._ranges_lookup()
            self.lookup = ranges or self._lookup_numeric
            if ranges is not None:
                return FAST_RANGES, ranges.table, None  # type: ignore[attr-defined]
        else:
            self.lookup = self._lookup_general
        return FAST_LOOKUP, self.lookup, None

    def remove(self, cond: Cond, hit: Hit) -> None:
        """Undo one ``add``; a condition nobody uses any more leaves the index."""
        rest = list(self.hits[cond])
        rest.remove(hit)
        if rest:
            self._replace(cond, tuple(rest))
        else:
            del self.hits[cond]
            self._unplace(cond)

    def _own(self, name: str) -> dict[Any, Any]:
        """The table ``name``, made this index's own dict first if it is still the shared one."""
        table = getattr(self, name)
        if type(table) is not dict:
            table = {}
            setattr(self, name, table)
        return table

    def _refresh_affixes(self) -> None:
        self.prefix_lens = tuple(sorted(self.prefix.items()))
        self.prefix_tables = PrefixTables(self.prefix_lens)
        self.prefix_ic_lens = tuple(sorted(self.prefix_ic.items()))
        self.suffix_lens = tuple(sorted(self.suffix.items()))
        self.suffix_ic_lens = tuple(sorted(self.suffix_ic.items()))
        self.has_ic = bool(self.eq_ic or self.prefix_ic or self.suffix_ic)

    def _place(self, cond: Cond, hits: HitList) -> None:
        kind, arg = cond
        if kind == EXACT_STR:
            self._own("exact_str")[arg] = hits
            self._own("exact_code")[arg] = _bare(hits)
        elif kind == EXACT_NUM:
            self._own("exact_num")[arg] = hits
        elif kind == EXACT_LIT:
            self._own("exact_lit")[arg] = hits
        elif kind == EQ_IC:
            self._own("eq_ic")[arg] = hits
            self._refresh_affixes()
        elif kind in _AFFIX_TABLES:
            self._own(_AFFIX_TABLES[kind]).setdefault(len(arg), {})[arg] = hits
            self._refresh_affixes()
        elif kind == NUMERIC:
            self._own("numeric")[arg] = hits
            self.num_dirty = True
        elif kind == EXISTS:
            if arg:
                self.exists_true = hits
            else:
                self.exists_false = hits
        elif kind in _AB_KINDS:
            name = _AB_KINDS[kind]
            setattr(self, name, [*getattr(self, name), (arg, hits)])
        else:
            self.residual = [*self.residual, (cond, hits, value_test(cond))]
        self._choose_lookup()

    def _unplace(self, cond: Cond, settle: bool = True) -> None:
        """Undo ``_place``. ``settle=False`` leaves the derived tables and the lookup as they
        are, for ``_replace``, whose ``_place`` at once redoes them."""
        kind, arg = cond
        if kind == EXACT_STR:
            del self.exact_str[arg]
            del self.exact_code[arg]
        elif kind == EXACT_NUM:
            del self.exact_num[arg]
        elif kind == EXACT_LIT:
            del self.exact_lit[arg]
        elif kind == EQ_IC:
            del self.eq_ic[arg]
            if settle:
                self._refresh_affixes()
        elif kind in _AFFIX_TABLES:
            table = getattr(self, _AFFIX_TABLES[kind])
            del table[len(arg)][arg]
            if not table[len(arg)]:
                del table[len(arg)]
            if settle:
                self._refresh_affixes()
        elif kind == NUMERIC:
            del self.numeric[arg]
            self.num_dirty = True
        elif kind == EXISTS:
            if arg:
                self.exists_true = None
            else:
                self.exists_false = None
        elif kind in _AB_KINDS:
            name = _AB_KINDS[kind]
            setattr(self, name, [(a, h) for a, h in getattr(self, name) if a != arg])
        else:
            self.residual = [r for r in self.residual if r[0] != cond]
        if settle:
            self._choose_lookup()

    def _build_numeric(self) -> None:
        """Boundaries of all ranges, sorted; slot 2j+1 is the point j, slot 2j the gap below it."""
        points = sorted({x for lo, _, hi, _ in self.numeric for x in (lo, hi) if x not in (_INF, -_INF)})
        where = {x: j for j, x in enumerate(points)}
        last = 2 * len(points)
        slots: list[list[HitList]] = [[] for _ in range(last + 1)]
        for (lo, lo_open, hi, hi_open), hits in self.numeric.items():
            start = 0 if lo == -_INF else 2 * where[lo] + (2 if lo_open else 1)
            end = last if hi == _INF else 2 * where[hi] + (0 if hi_open else 1)
            for s in range(start, end + 1):
                slots[s].append(hits)
        self.num_points = points
        self.num_slots = [tuple(s) for s in slots]
        self.num_dirty = False

    # -- matching ----------------------------------------------------------------------------
    def _lookup_exact_str(self, values: list[Any], out: list[HitList]) -> None:
        """``lookup`` when the field holds only exact strings (a non-string never equals one)."""
        get = self.exact_str.get
        for v in values:
            h = get(v)
            if h is not None:
                out.append(h)

    def _lookup_str(self, values: list[Any], out: list[HitList]) -> None:
        """``lookup`` when the field holds only string conditions that dicts answer (exact,
        prefix, suffix and their ignore-case forms)."""
        exact = self.exact_str
        prefix_lens = self.prefix_lens
        suffix_lens = self.suffix_lens
        ic = self.has_ic
        append = out.append
        for v in values:
            if type(v) is not str:
                continue
            h = exact.get(v)
            if h is not None:
                append(h)
            _probe_affixes(v, prefix_lens, suffix_lens, append)
            if ic:
                f = v.lower()
                h = self.eq_ic.get(f)
                if h is not None:
                    append(h)
                if self.prefix_ic_lens or self.suffix_ic_lens:
                    _probe_affixes(f, self.prefix_ic_lens, self.suffix_ic_lens, append)

    def _ranges_lookup(self) -> Callable[[list[Any], list[HitList]], None] | None:
        """``lookup`` for a few numeric ranges and nothing else: each value against each range
        (cheaper than the boundary table's bisect at that size); None otherwise."""
        if self.exact_num or len(self.numeric) > _FEW_RANGES:
            return None
        ranges = []
        for arg, hits in self.numeric.items():
            closed = closed_range(arg)
            if closed is None:
                return None
            ranges.append((*closed, hits))
        return ranges_lookup(tuple(ranges))

    def _affix_lookup(self) -> Callable[[list[Any], list[HitList]], None] | None:
        """``lookup`` for the common string-only shapes: ignore-case equality or prefixes, each
        with or without exact strings; None for the others."""
        exact = self.exact_str
        if self.eq_ic and not (self.prefix or self.suffix or self.prefix_ic or self.suffix_ic):
            get_ic = self.eq_ic.get
            get = exact.get

            def eq_ic(values: list[Any], out: list[HitList]) -> None:
                for v in values:
                    if type(v) is str:
                        if exact:
                            h = get(v)
                            if h is not None:
                                out.append(h)
                        h = get_ic(v.lower())
                        if h is not None:
                            out.append(h)

            return eq_ic
        if self.prefix and not (self.eq_ic or self.suffix or self.prefix_ic or self.suffix_ic):
            lens = self.prefix_lens
            get = exact.get

            def prefix(values: list[Any], out: list[HitList]) -> None:
                append = out.append
                for v in values:
                    if type(v) is not str:
                        continue
                    if exact:
                        h = get(v)
                        if h is not None:
                            append(h)
                    _probe_affixes(v, lens, (), append)

            return prefix
        return None

    def _text_lookup(self) -> Callable[[list[Any], list[HitList]], None]:
        """``lookup`` when the field holds string conditions, anything-but over strings and
        conditions tested one by one, but no numbers, literals or ``exists``: a closure over the
        tables held now (chosen again on every change)."""
        get = self.exact_str.get
        exact = self.exact_str
        prefix_lens = self.prefix_lens
        suffix_lens = self.suffix_lens
        affixes = bool(prefix_lens or suffix_lens)
        ic = self.has_ic
        get_ic = self.eq_ic.get
        ic_affixes = bool(self.prefix_ic_lens or self.suffix_ic_lens)
        prefix_ic_lens = self.prefix_ic_lens
        suffix_ic_lens = self.suffix_ic_lens
        ab_str = tuple(self.ab_str)
        ab_ic = tuple(self.ab_ic)
        ab_prefix = tuple(self.ab_prefix)
        ab_suffix = tuple(self.ab_suffix)
        # A value of another type is never refused by an anything-but over strings.
        not_str = tuple(hits for group in (ab_str, ab_ic, ab_prefix, ab_suffix) for _, hits in group)
        residual = tuple((hits, holds) for _, hits, holds in self.residual)

        def text(values: list[Any], out: list[HitList]) -> None:
            append = out.append
            for v in values:
                if type(v) is str:
                    if exact:
                        h = get(v)
                        if h is not None:
                            append(h)
                    if affixes:
                        _probe_affixes(v, prefix_lens, suffix_lens, append)
                    if ic or ab_ic:
                        f = v.lower()
                        if ic:
                            h = get_ic(f)
                            if h is not None:
                                append(h)
                            if ic_affixes:
                                _probe_affixes(f, prefix_ic_lens, suffix_ic_lens, append)
                        for arg, hits in ab_ic:
                            if f not in arg:
                                append(hits)
                    for arg, hits in ab_str:
                        if v not in arg:
                            append(hits)
                    for arg, hits in ab_prefix:
                        if not v.startswith(arg):
                            append(hits)
                    for arg, hits in ab_suffix:
                        if not v.endswith(arg):
                            append(hits)
                else:
                    out.extend(not_str)
                for hits, holds in residual:
                    if holds(v):
                        append(hits)

        return text

    def _lookup_numeric(self, values: list[Any], out: list[HitList]) -> None:
        """``lookup`` when the field holds only numbers and numeric ranges: a dict probe and
        one bisect per distinct number."""
        if self.num_dirty:
            self._build_numeric()
        exact = self.exact_num
        points = self.num_points
        n = len(points)
        slots = self.num_slots
        done: set[int] = set()
        for v in values:
            t = type(v)
            if t is float:
                x = v
            elif t is int:
                x = comparable(v)
            else:
                continue  # strings, and booleans (which must not meet the number 1)
            if exact:
                h = exact.get(v)
                if h is not None:
                    out.append(h)
            if n and x is not None:
                j = bisect_left(points, x)
                slot = 2 * j + 1 if j < n and points[j] == x else 2 * j
                if slot not in done:
                    done.add(slot)
                    out.extend(slots[slot])

    def _lookup_general(self, values: list[Any], out: list[HitList]) -> None:
        """Append to ``out`` the hit list of every condition some value in ``values`` meets."""
        if self.exists_true is not None:
            out.append(self.exists_true)
        if self.num_dirty:
            self._build_numeric()
        append = out.append
        for v in values:
            t = type(v)
            if t is str:
                h = self.exact_str.get(v)
                if h is not None:
                    append(h)
                if self.prefix_lens or self.suffix_lens:
                    _probe_affixes(v, self.prefix_lens, self.suffix_lens, append)
                if self.has_ic:
                    f = v.lower()
                    h = self.eq_ic.get(f)
                    if h is not None:
                        append(h)
                    if self.prefix_ic_lens or self.suffix_ic_lens:
                        _probe_affixes(f, self.prefix_ic_lens, self.suffix_ic_lens, append)
                for arg, hits in self.ab_str:
                    if v not in arg:
                        append(hits)
                if self.ab_ic:
                    f = v.lower()
                    for arg, hits in self.ab_ic:
                        if f not in arg:
                            append(hits)
                for arg, hits in self.ab_prefix:
                    if not v.startswith(arg):
                        append(hits)
                for arg, hits in self.ab_suffix:
                    if not v.endswith(arg):
                        append(hits)
                for _arg, hits in self.ab_num:
                    append(hits)
            elif t is int or t is float:
                h = self.exact_num.get(v)
                if h is not None:
                    append(h)
                if self.numeric:
                    x = comparable(v)
                    if x is not None:
                        points = self.num_points
                        j = bisect_left(points, x)
                        slot = 2 * j + 1 if j < len(points) and points[j] == x else 2 * j
                        out.extend(self.num_slots[slot])
                for arg, hits in self.ab_num:
                    if v not in arg:
                        append(hits)
                for group in (self.ab_str, self.ab_ic, self.ab_prefix, self.ab_suffix):
                    for _arg, hits in group:
                        append(hits)
            else:
                key = literal_key(v)
                if key is not None:
                    h = self.exact_lit.get(key)
                    if h is not None:
                        append(h)
                for group in (self.ab_str, self.ab_num, self.ab_ic, self.ab_prefix, self.ab_suffix):
                    for _arg, hits in group:
                        append(hits)
            if self.residual:
                for _, hits, holds in self.residual:
                    if holds(v):
                        append(hits)


def _probe_affixes(
    text: str,
    prefix_lens: tuple[tuple[int, dict[str, HitList]], ...],
    suffix_lens: tuple[tuple[int, dict[str, HitList]], ...],
    append: Any,
) -> None:
    """Append the hit lists of the prefixes and suffixes of ``text`` that rules name: one dict
    probe per distinct length (tables are sorted by length, so stop at the first too long)."""
    n = len(text)
    for length, table in prefix_lens:
        if length > n:
            break
        h = table.get(text[:length])
        if h is not None:
            append(h)
    for length, table in suffix_lens:
        if length > n:
            break
        h = table.get(text[n - length :])
        if h is not None:
            append(h)


@lru_cache(maxsize=4096)  # one shared tuple for a range many states test (cache-friendly)
def closed_range(arg: tuple[float, bool, float, bool]) -> tuple[float, float] | None:
    """The numeric range ``arg`` as ``(low, high)`` with both ends included, which holds the
    same float64 values (an open end moves to the next double inward), or None when an open end
    is infinite (not from a JSON pattern, but kept exact)."""
    low, low_open, high, high_open = arg
    if low_open:
        if low in (_INF, -_INF):
            return None
        low = nextafter(low, _INF)
    if high_open:
        if high in (_INF, -_INF):
            return None
        high = nextafter(high, -_INF)
    return low, high


def ranges_lookup(table: tuple[tuple[float, float, HitList], ...]) -> Callable[[list[Any], list[HitList]], None]:
    """``lookup`` testing each value against inclusive ranges ``(low, high, hits)``, each hit
    list appended once."""

    def ranges(values: list[Any], out: list[HitList]) -> None:
        met: set[int] = set()
        for v in values:
            t = type(v)
            if t is float:
                x = v if v == v else -_INF  # NaN sorts first in the boundary table too
            elif t is int:
                x = comparable(v)
                if x is None:
                    continue
            else:
                continue  # strings, and booleans (which must not meet the number 1)
            for j, (low, high, hits) in enumerate(table):
                if low <= x <= high and j not in met:
                    met.add(j)
                    out.append(hits)

    ranges.table = table  # type: ignore[attr-defined]  # the Matcher's inline form reads it
    return ranges


def cidrs_lookup(blocks: tuple[tuple[int, int, int, HitList], ...]) -> Callable[[list[Any], list[HitList]], None]:
    """``lookup`` for CIDR blocks ``(version, lowest, highest, hits)`` alone on a path, each
    block's hit list appended once. A value that begins with none of the blocks' leading octets
    is skipped unread; when every block is IPv4 on an octet boundary, a value in the blocks is a
    dotted quad beginning with a block's leading octets, so no address is parsed at all."""
    leads = tuple(_lead(version, low, high) for version, low, high, _ in blocks)
    if all(version == 4 and (high - low).bit_length() % 8 == 0 for version, low, high, _ in blocks):
        table = tuple((lead, hits) for lead, (_, _, _, hits) in zip(leads, blocks, strict=True))

        def octets(values: list[Any], out: list[HitList]) -> None:
            met: set[int] = set()
            for v in values:
                if type(v) is str and v.startswith(leads) and _dotted_quad(v) is not None:
                    for j, (lead, hits) in enumerate(table):
                        if v.startswith(lead) and j not in met:
                            met.add(j)
                            out.append(hits)

        return octets

    def cidrs(values: list[Any], out: list[HitList]) -> None:
        met: set[int] = set()
        for v in values:
            if type(v) is not str or not v.startswith(leads):
                continue
            ip = ip_to_int(v)
            if ip is None:
                continue
            version, x = ip
            for j, (block_version, low, high, hits) in enumerate(blocks):
                if block_version == version and low <= x <= high and j not in met:
                    met.add(j)
                    out.append(hits)

    return cidrs


def _lead(version: int, low: int, high: int) -> str:
    """The leading octets every IPv4 address in the block is written with (an address literal
    has no leading zeros), with their dots; empty for IPv6 and blocks under /8."""
    whole = (32 - (high - low).bit_length()) // 8 if version == 4 else 0
    return "".join(f"{(low >> (24 - 8 * i)) & 255}." for i in range(whole))


def single_lookup(cond: Cond, hits: HitList) -> Callable[[list[Any], list[HitList]], None] | None:
    """``lookup`` for an index holding ``cond`` alone: append ``hits`` once if some value meets
    ``cond`` (exactly ``test``'s answer), else nothing. None for kinds left to the general path."""
    kind, arg = cond
    if kind == NUMERIC:
        closed = closed_range(arg)
        return None if closed is None else ranges_lookup(((*closed, hits),))
    if kind == CIDR:
        version, low, high = arg
        # A prefix test on the block's leading octets spares parsing most other addresses.
        lead = _lead(version, low, high)
        if version == 4 and (high - low).bit_length() % 8 == 0:
            # A block on an octet boundary holds exactly the dotted quads that begin with its
            # leading octets: one regular expression tells, without parsing the address.
            whole = lead.count(".")
            rest = r"\.".join([_OCTET] * (4 - whole))
            in_block = re.compile(re.escape(lead) + rest).fullmatch

            def octets(values: list[Any], out: list[HitList]) -> None:
                for v in values:
                    if type(v) is str and v.startswith(lead) and in_block(v) is not None:
                        out.append(hits)
                        return

            return octets

        def cidr(values: list[Any], out: list[HitList]) -> None:
            for v in values:
                if type(v) is str and v.startswith(lead):
                    ip = ip_to_int(v)
                    if ip is not None and ip[0] == version and low <= ip[1] <= high:
                        out.append(hits)
                        return

        return cidr
    if kind == AB_STR:

        def ab_str(values: list[Any], out: list[HitList]) -> None:
            for v in values:
                if type(v) is not str or v not in arg:  # other types are never refused
                    out.append(hits)
                    return

        return ab_str
    pred = _STR_TESTS.get(kind)
    if pred is not None:
        test_one = pred(arg)

        def text(values: list[Any], out: list[HitList]) -> None:
            for v in values:
                if type(v) is str and test_one(v):
                    out.append(hits)
                    return

        return text
    if kind == WILDCARD:
        matches = arg.matches

        def wildcard(values: list[Any], out: list[HitList]) -> None:
            for v in values:
                if type(v) is str and matches(v):
                    out.append(hits)
                    return

        return wildcard
    return None


# One IPv4 octet as event-ruler writes it: 0-255, no leading zero, ASCII digits only.
_OCTET = "(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_dotted_quad = re.compile(r"\.".join([_OCTET] * 4)).fullmatch

# One-string tests for the single-condition lookups (the argument is already case-folded for
# the ignore-case kinds).
_STR_TESTS: dict[int, Callable[[Any], Callable[[str], bool]]] = {
    PREFIX: lambda a: lambda v: v.startswith(a),
    SUFFIX: lambda a: lambda v: v.endswith(a),
    PREFIX_IC: lambda a: lambda v: v.lower().startswith(a),
    SUFFIX_IC: lambda a: lambda v: v.lower().endswith(a),
    EQ_IC: lambda a: lambda v: v.lower() == a,
}

_AFFIX_TABLES = {PREFIX: "prefix", PREFIX_IC: "prefix_ic", SUFFIX: "suffix", SUFFIX_IC: "suffix_ic"}
_AB_KINDS = {AB_STR: "ab_str", AB_NUM: "ab_num", AB_IC: "ab_ic", AB_PREFIX: "ab_prefix", AB_SUFFIX: "ab_suffix"}

__all__ = ["PathIndex", "Hit", "HitList", "CIDR"]
