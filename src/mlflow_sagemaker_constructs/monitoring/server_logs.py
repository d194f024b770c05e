"""What the server writes to its log group, as metric filter patterns and Logs Insights queries.

The server's log group holds three kinds of lines (``tests/monitoring`` runs every pattern and query here
against lines a real server wrote):

- one JSON object per request (``tracking_server/server/request_log.py``)::

    {"kind":"request","method":"POST","path":"/api/2.0/mlflow/runs/log-metric","status":200,"duration_ms":9.4,
     "user":"alice","auth":"basic","forwarded_for":"10.0.1.23"}

- the entrypoint's lines before the server starts (``tracking_server/server/entrypoint.py``)::

    [mlflow-entrypoint] MIGRATING tracking schema of postgresql database 'mlflow' at db:5432: empty -> dc11669786a5
    [mlflow-entrypoint] databases ready in 21.3 s; starting mlflow server on port 5000 with 2 workers, ...
    [mlflow-entrypoint] ERROR: cannot log in to postgresql database 'mlflow' at db:5432 as user 'mlflow': ...

- messages of MLflow, uvicorn and the server's modules, in MLflow's format::

    2025/01/31 09:00:00 INFO mlflow_sagemaker_server.iam_authentication: iam-auth accepted principal=arn:... user=...
    2025/01/31 09:00:00 WARNING mlflow_sagemaker_server.iam_authentication: iam-auth refused principal=arn:... ...
"""

from __future__ import annotations

import dataclasses
import re

import aws_cdk as cdk
from constructs import Construct

from mlflow_sagemaker_constructs.tracking_server.server.entrypoint import LOG_PREFIX, MIGRATION_MARKER
from mlflow_sagemaker_constructs.tracking_server.server.request_log import REQUEST_KIND

#: Metric names of the metric filters on the server's log group.
AUTH_FAILURES_METRIC = "AuthFailures"
SERVER_ERRORS_METRIC = "ServerErrors"
ENTRYPOINT_FAILURES_METRIC = "EntrypointFailures"

_IS_REQUEST = f'$.kind = "{REQUEST_KIND}"'
#: Requests refused with 401 (no or wrong credentials) or 403 (no permission): brute force or misconfigured clients.
AUTH_FAILURES_PATTERN = f"{{ {_IS_REQUEST} && ($.status = 401 || $.status = 403) }}"
#: Requests the server (or the app inside it) answered with a 5xx.
SERVER_ERRORS_PATTERN = f"{{ {_IS_REQUEST} && $.status >= 500 }}"
#: A task that stopped before starting the server (bad setting, unreachable database, newer schema, ...).
ENTRYPOINT_FAILURES_PATTERN = f'"{LOG_PREFIX} ERROR:"'

# The entrypoint's prefix as a regular expression: only its brackets need escaping.
_ESCAPED_PREFIX = LOG_PREFIX.replace("[", r"\[").replace("]", r"\]")
_NAMESPACE_CHARACTERS = re.compile(r"[^A-Za-z0-9._/#: -]")
_MAX_NAMESPACE = 255


def log_metrics_namespace(construct: Construct) -> str:
    """``MLflow/<stack name>/<path in the stack>``: unique per deployment in an account and region.

    Stack names are unique per account and region, and construct paths within a stack, so two deployments
    never share a namespace (CloudWatch metric filters cannot set a constant dimension to tell them apart).
    """
    stack = cdk.Stack.of(construct)
    stack_name = stack.stack_name if not cdk.Token.is_unresolved(stack.stack_name) else cdk.Names.unique_id(stack)
    relative = construct.node.path[len(stack.node.path) :].lstrip("/") if stack.node.path else construct.node.path
    namespace = _NAMESPACE_CHARACTERS.sub("_", f"MLflow/{stack_name}/{relative}")
    return namespace[:_MAX_NAMESPACE]


@dataclasses.dataclass(frozen=True)
class SavedQuery:
    """A Logs Insights query saved as ``AWS::Logs::QueryDefinition``."""

    key: str
    title: str
    query: str


