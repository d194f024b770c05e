"""The upgrade path from the deployments users run today: the AWS samples' MLflow 2.x databases.

Each source is a database an old MLflow server created and a team filled through its client
(``sample_data.py``, run in a throwaway venv with that MLflow: ``tests/harness/legacy_mlflow``):

* MariaDB with MLflow 2.6 (``aws-samples/amazon-sagemaker-mlflow-fargate``, RDS MySQL);
* MariaDB with MLflow 2.14 (``aws-samples/aws-mlflow-sagemaker-cdk``, Aurora MySQL);
* PostgreSQL with MLflow 2.14;
* the MariaDB 2.14 data moved to PostgreSQL with pgloader, exactly as ``docs/migrating-from-aws-samples.md``
  says (schema made by the old MLflow, data copied by the load file in that page).

Then two entrypoints start at once against it as an ``existing_database`` (auth store on PostgreSQL,
artifacts proxied to ``s3://<the samples' bucket>/mlflow-artifacts``, the construct's default prefix with
``existing_bucket``). The tests check that the schema migrated once, under the lock, to the head revision;
that the current MLflow client reads back exactly what the old one recorded (counts, values, metric
histories, stages, aliases, artifact contents); that the old ``s3://`` artifact locations still resolve,
through the server and directly; and that writing after the upgrade works.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import secrets
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import requests

from mlflow_sagemaker_constructs.tracking_server.server import contract
from mlflow_sagemaker_constructs.tracking_server.server.entrypoint import (
    EXIT_DATABASE_SETUP,
    MIGRATION_MARKER,
    TRACKING_MIGRATIONS,
    _script_revisions,
    mlflow_package_dir,
)
from tests.harness.app import REPO_ROOT
from tests.harness.legacy_mlflow import LegacyMlflow, legacy_mlflow
from tests.harness.services import (
    DbAccount,
    EntrypointProcess,
    MariaDbServer,
    PostgresServer,
    S3Server,
    ServiceError,
    contract_env,
    run_entrypoint,
)
from tests.tracking_server.integration import sample_data
from tests.tracking_server.integration.conftest import admin_password

if TYPE_CHECKING:
    from mlflow import MlflowClient

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("upgrade")]

SAMPLE_DATA_SCRIPT = Path(sample_data.__file__)
GUIDE = REPO_ROOT / "docs" / "migrating-from-aws-samples.md"
#: The construct's default ``artifact_prefix``: where new artifacts go in the samples' bucket.
NEW_ARTIFACT_PREFIX = "mlflow-artifacts"


@dataclasses.dataclass(frozen=True)
class Source:
    """A tracking database as an AWS sample's MLflow server left it."""

    name: str
    mlflow_version: str
    account: DbAccount
    bucket: str
    #: What the old MLflow client read back after seeding (``sample_data.py``'s output).
    recorded: dict[str, Any]
    revision: str
    #: A copy taken right after seeding, as the migration guide's snapshot step does (MariaDB only).
    snapshot_database: str | None = None

    @property
    def expected(self) -> dict[str, Any]:
        return dict(self.recorded["view"])

    @property
    def ids(self) -> dict[str, str]:
        return dict(self.recorded["ids"])


def _query(source: Source, mariadb: MariaDbServer, postgres: PostgresServer, sql: str) -> list[tuple[Any, ...]]:
    if source.account.engine == "mysql":
        return mariadb.query(sql, database=source.account.database)
    return postgres.query(sql, database=source.account.database)


def _sqlalchemy_uri(account: DbAccount) -> str:
    """The URI the samples' images gave ``mlflow server`` (their passwords have no URI-special characters)."""
    scheme = "mysql+pymysql" if account.engine == "mysql" else "postgresql"
    return f"{scheme}://{account.username}:{account.password}@{account.host}:{account.port}/{account.database}"


