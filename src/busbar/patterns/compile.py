"""Pattern text -> ``CompiledPattern``, refusing what EventBridge refuses, with AWS's words and
AWS's parser position.

The walk is event-ruler's ``JsonRuleCompiler`` (as deployed with "last duplicate wins"): it pulls
tokens from a Jackson-style reader (``parse.JsonReader``) in the same order and refuses a
pattern at the same token, so when a pattern has several problems the one reported is the one AWS
reports, and the message ends with the same location (see ``parse`` for the rule). ``$or``
multiplies the alternatives: each alternative is a plain AND of fields, and the pattern matches
when any alternative does.
"""

from __future__ import annotations

import json
from decimal import Decimal
from math import inf, isinf, isnan, nextafter
from typing import Any

from .cidr import Block as CidrBlock
from .cidr import CidrSyntaxError, ip_to_int, parse_cidr
from .conditions import (
    ANYTHING_BUT,
    ANYTHING_BUT_IC,
    ANYTHING_BUT_IC_VARIANTS,
    ANYTHING_BUT_NUMBER,
    ANYTHING_BUT_PREFIX,
    ANYTHING_BUT_SUFFIX,
    ANYTHING_BUT_WILDCARD,
    CIDR,
    EQUALS_IC,
    EQUALS_IC_VARIANTS,
    EXACT,
    EXACT_NUMBER,
    EXISTS,
    LITERAL,
    NUMERIC,
    PREFIX,
    PREFIX_IC,
    PREFIX_IC_VARIANTS,
    SUFFIX,
    SUFFIX_IC,
    SUFFIX_IC_VARIANTS,
    WILDCARD,
    AnyOf,
    Cond,
)
from .errors import InvalidEventPattern, PatternLimits
from .ignorecase import CaseVariants, ascii_fold
from .parse import NUMBERS, JsonReader, JsonSyntaxError, Token
from .wildcard import Wildcard, WildcardSyntaxError, complexity

Path = tuple[str, ...]
Alternative = dict[Path, tuple[Cond, ...]]

OR_KEY = "$or"
_RESERVED_IN_OR = frozenset(
    {
        "exactly",
        "equals-ignore-case",
        "prefix",
        "suffix",
        "anything-but",
        "exists",
        "wildcard",
        "numeric",
        "cidr",
        "=",
        "<",
        "<=",
        ">",
        ">=",
        "regex",
    }
)
_LITERALS = {Token.TRUE: True, Token.FALSE: False, Token.NULL: None}
_ONE_KEY = "Only one key allowed in match expression"
_TOO_MANY = "Too many elements in numeric expression"  # event-ruler's words, also for anything-but


class CompiledPattern:
    """A validated pattern: ``alternatives`` (from ``$or``), each mapping a field path (the key
    split at dots, so ``{"a": {"b.c": ...}}`` is ``("a", "b", "c")``) to its conditions."""

    __slots__ = ("alternatives", "paths", "text")

    def __init__(self, alternatives: list[Alternative], text: str | None) -> None:
        self.alternatives: tuple[Alternative, ...] = tuple(alternatives)
        self.paths: frozenset[Path] = frozenset(p for alt in alternatives for p in alt)
        self.text = text

    def __repr__(self) -> str:
        return f"CompiledPattern({self.alternatives!r})"


def split_key(key: str) -> Path:
    """A pattern or event key as path segments: EventBridge joins nested keys with dots, so a
    dotted key and the same keys nested are one field."""
    return tuple(key.split(".")) if "." in key else (key,)


