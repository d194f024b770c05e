"""cdk-monitoring-constructs or aws_cloudwatch L2s for MlflowMonitoring: the measurements behind the choice.

Run with an interpreter that has ``cdk-monitoring-constructs`` and this library installed (it is not a
dependency of the library, so not in the project's environment)::

    uv venv /tmp/cmc && uv pip install --python /tmp/cmc/bin/python cdk-monitoring-constructs .
    ./dev shell python -m benchmarks.monitoring_library --python /tmp/cmc/bin/python

Each variant runs in a fresh process, alternating, ``--runs`` times (median, minimum, maximum): importing
aws-cdk-lib and the constructs, building a stack with ``SecureMlflowService`` and ``PrivateHttpApi`` and
monitoring it, and synthesizing. ``l2`` monitors with ``MlflowMonitoring`` (aws_cloudwatch L2s only);
``facade`` additionally loads cdk-monitoring-constructs and builds a ``MonitoringFacade`` over the same
resources, with the library's ``metric_*`` methods plugged in through ``monitor_custom`` (which shows that
users with a facade can use them). Apart, it times loading the package alone once aws-cdk-lib is loaded
(the jsii start time, less noisy than the difference of two synths). It also reports the package's size
and what it adds to the dependency tree. No test asserts these numbers; docs/monitoring.md quotes one run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

_BUILD = """
import json, sys, tempfile
import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from mlflow_sagemaker_constructs import EdgeAuthorization, MlflowMonitoring, PrivateHttpApi, SecureMlflowService
app = cdk.App(outdir=tempfile.mkdtemp())
stack = cdk.Stack(app, "Bench", env=cdk.Environment(account="123456789012", region="us-east-1"))
vpc = ec2.Vpc.from_vpc_attributes(stack, "Vpc", vpc_id="vpc-0123456789abcdef0", availability_zones=["a", "b"],
    private_subnet_ids=["subnet-0a000000000000001", "subnet-0a000000000000002"],
    isolated_subnet_ids=["subnet-0b000000000000001", "subnet-0b000000000000002"])
mlflow = SecureMlflowService(stack, "Mlflow", vpc=vpc)
api = PrivateHttpApi(stack, "Api", server=mlflow, authorization=EdgeAuthorization.NONE)
MlflowMonitoring(stack, "Monitoring", server=mlflow, http_api=api)
"""
_FACADE = """
import cdk_monitoring_constructs as cmc
facade = cmc.MonitoringFacade(stack, "Facade")
facade.monitor_simple_fargate_service(fargate_service=mlflow.service)
facade.monitor_aurora_cluster(cluster=mlflow.database_cluster)
facade.monitor_api_gateway_v2_http_api(api=api.http_api)
facade.monitor_custom(metric_groups=[cmc.CustomMetricGroup(title="MLflow server log", metrics=[
    mlflow.metric_auth_failures(), mlflow.metric_server_errors(), mlflow.metric_entrypoint_failures()])],
    alarm_friendly_name="mlflow-log")
"""
_SYNTH = """
template = app.synth().get_stack_by_name("Bench").template
types = [r["Type"] for r in template["Resources"].values()]
print(json.dumps({"dashboards": types.count("AWS::CloudWatch::Dashboard"),
                  "alarms": types.count("AWS::CloudWatch::Alarm")}))
"""
VARIANTS = {"l2": _BUILD + _SYNTH, "facade": _BUILD + _FACADE + _SYNTH}
#: The jsii start time alone: loading the package's assembly once aws-cdk-lib is loaded (less noisy than the
#: difference of two whole synths on a shared machine).
_IMPORT = """
import time, aws_cdk, aws_cdk.aws_cloudwatch
started = time.perf_counter()
import cdk_monitoring_constructs
cdk_monitoring_constructs.MonitoringFacade
print(time.perf_counter() - started)
"""


def _package_size(python: str) -> dict[str, object]:
    code = (
        "import importlib.metadata as m, json, pathlib\n"
        "d = m.distribution('cdk-monitoring-constructs')\n"
        "files = [pathlib.Path(d.locate_file(f)) for f in d.files or []]\n"
        "print(json.dumps({'version': d.version, 'bytes': sum(f.stat().st_size for f in files if f.exists()),"
        " 'requires': d.requires}))"
    )
    result = subprocess.run([python, "-c", code], capture_output=True, text=True, check=True)
    info: dict[str, object] = json.loads(result.stdout)
    return info


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--python", default=sys.executable, help="interpreter with cdk-monitoring-constructs")
    parser.add_argument("--runs", type=int, default=5, help="runs per variant (default: 5)")
    args = parser.parse_args(argv)
    seconds: dict[str, list[float]] = {name: [] for name in VARIANTS}
    shapes: dict[str, str] = {}
    imports: list[float] = []
    for _ in range(max(1, min(args.runs, 20))):
        result = subprocess.run([args.python, "-c", _IMPORT], capture_output=True, text=True, check=True)
        imports.append(float(result.stdout.strip().splitlines()[-1]))
        for name, code in VARIANTS.items():
            started = time.perf_counter()
            result = subprocess.run([args.python, "-c", code], capture_output=True, text=True, check=False)
            seconds[name].append(time.perf_counter() - started)
            if result.returncode != 0:
                print(result.stderr[-3000:], file=sys.stderr)
                return 1
            shapes[name] = result.stdout.strip().splitlines()[-1]
    info = _package_size(args.python)
    print(f"cdk-monitoring-constructs {info['version']}: {int(str(info['bytes'])) / 1e6:.1f} MB installed")
    print(f"its requirements: {info['requires']}")
    print(f"interpreter: {Path(args.python)}")
    print(f"loading its jsii assembly after aws-cdk-lib: median {statistics.median(imports):.2f} s")
    print("| variant | median s | min s | max s | resources |")
    print("| --- | ---: | ---: | ---: | --- |")
    for name, values in seconds.items():
        print(f"| {name} | {statistics.median(values):.1f} | {min(values):.1f} | {max(values):.1f} | {shapes[name]} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
