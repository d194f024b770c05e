r"""An evaluator of the CloudWatch Logs Insights commands the library's saved queries use.

It follows the documented query syntax ("CloudWatch Logs Insights Query Syntax" and "Supported Logs and
Discovered Fields", CloudWatch Logs User Guide), for this subset:

- discovered fields: ``@message``, ``@timestamp``, ``@logStream``, and for a JSON event its fields, nested
  ones with dots (``userIdentity.type``) and array items by index (``items.0.instanceId``);
- ``fields``: field names (backticks for other characters), ``coalesce`` and ``ispresent``, ``as`` aliases;
- ``parse @message "glob with * " as a, b`` and ``parse @message /regex with (?<name>...)/``; an event the
  pattern does not match keeps going without those fields;
- ``filter``: ``= != < <= > >=``, ``and``, ``or``, ``not``, parentheses, ``like "substring"``,
  ``like /regex/`` and ``=~ /regex/`` (``(?i)`` anywhere makes it case-insensitive), ``ispresent(f)``;
  a comparison with a missing field is false;
- ``stats count(*)``, ``count(f)``, ``sum``, ``avg``, ``min``, ``max`` with ``as`` and ``by``;
- ``sort f asc|desc`` and ``limit n``.

Values that read as numbers compare and sort as numbers, also when a JSON event has them as strings (API
Gateway writes every access log value as a string): an assumption about Logs Insights that its pages imply
(``filter statusCode like /2\d\d/`` next to ``filter (duration>2000)``) but do not state.

Anything else is refused. ``test_logs_insights.py`` checks it against the examples of those pages.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

Row = dict[str, Any]
Expression = Callable[[Row], Any]

_AGGREGATES = {"count", "sum", "avg", "min", "max"}


class QueryError(ValueError):
    """A query outside the supported (documented) subset."""


def discover(message: str, *, timestamp: int = 0, log_stream: str = "mlflow/Mlflow/task") -> Row:
    """The fields Logs Insights has for an event before any command: system fields, plus JSON fields."""
    row: Row = {"@message": message, "@timestamp": timestamp, "@logStream": log_stream}
    try:
        document = json.loads(message)
    except json.JSONDecodeError:
        return row
    if isinstance(document, dict):
        _flatten(document, "", row)
    return row


def _flatten(value: Any, prefix: str, row: Row) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _flatten(item, f"{prefix}{key}.", row)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _flatten(item, f"{prefix}{index}.", row)
    elif value is not None:
        row[prefix[:-1]] = value


# ---------------------------------------------------------------------------------------------- splitting


def _split(text: str, separator: str) -> list[str]:
    """Split on ``separator`` outside quotes, regexes, backticks and parentheses."""
    parts, depth, quote, start, i = [], 0, "", 0, 0
    while i < len(text):
        char = text[i]
        if quote:
            if char == "\\":
                i += 2
                continue
            if char == quote:
                quote = ""
        elif char in "\"'`":
            quote = char
        elif char == "/" and _regex_may_start(text, i):
            quote = "/"
        elif char in "([":
            depth += 1
        elif char in ")]":
            depth -= 1
        elif depth == 0 and text.startswith(separator, i):
            parts.append(text[start:i])
            start = i + len(separator)
            i = start
            continue
        i += 1
    if quote:
        raise QueryError(f"unclosed {quote} in {text!r}")
    parts.append(text[start:])
    return [p.strip() for p in parts]


def _regex_may_start(text: str, i: int) -> bool:
    """A ``/`` opens a regex after ``like``, ``=~``, ``parse <field>`` or at the start: not as division."""
    before = text[:i].rstrip()
    return before == "" or before.endswith(("like", "=~", "@message", "(", ","))


# ---------------------------------------------------------------------------------------------- expressions


class _Parser:
    """Recursive descent over one expression: or > and > not > comparison > value."""

    _TOKEN = re.compile(
        r"""\s*(?:
        (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
        |(?P<regex>/(?:[^/\\]|\\.)*/)
        |(?P<number>\d+(?:\.\d+)?)
        |(?P<op>=~|!=|<=|>=|=|<|>|\(|\)|,|\*)
        |(?P<name>`[^`]+`|@?[A-Za-z_][A-Za-z0-9_.@]*)
        )""",
        re.VERBOSE,
    )

    def __init__(self, text: str) -> None:
        self.tokens: list[tuple[str, str]] = []
        position = 0
        text = text.strip()
        while position < len(text):
            match = self._TOKEN.match(text, position)
            if match is None or match.end() == position:
                raise QueryError(f"cannot read {text[position:]!r}")
            kind = match.lastgroup
            assert kind is not None
            self.tokens.append((kind, match.group(kind)))
            position = match.end()
        self.index = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self, expected: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if token is None or (expected is not None and token[1] != expected):
            raise QueryError(f"expected {expected or 'more'}, got {token}")
        self.index += 1
        return token

    def at_word(self, word: str) -> bool:
        token = self.peek()
        return token is not None and token[0] == "name" and token[1].lower() == word

    def parse(self) -> Expression:
        expression = self.disjunction()
        if self.peek() is not None:
            raise QueryError(f"unexpected {self.peek()}")
        return expression

    def disjunction(self) -> Expression:
        terms = [self.conjunction()]
        while self.at_word("or"):
            self.take()
            terms.append(self.conjunction())
        return terms[0] if len(terms) == 1 else (lambda row: any(bool(t(row)) for t in terms))

    def conjunction(self) -> Expression:
        terms = [self.negation()]
        while self.at_word("and"):
            self.take()
            terms.append(self.negation())
        return terms[0] if len(terms) == 1 else (lambda row: all(bool(t(row)) for t in terms))

    def negation(self) -> Expression:
        if self.at_word("not"):
            self.take()
            inner = self.negation()
            return lambda row: not inner(row)
        return self.comparison()

    def comparison(self) -> Expression:
        left = self.value()
        token = self.peek()
        if token is not None and (token[1] in ("=", "!=", "<", "<=", ">", ">=", "=~") or self.at_word("like")):
            operator = self.take()[1].lower()
            if operator in ("like", "=~"):
                return self._like(left, self.take())
            right = self.value()
            return lambda row: _compare(left(row), operator, right(row))
        return left

    @staticmethod
    def _like(left: Expression, pattern: tuple[str, str]) -> Expression:
        kind, text = pattern
        if kind == "string":
            needle = text[1:-1]
            return lambda row: isinstance(left(row), str) and needle in left(row)
        if kind == "regex":
            compiled = compile_regex(text[1:-1])
            return lambda row: isinstance(left(row), str) and compiled.search(left(row)) is not None
        raise QueryError(f"like needs a string or a /regex/, got {text}")

    def value(self) -> Expression:
        kind, text = self.take()
        if kind == "string":
            literal = text[1:-1]
            return lambda row: literal
        if kind == "number":
            number = float(text) if "." in text else int(text)
            return lambda row: number
        if text == "(":
            inner = self.disjunction()
            self.take(")")
            return inner
        if kind == "name":
            token = self.peek()
            if token is not None and token[1] == "(":
                return self._function(text.lower())
            name = text.strip("`")
            return lambda row: row.get(name)
        raise QueryError(f"unexpected {text!r}")

    def _function(self, name: str) -> Expression:
        self.take("(")
        arguments: list[Expression] = []
        while (self.peek() or ("", ""))[1] != ")":
            arguments.append(self.disjunction())
            if (self.peek() or ("", ""))[1] == ",":
                self.take()
        self.take(")")
        if name == "coalesce":
            return lambda row: next((v for v in (a(row) for a in arguments) if v is not None), None)
        if name == "ispresent" and len(arguments) == 1:
            return lambda row: arguments[0](row) is not None
        raise QueryError(f"function {name} is not supported")


def _compare(left: Any, operator: str, right: Any) -> bool:
    if left is None or right is None:
        return False  # a missing field compares false
    if isinstance(left, str) != isinstance(right, str):
        try:
            left, right = float(left), float(right)
        except (TypeError, ValueError):
            return operator == "!="
    return bool(
        {
            "=": lambda: left == right,
            "!=": lambda: left != right,
            "<": lambda: left < right,
            "<=": lambda: left <= right,
            ">": lambda: left > right,
            ">=": lambda: left >= right,
        }[operator]()
    )


def compile_regex(source: str) -> re.Pattern[str]:
    """A Logs Insights regex in Python: ``(?<name>`` groups, and ``(?i)`` wherever it stands."""
    flags = 0
    if "(?i)" in source:
        source, flags = source.replace("(?i)", ""), re.IGNORECASE
    return re.compile(re.sub(r"\(\?<([A-Za-z_][A-Za-z0-9_]*)>", r"(?P<\1>", source), flags)


# ---------------------------------------------------------------------------------------------- commands


def _glob_parser(glob: str, names: Sequence[str]) -> Callable[[str], dict[str, str] | None]:
    pieces = glob.split("*")
    if len(pieces) - 1 != len(names):
        raise QueryError(f"parse: {len(pieces) - 1} wildcards but {len(names)} names")
    captures = ["(.*?)"] * (len(names) - 1) + ["(.*)"] if names else []
    regex = "".join(re.escape(piece) + (captures[i] if i < len(captures) else "") for i, piece in enumerate(pieces))
    compiled = re.compile(regex)

    def parse(text: str) -> dict[str, str] | None:
        match = compiled.search(text)
        return dict(zip(names, match.groups(), strict=True)) if match else None

    return parse


def _parse(arguments: str, rows: list[Row]) -> list[Row]:
    match = re.match(r"^(?P<field>@?[\w.]+)\s+(?P<rest>.*)$", arguments, re.DOTALL)
    if match is None:
        raise QueryError(f"parse {arguments!r}")
    field, rest = match.group("field"), match.group("rest").strip()
    extract: Callable[[str], dict[str, str] | None]
    if rest.startswith("/"):
        compiled = compile_regex(rest[1 : rest.rindex("/")])

        def extract_regex(text: str) -> dict[str, str] | None:
            found = compiled.search(text)
            return {k: v for k, v in found.groupdict().items() if v is not None} if found else None

        extract = extract_regex
    else:
        glob_match = re.match(r'^"((?:[^"\\]|\\.)*)"\s+as\s+(.*)$', rest, re.DOTALL)
        if glob_match is None:
            raise QueryError(f'parse needs a "glob" as names, or a /regex/: {rest!r}')
        extract = _glob_parser(glob_match.group(1), [n.strip() for n in glob_match.group(2).split(",")])
    for row in rows:
        text = row.get(field)
        fields = extract(text) if isinstance(text, str) else None
        row.update(fields or {})
    return rows


def _alias(item: str) -> tuple[str, str | None]:
    match = re.match(r"^(.*?)\s+as\s+(`[^`]+`|[@\w.]+)$", item, re.DOTALL | re.IGNORECASE)
    return (match.group(1).strip(), match.group(2).strip("`")) if match else (item.strip(), None)


def _fields(arguments: str, rows: list[Row]) -> list[str]:
    columns = []
    for item in _split(arguments, ","):
        source, alias = _alias(item)
        expression = _Parser(source).parse()
        name = alias or source.strip("`")
        for row in rows:
            value = expression(row)
            if value is not None:
                row[name] = value
        columns.append(name)
    return columns


def _stats(arguments: str, rows: list[Row]) -> tuple[list[Row], list[str]]:
    parts = re.split(r"\s+by\s+", arguments, maxsplit=1, flags=re.IGNORECASE)
    aggregates_text, by_text = parts[0], parts[1] if len(parts) > 1 else ""
    keys = [name.strip().strip("`") for name in _split(by_text, ",")] if by_text else []
    aggregates = []
    for item in _split(aggregates_text, ","):
        source, alias = _alias(item)
        match = re.match(r"^(\w+)\s*\((.*)\)$", source)
        if match is None or match.group(1) not in _AGGREGATES:
            raise QueryError(f"stats {source!r} is not a supported aggregation")
        aggregates.append((match.group(1), match.group(2).strip(), alias or source))
    groups: dict[tuple[Any, ...], list[Row]] = {}
    for row in rows:
        groups.setdefault(tuple(row.get(key) for key in keys), []).append(row)
    result = []
    for group_key, members in groups.items():
        out: Row = dict(zip(keys, group_key, strict=True))
        for function, argument, name in aggregates:
            values = [m.get(argument) for m in members if m.get(argument) is not None] if argument != "*" else members
            out[name] = _aggregate(function, values)
        result.append(out)
    return result, [*keys, *(name for *_, name in aggregates)]


def _aggregate(function: str, values: list[Any]) -> Any:
    if function == "count":
        return len(values)
    if not values:
        return None
    numbers = [float(v) for v in values]
    if function == "avg":
        return sum(numbers) / len(numbers)
    return {"sum": sum(numbers), "min": min(numbers), "max": max(numbers)}[function]


def _sort(arguments: str, rows: list[Row]) -> list[Row]:
    match = re.match(r"^(`[^`]+`|[@\w.]+)(?:\s+(asc|desc))?$", arguments.strip(), re.IGNORECASE)
    if match is None:
        raise QueryError(f"sort {arguments!r}")
    field, descending = match.group(1).strip("`"), (match.group(2) or "asc").lower() == "desc"
    present = [row for row in rows if row.get(field) is not None]
    missing = [row for row in rows if row.get(field) is None]

    def key(row: Row) -> Any:
        value = row[field]
        try:
            return (0, float(value), "")
        except (TypeError, ValueError):
            return (1, 0.0, str(value))

    return sorted(present, key=key, reverse=descending) + missing


def run(query: str, events: Iterable[str | Row]) -> list[Row]:
    """The rows ``query`` returns for ``events`` (messages, or rows made with :func:`discover`)."""
    rows = [discover(e, timestamp=i) if isinstance(e, str) else dict(e) for i, e in enumerate(events)]
    shown: list[str] = []
    for command in _split(query, "|"):
        name, _, arguments = command.strip().partition(" ")
        name, arguments = name.lower(), arguments.strip()
        if name == "fields":
            shown += _fields(arguments, rows)
        elif name == "filter":
            predicate = _Parser(arguments).parse()
            rows = [row for row in rows if predicate(row)]
        elif name == "parse":
            rows = _parse(arguments, rows)
        elif name == "stats":
            rows, shown = _stats(arguments, rows)
        elif name == "sort":
            rows = _sort(arguments, rows)
        elif name == "limit":
            rows = rows[: int(arguments)]
        else:
            raise QueryError(f"command {name!r} is not supported")
    if shown:
        return [{column: row.get(column) for column in dict.fromkeys(shown)} for row in rows]
    return rows
