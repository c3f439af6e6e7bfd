"""The ``wildcard`` operator: parsing (with AWS's messages), matching, and a complexity bound.

A wildcard is literal text with ``*`` standing for any run of characters; ``\\*`` and ``\\\\``
are a literal star and backslash. Matching splits the pattern at its stars and places the
literal pieces left to right with ``str.find``; with only ``*`` (no single-character wildcard)
taking the leftmost place for each piece is always right, so a match costs at most
O(len(value) * len(pattern)) and never backtracks.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

STAR = None  # token for ``*`` in a parsed wildcard; literal characters are 1-char strings


class WildcardSyntaxError(ValueError):
    """A wildcard EventBridge refuses; the message is AWS's reason text."""


def parse_wildcard(text: str) -> list[str | None]:
    """Tokens of ``text``: characters, and ``STAR`` for each unescaped ``*``.

    Positions in messages count UTF-8 bytes of the value with its opening quote, as AWS does.
    """
    tokens: list[str | None] = []
    pos = 1  # AWS counts from the quote that opens the JSON string
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if c == "*":
            if i + 1 < n and text[i + 1] == "*":
                raise WildcardSyntaxError(f"Consecutive wildcard characters at pos {pos}")
            tokens.append(STAR)
        elif c == "\\":
            if i + 1 < n and text[i + 1] in "*\\":
                tokens.append(text[i + 1])
                i += 2
                pos += 2
                continue
            raise WildcardSyntaxError(f"Invalid escape character at pos {pos}")
        else:
            tokens.append(c)
        pos += len(c.encode("utf-8", "surrogatepass"))
        i += 1
    return tokens


class Wildcard:
    """A compiled wildcard: the literal pieces between its stars."""

    __slots__ = ("pieces", "text", "_first", "_last", "_mids", "_min_len", "_exact")

    def __init__(self, text: str) -> None:
        tokens = parse_wildcard(text)
        pieces: list[str] = [""]
        for tok in tokens:
            if tok is STAR:
                pieces.append("")
            else:
                pieces[-1] += tok
        self.text = text
        self.pieces = tuple(pieces)
        self._exact = len(pieces) == 1
        self._first = pieces[0]
        self._last = pieces[-1]
        self._mids = tuple(p for p in pieces[1:-1] if p)
        self._min_len = len(self._first) + len(self._last)

    def matches(self, value: str) -> bool:
        """True when ``value`` (a string) is matched by this wildcard."""
        if self._exact:
            return value == self._first
        if len(value) < self._min_len or not value.startswith(self._first) or not value.endswith(self._last):
            return False
        pos = len(self._first)
        end = len(value) - len(self._last)
        for piece in self._mids:
            k = value.find(piece, pos, end)
            if k < 0:
                return False
            pos = k + len(piece)
        return True

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Wildcard) and other.pieces == self.pieces

    def __hash__(self) -> int:
        return hash(self.pieces)

    def __repr__(self) -> str:
        return f"Wildcard({self.text!r})"


def complexity(texts: Iterable[str], cap: int) -> int:
    """The most wildcard-pattern prefixes one input can keep alive at once, capped at ``cap+1``.

    This is the measure event-ruler's MachineComplexityEvaluator reports for the wildcards of one
    field: run all the patterns' automata together over every distinct input (a subset
    construction over the characters the patterns mention plus one "other" character) and take
    the largest set of live states after at least one character. AWS refuses a rule whose
    measure exceeds its limit, so no rule can make matching blow up.
    """
    automata: list[Sequence[str | None]] = [parse_wildcard(t) for t in texts]
    if not any(STAR in a for a in automata):
        return 1 if automata else 0
    alphabet = {tok for a in automata for tok in a if tok is not STAR}
    alphabet.add("\x00other")

    def close(states: set[tuple[int, int]]) -> frozenset[tuple[int, int]]:
        todo = list(states)
        out = set(states)
        while todo:
            p, k = todo.pop()
            toks = automata[p]
            if k < len(toks) and toks[k] is STAR and (p, k + 1) not in out:
                out.add((p, k + 1))
                todo.append((p, k + 1))
        return frozenset(out)

    def step(states: frozenset[tuple[int, int]], c: str) -> frozenset[tuple[int, int]]:
        nxt: set[tuple[int, int]] = set()
        for p, k in states:
            toks = automata[p]
            if k > 0 and toks[k - 1] is STAR:
                nxt.add((p, k))  # the star absorbs c
            if k < len(toks) and toks[k] == c:
                nxt.add((p, k + 1))
        return close(nxt)

    start = close({(p, 0) for p in range(len(automata))})
    seen = {start}
    frontier = [start]
    best = 0
    budget = 20000  # subsets explored; beyond this the patterns are certainly too complex
    while frontier:
        states = frontier.pop()
        for c in alphabet:
            nxt = step(states, c)
            if not nxt or nxt in seen:
                continue
            best = max(best, len(nxt))
            if best > cap:
                return cap + 1
            seen.add(nxt)
            frontier.append(nxt)
            budget -= 1
            if budget <= 0:
                return cap + 1
    return best