def compile_pattern(pattern: Any, limits: PatternLimits | None = None) -> CompiledPattern:
    """Validate and compile ``pattern`` (JSON text, bytes, a dict, or a CompiledPattern). A dict
    is read as its ``json.dumps`` text, which is what boto3 sends for it."""
    if isinstance(pattern, CompiledPattern):
        return pattern
    limits = limits or PatternLimits()
    if isinstance(pattern, (bytes, bytearray, memoryview)):
        pattern = bytes(pattern).decode("utf-8")
    if isinstance(pattern, dict):
        try:
            pattern = json.dumps(pattern)
        except (TypeError, ValueError):
            raise InvalidEventPattern("Filter is not an object") from None
    if not isinstance(pattern, str):
        raise InvalidEventPattern("Filter is not an object")
    if len(pattern) > limits.max_pattern_chars:
        raise InvalidEventPattern(
            f"Event pattern is {len(pattern)} characters long; the limit is {limits.max_pattern_chars}"
        )
    try:
        alternatives = _Walk(JsonReader(pattern), limits).pattern()
    except JsonSyntaxError as exc:
        raise InvalidEventPattern(exc.reason, exc.where) from None
    for alt in alternatives:
        if len(alt) > limits.max_fields:
            raise InvalidEventPattern(
                f"Event pattern has {len(alt)} fields in one alternative; the limit is {limits.max_fields}"
            )
    _check_wildcard_complexity(alternatives, limits)
    return CompiledPattern(alternatives, pattern)


class _Unplaced(Exception):
    """A refusal event-ruler raises outside its parser (IllegalArgumentException): AWS's message
    then has no parser position."""

    def __init__(self, reason: str) -> None:
        self.reason = reason


