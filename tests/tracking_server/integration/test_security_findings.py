"""The server-side findings of the security review, each reproduced as an attack on the real server.

Alice and Bob are ordinary users of one shared server (``NO_PERMISSIONS`` by default); Bob has no grant on
anything of Alice's. Every test is named after its finding and failed before the fix. The template-side
findings (roles, security groups, parameter groups) are tested on the synthesized templates.
"""

from __future__ import annotations

import contextlib
import dataclasses
import secrets
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import requests

from mlflow_sagemaker_constructs.tracking_server.server import contract
from mlflow_sagemaker_constructs.tracking_server.server.authentication import UNAVAILABLE_MESSAGE
from mlflow_sagemaker_constructs.tracking_server.server.entrypoint import EXIT_SCRATCH
from tests.harness.services import LOCALHOST, PostgresServer, S3Server, contract_env, run_entrypoint
from tests.tracking_server.integration.conftest import ALLOWED_HOSTS, MlflowServer, admin_password

if TYPE_CHECKING:
    from mlflow import MlflowClient

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("integration")]

API = "/api/2.0/mlflow"


@dataclasses.dataclass(frozen=True)
class Users:
    alice: tuple[str, str]
    bob: tuple[str, str]


def _create_user(server: MlflowServer, username: str, password: str) -> requests.Response:
    return requests.post(
        f"{server.url}{API}/users/create",
        json={"username": username, "password": password},
        auth=server.admin_auth,
        timeout=30,
    )


@pytest.fixture(scope="module")
def users(main_server: MlflowServer) -> Users:
    suffix = secrets.token_hex(3)
    alice = (f"alice-{suffix}", secrets.token_urlsafe(18))
    bob = (f"bob-{suffix}", secrets.token_urlsafe(18))
    for user in (alice, bob):
        assert _create_user(main_server, *user).status_code == 200
    return Users(alice, bob)


def _post(server: MlflowServer, path: str, body: dict[str, Any], auth: tuple[str, str] | None) -> requests.Response:
    return requests.post(f"{server.url}{path}", json=body, auth=auth, timeout=60)


# --- High 1: cross-user artifact read through the model registry --------------------------------------


def test_finding_1_cross_user_artifact_read_through_the_model_registry(
    main_server: MlflowServer,
    users: Users,
    use_server: Callable[[str, tuple[str, str] | None], MlflowClient],
) -> None:
    alice_client = use_server(main_server.url, users.alice)
    experiment_id = alice_client.create_experiment(f"alice-secrets-{secrets.token_hex(3)}")
    run = alice_client.create_run(experiment_id)
    alice_client.log_text(run.info.run_id, "alice's secret", "secret.txt")
    assert alice_client.download_artifacts(run.info.run_id, "secret.txt")

    model = f"bob-model-{secrets.token_hex(3)}"
    assert _post(main_server, f"{API}/registered-models/create", {"name": model}, users.bob).status_code == 200
    bob_client = use_server(main_server.url, users.bob)
    bob_run = bob_client.create_run(bob_client.create_experiment(f"bob-{secrets.token_hex(3)}")).info.run_id
    prefix = f"s3://{main_server.bucket}/mlflow/{experiment_id}/{run.info.run_id}/artifacts"
    attacks = [
        # A run of his own as the anchor does not make another run's files his.
        {"name": model, "source": prefix, "run_id": bob_run},
        {"name": model, "source": prefix, "run_id": run.info.run_id},
        {"name": model, "source": prefix},
        {"name": model, "source": f"s3://{main_server.bucket}/mlflow"},
        {"name": model, "source": f"mlflow-artifacts:/{experiment_id}/{run.info.run_id}/artifacts"},
        {
            "name": model,
            "source": f"mlflow-artifacts:/{experiment_id}/{run.info.run_id}/artifacts",
            "run_id": run.info.run_id,
        },
        {"name": model, "source": f"runs:/{run.info.run_id}/", "run_id": run.info.run_id},
    ]
    for attack in attacks:
        response = _post(main_server, f"{API}/model-versions/create", attack, users.bob)
        assert response.status_code in (400, 403), (attack, response.status_code, response.text)
    # No version exists, so there is nothing to read through the registry.
    leak = requests.get(
        f"{main_server.url}{API}/model-versions/get-artifact",
        params={"name": model, "version": "1", "path": "secret.txt"},
        auth=users.bob,
        timeout=30,
    )
    assert leak.status_code != 200
    assert "alice's secret" not in leak.text


