"""The filter pattern evaluator against the examples of CloudWatch's "Filter and Pattern Syntax" page.

Each case is an example of that page with the outcome the page states; where the page gives a pattern
without an event (numeric comparisons, wildcards), the event here is made to sit on each side of it.
"""

from __future__ import annotations

import json

import pytest

from tests.monitoring.filter_patterns import PatternError, matches

# "Matching Terms in Log Events"
TERM_CASES = [
    ('"ERROR"', "[ERROR] A fatal exception has occurred", True),
    ('"ERROR"', "Exiting with ERRORCODE: -1", True),
    ('"ERROR" - "Exiting"', "Exiting with ERRORCODE: -1", False),
    ('"ERROR" - "Exiting"', "[ERROR] A fatal exception has occurred", True),
    ('"ERROR Exception"', "[ERROR] Caught IllegalArgumentException", False),  # quoted: one phrase
    ("ERROR Exception", "[ERROR] Caught IllegalArgumentException", True),
    ("ERROR Exception", "[ERROR] Unhandled Exception", True),
    ('"Failed to process the request"', "[WARN] Failed to process the request", True),
    ('"Failed to process the request"', "[ERROR] Unable to continue: Failed to process the request", True),
    # "OR Pattern Matching": ERROR matches 1 and 2, ?ERROR ?WARN all three, ERROR WARN only 1, ERROR -WARN only 2.
    ("ERROR", "ERROR WARN message", True),
    ("ERROR", "ERROR message", True),
    ("ERROR", "WARN message", False),
    ("?ERROR ?WARN", "ERROR WARN message", True),
    ("?ERROR ?WARN", "ERROR message", True),
    ("?ERROR ?WARN", "WARN message", True),
    ("ERROR WARN", "ERROR WARN message", True),
    ("ERROR WARN", "ERROR message", False),
    ("ERROR WARN", "WARN message", False),
    ("ERROR -WARN", "ERROR WARN message", False),
    ("ERROR -WARN", "ERROR message", True),
    ("ERROR -WARN", "WARN message", False),
    ("error", "ERROR message", False),  # case-sensitive
]


@pytest.mark.parametrize(("pattern", "message", "expected"), TERM_CASES)
def test_documented_term_examples(pattern: str, message: str, expected: bool) -> None:
    assert matches(pattern, message) is expected


def test_unquoted_terms_with_other_characters_are_refused() -> None:
    with pytest.raises(PatternError, match="quote it"):
        matches("mlflow-entrypoint ERROR:", "[mlflow-entrypoint] ERROR: x")
    # Unquoted, a leading bracket starts a space-delimited pattern: why the library quotes its term.
    with pytest.raises(PatternError, match="space-delimited"):
        matches("[mlflow-entrypoint] ERROR:", "[mlflow-entrypoint] ERROR: x")


# "JSON Metric Filter Examples": every filter below "would match" this event.
TRAIL_EVENT = json.dumps(
    {
        "eventType": "UpdateTrail",
        "sourceIPAddress": "111.111.111.111",
        "arrayKey": ["value", "another value"],
        "objectList": [{"name": "a", "id": 1}, {"name": "b", "id": 2}],
        "SomeObject": None,
        "ThisFlag": True,
    }
)
TRAIL_MATCHES = [
    '{ $.eventType = "UpdateTrail" }',
    "{ $.sourceIPAddress != 123.123.* }",
    '{ $.arrayKey[0] = "value" }',
    "{ $.objectList[1].id = 2 }",
    "{ $.SomeObject IS NULL }",
    "{ $.SomeOtherObject NOT EXISTS }",
    "{ $.ThisFlag IS TRUE }",
]


@pytest.mark.parametrize("pattern", TRAIL_MATCHES)
def test_documented_json_examples_match(pattern: str) -> None:
    assert matches(pattern, TRAIL_EVENT)


@pytest.mark.parametrize(
    "pattern",
    [
        '{ $.eventType = "StartInstances" }',
        "{ $.sourceIPAddress != 111.111.* }",
        "{ $.objectList[1].id = 1 }",
        "{ $.eventType IS NULL }",
        "{ $.SomeObject NOT EXISTS }",
        "{ $.ThisFlag IS FALSE }",
        "{ $.arrayKey[5] = value }",
    ],
)
def test_the_same_selectors_on_the_other_side_do_not_match(pattern: str) -> None:
    assert not matches(pattern, TRAIL_EVENT)