class _Walk:
    """One pass over a pattern's tokens, in JsonRuleCompiler's order."""

    def __init__(self, reader: JsonReader, limits: PatternLimits) -> None:
        self.r = reader
        self.limits = limits

    def refuse(self, reason: str) -> JsonSyntaxError:
        """event-ruler's ``barf``: refused at the parser's current location."""
        return JsonSyntaxError(reason, self.r.here())

    def pattern(self) -> list[Alternative]:
        if self.r.next() is not Token.START_OBJECT:
            raise self.refuse("Filter is not an object")
        rules: list[Alternative] = []
        try:
            self.object(rules, (), in_or=False)
        except _Unplaced as exc:
            raise InvalidEventPattern(exc.reason) from None
        return rules

    # -- structure ---------------------------------------------------------------------------
    def object(self, rules: list[Alternative], path: Path, in_or: bool) -> None:
        r = self.r
        fields = False
        while r.next() is not Token.END_OBJECT:
            fields = True
            name = r.name
            if name == OR_KEY:
                self.or_(rules, path)
                continue
            if in_or and name in _RESERVED_IN_OR:
                raise self.refuse(f"{name} is Ruler reserved fieldName which cannot be used inside {OR_KEY}.")
            token = r.next()
            if token is Token.START_OBJECT:
                self.object(rules, path + split_key(name), in_or)
            elif token is Token.START_ARRAY:
                self.field(rules, path + split_key(name))
            else:
                raise self.refuse(f'"{name}" must be an object or an array')
        if not fields:
            raise self.refuse("Empty objects are not allowed")

    def or_(self, rules: list[Alternative], path: Path) -> None:
        before = [dict(rule) for rule in rules]
        rules.clear()
        r = self.r
        if r.next() is not Token.START_ARRAY:
            raise self.refuse(f"It must be an Array followed with {OR_KEY}.")
        count = 0
        while (token := r.next()) is not Token.END_ARRAY:
            count += 1
            if token is not Token.START_OBJECT:
                raise self.refuse(f"Only JSON object is allowed in array of {OR_KEY} relationship.")
            branch = [dict(rule) for rule in before] or [{}]
            self.object(branch, path, in_or=True)
            rules.extend(branch)
            if len(rules) > self.limits.max_or_combinations:
                raise _Unplaced(
                    f"The $or in this pattern expands to more than {self.limits.max_or_combinations} combinations"
                )
        if count < 2:
            raise self.refuse(f"There must have at least 2 Objects in {OR_KEY} relationship.")

    def field(self, rules: list[Alternative], path: Path) -> None:
        r = self.r
        conds: list[Cond] = []
        while (token := r.next()) is not Token.END_ARRAY:
            if token is Token.START_OBJECT:
                conds.append(self.match_expression())
            elif token is Token.STRING:
                text = r.text()
                conds.append(Cond(EXACT, text))
                ip = ip_to_int(text)
                if ip is not None:
                    # An address also matches its other spellings (e.g. IPv6 zero compression).
                    conds.append(Cond(CIDR, CidrBlock(ip[0], ip[1], ip[1])))
            elif token in NUMBERS:
                conds.append(Cond(EXACT_NUMBER, r.number()))
            elif token in _LITERALS:
                conds.append(Cond(LITERAL, _LITERALS[token]))
            else:
                raise self.refuse("Match value must be String, number, true, false, or null")
        if not conds:
            raise self.refuse("Empty arrays are not allowed")
        if not rules:
            rules.append({})
        final = tuple(dict.fromkeys(conds))  # order kept, duplicates dropped
        for rule in rules:
            rule[path] = final  # a later duplicate of the same field replaces the earlier one

    # -- match expressions {"op": value} -----------------------------------------------------
    def match_expression(self) -> Cond:
        r = self.r
        if r.next() is not Token.FIELD_NAME:
            raise self.refuse("Match expression name not found")
        op = r.name
        if op == "exactly":
            return self.closed(Cond(EXACT, self.string("exact match pattern must be a string")))
        if op in ("prefix", "suffix"):
            token = r.next()
            if token is Token.START_OBJECT:
                return self.affix_ignore_case(op)
            if token is not Token.STRING:
                raise self.refuse(f"{op} match pattern must be a string")
            return self.closed(Cond(PREFIX if op == "prefix" else SUFFIX, r.text()))
        if op == "numeric":
            if r.next() is not Token.START_ARRAY:
                raise self.refuse("Value of numeric must be an array.")
            cond = self.numeric()
            if r.next() is not Token.END_OBJECT:
                raise self.refuse(_TOO_MANY)
            return cond
        if op == "anything-but":
            return self.anything_but()
        if op == "exists":
            token = r.next()
            if token is not Token.TRUE and token is not Token.FALSE:
                raise self.refuse("exists match pattern must be either true or false.")
            return self.closed(Cond(EXISTS, token is Token.TRUE))
        if op == "cidr":
            text = self.string("prefix match pattern must be a string")  # AWS's words for cidr too
            try:
                block = parse_cidr(text)
            except CidrSyntaxError as exc:
                raise _Unplaced(str(exc)) from None
            return self.closed(Cond(CIDR, block))
        if op == "equals-ignore-case":
            text = self.string("equals-ignore-case match pattern must be a string")
            return self.closed(_ignore_case(EQUALS_IC, EQUALS_IC_VARIANTS, text))
        if op == "wildcard":
            text = self.string("wildcard match pattern must be a string")
            return self.closed(Cond(WILDCARD, self.wildcard(text)))
        raise self.refuse(f"Unrecognized match type {op}")

    def string(self, refusal: str) -> str:
        """The next token's text, which must be a string."""
        if self.r.next() is not Token.STRING:
            raise self.refuse(refusal)
        return self.r.text()

    def closed(self, cond: Cond) -> Cond:
        """``cond``, once its match expression has ended (one key only)."""
        if self.r.next() is not Token.END_OBJECT:
            raise self.refuse(_ONE_KEY)
        return cond

    def affix_ignore_case(self, op: str) -> Cond:
        r = self.r
        if r.next() is not Token.FIELD_NAME:
            raise self.refuse(f"{op.capitalize()} expression name not found")
        if r.name != "equals-ignore-case":
            raise self.refuse(f"Unsupported {op} pattern: {r.name}")
        text = self.string("equals-ignore-case match pattern must be a string")
        if op == "prefix":
            cond = _ignore_case(PREFIX_IC, PREFIX_IC_VARIANTS, text)
        else:
            cond = _ignore_case(SUFFIX_IC, SUFFIX_IC_VARIANTS, text)
        self.closed(cond)
        return self.closed(cond)  # the outer {"prefix": {...}} ends too

    def wildcard(self, text: str) -> Wildcard:
        try:
            return Wildcard(text)
        except WildcardSyntaxError as exc:
            raise self.refuse(str(exc)) from None

    def anything_but(self) -> Cond:
        r = self.r
        op = ""
        token = r.next()
        if token is Token.START_OBJECT:
            if r.next() is not Token.FIELD_NAME:
                raise self.refuse("Anything-But expression name not found")
            op = r.name
            if op not in ("equals-ignore-case", "prefix", "suffix", "wildcard"):
                raise self.refuse(f"Unsupported anything-but pattern: {op}")
            token = r.next()
        if token is not Token.START_ARRAY and token is not Token.STRING and token not in NUMBERS:
            raise self.refuse("Value of anything-but must be an array or single string/number value.")
        if token is Token.START_ARRAY:
            cond = self.anything_but_list(op)
        else:
            cond = self.anything_but_value(op, token)
        if r.next() is not Token.END_OBJECT:
            raise self.refuse(_TOO_MANY)
        if op and r.next() is not Token.END_OBJECT:  # the inner {"prefix": ...} ends too
            raise self.refuse(_TOO_MANY)
        return cond

    def anything_but_value(self, op: str, token: Token | None) -> Cond:
        r = self.r
        if not op:
            if token is Token.STRING:
                return Cond(ANYTHING_BUT, frozenset((r.text(),)))
            return Cond(ANYTHING_BUT_NUMBER, frozenset((self.comparable(),)))
        if token is not Token.STRING:
            raise self.refuse(_not_a_string(op))
        text = r.text()
        if op in ("prefix", "suffix") and text == "":
            raise self.refuse("Null prefix/suffix not allowed")
        return self.anything_but_of(op, [text])

    def anything_but_list(self, op: str) -> Cond:
        r = self.r
        strings: list[str] = []
        numbers: list[float] = []
        # event-ruler reads the list inside a try that catches its refusals (and Jackson's) and
        # refuses again with the caught message, so those carry the location twice; a number no
        # double holds is refused once, at the number.
        try:
            while (token := r.next()) is not Token.END_ARRAY:
                if token is Token.STRING:
                    text = r.text()
                    if op in ("prefix", "suffix") and text == "":
                        raise self.refuse("Null prefix/suffix not allowed")
                    strings.append(text)
                elif not op and token in NUMBERS:
                    numbers.append(self.comparable())
                elif not op:
                    raise self.refuse("Inside anything but list, start|null|boolean is not supported.")
                else:
                    raise self.refuse(_not_a_string(op))
        except JsonSyntaxError as exc:
            raise JsonSyntaxError(exc.reason, exc.where + self.r.here()) from None
        except _Unplaced as exc:
            raise self.refuse(exc.reason) from None
        if op:
            return self.anything_but_of(op, strings)
        if bool(strings) == bool(numbers):
            raise self.refuse(
                "Inside anything but list, either all values are number or string, mixed type is not supported"
            )
        return Cond(ANYTHING_BUT, frozenset(strings)) if strings else Cond(ANYTHING_BUT_NUMBER, frozenset(numbers))

    def anything_but_of(self, op: str, texts: list[str]) -> Cond:
        """The anything-but condition over ``texts`` for the inner operator ``op``."""
        if op == "equals-ignore-case":
            if all(text.isascii() for text in texts):
                return Cond(ANYTHING_BUT_IC, frozenset(ascii_fold(text) for text in texts))
            return Cond(ANYTHING_BUT_IC_VARIANTS, AnyOf((CaseVariants(text) for text in texts), "equals"))
        if op == "wildcard":
            return Cond(ANYTHING_BUT_WILDCARD, AnyOf((self.wildcard(text) for text in texts), "matches"))
        kind = ANYTHING_BUT_PREFIX if op == "prefix" else ANYTHING_BUT_SUFFIX
        return Cond(kind, tuple(dict.fromkeys(texts)))

    def comparable(self) -> float:
        """The current number token as the double it stands for, refused (without a position:
        event-ruler's ComparableNumber throws outside the parser) when no double holds it."""
        value = _double(self.r.text())
        if value is None:
            raise _Unplaced(f"Cannot compare number : {self.r.text()}")
        return value

    def numeric(self) -> Cond:
        """``{"numeric": [...]}`` after its ``[``, as processNumericMatchExpression reads it: the
        operands are checked once the array has ended."""
        r = self.r
        if r.next() is not Token.STRING:
            raise self.refuse(f"Invalid member in numeric match: {r.text()}")
        op = r.text()
        token = r.next()
        if op not in ("=", ">", ">=", "<", "<="):
            raise self.refuse(f"Unrecognized numeric range operator: {op}")
        if token not in NUMBERS:
            raise self.refuse(f"Value of {'equals' if op == '=' else op} must be numeric")
        first = r.text()
        if op in (">", ">="):
            token = r.next()
            if token is not Token.END_ARRAY:
                return self.numeric_range(token, first, op == ">")
            return self.numeric_cond(first, op == ">", None, False)
        if r.next() is not Token.END_ARRAY:
            raise self.refuse(_TOO_MANY)
        if op == "=":
            return Cond(EXACT_NUMBER, self.operand(first))
        return self.numeric_cond(None, False, first, op == "<")

    def numeric_range(self, token: Token | None, bottom: str, open_bottom: bool) -> Cond:
        r = self.r
        if token is not Token.STRING:
            raise self.refuse(f"Bad value in numeric range: {r.text()}")
        op = r.text()
        if op not in ("<", "<="):
            raise self.refuse(f"Bad numeric range operator: {op}")
        if r.next() not in NUMBERS:
            raise self.refuse(f"Value of {op} must be numeric")
        top = r.text()
        if r.next() is not Token.END_ARRAY:
            raise self.refuse("Too many terms in numeric range expression")
        return self.numeric_cond(bottom, open_bottom, top, op == "<")

    def operand(self, text: str) -> float:
        """A numeric operand (its token text) as a double, refused (at the parser's position:
        processNumericMatchExpression catches it) when no double holds it exactly."""
        value = _double(text)
        if value is None:
            raise self.refuse(f"Cannot compare number : {text}")
        return value

    def numeric_cond(self, low: str | None, low_open: bool, high: str | None, high_open: bool) -> Cond:
        """The range from ``low`` to ``high`` (token texts; None: unbounded), as the closed range
        of the same doubles (an open end moves to the next double inward)."""
        bottom = -inf if low is None else self.operand(low)
        top = inf if high is None else self.operand(high)
        if low is not None and high is not None and not bottom < top:
            raise self.refuse("Bottom must be less than top")
        if low_open:
            bottom = nextafter(bottom, inf)
        if high_open:
            top = nextafter(top, -inf)
        return Cond(NUMERIC, (bottom, top))