def test_finding_1_registration_through_runs_and_logged_models_still_works(
    main_server: MlflowServer,
    users: Users,
    use_server: Callable[[str, tuple[str, str] | None], MlflowClient],
) -> None:
    import mlflow
    import numpy as np
    from sklearn.linear_model import LinearRegression  # type: ignore[import-untyped]

    use_server(main_server.url, users.alice)
    mlflow.set_experiment(f"alice-models-{secrets.token_hex(3)}")
    features = np.arange(20, dtype=float).reshape(10, 2)
    fitted = LinearRegression().fit(features, features.sum(axis=1))
    with mlflow.start_run() as run:
        logged = mlflow.sklearn.log_model(fitted, name="model")
    name = f"alice-registered-{secrets.token_hex(3)}"
    by_run = mlflow.register_model(f"runs:/{run.info.run_id}/model", name)
    by_logged_model = mlflow.register_model(logged.model_uri, name)
    assert (by_run.version, by_logged_model.version) == ("1", "2")
    for version in ("1", "2"):
        loaded = mlflow.pyfunc.load_model(f"models:/{name}/{version}")
        assert np.allclose(loaded.predict(features), fitted.predict(features))


def test_finding_1_prompts_still_register(
    main_server: MlflowServer,
    users: Users,
    use_server: Callable[[str, tuple[str, str] | None], MlflowClient],
) -> None:
    """MLflow's prompt registry stores prompts as model versions with a placeholder source."""
    import mlflow

    use_server(main_server.url, users.alice)
    name = f"alice-prompt-{secrets.token_hex(3)}"
    prompt = mlflow.genai.register_prompt(name=name, template="Summarize {{text}}")
    assert prompt.version == 1
    assert mlflow.genai.load_prompt(f"prompts:/{name}/1").template == "Summarize {{text}}"


# --- Medium 3: files written outside the artifact store ---------------------------------------------


def test_finding_3_server_side_writes_outside_the_artifact_store(
    main_server: MlflowServer, users: Users, tmp_path: Path
) -> None:
    target = tmp_path / "outside"
    target.mkdir()
    outside = [target.as_uri(), "file:///etc", "/etc", "s3://another-bucket/x", f"s3://{main_server.bucket}/other"]
    for location in outside:
        for who in (users.alice, main_server.admin_auth):
            body = {"name": f"escape-{secrets.token_hex(3)}", "artifact_location": location}
            for path in (f"{API}/experiments/create", "/ajax-api/2.0/mlflow/experiments/create"):
                response = _post(main_server, path, body, who)
                assert response.status_code == 400, (location, who[0], response.text)
    # Ordinary users cannot choose a location at all, even inside the store.
    inside = {"name": f"inside-{secrets.token_hex(3)}", "artifact_location": "mlflow-artifacts:/shared"}
    refused = _post(main_server, f"{API}/experiments/create", inside, users.alice)
    assert refused.status_code == 400
    assert "only be chosen by an MLflow admin" in refused.json()["message"]
    assert _post(main_server, f"{API}/experiments/create", inside, main_server.admin_auth).status_code == 200
    # And nothing landed where the attacker pointed.
    assert list(target.iterdir()) == []


# --- Medium 4: AI Gateway secrets under MLflow's public default passphrase -------------------------


class _BlackHole:
    """A TCP server that accepts connections and never answers: a hung S3 endpoint."""

    def __init__(self) -> None:
        self.socket = socket.create_server((LOCALHOST, 0))
        self.port = self.socket.getsockname()[1]
        self._held: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        self.socket.settimeout(0.2)
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError, OSError):
                connection, _ = self.socket.accept()
                self._held.append(connection)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        for connection in self._held:
            connection.close()
        self.socket.close()


@dataclasses.dataclass(frozen=True)
class HardenedServer:
    server: MlflowServer
    passphrase: str


