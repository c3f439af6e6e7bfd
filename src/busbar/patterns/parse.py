"""Pattern JSON text as a stream of tokens, read the way EventBridge reads it.

EventBridge compiles a pattern with event-ruler's ``JsonRuleCompiler``, which pulls tokens one at
a time from a Jackson streaming parser (``JsonFactory.createParser(String)``) and refuses a pattern
at the token where it goes wrong; AWS's message then ends with Jackson's location of the parser at
that moment. ``JsonReader`` is that parser, as far as a pattern can tell: the same tokens, the same
syntax errors in Jackson's words, and the same location.

The location rule (Jackson's ``ReaderBasedJsonParser``, checked against the 37 messages AWS
recorded in ``tests/data/conformance``):

- A location is a line (1-based; ``\\n``, ``\\r`` and ``\\r\\n`` end lines) and a column: one plus
  the number of UTF-16 code units read on that line so far.
- ``next()`` reads whitespace and the first character of the next token. Structural tokens
  (``{ } [ ]``) end right after their character; numbers, ``true``, ``false`` and ``null`` right
  after their last character. A string *value* is left unread after its opening quote: it is
  read to the closing quote when the compiler asks for its text (``text()``), or skipped when
  the next token is read.
- After a field name Jackson reads on through the colon and the first character of the value (the
  whole value when it is a number or a literal), and keeps the value's token for the next call:
  so a field name's location is already past the start of its value.
- A rule the compiler breaks is reported at the current location (``here()``). Jackson's own
  syntax errors about an unexpected character point at that character (``before()``: the
  current location minus one); the others (unrecognised words, end of input, leading zeroes) at
  the current location.
- event-ruler reads the elements of an ``anything-but`` list inside a ``try`` that catches its own
  refusals and refuses again with the caught message: those messages carry the location twice.

The message suffix is ``"\\n at [Source: (String)\\"<pattern>\\"; line: L, column: C]"``; the pattern
is quoted as given, cut after 500 UTF-16 code units (``[truncated N chars]``), control characters
other than CR and LF written ``\\uXXXX``.
"""

from __future__ import annotations

import re
import unicodedata
from enum import Enum

_MAX_SNIPPET = 500  # Jackson's ErrorReportConfiguration.DEFAULT_MAX_RAW_CONTENT_LENGTH
_MAX_TOKEN = 256  # Jackson's DEFAULT_MAX_ERROR_TOKEN_LENGTH
_VALUES = "(JSON String, Number, Array, Object or token 'null', 'true' or 'false')"
_ESCAPES = {"b": "\b", "t": "\t", "n": "\n", "f": "\f", "r": "\r", '"': '"', "/": "/", "\\": "\\"}
_PLAIN = re.compile(r'[^"\\\x00-\x1f]*')  # string content with nothing to decode
_HEX = frozenset("0123456789abcdefABCDEF")


class Token(Enum):
    """Jackson's token kinds (``JsonToken``)."""

    START_OBJECT = "{"
    END_OBJECT = "}"
    START_ARRAY = "["
    END_ARRAY = "]"
    FIELD_NAME = "field name"
    STRING = "string"
    INT = "integer"
    FLOAT = "float"
    TRUE = "true"
    FALSE = "false"
    NULL = "null"


NUMBERS = (Token.INT, Token.FLOAT)