def _seed(
    name: str,
    old: LegacyMlflow,
    account: DbAccount,
    s3: S3Server,
    log_dir: Path,
    read_revision: Callable[[], list[tuple[Any, ...]]],
) -> Source:
    """Run the old MLflow server on ``account`` like the samples did, fill it through the old client."""
    bucket = s3.create_bucket(f"{name.replace('.', '-')}-artifacts")
    started = time.monotonic()
    recorded_file = log_dir / f"{name}-recorded.json"
    with old.server(
        _sqlalchemy_uri(account), f"s3://{bucket}", log_dir / f"{name}-old-server.log", env=s3.client_env()
    ) as url:
        old.run_python([str(SAMPLE_DATA_SCRIPT), url, bucket, str(recorded_file)], env=s3.client_env())
    recorded = json.loads(recorded_file.read_text(encoding="utf-8"))
    assert recorded["mlflow_version"] == old.version
    (revision,) = read_revision()[0]
    print(f"\n{name}: venv {old.build_seconds:.1f} s, old server + seeding {time.monotonic() - started:.1f} s")
    return Source(name, old.version, account, bucket, recorded, str(revision))


def _new_account(server: MariaDbServer | PostgresServer, prefix: str) -> DbAccount:
    # Plain passwords, like the samples' generated ones (they exclude punctuation).
    return server.new_account(f"{prefix}_{secrets.token_hex(3)}", password=secrets.token_hex(12))


@pytest.fixture(scope="module")
def mariadb_214(mariadb: MariaDbServer, s3: S3Server, log_dir: Path) -> Source:
    """MLflow 2.14 on MariaDB, plus a snapshot copy taken before any upgrade touches it."""
    account = _new_account(mariadb, "sample214")
    source = _seed(
        "mariadb-mlflow-2.14.2",
        legacy_mlflow("2.14.2"),
        account,
        s3,
        log_dir,
        lambda: mariadb.query("SELECT version_num FROM alembic_version", database=account.database),
    )
    snapshot = f"{account.database}_snapshot"
    mariadb.query(f"CREATE DATABASE `{snapshot}`")
    mariadb.query(f"GRANT ALL PRIVILEGES ON `{snapshot}`.* TO '{account.username}'@'%'")
    socket_args = ["--no-defaults", "--user=root", f"--socket={mariadb.socket}"]
    dump = subprocess.run(
        [shutil.which("mariadb-dump") or "mariadb-dump", *socket_args, "--single-transaction", account.database],
        capture_output=True,
        check=True,
    )
    subprocess.run([shutil.which("mariadb") or "mariadb", *socket_args, snapshot], input=dump.stdout, check=True)
    return dataclasses.replace(source, snapshot_database=snapshot)


# --------------------------------------------------------------------------------------------------
# pgloader: MariaDB (MLflow 2.14 data) -> PostgreSQL, as the guide says
# --------------------------------------------------------------------------------------------------


def guide_block(title: str) -> str:
    """The fenced block of the migration guide titled ``title`` (the tests run what the guide tells)."""
    match = re.search(rf'^```\w* title="{re.escape(title)}"\n(.*?)^```', GUIDE.read_text(encoding="utf-8"), re.S | re.M)
    assert match, f"{GUIDE.name} has no code block titled {title!r}"
    return match.group(1)


def _pgloader_url(engine: str, account: DbAccount, database: str | None = None) -> str:
    scheme = "mysql" if engine == "mysql" else "postgresql"
    return (
        f"{scheme}://{account.username}:{account.password}@{account.host}:{account.port}/{database or account.database}"
    )


