"""``equals-ignore-case``, and the ignore-case forms of ``prefix``, ``suffix`` and ``anything-but``,
as event-ruler defines them.

event-ruler (``EqualsIgnoreCaseParser``) reads the pattern one character at a time and lets each
character ``c`` stand for exactly two spellings: ``c`` lower-cased and ``c`` upper-cased (Java's
``String.toLowerCase``/``toUpperCase`` of that one character, ``Locale.ROOT``). A value matches
when it spells the whole pattern (a prefix of itself, a suffix of itself) with one of the two
spellings for every character; the value itself is never case-folded. So:

- ``"straße"`` matches ``"STRASSE"`` (``ß`` upper-cases to ``SS``) but not ``"strasse"``, and the
  pattern ``"STRASSE"`` does not match ``"straße"``;
- the pattern ``"k"`` matches ``"k"`` and ``"K"`` but not the Kelvin sign ``"K"`` (which
  lower-cases to ``k``); ``"σ"`` matches ``"Σ"`` but not the final ``"ς"``; ``"ı"`` (dotless)
  matches ``"I"``; ``"İ"`` matches ``"i̇"`` (``i`` and a combining dot).

A pattern written in ASCII (nearly all of them) has only ASCII spellings, so a value matches it
exactly when the value's ASCII letters, lower-cased, spell it with every other character
unchanged: ``ascii_fold`` gives that key, and the Matcher indexes ASCII patterns by it. A pattern
with other letters is a ``CaseVariants``, tested one value at a time.

One difference from event-ruler, on purpose: Java walks UTF-16 code units, so a character outside
the Basic Multilingual Plane (an emoji) would stand for its two halves, each unmatchable; here
every code point stands for itself lower- and upper-cased.
"""

from __future__ import annotations

_ASCII_LOWER = {c: c + 32 for c in range(ord("A"), ord("Z") + 1)}


def ascii_fold(text: str) -> str:
    """``text`` with its ASCII letters lower-cased and every other character unchanged: the key
    under which a value meets an ASCII ignore-case pattern (see the module)."""
    return text.lower() if text.isascii() else text.translate(_ASCII_LOWER)


class CaseVariants:
    """A pattern text with non-ASCII letters, read as event-ruler reads an ignore-case pattern:
    per character, its lower- and its upper-cased spelling."""

    __slots__ = ("text", "_choices")

    def __init__(self, text: str) -> None:
        self.text = text
        self._choices = tuple(tuple(dict.fromkeys((c.lower(), c.upper()))) for c in text)

    def _ends(self, value: str) -> set[int]:
        """Where in ``value`` a spelling of the pattern that begins at 0 can end."""
        ends = {0}
        for choices in self._choices:
            ends = {end + len(s) for end in ends for s in choices if value.startswith(s, end)}
            if not ends:
                break
        return ends

    def equals(self, value: str) -> bool:
        """Does ``value`` spell the pattern?"""
        return len(value) in self._ends(value)

    def begins(self, value: str) -> bool:
        """Does ``value`` begin with a spelling of the pattern?"""
        return bool(self._ends(value))

    def ends(self, value: str) -> bool:
        """Does ``value`` end with a spelling of the pattern?"""
        starts = {len(value)}
        for choices in reversed(self._choices):
            starts = {start - len(s) for start in starts for s in choices if value.endswith(s, 0, start)}
            if not starts:
                return False
        return True

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CaseVariants) and other.text == self.text

    def __hash__(self) -> int:
        return hash(("CaseVariants", self.text))

    def __repr__(self) -> str:
        return f"CaseVariants({self.text!r})"
