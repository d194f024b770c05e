"""The Logs Insights evaluator against the examples of CloudWatch's query syntax and discovered-fields pages.

Where a page shows a query without events, the events here are made so that the documented outcome
("returns log events where the field statusCode has a value between 200 and 299", ...) can be checked.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.monitoring.logs_insights import QueryError, discover, run

F1 = [{"f1": "IllegalArgumentException"}, {"f1": "exception in lower case"}, {"f1": "Exception"}, {"f1": "fine"}]


@pytest.mark.parametrize(
    "query",
    [
        "fields f1, f2, f3 | filter f1 like /Exception/",
        "fields f1, f2, f3 | filter f1 =~ /Exception/",
        'fields f1, f2, f3 | filter f1 like "Exception"',
    ],
)
def test_documented_case_sensitive_matches(query: str) -> None:
    """ "The following three examples return all events in which f1 contains the word Exception ... case-sensitive"."""
    assert [row["f1"] for row in run(query, F1)] == ["IllegalArgumentException", "Exception"]


def test_documented_case_insensitive_match() -> None:
    rows = run("fields f1, f2, f3 | filter f1 like /(?i)Exception/", F1)
    assert [row["f1"] for row in rows] == ["IllegalArgumentException", "exception in lower case", "Exception"]


def test_documented_exact_case_insensitive_match() -> None:
    """``/^(?i)Exception$/``: exactly the word, in any case."""
    rows = run("fields f1, f2, f3 | filter f1 =~ /^(?i)Exception$/", [*F1, {"f1": "EXCEPTION"}])
    assert [row["f1"] for row in rows] == ["Exception", "EXCEPTION"]


def test_documented_regex_filter_on_status_codes() -> None:
    events = [{"statusCode": code} for code in ("200", "204", "299", "301", "404", "500")]
    assert run("fields f1 | filter statusCode like /2\\d\\d/", events) == [{"f1": None}] * 3
    rows = run("fields statusCode | filter statusCode like /2\\d\\d/", events)
    assert [row["statusCode"] for row in rows] == ["200", "204", "299"]


def test_documented_filter_with_or_and_comparisons() -> None:
    """``fields f1, f2 | filter (f1=10 or f3>25)``."""
    events = [{"f1": 10, "f2": "a", "f3": 1}, {"f1": 9, "f2": "b", "f3": 26}, {"f1": 9, "f2": "c", "f3": 25}]
    assert run("fields f1, f2 | filter (f1=10 or f3>25)", events) == [{"f1": 10, "f2": "a"}, {"f1": 9, "f2": "b"}]


def test_documented_duration_filter() -> None:
    events = [{"duration": 2500, "f1": 1}, {"duration": 2000, "f1": 2}, {"duration": 1, "f1": 3}]
    assert run("fields f1, f2, f3 | filter (duration>2000)", events) == [{"f1": 1, "f2": None, "f3": None}]


def test_documented_stats_by_and_alias_sort() -> None:
    events = [{"f1": 1, "f2": "a"}, {"f1": 3, "f2": "a"}, {"f1": 10, "f2": "b"}]
    assert run("stats avg (f1) by f2", events) == [{"f2": "a", "avg (f1)": 2.0}, {"f2": "b", "avg (f1)": 10.0}]
    rows = run("stats avg(f1) as myAvgF1 by f2 | sort myAvgF1 desc", events)
    assert rows == [{"f2": "b", "myAvgF1": 10.0}, {"f2": "a", "myAvgF1": 2.0}]


def test_documented_glob_parse() -> None:
    """``parse @message "user=*, method:*, latency := *" as @user, @method, @latency | stats avg(@latency) by
    @method, @user``."""
    messages = ["user=alice, method:GET, latency := 100", "user=alice, method:GET, latency := 300", "nothing here"]
    query = (
        'parse @message "user=*, method:*, latency := *" as @user, @method, @latency '
        "| stats avg(@latency) by @method, @user"
    )
    assert run(query, messages) == [
        {"@method": "GET", "@user": "alice", "avg(@latency)": 200.0},
        {"@method": None, "@user": None, "avg(@latency)": None},
    ]


def test_documented_regex_parse_of_a_squid_line() -> None:
    line = "1608226834.123 342 10.0.0.1 TCP_MISS/200 example.com:443"
    query = (
        r"parse @message /(?<time>[0-9]{10}\.[0-9]{1,3}) .* (?<code>[A-Z_]+\/[0-9]{3}) (?<url>[a-zA-Z.]+:[0-9]{1,5})/"
        " | fields time, code, url"
    )
    assert run(query, [line]) == [{"time": "1608226834.123", "code": "TCP_MISS/200", "url": "example.com:443"}]


def test_documented_json_field_discovery() -> None:
    """Nested fields with dots, array items by index (the CloudTrail example)."""
    event = {
        "userIdentity": {"type": "IAMUser", "userName": "Alice"},
        "requestParameters": {"instancesSet": {"items": [{"instanceId": "i-abcde123"}]}},
    }
    row = discover(json.dumps(event))
    assert row["userIdentity.type"] == "IAMUser"
    assert row["requestParameters.instancesSet.items.0.instanceId"] == "i-abcde123"
    assert discover("not json") == {"@message": "not json", "@timestamp": 0, "@logStream": "mlflow/Mlflow/task"}


def test_coalesce_returns_the_first_non_null_and_ispresent_says_whether_a_field_exists() -> None:
    events: list[dict[str, Any]] = [{"a": None, "b": "x"}, {"a": "y"}, {}]
    assert run('fields coalesce(a, b, "-") as first', events) == [{"first": "x"}, {"first": "y"}, {"first": "-"}]
    assert len(run("filter ispresent(b)", events)) == 1


def test_comparisons_with_a_missing_field_are_false() -> None:
    assert run('filter kind != "request"', [{"other": 1}]) == []


def test_limit_and_sort_with_missing_values_last() -> None:
    events = [{"d": 1}, {"d": 30}, {}, {"d": 4}]
    assert run("fields d | sort d desc | limit 3", events) == [{"d": 30}, {"d": 4}, {"d": 1}]


def test_commands_outside_the_subset_are_refused() -> None:
    with pytest.raises(QueryError, match="command 'dedup'"):
        run("dedup f1", [{"f1": 1}])
    with pytest.raises(QueryError, match="function bin"):
        run("fields bin(5m)", [{"f1": 1}])