def run_pgloader(load_file: Path, env: dict[str, str], log_dir: Path) -> str:
    """Run Debian's pgloader on ``load_file``; return its report (it fails the test on a non-zero exit)."""
    pgloader = shutil.which("pgloader")
    if pgloader is None:
        raise ServiceError("pgloader is not installed (apt-get install pgloader; ./dev setup installs it)")
    result = subprocess.run(
        [pgloader, "--root-dir", str(log_dir / "pgloader"), str(load_file)],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    return output


#: What pgloader does when left to create the schema itself (the guide's "what does not work").
PGLOADER_CREATES_SCHEMA = """\
LOAD DATABASE FROM {{MYSQL_URL}} INTO {{PGSQL_URL}}
  WITH include drop, create tables, create indexes, reset sequences, foreign keys
  ALTER SCHEMA '{{MYSQL_DATABASE}}' RENAME TO 'public';
"""


def load_with_pgloader(
    source: Source, postgres: PostgresServer, log_dir: Path, *, schema_by_old_mlflow: bool = True
) -> tuple[DbAccount, str]:
    """Copy ``source``'s snapshot into a new PostgreSQL database; return it and pgloader's report."""
    assert source.snapshot_database is not None
    target = _new_account(postgres, "pgloaded")
    env = {
        "MYSQL_URL": _pgloader_url("mysql", source.account, source.snapshot_database),
        "MYSQL_DATABASE": source.snapshot_database,
        "PGSQL_URL": _pgloader_url("postgresql", target),
    }
    if schema_by_old_mlflow:
        # The guide's first step: the MLflow version the old server ran creates its schema on PostgreSQL.
        legacy_mlflow(source.mlflow_version).run_python(
            ["-c", guide_block("create-schema.py")], env={"PGSQL_URL": env["PGSQL_URL"]}
        )
        load = guide_block("mlflow-data.load")
    else:
        load = PGLOADER_CREATES_SCHEMA
    load_file = log_dir / f"{target.database}.load"
    load_file.write_text(load, encoding="utf-8")
    return target, run_pgloader(load_file, env, log_dir)


# --------------------------------------------------------------------------------------------------
# The upgrade: two entrypoints at once on each source
# --------------------------------------------------------------------------------------------------

SOURCES = (
    "mariadb-mlflow-2.6.0",
    "mariadb-mlflow-2.14.2",
    "postgresql-mlflow-2.14.2",
    "pgloader-mariadb-mlflow-2.14.2",
)


@dataclasses.dataclass(frozen=True)
class Upgraded:
    source: Source
    first: EntrypointProcess
    second: EntrypointProcess
    env: dict[str, str]
    head: str
    pgloader_report: str

    @property
    def url(self) -> str:
        return self.first.url

    @property
    def admin_auth(self) -> tuple[str, str]:
        return "admin", self.env[contract.AUTH_ADMIN_PASSWORD]

    def logs(self) -> str:
        return self.first.logs() + self.second.logs()


def _wait_for_log(handle: EntrypointProcess, text: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while text not in handle.logs():
        if handle.process.poll() is not None or time.monotonic() > deadline:
            raise ServiceError(f"no {text!r} from the entrypoint (exit code {handle.process.poll()}):\n{handle.logs()}")
        time.sleep(0.2)


def tracking_head() -> str:
    return _script_revisions(str(mlflow_package_dir().joinpath(*TRACKING_MIGRATIONS)))[0]


def _source(name: str, request: pytest.FixtureRequest) -> tuple[Source, str]:
    mariadb: MariaDbServer = request.getfixturevalue("mariadb")
    postgres: PostgresServer = request.getfixturevalue("postgres")
    s3: S3Server = request.getfixturevalue("s3")
    log_dir: Path = request.getfixturevalue("log_dir")
    if name == "mariadb-mlflow-2.14.2":
        return request.getfixturevalue("mariadb_214"), ""
    if name == "pgloader-mariadb-mlflow-2.14.2":
        base: Source = request.getfixturevalue("mariadb_214")
        target, report = load_with_pgloader(base, postgres, log_dir)
        (revision,) = postgres.query("SELECT version_num FROM alembic_version", database=target.database)[0]
        return dataclasses.replace(base, name=name, account=target, revision=revision, snapshot_database=None), report
    version = name.rsplit("-", 1)[1]
    server: MariaDbServer | PostgresServer = mariadb if name.startswith("mariadb") else postgres
    account = _new_account(server, f"sample{version.replace('.', '')}")
    source = _seed(
        name,
        legacy_mlflow(version),
        account,
        s3,
        log_dir,
        lambda: server.query("SELECT version_num FROM alembic_version", database=account.database),
    )
    return source, ""


@pytest.fixture(scope="module", params=SOURCES)
def upgraded(
    request: pytest.FixtureRequest, postgres: PostgresServer, s3: S3Server, log_dir: Path
) -> Iterator[Upgraded]:
    """Two entrypoints started at once on the source as ``existing_database``; the first keeps serving."""
    source, report = _source(request.param, request)
    auth_db: DbAccount | None = None
    if source.account.engine == "mysql":
        # MLflow's auth store needs PostgreSQL: SecureMlflowService(auth_database=...) with a MySQL tracking store.
        auth_user = f"auth_{secrets.token_hex(3)}"
        auth_password = secrets.token_hex(12)
        postgres.create_user(auth_user, auth_password)
        auth_db = DbAccount("postgresql", postgres.host, postgres.port, f"{auth_user}_db", auth_user, auth_password)
    env = contract_env(
        source.account,
        f"s3://{source.bucket}/{NEW_ARTIFACT_PREFIX}",
        s3,
        admin_password=admin_password(),
        auth_db=auth_db,
        overrides={contract.WORKERS: "1"},
    )
    first = run_entrypoint(env, log_dir, name=f"{request.param}-a")
    second = run_entrypoint(env, log_dir, name=f"{request.param}-b")
    try:
        first.wait_healthy(240)
        # The second task only has to get past the databases; serving is the first one's job.
        _wait_for_log(second, "databases ready", 240)
        second.stop()
        yield Upgraded(source, first, second, env, tracking_head(), report)
    finally:
        first.stop()
        second.stop()


@pytest.fixture
def client(
    upgraded: Upgraded,
    use_server: Callable[[str, tuple[str, str] | None], MlflowClient],
    monkeypatch: pytest.MonkeyPatch,
    s3: S3Server,
    tmp_path: Path,
) -> MlflowClient:
    """The current MLflow client as the admin, with no AWS credentials (tests add S3 access where they say).

    S3 calls still go to the local emulation, never to AWS: without credentials they fail before sending.
    """
    monkeypatch.setenv("MLFLOW_S3_ENDPOINT_URL", s3.endpoint_url)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return use_server(upgraded.url, upgraded.admin_auth)


def with_s3_access(monkeypatch: pytest.MonkeyPatch, s3: S3Server) -> None:
    """Give this process S3 access to the bucket, as a SageMaker execution role with S3 permissions has."""
    for key, value in s3.client_env().items():
        monkeypatch.setenv(key, value)


def test_the_schema_migrates_once_under_the_lock(
    upgraded: Upgraded, mariadb: MariaDbServer, postgres: PostgresServer
) -> None:
    logs, source, head = upgraded.logs(), upgraded.source, upgraded.head
    assert source.revision != head
    assert logs.count(f"{MIGRATION_MARKER} tracking schema") == 1, logs
    assert f"{MIGRATION_MARKER} tracking schema of {source.account.engine} database '{source.account.database}'" in logs
    assert f": {source.revision} -> {head}" in logs, logs
    # The other task found it current, after waiting for the lock or after the migration.
    assert logs.count("tracking schema of") == 2, logs
    assert f"is current ({head})" in logs, logs
    assert logs.count(f"{MIGRATION_MARKER} auth schema") == 1, logs
    # An upgrade, not a fresh schema: MLflow's initial tables were never created again.
    assert "Creating initial MLflow database tables" not in logs
    assert _query(source, mariadb, postgres, "SELECT version_num FROM alembic_version") == [(head,)]


def test_everything_reads_back_as_the_old_mlflow_recorded_it(
    upgraded: Upgraded, client: MlflowClient, monkeypatch: pytest.MonkeyPatch, s3: S3Server
) -> None:
    from mlflow.entities import ViewType

    with_s3_access(monkeypatch, s3)  # the client downloads the old runs' s3:// artifacts itself
    expected, ids = upgraded.source.expected, upgraded.source.ids
    view = sample_data.snapshot(client)

    # Counts first, so that a loss reads as one.
    assert (
        sorted(view["experiments"])
        == sorted(expected["experiments"])
        == sorted(
            [
                "Default",
                sample_data.TRAINING_EXPERIMENT,
                sample_data.CUSTOM_LOCATION_EXPERIMENT,
                sample_data.DELETED_EXPERIMENT,
            ]
        )
    )
    assert sorted(view["runs"]) == sorted(expected["runs"]) == sorted(ids[role] for role in sample_data.RUNS)
    points = sum(len(history) for run in view["runs"].values() for history in run["metric_history"].values())
    assert points == 22
    assert sorted(view["registered_models"]) == [sample_data.MODEL, sample_data.SECOND_MODEL]
    # Then every value: ids, names, locations, stages, times, params, tags, metric histories, inputs,
    # artifact contents, registered models, versions, version tags and aliases.
    assert view == expected

    baseline = client.get_run(ids["baseline"])
    assert baseline.data.params == sample_data.BASELINE_PARAMS
    history = sorted(client.get_metric_history(ids["baseline"], "loss"), key=lambda metric: metric.step)
    assert [metric.value for metric in history] == sample_data.BASELINE_LOSS
    assert [metric.timestamp for metric in history] == [sample_data.T0 + step * 1000 for step in range(5)]
    assert str(client.get_model_version_by_alias(sample_data.MODEL, "champion").version) == "2"
    stages = [client.get_model_version(sample_data.MODEL, v).current_stage for v in ("1", "2", "3")]
    assert stages == ["Archived", "Production", "Staging"]
    # Searches run on the migrated schema.
    found = client.search_runs([ids["training"]], "params.max_depth = '8'")
    assert [run.info.run_id for run in found] == [ids["tuned"]]
    best = client.search_runs([ids["training"]], "metrics.loss < 1", order_by=["metrics.loss ASC"], max_results=1)
    assert [run.info.run_id for run in best] == [ids["tuned"]]
    deleted = client.search_runs([ids["training"]], run_view_type=ViewType.DELETED_ONLY)
    assert [run.info.run_id for run in deleted] == [ids["deleted"]]


def _get(upgraded: Upgraded, endpoint: str, **params: str) -> requests.Response:
    return requests.get(f"{upgraded.url}{endpoint}", params=params, auth=upgraded.admin_auth, timeout=30)


def test_old_s3_artifact_locations_still_resolve(
    upgraded: Upgraded, client: MlflowClient, monkeypatch: pytest.MonkeyPatch, s3: S3Server, tmp_path: Path
) -> None:
    import mlflow

    ids, bucket, files = upgraded.source.ids, upgraded.source.bucket, sample_data.ARTIFACTS
    # Runs keep the absolute s3:// URIs the old server gave them; the new artifact prefix does not apply.
    baseline = client.get_run(ids["baseline"]).info.artifact_uri
    assert baseline == f"s3://{bucket}/{ids['training']}/{ids['baseline']}/artifacts"
    custom = client.get_run(ids["custom_run"]).info.artifact_uri
    assert custom == f"s3://{bucket}/custom/team-a/{ids['custom_run']}/artifacts"

    # Through the server, with its own S3 access (what the UI's artifact browser and previews use): the
    # client has no AWS credentials at all.
    listing = _get(upgraded, "/api/2.0/mlflow/artifacts/list", run_id=ids["baseline"], path="model")
    assert listing.status_code == 200, listing.text
    assert sorted(entry["path"] for entry in listing.json()["files"]) == ["model/MLmodel", "model/weights.txt"]
    for run, path in ((ids["baseline"], "reports/summary.txt"), (ids["custom_run"], "reports/summary.txt")):
        response = _get(upgraded, "/get-artifact", run_uuid=run, path=path)
        assert (response.status_code, response.text) == (200, files[path])
    version_file = _get(upgraded, "/model-versions/get-artifact", name=sample_data.MODEL, version="2", path="MLmodel")
    assert (version_file.status_code, version_file.text) == (200, files["model/MLmodel"])

    # Directly, as a client with S3 access to the bucket: runs and registered models by alias.
    with_s3_access(monkeypatch, s3)
    local = Path(client.download_artifacts(ids["custom_run"], "reports", str(tmp_path / "custom")))
    assert (local / "summary.txt").read_text() == files["reports/summary.txt"]
    model_dir = Path(
        mlflow.artifacts.download_artifacts(f"models:/{sample_data.MODEL}@champion", dst_path=str(tmp_path / "m"))
    )
    downloaded = {p.name: p.read_text() for p in model_dir.iterdir()}
    # MLflow 3 adds a registered_model_meta file naming the model and version it downloaded.
    assert downloaded.pop("registered_model_meta", "") == f"model_name: {sample_data.MODEL}\nmodel_version: '2'\n"
    assert downloaded == {"MLmodel": files["model/MLmodel"], "weights.txt": files["model/weights.txt"]}


def _keys(s3: S3Server, bucket: str, prefix: str) -> list[str]:
    listing = s3.boto3_client().list_objects_v2(Bucket=bucket, Prefix=prefix)
    return sorted(str(item["Key"]) for item in listing.get("Contents", []))


def _forget_s3_clients(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the next S3 call look for credentials again: boto3's default session keeps the ones it found
    (in an earlier test), and MLflow caches one client per endpoint."""
    import boto3
    from mlflow.store.artifact.s3_artifact_repo import _cached_get_s3_client

    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    _cached_get_s3_client.cache_clear()


def test_writing_after_the_upgrade(
    upgraded: Upgraded, client: MlflowClient, monkeypatch: pytest.MonkeyPatch, s3: S3Server, tmp_path: Path
) -> None:
    from botocore.exceptions import NoCredentialsError

    source, ids = upgraded.source, upgraded.source.ids
    bucket = source.bucket
    note = tmp_path / "note.txt"
    note.write_text("after the upgrade")

    # A new experiment continues the old ids (the sequence survived, also through pgloader) and gets
    # proxied artifacts under the new prefix: the client needs no S3 access.
    experiment_id = client.create_experiment("after-upgrade")
    last_id = max(int(e["experiment_id"]) for e in source.expected["experiments"].values())
    assert experiment_id == str(last_id + 1)
    assert client.get_experiment(experiment_id).artifact_location == f"mlflow-artifacts:/{experiment_id}"
    run_id = client.create_run(experiment_id).info.run_id
    client.log_metric(run_id, "loss", 0.2)
    client.log_artifact(run_id, str(note))
    new_prefix = f"{NEW_ARTIFACT_PREFIX}/{experiment_id}/{run_id}/"
    assert _keys(s3, bucket, new_prefix) == [f"{new_prefix}artifacts/note.txt"]

    # A new run in an experiment from before the upgrade keeps that experiment's s3:// location, so the
    # client writes to S3 itself, even though the server proxies artifacts: without S3 access it cannot.
    old_experiment_run = client.create_run(ids["training"], run_name="after-upgrade").info
    assert old_experiment_run.artifact_uri == f"s3://{bucket}/{ids['training']}/{old_experiment_run.run_id}/artifacts"
    _forget_s3_clients(monkeypatch)
    with pytest.raises(NoCredentialsError):
        client.log_artifact(old_experiment_run.run_id, str(note))
    with_s3_access(monkeypatch, s3)
    _forget_s3_clients(monkeypatch)
    client.log_artifact(old_experiment_run.run_id, str(note))
    assert _keys(s3, bucket, f"{ids['training']}/{old_experiment_run.run_id}/") == [
        f"{ids['training']}/{old_experiment_run.run_id}/artifacts/note.txt"
    ]

    # Old runs take new metrics; the history grows, the latest value moves.
    client.log_metric(ids["baseline"], "loss", 0.31, timestamp=sample_data.T0 + 5000, step=5)
    assert len(client.get_metric_history(ids["baseline"], "loss")) == len(sample_data.BASELINE_LOSS) + 1
    assert client.get_run(ids["baseline"]).data.metrics["loss"] == 0.31

    # The registry goes on from the old numbering (the deleted version 4 keeps its number).
    baseline_uri = client.get_run(ids["baseline"]).info.artifact_uri
    version = client.create_model_version(sample_data.MODEL, f"{baseline_uri}/model", run_id=ids["baseline"])
    assert str(version.version) == "5"
    client.set_registered_model_alias(sample_data.MODEL, "champion", str(version.version))
    assert str(client.get_model_version_by_alias(sample_data.MODEL, "champion").version) == "5"
    assert client.get_registered_model(sample_data.MODEL).aliases == {"champion": "5", "challenger": "3"}


def test_the_old_client_still_works_against_the_new_server(upgraded: Upgraded, s3: S3Server) -> None:
    """During the cut-over, notebooks and training jobs may still have the old MLflow client."""
    old = legacy_mlflow(upgraded.source.mlflow_version)
    ids = upgraded.source.ids
    script = (
        "import sys, mlflow\n"
        "client = mlflow.MlflowClient(sys.argv[1])\n"
        "run = client.get_run(sys.argv[2])\n"
        "print(sorted(run.data.params.items()))\n"
        "client.log_metric(run.info.run_id, 'old_client_metric', 1.25)\n"
        "print(client.get_run(run.info.run_id).data.metrics['old_client_metric'])\n"
        "print(open(client.download_artifacts(run.info.run_id, 'reports/summary.txt')).read(), end='')\n"
        "experiment = client.create_experiment('created-by-old-client-' + mlflow.__version__)\n"
        "print(client.get_experiment(experiment).artifact_location)\n"
    )
    username, password = upgraded.admin_auth
    result = old.run_python(
        ["-c", script, upgraded.url, ids["baseline"]],
        env={**s3.client_env(), "MLFLOW_TRACKING_USERNAME": username, "MLFLOW_TRACKING_PASSWORD": password},
    )
    lines = result.stdout.splitlines()
    assert lines[0] == str(sorted(sample_data.BASELINE_PARAMS.items()))
    assert lines[1] == "1.25"
    assert lines[2] == sample_data.ARTIFACTS["reports/summary.txt"].rstrip("\n")
    assert lines[3].startswith("mlflow-artifacts:/")


def test_rolling_back_means_restoring_the_snapshot(upgraded: Upgraded, s3: S3Server, log_dir: Path) -> None:
    """The old server cannot start on the migrated schema; the snapshot taken before the upgrade serves the
    old data. Runs last for its source; checked once, on the Aurora MySQL sample's MLflow 2.14 on MariaDB."""
    source = upgraded.source
    if source.name != "mariadb-mlflow-2.14.2":
        pytest.skip("rollback is checked on the MariaDB MLflow 2.14 source")
    assert source.snapshot_database is not None
    old = legacy_mlflow(source.mlflow_version)
    # MLflow 2.x sees tables it does not know, tries to bring the schema to its own head and cannot find
    # the current revision (it does not follow its own advice to run "mlflow db upgrade" either: that
    # fails the same way).
    with (
        pytest.raises(AssertionError, match=f"Can't locate revision identified by '{upgraded.head}'"),
        old.server(_sqlalchemy_uri(source.account), f"s3://{source.bucket}", log_dir / "rollback-refused.log"),
    ):
        pass
    restored = dataclasses.replace(source.account, database=source.snapshot_database)
    with old.server(
        _sqlalchemy_uri(restored), f"s3://{source.bucket}", log_dir / "rollback-restored.log", env=s3.client_env()
    ) as url:
        result = old.run_python(
            [
                "-c",
                "import sys, mlflow; c = mlflow.MlflowClient(sys.argv[1]); "
                "print(len(c.search_experiments(view_type=3)), c.get_run(sys.argv[2]).data.params['max_depth'])",
                url,
                source.ids["baseline"],
            ]
        )
    assert result.stdout.split() == [str(len(source.expected["experiments"])), "5"]


def test_pgloader_must_not_create_the_schema(
    mariadb_214: Source, postgres: PostgresServer, s3: S3Server, log_dir: Path
) -> None:
    """pgloader's own PostgreSQL schema names constraints differently from MLflow's, and a later migration
    drops one by name: the upgrade fails (and, PostgreSQL DDL being transactional, changes nothing)."""
    target, report = load_with_pgloader(mariadb_214, postgres, log_dir, schema_by_old_mlflow=False)
    assert "Total import time" in report
    env = contract_env(target, f"s3://{mariadb_214.bucket}/{NEW_ARTIFACT_PREFIX}", s3)
    handle = run_entrypoint(env, log_dir, name="pgloader-created-schema")
    try:
        assert handle.wait_exit(240) == EXIT_DATABASE_SETUP, handle.logs()
    finally:
        handle.stop()
    logs = handle.logs()
    assert f"migrating the tracking schema of postgresql database '{target.database}'" in logs
    assert re.search(r'constraint "\w+" of relation "\w+" does not exist', logs), logs
    assert f"the schema is still at {mariadb_214.revision}" in logs
    assert "Traceback" not in logs
    versions = postgres.query("SELECT version_num FROM alembic_version", database=target.database)
    assert versions == [(mariadb_214.revision,)]
