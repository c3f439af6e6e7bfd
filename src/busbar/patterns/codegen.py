"""Each state of the Matcher's machine, compiled: one shared function per shape, one tuple per state.

A state's *forms* (``forms``) say what it tests, path by path. Walking them in a general loop costs
a dispatch per form and a read of several objects per state; with thousands of rules the states
take turns, so each of those objects is a likely cache miss. Instead a state becomes its *code*,
the tuple ``(run, state, constants...)``: ``run`` is written for the state's *shape* (its forms'
shapes, in path order), generated once and shared by every state of that shape; the constants sit
in the one tuple and ``run`` reads each where it uses it (``code[5]``). Hit lists hold the codes of
the next states, so a hit is a call ``code[0](get, out, seen, ctx, code)``. (A code changes when its
state does; the Matcher then puts the new one where the parent's tables held the old.)

``run(get, out, seen, ctx, code)``: ``get`` reads an event's values at a slot (``dict.get`` of the
gathered values), ``out`` collects the names of matched rules, ``seen`` holds the ids of the states
entered during this match (a state can be reached from two conditions, or two values, of one
path), and ``ctx`` is None unless an alternative may need the same-array-element check
(``confirm`` does it).

Generated functions are named after their shape (``state_exact_table__numeric``: an exact table on
one path, a numeric test on the next) and kept in ``linecache`` (``pysource``), so that
tracebacks, ``inspect`` and ``Matcher.describe(source=True)`` show them. A state with many fields gets one function per
field instead, called in turn, so that shapes stay few and short.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable
from typing import Any

from . import pysource
from .conditions import NAMESPACE
from .forms import Form

Code = tuple[Any, ...]  # (run, state, constants...)
MAX_INLINE_FIELDS = 8  # more fields: one function per field, called in turn
MAX_SHAPES = 4096  # generated functions kept; past that, new shapes of several fields go field by field
_MAX_NAME = 60


def noop(get: Any, out: dict[Any, None], seen: set[int], ctx: Any, code: Code) -> None:
    """``run`` of a state that tests nothing (yet)."""


def chain(get: Any, out: dict[Any, None], seen: set[int], ctx: Any, code: Code) -> None:
    """``run`` of a state with many fields: ``code[2]`` holds one code per field."""
    for c in code[2]:
        c[0](get, out, seen, ctx, c)


def take(hits: str, ind: str) -> list[str]:
    """Lines that take every target of the hit list ``hits`` (see ``forms.compact``): a state's
    code (entered once per match), a rule's name, or an alternative to confirm."""
    enter = [
        f"{ind}    i = id(h)",
        f"{ind}    if i not in seen:",
        f"{ind}        seen.add(i)",
        f"{ind}        h[0](get, out, seen, ctx, h)",
    ]
    return [
        *([] if hits == "h" else [f"{ind}h = {hits}"]),
        f"{ind}if type(h) is tuple:  # one state's code",
        *enter,
        f"{ind}else:",
        f"{ind}    for tg in h:",
        f"{ind}        tk = type(tg)",
        f"{ind}        if tk is str:  # a rule's name (the usual one)",
        f"{ind}            out[tg] = None",
        f"{ind}        elif tk is tuple:",
        f"{ind}            i = id(tg)",
        f"{ind}            if i not in seen:",
        f"{ind}                seen.add(i)",
        f"{ind}                tg[0](get, out, seen, ctx, tg)",
        f"{ind}        elif tk is not Sub:  # a rule's name of another type",
        f"{ind}            out[tg] = None",
        f"{ind}        elif ctx is None:",
        f"{ind}            out[tg.name] = None",
        f"{ind}        else:",
        f"{ind}            confirm(tg, out, seen, ctx)",
    ]


class Compiler:
    """Writes and caches the shared functions. ``sub_type`` is the Matcher's class of alternatives
    to confirm (besides codes, anything else in a hit list is a rule name); ``confirm(sub, out,
    seen, ctx)`` checks one with the same-array-element rule."""

    def __init__(self, sub_type: type, confirm: Callable[..., None]) -> None:
        self._globals = {**NAMESPACE, "Sub": sub_type, "confirm": confirm, "bisect_left": bisect_left}
        self._runs: dict[tuple[Any, ...], Callable[..., None]] = {}

    def build(self, state: Any, forms: tuple[Form, ...]) -> Code:
        """The code of ``state`` testing ``forms``."""
        if not forms:
            return (noop, state)
        shape = tuple(form.shape for form in forms)
        run = self._runs.get(shape)
        if run is None:
            if len(forms) > MAX_INLINE_FIELDS or (len(forms) > 1 and len(self._runs) >= MAX_SHAPES):
                return (chain, state, tuple(self.build(None, (form,)) for form in forms))
            run = self._runs[shape] = self._generate(forms)
        return (run, state, *(c for form in forms for c in form.constants()))

    def _generate(self, forms: tuple[Form, ...]) -> Callable[..., None]:
        """The function for the shape of ``forms``."""
        name = "state_" + "__".join(form.label for form in forms)
        if len(name) > _MAX_NAME:
            name = f"{name[:_MAX_NAME]}_{len(self._runs)}"
        lines = [f"def {name}(get, out, seen, ctx, code):"]
        k = 2
        for form in forms:
            lines += form.source([f"code[{j}]" for j in range(k, k + form.size)], take, "    ")
            k += form.size
        return pysource.define("\n".join(lines) + "\n", name, dict(self._globals))  # type: ignore[no-any-return]
