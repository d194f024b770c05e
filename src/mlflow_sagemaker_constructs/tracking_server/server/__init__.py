"""The MLflow server image shipped with the library: Dockerfile, entrypoint and their contract."""

from pathlib import Path

#: The Docker build context of the bundled MLflow server image (package data).
SERVER_IMAGE_DIRECTORY = Path(__file__).resolve().parent