@pytest.fixture(scope="module")
def gateway_server(postgres: PostgresServer, log_dir: Path) -> Iterator[HardenedServer]:
    """AI Gateway on with its own passphrase, and an S3 endpoint that accepts but never answers."""
    hole = _BlackHole()
    account = postgres.new_account(f"gw_{secrets.token_hex(3)}")
    password = admin_password()
    passphrase = secrets.token_urlsafe(32)
    env = contract_env(account, "s3://hung-bucket/mlflow", admin_password=password)
    env.update(
        {
            contract.ALLOWED_HOSTS: ALLOWED_HOSTS,
            contract.AI_GATEWAY_ENABLED: "true",
            contract.CRYPTO_KEK_PASSPHRASE: passphrase,
            contract.S3_CONNECT_TIMEOUT_SECONDS: "2",
            contract.S3_READ_TIMEOUT_SECONDS: "2",
            contract.S3_MAX_ATTEMPTS: "2",
            "MLFLOW_S3_ENDPOINT_URL": f"http://{LOCALHOST}:{hole.port}",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
    )
    handle = run_entrypoint(env, log_dir, name="gateway")
    try:
        cold_start = handle.wait_healthy(180)
        yield HardenedServer(
            MlflowServer(handle, env, account, "admin", password, "hung-bucket", cold_start), passphrase
        )
    finally:
        handle.stop()
        hole.close()


GATEWAY_SECRET = "/ajax-api/3.0/mlflow/gateway/secrets/create"


def _store_gateway_secret(server: MlflowServer, auth: tuple[str, str]) -> requests.Response:
    body = {
        "secret_name": f"openai-{secrets.token_hex(3)}",
        "secret_value": {"api_key": "sk-bob-very-secret"},
        "provider": "openai",
    }
    return _post(server, GATEWAY_SECRET, body, auth)


def test_finding_4_the_ai_gateway_is_off_by_default(main_server: MlflowServer, users: Users) -> None:
    for who in (users.bob, main_server.admin_auth):
        response = _store_gateway_secret(main_server, who)
        assert response.status_code != 200
        assert "disabled" in response.text.lower(), response.text


def test_finding_4_gateway_secrets_are_not_readable_with_the_default_passphrase(
    gateway_server: HardenedServer, postgres: PostgresServer
) -> None:
    from aws_cdk.assertions import Template
    from mlflow.exceptions import MlflowException
    from mlflow.utils.crypto import KEKManager, _decrypt_secret

    from mlflow_sagemaker_constructs import SecureMlflowService
    from tests.harness import new_stack
    from tests.harness.task_environment import mlflow_container
    from tests.harness.vpc import imported_vpc

    # The deployment gives the server what this server runs with: the gateway on, and a passphrase of its own
    # injected from Secrets Manager (without it, MLflow would encrypt with its public default).
    stack = new_stack()
    SecureMlflowService(stack, "Mlflow", vpc=imported_vpc(stack), enable_ai_gateway=True)
    container = mlflow_container(Template.from_stack(stack))
    assert {"Name": contract.AI_GATEWAY_ENABLED, "Value": "true"} in container["Environment"]
    assert contract.CRYPTO_KEK_PASSPHRASE in {secret["Name"] for secret in container["Secrets"]}

    server = gateway_server.server
    stored = _store_gateway_secret(server, server.admin_auth)
    assert stored.status_code == 200, stored.text
    rows = postgres.query(
        "SELECT secret_id, secret_name, encrypted_value, wrapped_dek FROM secrets", database=server.account.database
    )
    assert len(rows) == 1
    secret_id, secret_name, encrypted, wrapped = rows[0]
    with pytest.raises(MlflowException):
        _decrypt_secret(bytes(encrypted), bytes(wrapped), KEKManager(passphrase=None), secret_id, secret_name)
    value = _decrypt_secret(
        bytes(encrypted), bytes(wrapped), KEKManager(passphrase=gateway_server.passphrase), secret_id, secret_name
    )
    assert value == {"api_key": "sk-bob-very-secret"}


# --- Low 9: brute force and weak passwords ------------------------------------------------------------


def test_finding_9_weak_passwords_are_refused_for_users(main_server: MlflowServer, users: Users) -> None:
    for password in ("password1234", "Password1234", "123456789012", "short"):
        response = _create_user(main_server, f"weak-{secrets.token_hex(3)}", password)
        assert response.status_code == 400, (password, response.text)
    change = requests.patch(
        f"{main_server.url}{API}/users/update-password",
        json={"username": users.bob[0], "password": "aaaaaaaaaaaaaaaa"},
        auth=users.bob,
        timeout=30,
    )
    assert change.status_code == 400, change.text
    # Bob's password is unchanged.
    assert requests.get(f"{main_server.url}{API}/users/current", auth=users.bob, timeout=30).status_code == 200


# --- Low 10: information leaks with the database down --------------------------------------------------


def test_finding_10_a_database_outage_reveals_nothing_to_callers(s3: S3Server, log_dir: Path) -> None:
    with PostgresServer.start() as postgres:
        account = postgres.new_account(f"outage_{secrets.token_hex(3)}")
        password = admin_password()
        env = contract_env(account, "s3://unused/mlflow", s3, admin_password=password)
        handle = run_entrypoint(env, log_dir, name="outage")
        try:
            handle.wait_healthy(180)
            url = f"{handle.url}{API}/experiments/search?max_results=1"
            assert requests.get(url, auth=("admin", password), timeout=30).status_code == 200
            postgres.stop()
            for auth in (("admin", password + "-wrong"), ("nobody", "guess-guess-guess"), ("admin", password)):
                response = requests.get(url, auth=auth, timeout=60)
                assert response.status_code == 503, (auth[0], response.status_code, response.text)
                body = response.text
                assert UNAVAILABLE_MESSAGE in body
                for leak in (LOCALHOST, str(postgres.port), "psycopg2", "OperationalError", "Connection refused"):
                    assert leak not in body, (leak, body)
            assert requests.get(f"{handle.url}/health", timeout=30).status_code == 200
            # The operator still gets the details in the server log.
            logs = handle.logs()
            assert str(postgres.port) in logs
        finally:
            handle.stop()


# --- Low 11: entrypoint robustness -------------------------------------------------------------------


@contextlib.contextmanager
def _full_filesystem(path: Path) -> Iterator[Path]:
    """A 64 KiB tmpfs at ``path``, filled up: writes fail with ENOSPC, as on a full volume."""
    path.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,mode=1777", "tmpfs", str(path)], check=True)
    try:
        with contextlib.suppress(OSError), (path / "filler").open("wb") as filler:
            while True:
                filler.write(b"\0" * 4096)
                filler.flush()
        yield path
    finally:
        subprocess.run(["umount", str(path)], check=True)


def test_finding_11_a_full_scratch_volume_is_a_clear_entrypoint_error(
    postgres: PostgresServer, s3: S3Server, log_dir: Path, tmp_path: Path
) -> None:
    account = postgres.new_account(f"full_{secrets.token_hex(3)}")
    env = contract_env(account, "s3://unused/mlflow", s3, admin_password=admin_password())
    with _full_filesystem(tmp_path / "scratch") as scratch:
        env[contract.SCRATCH_DIR] = str(scratch)
        # As a context manager: a server that starts anyway (the failure) is stopped, not left running.
        with run_entrypoint(env, log_dir, name="full-scratch") as handle:
            assert handle.wait_exit(60) == EXIT_SCRATCH, handle.logs()
    logs = handle.logs()
    assert f"cannot write to the scratch directory {scratch}" in logs
    assert "No space left on device" in logs
    assert "Traceback" not in logs


def test_finding_11_no_file_with_a_secret_stays_in_the_scratch_directory(main_server: MlflowServer) -> None:
    # The server has started its workers (each wrote and removed its auth configuration) and served requests.
    assert requests.get(
        f"{main_server.url}{API}/experiments/search?max_results=1", auth=main_server.admin_auth, timeout=30
    )
    leftovers = [p for p in main_server.handle.scratch_dir.rglob("*") if p.is_file()]
    secrets_in_env = (main_server.admin_password, main_server.account.password)
    for path in leftovers:
        content = path.read_bytes()
        assert not any(secret.encode() in content for secret in secrets_in_env), path
    assert not [p for p in main_server.handle.scratch_dir.iterdir() if p.name.startswith("mlflow-auth-")]


# --- Low 12: S3 calls without timeouts ----------------------------------------------------------------


def test_finding_12_a_hung_s3_does_not_hold_a_worker(gateway_server: HardenedServer) -> None:
    server = gateway_server.server
    experiment = _post(server, f"{API}/experiments/create", {"name": "hung-s3"}, server.admin_auth)
    assert experiment.status_code == 200, experiment.text
    experiment_id = experiment.json()["experiment_id"]
    run = _post(server, f"{API}/runs/create", {"experiment_id": experiment_id}, server.admin_auth).json()
    run_id = run["run"]["info"]["run_id"]
    started = time.monotonic()
    # Listing goes to S3; with 2 s timeouts and 2 attempts the server gives up and answers.
    listed = requests.get(
        f"{server.url}{API}/artifacts/list", params={"run_id": run_id}, auth=server.admin_auth, timeout=120
    )
    elapsed = time.monotonic() - started
    assert listed.status_code >= 500, listed.text
    # The worker is free again: other requests are answered.
    assert requests.get(f"{server.url}/health", timeout=10).status_code == 200
    print(f"hung S3 answered with {listed.status_code} after {elapsed:.1f} s")
