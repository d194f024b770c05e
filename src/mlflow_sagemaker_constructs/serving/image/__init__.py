"""The pyfunc serving image shipped with the library: Dockerfile, pinned requirements and entrypoint.

``MlflowModelEndpoint`` builds this directory as a Docker image asset unless an image is passed in.
The image implements SageMaker's hosting contract (``serve``, port 8080, ``/ping``, ``/invocations``,
model in ``/opt/ml/model``) with MLflow's pyfunc scoring server; see ``entrypoint.py``.
"""

from pathlib import Path

#: The Docker build context of the bundled pyfunc serving image (package data).
SERVING_IMAGE_DIRECTORY = Path(__file__).resolve().parent

#: The entrypoint script inside the build context (also runnable on a host with MLflow installed).
SERVING_ENTRYPOINT = SERVING_IMAGE_DIRECTORY / "entrypoint.py"

#: The pinned requirements the image installs (compiled with hashes from ``requirements.in``).
SERVING_REQUIREMENTS = SERVING_IMAGE_DIRECTORY / "requirements.txt"

__all__ = ["SERVING_ENTRYPOINT", "SERVING_IMAGE_DIRECTORY", "SERVING_REQUIREMENTS"]
