"""Unit tests of the temporary basic-auth configuration file."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from mlflow_sagemaker_constructs.tracking_server.server import auth_config, contract
from mlflow_sagemaker_constructs.tracking_server.server.auth_config import AuthConfigError

AUTH_URI = "postgresql+psycopg2://mlflow:p%40ss%25word@db.example:5432/mlflow_auth"


def env(**extra: str) -> dict[str, str]:
    return {contract.WORKER_AUTH_DATABASE_URI: AUTH_URI, **extra}


def test_the_config_reads_back_through_mlflow(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mlflow.server.auth.config import read_auth_config

    text = auth_config.render(env(**{contract.AUTH_DEFAULT_PERMISSION: "read", contract.AUTH_CACHE_TTL_SECONDS: "30"}))
    path = tmp_path / "basic_auth.ini"
    path.write_text(text)
    monkeypatch.setenv("MLFLOW_AUTH_CONFIG_PATH", str(path))
    monkeypatch.setenv("MLFLOW_AUTH_ADMIN_USERNAME", "root-user")
    monkeypatch.setenv("MLFLOW_AUTH_ADMIN_PASSWORD", "from-the-environment")
    config = read_auth_config()
    assert config.database_uri == AUTH_URI
    assert make_url(config.database_uri).password == "p@ss%word"
    assert config.default_permission == "READ"
    assert config.auth_cache_ttl_seconds == 30
    assert config.authorization_function == auth_config.AUTHORIZATION_FUNCTION
    # The admin credentials are not in the file: MLflow takes them from the environment.
    assert (config.admin_username, config.admin_password) == ("root-user", "from-the-environment")
    assert "from-the-environment" not in text


def test_defaults_are_secure() -> None:
    text = auth_config.render(env())
    assert f"default_permission = {contract.DEFAULT_AUTH_DEFAULT_PERMISSION}" in text
    assert contract.DEFAULT_AUTH_DEFAULT_PERMISSION == "NO_PERMISSIONS"


def test_the_file_is_private_while_it_exists_and_gone_afterwards(tmp_path: Path) -> None:
    with auth_config.temporary_config_file("secret", str(tmp_path)) as path:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        assert path.read_text() == "secret"
    assert list(tmp_path.iterdir()) == []


def test_an_unwritable_scratch_directory_is_a_clear_error(tmp_path: Path) -> None:
    with (
        pytest.raises(AuthConfigError, match="scratch volume must be writable and not full"),
        auth_config.temporary_config_file("x", str(tmp_path / "missing")),
    ):
        pass


def test_a_missing_database_uri_says_how_to_start_the_server() -> None:
    with pytest.raises(AuthConfigError, match="through the image's entrypoint"):
        auth_config.render({})
