"""An evaluator of CloudWatch Logs filter patterns (metric filters), for the two kinds the library uses.

It follows the documented syntax ("Filter and Pattern Syntax", CloudWatch Logs User Guide):

- **terms**: ``ERROR``, ``"quoted phrase"``, ``-excluded``, ``?either ?or``. Case-sensitive; a term matches
  where it appears anywhere in the message (``ERROR`` matches ``ERRORCODE``). Terms with characters other than
  letters, digits and ``_`` must be quoted.
- **JSON**: ``{ $.selector OP value }`` with ``=``, ``!=``, ``<``, ``<=``, ``>``, ``>=``, ``IS NULL``,
  ``IS TRUE``/``IS FALSE``, ``NOT EXISTS``, combined with ``&&`` (binds tighter) and ``||`` and parentheses;
  ``*`` is a wildcard at the start or end of a string value only (``Ev*ent`` matches the text ``Ev*ent``); a
  selector that points at an array or object never matches.

Space-delimited patterns (``[a, b, ...]``) are refused: the library uses none. ``test_filter_patterns.py``
checks this evaluator against the examples of that page.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

_BARE_TERM = re.compile(r"^[A-Za-z0-9_]+$")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_SELECTOR_PART = re.compile(r"\.([A-Za-z0-9_-]+)|\[(\d+)\]")
_MISSING = object()


class PatternError(ValueError):
    """A pattern outside the documented syntax (CloudWatch would refuse it or read it otherwise)."""


def matches(pattern: str, message: str) -> bool:
    """True when the filter ``pattern`` matches the log event ``message``."""
    pattern = pattern.strip()
    if not pattern:
        return True
    if pattern.startswith("{"):
        if not pattern.endswith("}"):
            raise PatternError(f"a JSON pattern must end with '}}': {pattern}")
        return _JsonPattern(pattern[1:-1]).matches(message)
    if pattern.startswith("["):
        raise PatternError("space-delimited patterns are not supported by this evaluator")
    return _term_pattern_matches(pattern, message)


# ---------------------------------------------------------------------------------------------- terms


def _terms(pattern: str) -> list[tuple[str, str]]:
    """(operator, term) pairs; operator is '' (must appear), '-' (must not) or '?' (one of)."""
    terms: list[tuple[str, str]] = []
    i, operator = 0, ""
    while i < len(pattern):
        char = pattern[i]
        if char.isspace():
            i += 1
            continue
        if char in "-?" and not operator:
            operator = char
            i += 1
            continue
        if char == '"':
            end = pattern.find('"', i + 1)
            if end < 0:
                raise PatternError(f"unclosed quote in {pattern!r}")
            terms.append((operator, pattern[i + 1 : end]))
            i = end + 1
        else:
            end = i
            while end < len(pattern) and not pattern[end].isspace():
                end += 1
            word = pattern[i:end]
            if not _BARE_TERM.match(word):
                raise PatternError(f"term {word!r} has characters other than letters, digits and _: quote it")
            terms.append((operator, word))
            i = end
        operator = ""
    if operator:
        raise PatternError(f"'{operator}' without a term in {pattern!r}")
    return terms


def _term_pattern_matches(pattern: str, message: str) -> bool:
    terms = _terms(pattern)
    either = [term for op, term in terms if op == "?"]
    required = [term for op, term in terms if op == ""]
    excluded = [term for op, term in terms if op == "-"]
    if either and required:
        raise PatternError("the documentation does not say how ?terms combine with plain terms: use one kind")
    if either and not any(term in message for term in either):
        return False
    return all(term in message for term in required) and not any(term in message for term in excluded)


# ---------------------------------------------------------------------------------------------- JSON


@dataclass
class _Token:
    kind: str  # "(", ")", "&&", "||", "op", "selector", "word", "string"
    text: str


def _tokenize(source: str) -> list[_Token]:
    tokens: list[_Token] = []
    i = 0
    while i < len(source):
        char = source[i]
        if char.isspace():
            i += 1
        elif char in "()":
            tokens.append(_Token(char, char))
            i += 1
        elif source.startswith(("&&", "||"), i):
            tokens.append(_Token(source[i : i + 2], source[i : i + 2]))
            i += 2
        elif source.startswith(("<=", ">=", "!="), i):
            tokens.append(_Token("op", source[i : i + 2]))
            i += 2
        elif char in "<>=":
            tokens.append(_Token("op", char))
            i += 1
        elif char == '"':
            end = i + 1
            while end < len(source) and source[end] != '"':
                end += 2 if source[end] == "\\" else 1
            if end >= len(source):
                raise PatternError(f"unclosed quote in {source!r}")
            tokens.append(_Token("string", json.loads(source[i : end + 1])))
            i = end + 1
        else:
            end = i
            while (
                end < len(source)
                and not source[end].isspace()
                and source[end] not in "()"
                and source[end] not in "<>=!&|"
            ):
                end += 1
            if end == i:
                raise PatternError(f"unexpected {char!r} in {source!r}")
            word = source[i:end]
            tokens.append(_Token("selector" if word.startswith("$") else "word", word))
            i = end
    return tokens


def _resolve(document: Any, selector: str) -> Any:
    if not selector.startswith("$"):
        raise PatternError(f"a selector starts with $: {selector}")
    rest, value = selector[1:], document
    position = 0
    while position < len(rest):
        part = _SELECTOR_PART.match(rest, position)
        if part is None:
            raise PatternError(f"malformed selector {selector}")
        key, index = part.group(1), part.group(2)
        if key is not None:
            if not isinstance(value, dict) or key not in value:
                return _MISSING
            value = value[key]
        else:
            if not isinstance(value, list) or int(index) >= len(value):
                return _MISSING
            value = value[int(index)]
        position = part.end()
    return value


def _string_matches(value: str, wanted: str) -> bool:
    """``*`` is a wildcard at the start or the end only."""
    starts, ends = wanted.startswith("*"), wanted.endswith("*") and len(wanted) > 1
    core = wanted[1 if starts else 0 : len(wanted) - 1 if ends else len(wanted)]
    if starts and ends:
        return core in value
    if starts:
        return value.endswith(core)
    if ends:
        return value.startswith(core)
    return value == wanted


class _JsonPattern:
    def __init__(self, source: str) -> None:
        self.tokens = _tokenize(source)
        if not self.tokens:
            raise PatternError("an empty JSON pattern")

    def matches(self, message: str) -> bool:
        try:
            document = json.loads(message)
        except json.JSONDecodeError:
            return False
        if not isinstance(document, dict):
            return False
        self.position = 0
        result = self._or(document)
        if self.position != len(self.tokens):
            raise PatternError(f"unexpected {self.tokens[self.position].text!r}")
        return result

    def _peek(self) -> _Token | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def _take(self) -> _Token:
        token = self._peek()
        if token is None:
            raise PatternError("the pattern ends too early")
        self.position += 1
        return token

    # Both sides are always evaluated so that a malformed right side is refused whatever the left side is.
    def _or(self, document: Any) -> bool:
        result = self._and(document)
        while (token := self._peek()) is not None and token.kind == "||":
            self._take()
            right = self._and(document)
            result = result or right
        return result

    def _and(self, document: Any) -> bool:
        result = self._primary(document)
        while (token := self._peek()) is not None and token.kind == "&&":
            self._take()
            right = self._primary(document)
            result = result and right
        return result

    def _primary(self, document: Any) -> bool:
        token = self._take()
        if token.kind == "(":
            result = self._or(document)
            if self._take().kind != ")":
                raise PatternError("missing ')'")
            return result
        if token.kind != "selector":
            raise PatternError(f"expected a $.selector, got {token.text!r}")
        value = _resolve(document, token.text)
        following = self._take()
        if following.kind == "word" and following.text.upper() in ("IS", "NOT"):
            word = self._take().text.upper()
            if following.text.upper() == "NOT":
                if word != "EXISTS":
                    raise PatternError(f"NOT {word}")
                return value is _MISSING
            if word == "NULL":
                return value is None
            if word in ("TRUE", "FALSE"):
                return value is (word == "TRUE")
            raise PatternError(f"IS {word}")
        if following.kind != "op":
            raise PatternError(f"expected an operator after {token.text}, got {following.text!r}")
        return self._compare(value, following.text, self._take())

    @staticmethod
    def _compare(value: Any, operator: str, operand: _Token) -> bool:
        if operand.kind not in ("word", "string"):
            raise PatternError(f"expected a value after {operator}, got {operand.text!r}")
        if value is _MISSING or isinstance(value, dict | list):
            return False  # documented: a selector at an array or object never matches, not even with !=
        if operand.kind == "word" and _NUMBER.match(operand.text):
            if isinstance(value, bool) or not isinstance(value, int | float):
                return False
            number = float(operand.text)
            return {
                "=": value == number,
                "!=": value != number,
                "<": value < number,
                "<=": value <= number,
                ">": value > number,
                ">=": value >= number,
            }[operator]
        if operator not in ("=", "!="):
            raise PatternError(f"{operator} compares numbers only")
        if not isinstance(value, str):
            return False
        equal = _string_matches(value, operand.text)
        return equal if operator == "=" else not equal