# Logs Insights discovers the fields of the JSON request lines itself; the other lines need ``parse``.
SLOWEST_REQUESTS = SavedQuery(
    "SlowestRequests",
    "Slowest requests",
    "\n".join(
        [
            "fields @timestamp, method, path, status, duration_ms, user, auth, @logStream",
            f'| filter kind = "{REQUEST_KIND}"',
            "| sort duration_ms desc",
            "| limit 100",
        ]
    ),
)
SERVER_ERRORS_BY_ROUTE = SavedQuery(
    "ServerErrorsByRoute",
    "5xx by route",
    "\n".join(
        [
            f'filter kind = "{REQUEST_KIND}" and status >= 500',
            "| stats count(*) as errors, max(duration_ms) as slowest_ms by method, path, status",
            "| sort errors desc",
            "| limit 100",
        ]
    ),
)
# Each refusal counts once: a request line for basic-auth (claimed_user) and for MLflow's permission checks
# (user), the iam-auth line for IAM tokens it refused (principal; its request line has no user).
AUTH_FAILURES_BY_PRINCIPAL = SavedQuery(
    "AuthFailuresByPrincipal",
    "Auth failures by user or principal",
    "\n".join(
        [
            r"parse @message /iam-auth refused (principal=(?<principal>\S+) )?status=(?<iam_status>\d+) "
            r"reason=(?<reason>.+)/",
            f'| filter (kind = "{REQUEST_KIND}" and (status = 401 or status = 403) '
            'and (auth != "iam" or ispresent(user))) or ispresent(iam_status)',
            '| fields coalesce(user, claimed_user, principal, "(none)") as who, coalesce(auth, "iam") as credentials,'
            " coalesce(status, iam_status) as code",
            "| stats count(*) as failures by who, credentials, code, reason",
            "| sort failures desc",
            "| limit 100",
        ]
    ),
)
# Writes (everything but GET and HEAD) by the authenticated user; the iam-auth lines say which IAM principal
# each MLflow user name stands for.
WHO_DID_WHAT = SavedQuery(
    "WhoDidWhat",
    "Who did what",
    "\n".join(
        [
            'parse @message "iam-auth accepted principal=* user=* admin=*" as principal, iam_user, admin',
            f'| filter (kind = "{REQUEST_KIND}" and ispresent(user) and method != "GET" and method != "HEAD" '
            "and status < 400) or ispresent(iam_user)",
            "| fields @timestamp, coalesce(user, iam_user) as mlflow_user, principal, method, path, status",
            "| sort @timestamp desc",
            "| limit 1000",
        ]
    ),
)
MIGRATIONS_AND_STARTUPS = SavedQuery(
    "MigrationsAndStartups",
    "Migrations and start-ups",
    "\n".join(
        [
            f'filter @message like "{LOG_PREFIX}" or @message like "Application startup complete"',
            rf"| parse @message /{_ESCAPED_PREFIX} (?<entrypoint>.*)/",
            r"| parse @message /databases ready in (?<ready_seconds>[0-9.]+) s/",
            rf"| parse @message /{MIGRATION_MARKER} (?<schema>\w+) schema of .*: (?<from_revision>\S+) -> "
            r"(?<to_revision>\S+)/",
            r"| parse @message /migrated (?<migrated>\w+) schema in (?<migration_seconds>[0-9.]+) s/",
            r"| parse @message /ERROR: (?<error>.+)/",
            "| fields @timestamp, @logStream, coalesce(entrypoint, @message) as event, ready_seconds, schema, "
            "from_revision, to_revision, migration_seconds, error",
            "| sort @timestamp desc",
            "| limit 200",
        ]
    ),
)
#: The queries on the server's log group, in the order the console lists them.
SERVER_QUERIES = (
    SLOWEST_REQUESTS,
    SERVER_ERRORS_BY_ROUTE,
    AUTH_FAILURES_BY_PRINCIPAL,
    WHO_DID_WHAT,
    MIGRATIONS_AND_STARTUPS,
)
#: On the HTTP API's access log group (its JSON fields are those of ``PrivateHttpApi._access_log_format``).
SLOWEST_API_REQUESTS = SavedQuery(
    "SlowestApiRequests",
    "Slowest requests at the HTTP API",
    "\n".join(
        [
            "fields @timestamp, httpMethod, path, status, responseLatency, integrationLatency, integrationError, ip",
            "| sort responseLatency desc",
            "| limit 100",
        ]
    ),
)
