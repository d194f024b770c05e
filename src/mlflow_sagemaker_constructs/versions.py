"""Versions the whole library agrees on.

``MLFLOW_VERSION`` is the one MLflow release used by the server image, the serving image, the
``client`` extra and the documentation; ``.projenrc.py`` pins the same string and a test keeps them equal.
"""

MLFLOW_VERSION = "3.17.2"
