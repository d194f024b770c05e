"""docs/monitoring.md says what the templates do: its alarm table matches every synthesized default alarm
(metric, statistic, period, periods, threshold, missing data), each alarm has a runbook that justifies its
threshold, and each saved query is described."""

from __future__ import annotations

import dataclasses
import re

import pytest

from mlflow_sagemaker_constructs import MlflowAlarms
from mlflow_sagemaker_constructs.monitoring import server_logs
from tests.harness.app import REPO_ROOT
from tests.monitoring.dashboards import AlarmShape
from tests.monitoring.test_monitoring import ABOVE, ENDPOINT_EXPECTED, EXPECTED

PAGE = (REPO_ROOT / "docs" / "monitoring.md").read_text(encoding="utf-8")
ALL_EXPECTED: dict[str, AlarmShape] = {**EXPECTED, **ENDPOINT_EXPECTED}
_MISSING = {"not breaching": "notBreaching", "breaching": "breaching"}


def _alarm_rows() -> dict[str, list[str]]:
    """The alarm table's rows by ``MlflowAlarms`` field: [field, metric, statistic, period x periods, fires when,
    missing data]."""
    rows = {}
    for line in PAGE.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 6 and re.fullmatch(r"`[a-z0-9_]+`", cells[0]):
            rows[cells[0].strip("`")] = cells
    return rows


def test_the_table_lists_every_alarm_field() -> None:
    assert set(_alarm_rows()) == {field.name for field in dataclasses.fields(MlflowAlarms)} == set(ALL_EXPECTED)


@pytest.mark.parametrize("key", list(ALL_EXPECTED))
def test_the_table_row_matches_the_synthesized_alarm(key: str) -> None:
    shape = ALL_EXPECTED[key]
    _, metric, statistic, periods, fires_when, missing = _alarm_rows()[key]
    assert f"`{shape.metric_name}`" in metric
    assert shape.namespace.startswith("MLflow/") or f"`{shape.namespace}`" in metric
    assert statistic == shape.statistic
    assert periods == f"{shape.period // 60} min \N{MULTIPLICATION SIGN} {shape.evaluation_periods}"
    assert shape.datapoints_to_alarm == shape.evaluation_periods  # "x periods" reads: every one of them
    operator = ">=" if shape.comparison == ABOVE else "<"
    threshold = f"{int(shape.threshold):,}" if shape.threshold == int(shape.threshold) else f"{shape.threshold:g}"
    assert fires_when == f"{operator} {threshold}"
    assert _MISSING[missing.split(" (")[0]] == shape.treat_missing_data


@pytest.mark.parametrize("key", list(ALL_EXPECTED))
def test_each_alarm_has_a_runbook_that_justifies_its_threshold(key: str) -> None:
    section = PAGE.split(f"#### `{key}`\n", 1)[1].split("\n#", 1)[0]
    for part in ("**What it means:**", "**Why", "**What to do:**"):
        assert part in section, f"{key}: the runbook lacks {part}"


def test_each_saved_query_is_described() -> None:
    for query in (*server_logs.SERVER_QUERIES, server_logs.SLOWEST_API_REQUESTS):
        assert f"| {query.title} |" in PAGE, query.title