# "JSON Compound Conditions"
COMPOUND_EVENT = json.dumps(
    {
        "user": {"id": 1, "email": "John.Stiles@example.com"},
        "users": [{"id": 2, "email": "John.Doe@example.com"}, {"id": 3, "email": "Jane.Doe@example.com"}],
        "actions": ["GET", "PUT", "DELETE"],
        "coordinates": [[0, 1, 2], [4, 5, 6], [7, 8, 9]],
    }
)
COMPOUND_CASES = [
    ('{ ($.user.id = 1) && ($.users[0].email = "John.Doe@example.com") }', True),
    ('{ ($.user.id = 2 && $.users[0].email = "nonmatch") || $.actions[2] = "GET" }', False),
    ('{ $.user.email = "John.Stiles@example.com" || $.coordinates[0][1] = nonmatch && $.actions[2] = nomatch }', True),
    (
        '{ ($.user.email = "John.Stiles@example.com" || $.coordinates[0][1] = nonmatch) && $.actions[2] = nomatch }',
        False,
    ),
]


@pytest.mark.parametrize(("pattern", "expected"), COMPOUND_CASES)
def test_documented_compound_examples(pattern: str, expected: bool) -> None:
    assert matches(pattern, COMPOUND_EVENT) is expected


def test_a_selector_at_an_array_matches_neither_equal_nor_not_equal() -> None:
    event = json.dumps({"users": [1, 2, 3]})
    assert not matches("{$.users = 1}", event)
    assert not matches("{$.users != 1}", event)


# "OR Pattern Matching" in JSON filters.
@pytest.mark.parametrize(
    ("pattern", "first", "second"),
    [("{$.foo = bar}", True, False), ("{$.foo = baz }", False, True), ("{$.foo = bar || $.foo = baz }", True, True)],
)
def test_documented_json_or_examples(pattern: str, first: bool, second: bool) -> None:
    assert matches(pattern, '{"foo": "bar"}') is first
    assert matches(pattern, '{"foo": "baz"}') is second


# "Numeric Comparisons": the page's patterns, each with an event on either side.
NUMERIC_CASES = [
    ("{ $.latency >= 500 }", {"latency": 500}, {"latency": 499.9}),
    ("{ $.numbers[0] < 10e3 }", {"numbers": [9999]}, {"numbers": [10000]}),
    ("{ $.numbers[0] < 10e-3 }", {"numbers": [0.001]}, {"numbers": [0.01]}),
    (
        "{ $.processes[4].averageRuntime <= 55.5 }",
        {"processes": [{}] * 4 + [{"averageRuntime": 55.5}]},
        {"processes": [{}] * 4 + [{"averageRuntime": 55.6}]},
    ),
    ("{ $.errorCode = 400 }", {"errorCode": 400}, {"errorCode": 401}),
    ("{ $.errorCode != 500 }", {"errorCode": 400}, {"errorCode": 500}),
    ("{ $.latency > +1000 }", {"latency": 1001}, {"latency": 1000}),
]


@pytest.mark.parametrize(("pattern", "matching", "other"), NUMERIC_CASES, ids=[c[0] for c in NUMERIC_CASES])
def test_documented_numeric_comparisons(pattern: str, matching: dict[str, object], other: dict[str, object]) -> None:
    assert matches(pattern, json.dumps(matching))
    assert not matches(pattern, json.dumps(other))


# "STRING ... *Event will match PutEvent and GetEvent. Event* will match EventId and EventName. Ev*ent will
# only match the actual string Ev*ent."
@pytest.mark.parametrize(
    ("pattern", "value", "expected"),
    [
        ("*Event", "PutEvent", True),
        ("*Event", "GetEvent", True),
        ("*Event", "EventId", False),
        ("Event*", "EventId", True),
        ("Event*", "EventName", True),
        ("Event*", "PutEvent", False),
        ("Ev*ent", "Ev*ent", True),
        ("Ev*ent", "Event", False),
    ],
)
def test_documented_wildcards(pattern: str, value: str, expected: bool) -> None:
    assert matches(f'{{ $.name = "{pattern}" }}', json.dumps({"name": value})) is expected


def test_json_patterns_do_not_match_lines_that_are_not_json_objects() -> None:
    assert not matches("{ $.status >= 500 }", "2025/01/31 09:00:00 INFO: status 500")
    assert not matches("{ $.status >= 500 }", "[500]")


def test_space_delimited_patterns_are_refused_rather_than_guessed() -> None:
    with pytest.raises(PatternError, match="space-delimited"):
        matches("[ip, user, status_code = 4*]", "127.0.0.1 frank 404")
