"""Exit statuses of ``mlflow-sagemaker-package`` and the error that carries one to the person running it."""

from __future__ import annotations

EXIT_OK = 0
#: Anything not covered below (an unexpected MLflow or AWS error); the message says what failed.
EXIT_ERROR = 1
#: Bad arguments: model URI, S3 URI, options, or no tracking server configured.
EXIT_USAGE = 2
#: The tracking server (or registry) could not be reached in time, or refused the request.
EXIT_TRACKING = 3
#: The model is not there, is not an MLflow pyfunc model, or (``--strict``) needs packages the image lacks.
EXIT_MODEL = 4
#: The destination cannot be written: no AWS credentials, S3 access denied, or the output file.
EXIT_DESTINATION = 5

#: For ``--help``: every exit status and its meaning.
EXIT_STATUS_HELP = {
    EXIT_OK: "the archive was written and/or uploaded",
    EXIT_ERROR: "unexpected error (the message names it)",
    EXIT_USAGE: "bad arguments, or no tracking server configured",
    EXIT_TRACKING: "tracking server unreachable, timed out, or refused the request",
    EXIT_MODEL: "model not found, not an MLflow pyfunc model, or --strict and the image lacks a requirement",
    EXIT_DESTINATION: "no AWS credentials, S3 bucket or key not writable, or --output not writable",
}


class PackagingError(Exception):
    """A failure whose message is meant for the person running the command, with its exit status."""

    def __init__(self, message: str, exit_code: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.exit_code = exit_code