def _double(text: str) -> float | None:
    """The double a JSON number's text stands for, or None when the double is not exactly the
    number (event-ruler's ComparableNumber: the double's shortest decimal form must have the same
    value as the text, e.g. 17-digit ids are refused)."""
    value = float(text)
    if isnan(value) or isinf(value) or Decimal(repr(value)) != Decimal(text):
        return None
    return value


def _not_a_string(op: str) -> str:
    """event-ruler's refusal of a non-string inside ``anything-but: {op: ...}``."""
    if op == "equals-ignore-case":
        return "Inside anything-but/equals-ignore-case list, number|start|null|boolean is not supported."
    if op == "wildcard":
        return "wildcard match pattern must be a string"
    return "prefix/suffix match pattern must be a string"


def _ignore_case(ascii_kind: Any, variants_kind: Any, text: str) -> Cond:
    """An ignore-case condition: ASCII patterns by their lower-cased text, others as
    ``CaseVariants`` (see ignorecase)."""
    if text.isascii():
        return Cond(ascii_kind, ascii_fold(text))
    return Cond(variants_kind, CaseVariants(text))


def _check_wildcard_complexity(alternatives: list[Alternative], limits: PatternLimits) -> None:
    per_path: dict[Path, list[str]] = {}
    for alt in alternatives:
        for path, conds in alt.items():
            for cond in conds:
                if cond.kind is WILDCARD:
                    per_path.setdefault(path, []).append(cond.arg.text)
                elif cond.kind is ANYTHING_BUT_WILDCARD:
                    per_path.setdefault(path, []).extend(w.text for w in cond.arg.items)
    for texts in per_path.values():
        if complexity(dict.fromkeys(texts), limits.max_wildcard_complexity) > limits.max_wildcard_complexity:
            raise InvalidEventPattern(
                "Rule is too complex - try using fewer wildcard characters or fewer repeating "
                "character sequences after a wildcard character"
            )