class JsonSyntaxError(Exception):
    """A pattern Jackson cannot read: ``reason`` in Jackson's words and ``where`` the location
    suffix AWS adds (see the module)."""

    def __init__(self, reason: str, where: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.where = where


class _Context:
    """An open object or array (or the root), as Jackson's ``JsonReadContext``."""

    __slots__ = ("kind", "index", "line", "column")

    def __init__(self, kind: str, line: int, column: int) -> None:
        self.kind = kind  # "root", "Object" or "Array" (Jackson's typeDesc)
        self.index = -1
        self.line = line
        self.column = column

    def expect_comma(self) -> bool:
        """Count one more entry; True when a comma must come before it."""
        self.index += 1
        return self.kind != "root" and self.index > 0


class JsonReader:
    """Jackson's streaming parser over a pattern text (see the module for what it reproduces)."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._ptr = 0  # index of the next character to read
        self._line = 1
        self._line_start = 0
        self._contexts = [_Context("root", 1, 0)]
        self._current: Token | None = None
        self._pending: Token | None = None  # the value after a field name, already read
        self._incomplete = False  # a string value whose characters are not read yet
        self._scalar = ""  # the text of the current number or literal
        self._token_start = 0  # where the current value's first character is
        self._string = ""
        self.name = ""  # the current field name

    # -- locations ---------------------------------------------------------------------------
    def here(self) -> str:
        """The location suffix at the current position (where event-ruler's refusals point)."""
        return self._where(self._ptr)

    def before(self) -> str:
        """The location suffix one character back (where Jackson's unexpected characters point)."""
        return self._where(self._ptr - 1)

    def _where(self, ptr: int) -> str:
        return f"\n at {self._location(self._line, _utf16_len(self._text[self._line_start : ptr]) + 1)}"

    def _location(self, line: int, column: int) -> str:
        return f"[Source: {_source(self._text)}; line: {line}, column: {column}]"

    def _fail(self, reason: str, before: bool = False) -> JsonSyntaxError:
        return JsonSyntaxError(reason, self.before() if before else self.here())

    def _unexpected(self, char: str, comment: str) -> JsonSyntaxError:
        return self._fail(f"Unexpected character ({_char_desc(char)}): {comment}", before=True)

    # -- tokens ------------------------------------------------------------------------------
    def next(self) -> Token | None:
        """The next token (Jackson's ``nextToken``); None at the end of the input."""
        if self._current is Token.FIELD_NAME:
            token = self._pending
            self._pending = None
            if token is Token.START_OBJECT or token is Token.START_ARRAY:
                self._open(token)
            self._current = token
            return token
        if self._incomplete:
            self._read_string(keep=False)
        c = self._skip_whitespace()
        if c is None:
            context = self._contexts[-1]
            if context.kind != "root":
                start = self._location(context.line, context.column)
                raise self._fail(
                    f"Unexpected end-of-input: expected close marker for {context.kind} (start marker at {start})"
                )
            self._current = None
            return None
        if c == "}" or c == "]":
            self._close(c)
            return self._current
        context = self._contexts[-1]
        if context.expect_comma():
            if c != ",":
                raise self._unexpected(c, f"was expecting comma to separate {context.kind} entries")
            c = self._skip_whitespace()
            if c is None:
                raise self._fail(f"Unexpected end-of-input within/between {context.kind} entries")
        in_object = context.kind == "Object"
        if in_object:
            if c != '"':
                raise self._unexpected(c, "was expecting double-quote to start field name")
            self.name = self._read_name()
            self._current = Token.FIELD_NAME
            c = self._skip_colon()
        token = self._value(c)
        if in_object:
            self._pending = token
            return Token.FIELD_NAME
        if token is Token.START_OBJECT or token is Token.START_ARRAY:
            self._open(token)
        self._current = token
        return token

    def text(self) -> str:
        """The current token's text (Jackson's ``getText``): a string value is read to its closing
        quote now."""
        token = self._current
        if token is Token.STRING:
            if self._incomplete:
                self._string = self._read_string(keep=True)
            return self._string
        if token is Token.FIELD_NAME:
            return self.name
        if token is None:
            return ""
        if token in (Token.START_OBJECT, Token.END_OBJECT, Token.START_ARRAY, Token.END_ARRAY):
            return str(token.value)
        return self._scalar

    def number(self) -> int | float:
        """The current number token's value (an int for an integer literal)."""
        return int(self._scalar) if self._current is Token.INT else float(self._scalar)

    # -- structure ---------------------------------------------------------------------------
    def _open(self, token: Token) -> None:
        # The context starts at the bracket's column: one past where it was read from.
        column = _utf16_len(self._text[self._line_start : self._token_start]) + 1
        self._contexts.append(_Context("Object" if token is Token.START_OBJECT else "Array", self._line, column))

    def _close(self, c: str) -> None:
        context = self._contexts[-1]
        wanted = "Object" if c == "}" else "Array"
        if context.kind != wanted:
            if context.kind == "root":
                raise self._fail(f"Unexpected close marker '{c}': no open {wanted} to close", before=True)
            expected = "]" if context.kind == "Array" else "}"
            start = self._location(context.line, context.column)
            raise self._fail(
                f"Unexpected close marker '{c}': expected '{expected}' (for {context.kind} starting at {start})",
                before=True,
            )
        self._contexts.pop()
        self._current = Token.END_OBJECT if c == "}" else Token.END_ARRAY

    def _skip_whitespace(self) -> str | None:
        """Skip whitespace and read one more character (None at the end)."""
        text = self._text
        while self._ptr < len(text):
            c = text[self._ptr]
            self._ptr += 1
            if c > " ":
                if c == "/":
                    raise self._unexpected(
                        c,
                        "maybe a (non-standard) comment? (not recognized as one since Feature "
                        "'ALLOW_COMMENTS' not enabled for parser)",
                    )
                return c
            self._space(c)
        return None

    def _space(self, c: str) -> None:
        if c == "\n":
            self._line += 1
            self._line_start = self._ptr
        elif c == "\r":
            if self._ptr < len(self._text) and self._text[self._ptr] == "\n":
                self._ptr += 1
            self._line += 1
            self._line_start = self._ptr
        elif c != " " and c != "\t":
            raise self._fail(
                f"Illegal character ({_char_desc(c)}): only regular white space (\\r, \\n, \\t) is allowed "
                "between tokens"
            )

    def _skip_colon(self) -> str:
        """Read the colon after a field name and the first character of the value."""
        c = self._skip_whitespace()
        if c == ":":
            c = self._skip_whitespace()
        elif c is not None:
            raise self._unexpected(c, "was expecting a colon to separate field name and value")
        if c is None:
            raise self._fail(f"Unexpected end-of-input within/between {self._contexts[-1].kind} entries")
        return c

    # -- values ------------------------------------------------------------------------------
    def _value(self, c: str) -> Token:
        """The token that begins with ``c`` (already read)."""
        self._token_start = self._ptr - 1
        if c == '"':
            self._incomplete = True
            return Token.STRING
        if c == "{":
            return Token.START_OBJECT
        if c == "[":
            return Token.START_ARRAY
        if c == "}":
            raise self._unexpected(c, "expected a value")
        if c in "tfn":
            word = {"t": "true", "f": "false", "n": "null"}[c]
            self._match(word)
            self._scalar = word
            return Token(word)
        if c == "-" or "0" <= c <= "9":
            return self._number(c)
        return self._odd_value(c)

    def _match(self, word: str) -> None:
        """Read the rest of ``word`` (its first letter is read)."""
        text = self._text
        for i in range(1, len(word)):
            if self._ptr >= len(text) or text[self._ptr] != word[i]:
                raise self._invalid_token(word[:i])
            self._ptr += 1
        if self._ptr < len(text):
            c = text[self._ptr]
            if c >= "0" and c not in "]}" and _identifier_part(c):
                raise self._invalid_token(word)

    def _invalid_token(self, matched: str) -> JsonSyntaxError:
        token = matched
        text = self._text
        while self._ptr < len(text) and _identifier_part(text[self._ptr]):
            token += text[self._ptr]
            self._ptr += 1
            if len(token) >= _MAX_TOKEN:
                token += "..."
                break
        return self._fail(f"Unrecognized token '{token}': was expecting {_VALUES}")

    def _odd_value(self, c: str) -> Token:
        if c == "+":
            if self._ptr >= len(self._text):
                raise self._fail("Unexpected end-of-input in a Number value")
            self._ptr += 1
            raise self._fail(
                "Unexpected character ('+' (code 43)) in numeric value: JSON spec does not allow numbers to "
                "have plus signs: enable `JsonReadFeature.ALLOW_LEADING_PLUS_SIGN_FOR_NUMBERS` to allow",
                before=True,
            )
        if c == "N" or c == "I":
            word = "NaN" if c == "N" else "Infinity"
            self._match(word)
            raise self._fail(
                f"Non-standard token '{word}': enable `JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS` to allow"
            )
        if _identifier_start(c):
            raise self._invalid_token(c)
        raise self._unexpected(c, f"expected a valid value {_VALUES}")

    def _number(self, first: str) -> Token:
        text = self._text
        start = self._ptr - 1
        i = self._ptr
        if first == "-":
            if i >= len(text):
                raise self._fail("Unexpected end-of-input in a Number value")
            c = text[i]
            if not "0" <= c <= "9":
                self._ptr = i + 1
                if c == ".":
                    raise self._unexpected(c, f"expected a valid value {_VALUES}")
                raise self._fail(
                    f"Unexpected character ({_char_desc(c)}) in numeric value: expected digit (0-9) to follow "
                    "minus sign, for valid numeric value",
                    before=True,
                )
            i += 1
            first = c
        if first == "0" and i < len(text) and "0" <= text[i] <= "9":
            self._ptr = i
            raise self._fail("Invalid numeric value: Leading zeroes not allowed")
        while i < len(text) and "0" <= text[i] <= "9":
            i += 1
        token = Token.INT
        mark = i + 1  # Jackson's pointer while it reads a fraction or an exponent: past its '.' or 'e'
        if i < len(text) and text[i] == ".":
            token = Token.FLOAT
            i = self._digits(i + 1, mark, "Decimal point not followed by a digit")
        if i < len(text) and text[i] in "eE":
            token = Token.FLOAT
            i += 1
            if i < len(text) and text[i] in "+-":
                i += 1
            i = self._digits(i, mark, "Exponent indicator not followed by a digit")
        self._ptr = i
        self._scalar = text[start:i]
        if len(self._contexts) == 1 and i < len(text):  # root values must be followed by space
            c = text[i]
            self._ptr = i + 1
            if c not in " \t\r\n":
                raise self._unexpected(c, "Expected space separating root-level values")
            self._ptr = i if c == "\r" else i + 1
            if c == "\n":
                self._line += 1
                self._line_start = self._ptr
        return token

    def _digits(self, i: int, mark: int, missing: str) -> int:
        """Where the digits from ``i`` end; at least one is required (Jackson then reports the
        character found instead, pointing ``mark`` back)."""
        text = self._text
        start = i
        while i < len(text) and "0" <= text[i] <= "9":
            i += 1
        if i == start:
            self._ptr = mark
            raise self._number_char(text[i] if i < len(text) else "", missing)
        return i

    def _number_char(self, c: str, comment: str) -> JsonSyntaxError:
        if not c:
            return self._fail("Unexpected end-of-input in a Number value")
        return self._fail(f"Unexpected character ({_char_desc(c)}) in numeric value: {comment}", before=True)

    # -- strings -----------------------------------------------------------------------------
    def _read_name(self) -> str:
        return self._read_chars("name", " in field name")

    def _read_string(self, keep: bool) -> str:
        self._incomplete = False
        value = self._read_chars("string value", ": was expecting closing quote for a string value")
        return value if keep else ""

    def _read_chars(self, what: str, at_end: str) -> str:
        """Read the rest of a string (its opening quote is read) and decode its escapes."""
        text = self._text
        parts: list[str] = []
        while True:
            run = _PLAIN.match(text, self._ptr)
            assert run is not None  # the pattern matches the empty string
            parts.append(run.group())
            self._ptr = run.end()
            if self._ptr >= len(text):
                raise self._fail("Unexpected end-of-input" + at_end)
            c = text[self._ptr]
            self._ptr += 1
            if c == '"':
                return _join_utf16("".join(parts))
            if c == "\\":
                parts.append(self._escape())
            else:
                raise self._fail(
                    f"Illegal unquoted character ({_char_desc(c)}): has to be escaped using backslash to be "
                    f"included in {what}",
                    before=True,
                )

    def _escape(self) -> str:
        text = self._text
        if self._ptr >= len(text):
            raise self._fail("Unexpected end-of-input in character escape sequence")
        c = text[self._ptr]
        self._ptr += 1
        if c in _ESCAPES:
            return _ESCAPES[c]
        if c != "u":
            raise self._fail(f"Unrecognized character escape {_char_desc(c)}", before=True)
        value = 0
        for _ in range(4):
            if self._ptr >= len(text):
                raise self._fail("Unexpected end-of-input in character escape sequence")
            h = text[self._ptr]
            self._ptr += 1
            if h not in _HEX:
                raise self._unexpected(h, "expected a hex-digit for character escape sequence")
            value = value * 16 + int(h, 16)
        return chr(value)


def _join_utf16(text: str) -> str:
    """Combine surrogate pairs written as two ``\\u`` escapes into one character, as Java's
    UTF-16 strings do."""
    if not any("\ud800" <= c <= "\udfff" for c in text):
        return text
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")


def _utf16_len(text: str) -> int:
    """Java's length of ``text``: characters outside the BMP count twice."""
    return len(text) + sum(1 for c in text if c > "\uffff")


def _source(text: str) -> str:
    """Jackson's description of the input: ``(String)"<text>"``, cut and escaped (see module)."""
    units = _utf16_len(text)
    if units > _MAX_SNIPPET:
        cut = text.encode("utf-16-le", "surrogatepass")[: 2 * _MAX_SNIPPET].decode("utf-16-le", "surrogatepass")
    else:
        cut = text
    quoted = "".join(f"\\u{ord(c):04X}" if _iso_control(c) and c not in "\r\n" else c for c in cut)
    suffix = f"[truncated {units - _MAX_SNIPPET} chars]" if units > _MAX_SNIPPET else ""
    return f'(String)"{quoted}"{suffix}'


def _iso_control(c: str) -> bool:
    return c <= "\x1f" or "\x7f" <= c <= "\x9f"


def _char_desc(c: str) -> str:
    """Jackson's ``_getCharDesc``: how a message names a character."""
    code = ord(c)
    if _iso_control(c):
        return f"(CTRL-CHAR, code {code})"
    if code > 255:
        return f"'{c}' (code {code} / 0x{code:x})"
    return f"'{c}' (code {code})"


def _identifier_start(c: str) -> bool:
    """Java's ``Character.isJavaIdentifierStart``."""
    return unicodedata.category(c) in ("Lu", "Ll", "Lt", "Lm", "Lo", "Nl", "Sc", "Pc")


def _identifier_part(c: str) -> bool:
    """Java's ``Character.isJavaIdentifierPart`` (letters, digits, marks, and ignorable controls)."""
    if _identifier_start(c) or unicodedata.category(c) in ("Nd", "Mn", "Mc", "Cf"):
        return True
    code = ord(c)
    return code <= 8 or 0x0E <= code <= 0x1B or 0x7F <= code <= 0x9F
