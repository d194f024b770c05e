"""server_logs.py: the HTTP API query against the access log format the API really writes, numbers as strings.

The server-log patterns and queries run against a real server's lines in integration/test_log_formats.py.
"""

from __future__ import annotations

import json
import re
from typing import Any

from aws_cdk.assertions import Template

from mlflow_sagemaker_constructs import EdgeAuthorization, PrivateHttpApi, SecureMlflowService
from mlflow_sagemaker_constructs.monitoring import server_logs
from tests.harness import new_stack
from tests.harness.vpc import imported_vpc
from tests.monitoring.logs_insights import run

#: What API Gateway writes for a few $context variables; it writes every value as a string, "-" when absent.
_CONTEXT = {
    "$context.httpMethod": "GET",
    "$context.path": "/api/2.0/mlflow/experiments/search",
    "$context.identity.sourceIp": "10.0.1.9",
}


def _access_log_format() -> str:
    stack = new_stack()
    service = SecureMlflowService(stack, "Mlflow", vpc=imported_vpc(stack))
    PrivateHttpApi(stack, "Api", server=service, authorization=EdgeAuthorization.NONE)
    (stage,) = Template.from_stack(stack).find_resources("AWS::ApiGatewayV2::Stage").values()
    return str(stage["Properties"]["AccessLogSettings"]["Format"])


def _access_line(log_format: str, latency: str, integration_latency: str, status: str) -> str:
    values = {
        **_CONTEXT,
        "$context.responseLatency": latency,
        "$context.integration.latency": integration_latency,
        "$context.status": status,
    }
    return re.sub(r"\$context\.[A-Za-z.]+", lambda m: values.get(m.group(0), "-"), log_format)


def test_the_slowest_api_requests_query_reads_the_access_log_format() -> None:
    log_format = _access_log_format()
    lines = [
        _access_line(log_format, "95", "90", "200"),
        _access_line(log_format, "30001", "-", "504"),  # the integration timed out
        _access_line(log_format, "1200", "1180", "200"),
    ]
    assert all(isinstance(json.loads(line), dict) for line in lines)
    rows: list[dict[str, Any]] = run(server_logs.SLOWEST_API_REQUESTS.query, lines)
    assert [row["responseLatency"] for row in rows] == ["30001", "1200", "95"]
    assert rows[0]["status"] == "504"
    assert rows[0]["integrationLatency"] == "-"
    assert {"@timestamp", "httpMethod", "path", "ip", "integrationError"} <= set(rows[0])
    assert rows[1]["path"] == "/api/2.0/mlflow/experiments/search"
